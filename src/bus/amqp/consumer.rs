//! The consuming side: one connection, one channel and one `basic.consume` per
//! consumer, with manual acknowledgements and a prefetch window.
//!
//! Every delivery carries the channel's generation in its token. When the connection
//! or channel is found dead (an error from the delivery stream, a failed answer, or the
//! watchdog below), the consumer drops it, counts a new generation and reconnects on
//! the next [`Consumer::next_batch`]; answers to deliveries of an older generation are
//! [`BusError::StaleDelivery`]: the broker has put those messages back already.
//!
//! Watchdog: whenever no delivery arrived for `watchdog_interval`, `next_batch` checks
//! that the connection and channel are open and asks the broker (a passive
//! `queue.declare`, bounded by `operation_timeout`) that the queue still has a
//! consumer. A dead socket that lapin has not noticed, a lapin recovery that stalled,
//! or a cancelled consumer thus leads to a new connection within about
//! `watchdog_interval + operation_timeout`.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use lapin::message::Delivery as LapinDelivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, Connection};
use tokio::time::Instant;
use tracing::{debug, warn};
use transload_core::bus::{BusError, Consumer, Delivery, DeliveryToken, Stage};

use super::Shared;
use super::connection::{looks_alive, open_with_retry};
use super::error::with_timeout;
use super::message::{HEADER_ATTEMPT, HEADER_REASON, HEADER_REJECTED_FROM, decode, encode, now_ms};
use super::topology::{delayed_headers, short};

/// Channel generations, unique in the process: a token from one consumer is stale for
/// every other.
static GENERATIONS: AtomicU64 = AtomicU64::new(0);

/// The pause between two connection attempts inside one `next_batch`.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);

struct Link {
    /// Kept so the connection stays open (dropping it closes it, and the broker
    /// requeues the unacknowledged deliveries).
    connection: Connection,
    channel: Channel,
    stream: lapin::Consumer,
}

/// Reads one stage's quorum queue. See the module documentation.
pub struct AmqpConsumer {
    shared: Arc<Shared>,
    stage: Stage,
    queue: String,
    prefetch: u16,
    link: Option<Link>,
    generation: u64,
    /// Tags delivered on the current channel and not yet answered (handed out or
    /// buffered).
    outstanding: BTreeSet<u64>,
    /// Deliveries received but not yet handed out.
    buffered: VecDeque<Delivery>,
    /// Deliveries that could not be decoded, to be rejected to the dead-letter queue.
    undecodable: Vec<u64>,
    /// Retried messages back before they are due, to be delayed again.
    not_due: Vec<(Delivery, u64)>,
    /// When the consumer last had a sign of life from the broker (a delivery, a
    /// successful probe, a new connection).
    last_sign_of_life: Instant,
}

impl std::fmt::Debug for AmqpConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpConsumer")
            .field("queue", &self.queue)
            .field("prefetch", &self.prefetch)
            .field("connected", &self.link.is_some())
            .field("generation", &self.generation)
            .field("outstanding", &self.outstanding.len())
            .field("buffered", &self.buffered.len())
            .finish_non_exhaustive()
    }
}

impl AmqpConsumer {
    /// A consumer of `stage`, connected.
    pub(crate) async fn open(
        shared: Arc<Shared>,
        stage: Stage,
        prefetch: u16,
    ) -> Result<Self, BusError> {
        let queue = shared.topology.stage_queue(stage);
        let mut consumer = Self {
            shared,
            stage,
            queue,
            prefetch: prefetch.max(1),
            link: None,
            generation: 0,
            outstanding: BTreeSet::new(),
            buffered: VecDeque::new(),
            undecodable: Vec::new(),
            not_due: Vec::new(),
            last_sign_of_life: Instant::now(),
        };
        consumer.connect().await?;
        Ok(consumer)
    }

