//! The bus on RabbitMQ, through lapin: quorum queues, publisher confirms, manual
//! acknowledgements, delayed retry through TTL tiers, a dead-letter queue.
//!
//! ```no_run
//! # async fn example() -> Result<(), transload_core::bus::BusError> {
//! use transload::bus::amqp::{AmqpBus, AmqpConfig};
//! use transload_core::bus::{Bus, BusMessage, Consumer, ConsumerOptions, Stage};
//!
//! let bus = AmqpBus::connect(AmqpConfig::default()).await?;
//! bus.publish(Stage::Events, vec![BusMessage::new("acme.load_tendered", b"{}".to_vec())]).await?;
//! let mut consumer = bus.consumer(Stage::Events, ConsumerOptions::default()).await?;
//! let batch = consumer.next_batch(100, std::time::Duration::from_secs(1)).await?;
//! consumer.ack(&batch).await?;
//! # Ok(()) }
//! ```
//!
//! Guarantees and their limits:
//! - [`Bus::publish`] returns `Ok` only when the broker confirmed every message on
//!   the current connection (persistent messages, quorum queues). Any doubt is an
//!   error; publishing again may duplicate, so consumers dedupe on the message id.
//! - Deliveries a consumer does not answer come again (with `attempt` counted from the
//!   quorum queue's `x-delivery-count`) when its channel closes; a message delivered
//!   [`AmqpConfig::delivery_limit`] + 1 times without an answer is dead-lettered by the
//!   broker.
//! - [`Consumer::retry`](transload_core::bus::Consumer::retry) republishes through the
//!   delay tier at least as long as the delay and acknowledges the original; the copy
//!   carries its due time, so a delay longer than the longest tier goes round the
//!   tiers again until it is due.
//! - [`Consumer::reject`](transload_core::bus::Consumer::reject) republishes to the
//!   dead-letter exchange with the reason in the `transload-reason` header and
//!   acknowledges the original.

mod config;
mod connection;
mod consumer;
mod dead_letters;
mod error;
mod message;
mod publisher;
mod topology;

use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use tracing::warn;
use transload_core::bus::{Bus, BusError, BusMessage, ConsumerOptions, Stage};

pub use config::{AmqpConfig, AmqpConfigError, ClientIdentity};
pub use consumer::AmqpConsumer;
pub use dead_letters::AmqpDeadLetterQueue;
pub use topology::Topology;

use connection::open_with_retry;
use error::with_timeout;
use publisher::Publisher;

/// What the bus and its consumers share.
#[derive(Debug)]
pub(crate) struct Shared {
    config: Arc<AmqpConfig>,
    topology: Topology,
    publisher: Publisher,
}

/// The RabbitMQ bus. Cheap to clone: clones share one publisher connection; every
/// consumer has its own connection.
#[derive(Debug, Clone)]
pub struct AmqpBus {
    shared: Arc<Shared>,
}

impl AmqpBus {
    /// Checks `config`, connects, and declares the topology (idempotently). A broker
    /// that does not answer yet is tried again for [`AmqpConfig::startup_timeout`].
    ///
    /// # Errors
    /// [`BusError::Other`] for an invalid configuration or a topology that exists with
    /// other arguments; [`BusError::Unavailable`] / [`BusError::Timeout`] when the
    /// broker cannot be reached within the startup timeout.
    pub async fn connect(config: AmqpConfig) -> Result<Self, BusError> {
        config
            .validate()
            .map_err(|error| BusError::Other(error.to_string()))?;
        let config = Arc::new(config);
        let bus = Self {
            shared: Arc::new(Shared {
                topology: Topology::new(&config),
                publisher: Publisher::new(Arc::clone(&config)),
                config,
            }),
        };
        bus.declare_topology_within_startup_timeout().await?;
        Ok(bus)
    }

    /// Declares the topology, trying again after transient failures (no answer, refused
    /// connection, broker still booting) until `startup_timeout` has passed.
    async fn declare_topology_within_startup_timeout(&self) -> Result<(), BusError> {
        let deadline = tokio::time::Instant::now() + self.shared.config.startup_timeout;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(2))
            .with_max_times(usize::MAX)
            .with_jitter();
        (|| self.declare_topology())
            .retry(backoff)
            .when(|error| error.is_transient() && tokio::time::Instant::now() < deadline)
            .notify(|error, pause| {
                warn!(%error, ?pause, "RabbitMQ not ready at start; trying again");
            })
            .await
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &AmqpConfig {
        &self.shared.config
    }

