//! Implementations of [`transload_core::bus::Bus`]: `embedded` (SQLite) and `amqp`
//! (RabbitMQ through lapin).

pub mod amqp;
pub mod dead_letters;
pub mod embedded;

use std::time::Duration;

use transload_core::bus::{Bus, BusError, BusMessage, Consumer, ConsumerOptions, Delivery, Stage};

/// The bus the configuration names, chosen at start-up.
#[derive(Debug, Clone)]
pub enum AnyBus {
    /// The embedded bus in SQLite.
    Embedded(embedded::EmbeddedBus),
    /// RabbitMQ.
    Amqp(amqp::AmqpBus),
}

/// A consumer of an [`AnyBus`].
#[derive(Debug)]
pub enum AnyConsumer {
    /// Of the embedded bus.
    Embedded(embedded::EmbeddedConsumer),
    /// Of RabbitMQ.
    Amqp(Box<amqp::AmqpConsumer>),
}

impl AnyBus {
    /// Whether the bus is usable now (see [`embedded::EmbeddedBus::probe`] and
    /// [`amqp::AmqpBus::probe`]).
    ///
    /// # Errors
    /// Why it is not.
    pub async fn probe(&self) -> Result<(), BusError> {
        match self {
            AnyBus::Embedded(bus) => bus.probe().await,
            AnyBus::Amqp(bus) => bus.probe().await,
        }
    }

    /// Where the bus keeps the messages it gave up on by itself, to be moved into the
    /// store ([`dead_letters`]).
    #[must_use]
    pub fn dead_letters(&self) -> dead_letters::BusDeadLetters {
        match self {
            AnyBus::Embedded(bus) => dead_letters::BusDeadLetters::Embedded(bus.clone()),
            AnyBus::Amqp(bus) => {
                dead_letters::BusDeadLetters::Amqp(Box::new(bus.dead_letter_queue()))
            }
        }
    }

    /// Messages waiting or in flight on each stage, where the bus can count them cheaply
    /// (the embedded bus; `None` for RabbitMQ, whose own metrics have them). Blocking:
    /// reads the bus file.
    ///
    /// # Errors
    /// When the file cannot be read.
    pub fn depths(&self) -> Result<Option<Vec<(Stage, u64)>>, BusError> {
        match self {
            AnyBus::Embedded(bus) => bus.depths().map(Some),
            AnyBus::Amqp(_) => Ok(None),
        }
    }
}

impl Bus for AnyBus {
    type Consumer = AnyConsumer;

    async fn publish(&self, stage: Stage, messages: Vec<BusMessage>) -> Result<(), BusError> {
        match self {
            AnyBus::Embedded(bus) => bus.publish(stage, messages).await,
            AnyBus::Amqp(bus) => bus.publish(stage, messages).await,
        }
    }

    async fn consumer(
        &self,
        stage: Stage,
        options: ConsumerOptions,
    ) -> Result<AnyConsumer, BusError> {
        Ok(match self {
            AnyBus::Embedded(bus) => AnyConsumer::Embedded(bus.consumer(stage, options).await?),
            AnyBus::Amqp(bus) => AnyConsumer::Amqp(Box::new(bus.consumer(stage, options).await?)),
        })
    }
}

impl Consumer for AnyConsumer {
    async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError> {
        match self {
            AnyConsumer::Embedded(consumer) => consumer.next_batch(max, wait).await,
            AnyConsumer::Amqp(consumer) => consumer.next_batch(max, wait).await,
        }
    }

    async fn ack(&mut self, deliveries: &[Delivery]) -> Result<(), BusError> {
        match self {
            AnyConsumer::Embedded(consumer) => consumer.ack(deliveries).await,
            AnyConsumer::Amqp(consumer) => consumer.ack(deliveries).await,
        }
    }

    async fn retry(&mut self, delivery: &Delivery, delay: Duration) -> Result<(), BusError> {
        match self {
            AnyConsumer::Embedded(consumer) => consumer.retry(delivery, delay).await,
            AnyConsumer::Amqp(consumer) => consumer.retry(delivery, delay).await,
        }
    }

    async fn defer(&mut self, delivery: &Delivery, delay: Duration) -> Result<(), BusError> {
        match self {
            AnyConsumer::Embedded(consumer) => consumer.defer(delivery, delay).await,
            AnyConsumer::Amqp(consumer) => consumer.defer(delivery, delay).await,
        }
    }

    async fn retry_all(&mut self, retries: &[(&Delivery, Duration)]) -> Result<(), BusError> {
        match self {
            AnyConsumer::Embedded(consumer) => consumer.retry_all(retries).await,
            AnyConsumer::Amqp(consumer) => consumer.retry_all(retries).await,
        }
    }

    async fn defer_all(&mut self, deferrals: &[(&Delivery, Duration)]) -> Result<(), BusError> {
        match self {
            AnyConsumer::Embedded(consumer) => consumer.defer_all(deferrals).await,
            AnyConsumer::Amqp(consumer) => consumer.defer_all(deferrals).await,
        }
    }

    async fn reject(&mut self, delivery: &Delivery, reason: &str) -> Result<(), BusError> {
        match self {
            AnyConsumer::Embedded(consumer) => consumer.reject(delivery, reason).await,
            AnyConsumer::Amqp(consumer) => consumer.reject(delivery, reason).await,
        }
    }

    fn acknowledges_in_commit(&self) -> bool {
        match self {
            AnyConsumer::Embedded(consumer) => consumer.acknowledges_in_commit(),
            AnyConsumer::Amqp(consumer) => consumer.acknowledges_in_commit(),
        }
    }

    fn lease_ahead(&mut self) {
        match self {
            AnyConsumer::Embedded(consumer) => consumer.lease_ahead(),
            AnyConsumer::Amqp(consumer) => consumer.lease_ahead(),
        }
    }

    fn acknowledged_in_commit(&mut self, count: usize) {
        match self {
            AnyConsumer::Embedded(consumer) => consumer.acknowledged_in_commit(count),
            AnyConsumer::Amqp(consumer) => consumer.acknowledged_in_commit(count),
        }
    }
}