    /// The stage this consumer reads.
    #[must_use]
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// The current channel generation (changes with every reconnection).
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.generation
    }

    async fn connect(&mut self) -> Result<(), BusError> {
        self.drop_link("reconnecting");
        let config = &self.shared.config;
        let timeout = config.operation_timeout;
        let connection = open_with_retry(config, "consumer").await?;
        let channel = with_timeout(timeout, "channel.open", connection.create_channel()).await?;
        with_timeout(
            timeout,
            "basic.qos",
            channel.basic_qos(self.prefetch, BasicQosOptions::default()),
        )
        .await?;
        let stream = with_timeout(
            timeout,
            "basic.consume",
            channel.basic_consume(
                short(&self.queue)?,
                ShortString::from(""),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            ),
        )
        .await?;
        self.generation = GENERATIONS.fetch_add(1, Ordering::Relaxed) + 1;
        self.link = Some(Link {
            connection,
            channel,
            stream,
        });
        self.last_sign_of_life = Instant::now();
        debug!(queue = %self.queue, generation = self.generation, "amqp consumer connected");
        Ok(())
    }

    /// Forgets the current connection: every delivery from it is now stale.
    fn drop_link(&mut self, why: &str) {
        if self.link.take().is_some() {
            warn!(
                queue = %self.queue,
                generation = self.generation,
                unanswered = self.outstanding.len(),
                why,
                "dropping the consumer connection; the broker redelivers its unanswered deliveries"
            );
        }
        self.outstanding.clear();
        self.buffered.clear();
        self.undecodable.clear();
        self.not_due.clear();
    }

    fn accept(&mut self, delivery: &LapinDelivery) {
        let tag = delivery.delivery_tag;
        self.outstanding.insert(tag);
        match decode(delivery) {
            Ok(decoded) => {
                let delivery = Delivery {
                    message: decoded.message,
                    attempt: decoded.attempt,
                    token: DeliveryToken {
                        tag,
                        generation: self.generation,
                    },
                };
                match decoded.not_before_ms {
                    Some(due) if due > now_ms() => self.not_due.push((delivery, due)),
                    _ => self.buffered.push_back(delivery),
                }
            }
            Err(error) => {
                warn!(queue = %self.queue, tag, %error, "undecodable delivery; rejecting it to the dead-letter queue");
                self.undecodable.push(tag);
            }
        }
    }

    /// Takes what the stream already holds, without waiting, up to `max` buffered.
    fn drain_ready(&mut self, max: usize) {
        while self.buffered.len() < max {
            let Some(link) = self.link.as_mut() else {
                return;
            };
            match link.stream.next().now_or_never() {
                Some(Some(Ok(delivery))) => self.accept(&delivery),
                Some(Some(Err(error))) => {
                    self.drop_link(&error.to_string());
                    return;
                }
                Some(None) => {
                    self.drop_link("the broker cancelled the consumer");
                    return;
                }
                None => return,
            }
        }
    }

    async fn reject_undecodable(&mut self) {
        let tags = std::mem::take(&mut self.undecodable);
        let timeout = self.shared.config.operation_timeout;
        for tag in tags {
            let Some(link) = self.link.as_ref() else {
                return;
            };
            let result = with_timeout(
                timeout,
                "basic.reject",
                link.channel
                    .basic_reject(tag, BasicRejectOptions { requeue: false }),
            )
            .await;
            match result {
                Ok(()) => {
                    self.outstanding.remove(&tag);
                }
                Err(error) => {
                    self.drop_link(&error.to_string());
                    return;
                }
            }
        }
    }

    /// Sends messages back from their tier before they are due through the tiers
    /// again, for the time that is left; on failure the connection is dropped and the
    /// broker redelivers them (to be delayed again).
    async fn delay_again(&mut self) {
        let not_due = std::mem::take(&mut self.not_due);
        for (delivery, due) in not_due {
            let left = Duration::from_millis(due.saturating_sub(now_ms()));
            debug!(id = %delivery.message.id, ?left, "retried message back early; delaying it again");
            if let Err(error) = self.delay(&delivery, left, due, delivery.attempt).await {
                self.drop_link(&format!("delaying a message again failed: {error}"));
                return;
            }
        }
    }

    /// Publishes a copy of `delivery` through the delay tier for `delay` (straight to
    /// the stage when `delay` is zero), due at `due` (ms since the epoch), with
    /// `attempt` as its attempt number; then acknowledges the original.
    async fn delay(
        &mut self,
        delivery: &Delivery,
        delay: Duration,
        due: u64,
        attempt: u32,
    ) -> Result<(), BusError> {
        let topology = &self.shared.topology;
        let tier = if delay.is_zero() {
            None
        } else {
            topology.tier_for(delay)
        };
        match tier {
            None => {
                let exchange = topology.stage_exchange(self.stage);
                let attempt = (HEADER_ATTEMPT, AMQPValue::LongLongInt(i64::from(attempt)));
                self.move_to(delivery, &exchange, &[attempt]).await
            }
            Some(tier) => {
                let exchange = topology.retry_exchange();
                let extra = delayed_headers(self.stage, tier, due, attempt);
                self.move_to(delivery, &exchange, &extra).await
            }
        }
    }

    /// The watchdog's probe: is the connection open, and does the broker still see a
    /// consumer on the queue?
    async fn alive(&mut self) -> bool {
        let Some(link) = self.link.as_ref() else {
            return false;
        };
        if !looks_alive(&link.connection, &link.channel) {
            return false;
        }
        let Ok(queue) = short(&self.queue) else {
            return false;
        };
        let options = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let probe = with_timeout(
            self.shared.config.operation_timeout,
            "queue.declare (consumer watchdog)",
            link.channel
                .queue_declare(queue, options, FieldTable::default()),
        )
        .await;
        match probe {
            Ok(queue) if queue.consumer_count() > 0 => true,
            Ok(_) => {
                warn!(queue = %self.queue, "watchdog: the broker sees no consumer on the queue");
                false
            }
            Err(error) => {
                warn!(queue = %self.queue, %error, "watchdog: probe failed");
                false
            }
        }
    }

    /// Checks a delivery can be answered on the current channel.
    fn owned(&self, delivery: &Delivery) -> Result<(), BusError> {
        if self.link.is_none() || delivery.token.generation != self.generation {
            return Err(BusError::StaleDelivery(format!(
                "message {} was delivered on channel generation {}, now {}; the broker redelivers it",
                delivery.message.id, delivery.token.generation, self.generation
            )));
        }
        if !self.outstanding.contains(&delivery.token.tag) {
            return Err(BusError::Other(format!(
                "message {} (tag {}) was already answered",
                delivery.message.id, delivery.token.tag
            )));
        }
        Ok(())
    }

    /// Acknowledges tags of the current channel; `multiple` acks every tag up to the
    /// highest one.
    async fn send_ack(&mut self, tag: u64, multiple: bool) -> Result<(), BusError> {
        let Some(link) = self.link.as_ref() else {
            return Err(BusError::StaleDelivery("the channel is gone".to_owned()));
        };
        let result = with_timeout(
            self.shared.config.operation_timeout,
            "basic.ack",
            link.channel.basic_ack(tag, BasicAckOptions { multiple }),
        )
        .await;
        if let Err(error) = result {
            self.drop_link(&error.to_string());
            return Err(BusError::StaleDelivery(format!(
                "the channel failed while acknowledging ({error}); the broker redelivers"
            )));
        }
        Ok(())
    }

    /// Publishes a copy of `delivery` to `exchange` (confirmed), then acknowledges the
    /// original.
    async fn move_to(
        &mut self,
        delivery: &Delivery,
        exchange: &str,
        extra: &[(&str, AMQPValue)],
    ) -> Result<(), BusError> {
        self.owned(delivery)?;
        let outgoing = encode(delivery.message.clone(), extra)?;
        self.shared
            .publisher
            .publish(exchange, vec![outgoing])
            .await?;
        // The copy is durable; if this ack fails, the original comes back as well
        // and the consumer's dedupe on the message id absorbs it.
        self.send_ack(delivery.token.tag, false).await?;
        self.outstanding.remove(&delivery.token.tag);
        Ok(())
    }
}