    /// The names of the exchanges and queues.
    #[must_use]
    pub fn topology(&self) -> &Topology {
        &self.shared.topology
    }

    /// Declares the exchanges, queues and bindings (again); a no-op when they exist
    /// with the same arguments.
    ///
    /// # Errors
    /// As for [`AmqpBus::connect`].
    pub async fn declare_topology(&self) -> Result<(), BusError> {
        let (channel, _connection) = self.admin_channel().await?;
        self.shared
            .topology
            .declare(&channel, self.shared.config.operation_timeout)
            .await
    }

    /// Deletes every exchange and queue of this bus's prefix, with their messages.
    /// For tests and for tearing an environment down.
    ///
    /// # Errors
    /// [`BusError::Unavailable`] / [`BusError::Timeout`] when the broker cannot be
    /// reached.
    pub async fn delete_topology(&self) -> Result<(), BusError> {
        let (channel, _connection) = self.admin_channel().await?;
        self.shared
            .topology
            .delete(&channel, self.shared.config.operation_timeout)
            .await
    }

    /// Whether the bus can publish now: the publisher's connection and channel are open
    /// (opening them when there are none), and the broker does not block publishing. For
    /// readiness checks; bound it with a timeout, as a reconnection can take long.
    ///
    /// # Errors
    /// [`BusError::Unavailable`] / [`BusError::Timeout`] when the broker cannot be
    /// reached or blocks publishing.
    pub async fn probe(&self) -> Result<(), BusError> {
        self.shared.publisher.channel().await.map(|_| ())
    }

    /// A reader of `{prefix}.dlq`, for moving what the broker dead-lettered into the
    /// store ([`crate::bus::dead_letters`]); it connects when first read.
    #[must_use]
    pub fn dead_letter_queue(&self) -> AmqpDeadLetterQueue {
        AmqpDeadLetterQueue::new(Arc::clone(&self.shared))
    }

    /// Closes the publisher connection (consumers close theirs when dropped).
    pub async fn close(&self) {
        self.shared.publisher.close().await;
    }

    /// A channel on a short-lived connection of its own, for declarations: a
    /// declaration the broker refuses closes its channel, which must not be the
    /// publisher's.
    async fn admin_channel(&self) -> Result<(lapin::Channel, lapin::Connection), BusError> {
        let config = &self.shared.config;
        let connection = open_with_retry(config, "admin").await?;
        let channel = with_timeout(
            config.operation_timeout,
            "channel.open",
            connection.create_channel(),
        )
        .await?;
        Ok((channel, connection))
    }
}

impl Bus for AmqpBus {
    type Consumer = AmqpConsumer;

    /// Publishes to the stage's exchange; a message whose `transload-available-at` is
    /// later goes through the delay tier for the time left instead (through the longest
    /// tier again and again when it is longer), as a retry does, so that no consumer
    /// reads it before it is due only to put it back.
    async fn publish(&self, stage: Stage, messages: Vec<BusMessage>) -> Result<(), BusError> {
        let topology = &self.shared.topology;
        let now = message::now_ms();
        let mut ready = Vec::with_capacity(messages.len());
        let mut later = Vec::new();
        for message in messages {
            let due = message
                .available_at_ms()
                .and_then(|at| u64::try_from(at).ok())
                .filter(|due| *due > now);
            let tier = due.and_then(|due| {
                topology
                    .tier_for(Duration::from_millis(due - now))
                    .map(|tier| (due, tier))
            });
            match tier {
                Some((due, tier)) => later.push(message::encode(
                    message,
                    &topology::delayed_headers(stage, tier, due, 1),
                )?),
                None => ready.push(message::encode(message, &[])?),
            }
        }
        let publisher = &self.shared.publisher;
        publisher
            .publish(&topology.stage_exchange(stage), ready)
            .await?;
        publisher.publish(&topology.retry_exchange(), later).await
    }

    async fn consumer(
        &self,
        stage: Stage,
        options: ConsumerOptions,
    ) -> Result<AmqpConsumer, BusError> {
        AmqpConsumer::open(Arc::clone(&self.shared), stage, options.prefetch).await
    }
}