impl Consumer for AmqpConsumer {
    async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let deadline = Instant::now() + wait;
        let watchdog = self.shared.config.watchdog_interval;
        loop {
            if !self.undecodable.is_empty() {
                self.reject_undecodable().await;
            }
            if !self.not_due.is_empty() {
                self.delay_again().await;
            }
            if !self.buffered.is_empty() {
                let count = max.min(self.buffered.len());
                return Ok(self.buffered.drain(..count).collect());
            }
            if self.link.is_none()
                && let Err(error) = self.connect().await
            {
                if !error.is_transient() || Instant::now() >= deadline {
                    return Err(error);
                }
                tokio::time::sleep_until(deadline.min(Instant::now() + RECONNECT_PAUSE)).await;
                continue;
            }
            let Some(link) = self.link.as_mut() else {
                continue;
            };
            if !looks_alive(&link.connection, &link.channel) {
                self.drop_link("the connection or channel is closed");
                continue;
            }
            let slice_end = deadline.min(self.last_sign_of_life + watchdog);
            let next = tokio::time::timeout_at(slice_end, link.stream.next()).await;
            match next {
                Ok(Some(Ok(delivery))) => {
                    self.last_sign_of_life = Instant::now();
                    self.accept(&delivery);
                    self.drain_ready(max);
                }
                Ok(Some(Err(error))) => self.drop_link(&error.to_string()),
                Ok(None) => self.drop_link("the broker cancelled the consumer"),
                Err(_) => {
                    if self.last_sign_of_life.elapsed() >= watchdog {
                        if self.alive().await {
                            self.last_sign_of_life = Instant::now();
                        } else {
                            self.drop_link("the watchdog found the connection dead");
                            continue;
                        }
                    }
                    if Instant::now() >= deadline {
                        return Ok(Vec::new());
                    }
                }
            }
        }
    }

    async fn ack(&mut self, deliveries: &[Delivery]) -> Result<(), BusError> {
        let mut tags = BTreeSet::new();
        let mut stale = 0_usize;
        for delivery in deliveries {
            if self.link.is_none() || delivery.token.generation != self.generation {
                stale += 1;
            } else if self.outstanding.contains(&delivery.token.tag) {
                tags.insert(delivery.token.tag);
            } else {
                debug!(id = %delivery.message.id, "ack of an already answered delivery ignored");
            }
        }
        if let Some(&highest) = tags.last() {
            // `multiple` acks every outstanding tag up to `highest`: only when those
            // are exactly this batch's.
            let covered = self.outstanding.range(..=highest).count() == tags.len();
            if covered {
                self.send_ack(highest, true).await?;
            } else {
                for tag in &tags {
                    self.send_ack(*tag, false).await?;
                }
            }
            for tag in &tags {
                self.outstanding.remove(tag);
            }
        }
        if stale > 0 {
            return Err(BusError::StaleDelivery(format!(
                "{stale} of {} deliveries came from a closed channel; the broker redelivers them",
                deliveries.len()
            )));
        }
        Ok(())
    }

    async fn retry(&mut self, delivery: &Delivery, delay: Duration) -> Result<(), BusError> {
        let delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        let due = now_ms().saturating_add(delay_ms);
        let next_attempt = delivery.attempt.saturating_add(1);
        self.delay(delivery, delay, due, next_attempt).await
    }

    async fn defer(&mut self, delivery: &Delivery, delay: Duration) -> Result<(), BusError> {
        let delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        let due = now_ms().saturating_add(delay_ms);
        self.delay(delivery, delay, due, delivery.attempt).await
    }

    async fn reject(&mut self, delivery: &Delivery, reason: &str) -> Result<(), BusError> {
        let exchange = self.shared.topology.dead_letter_exchange();
        let extra = [
            (
                HEADER_ATTEMPT,
                AMQPValue::LongLongInt(i64::from(delivery.attempt)),
            ),
            (
                HEADER_REASON,
                AMQPValue::LongString(LongString::from(reason)),
            ),
            (
                HEADER_REJECTED_FROM,
                AMQPValue::LongString(LongString::from(self.stage.name())),
            ),
        ];
        self.move_to(delivery, &exchange, &extra).await
    }
}
