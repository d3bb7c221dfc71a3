//! The bus between the pipeline stages: durable publish, manual acknowledgement,
//! delayed retry. Implemented by RabbitMQ (`amqp`) and by a queue in SQLite (`embedded`).
//!
//! The contract every implementation keeps (and the conformance suite checks):
//! - [`Bus::publish`] returns only once every message is durable (publisher confirm,
//!   fsync'd commit). A message whose publish returned `Ok` is never lost.
//! - A delivery stays owned by its consumer until acknowledged, retried or rejected; a
//!   consumer that dies without answering gets its deliveries redelivered (at least
//!   once), with `attempt` counting up.
//! - [`Consumer::retry`] makes the message available again after the delay, not
//!   before; [`Consumer::reject`] sends it to the bus's dead-letter queue.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use thiserror::Error;
use uuid::Uuid;

/// The queues of the pipeline, one per hand-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// Raw messages from endpoints, to be translated.
    Inbound,
    /// Canonical events, to be decided on.
    Events,
    /// Commands to partners, to be delivered.
    Outbound,
}

impl Stage {
    /// Every stage, in pipeline order.
    pub const ALL: [Stage; 3] = [Stage::Inbound, Stage::Events, Stage::Outbound];

    /// The stage's name, as used for exchanges, queues and tables: `inbound`, `events`,
    /// `outbound`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Stage::Inbound => "inbound",
            Stage::Events => "events",
            Stage::Outbound => "outbound",
        }
    }

    /// The stage named `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|stage| stage.name() == name)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Header with an instant (RFC 3339) before which a bus may hold a message back: a
/// hint, so that a consumer does not read a message only to put it back (a timer not
/// yet due). The embedded bus holds such a message until then; the AMQP bus sends it
/// through its retry delay tiers (the longest again and again for a longer wait): never
/// early, and late by less than the tier it waits in last. Consumers still check their
/// own time.
pub const AVAILABLE_AT_HEADER: &str = "transload-available-at";

/// A message on the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusMessage {
    /// Unique id, kept across retries and redeliveries; consumers dedupe on it.
    pub id: Uuid,
    /// Routing key: `{tenant}.{event type}` on `events`, the partner id on `outbound`
    /// and `inbound`.
    pub routing_key: String,
    /// Small string headers (tenant, partner, format, correlation id…).
    pub headers: BTreeMap<String, String>,
    /// The payload.
    pub body: Vec<u8>,
}

impl BusMessage {
    /// A message with a new id and no headers.
    #[must_use]
    pub fn new(routing_key: impl Into<String>, body: impl Into<Vec<u8>>) -> Self {
        Self {
            id: Uuid::now_v7(),
            routing_key: routing_key.into(),
            headers: BTreeMap::new(),
            body: body.into(),
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// The instant of its [`AVAILABLE_AT_HEADER`], in milliseconds since the epoch; none
    /// when it has none or one that is not an RFC 3339 instant.
    #[must_use]
    pub fn available_at_ms(&self) -> Option<i64> {
        self.headers
            .get(AVAILABLE_AT_HEADER)
            .and_then(|at| at.parse::<jiff::Timestamp>().ok())
            .map(jiff::Timestamp::as_millisecond)
    }
}

/// A message handed to a consumer, until it answers.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The message.
    pub message: BusMessage,
    /// 1 for the first delivery, counting every redelivery and retry.
    pub attempt: u32,
    /// The implementation's handle (delivery tag, lease).
    pub token: DeliveryToken,
}

/// An implementation's handle on one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeliveryToken {
    /// Delivery tag (AMQP) or row id (embedded).
    pub tag: u64,
    /// Channel generation (AMQP) or lease number (embedded), so that an answer to a
    /// delivery from a connection or lease that is gone is recognised as stale.
    pub generation: u64,
}

/// How a consumer reads.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// Deliveries in flight at most (AMQP prefetch).
    pub prefetch: u16,
    /// How long an unanswered delivery stays owned (embedded visibility timeout; AMQP
    /// redelivers when the channel closes instead).
    pub visibility_timeout: Duration,
}

impl Default for ConsumerOptions {
    fn default() -> Self {
        Self {
            prefetch: 200,
            visibility_timeout: Duration::from_secs(30),
        }
    }
}

/// What went wrong on the bus.
#[derive(Debug, Error)]
pub enum BusError {
    /// The bus cannot be reached now; retry later.
    #[error("bus unavailable: {0}")]
    Unavailable(String),
    /// A publish or confirm did not complete in time; the message may or may not be
    /// stored, so the caller publishes it again (consumers dedupe on the id).
    #[error("bus timed out after {0:?} waiting for {1}")]
    Timeout(Duration, &'static str),
    /// The broker refused the message (nack, unroutable return).
    #[error("bus refused the message: {0}")]
    Refused(String),
    /// The answer concerns a delivery no longer owned (its lease or channel is gone);
    /// the message will be or was redelivered.
    #[error("delivery is stale: {0}")]
    StaleDelivery(String),
    /// Anything else from the implementation.
    #[error("bus error: {0}")]
    Other(String),
}

impl BusError {
    /// Whether trying again later may succeed.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, BusError::Unavailable(_) | BusError::Timeout(..))
    }
}

/// A durable message bus.
pub trait Bus: Clone + Send + Sync + 'static {
    /// The consumer type.
    type Consumer: Consumer;

    /// Publishes `messages` to `stage` and returns once every one is durable.
    fn publish(
        &self,
        stage: Stage,
        messages: Vec<BusMessage>,
    ) -> impl Future<Output = Result<(), BusError>> + Send;

    /// Opens a consumer on `stage`.
    fn consumer(
        &self,
        stage: Stage,
        options: ConsumerOptions,
    ) -> impl Future<Output = Result<Self::Consumer, BusError>> + Send;
}

/// Reads one stage's queue.
pub trait Consumer: Send + 'static {
    /// Waits up to `wait` for deliveries and returns between 0 and `max` of them
    /// (0 only when `wait` ran out).
    fn next_batch(
        &mut self,
        max: usize,
        wait: Duration,
    ) -> impl Future<Output = Result<Vec<Delivery>, BusError>> + Send;

    /// Acknowledges `deliveries`: they are done and will not come again.
    fn ack(&mut self, deliveries: &[Delivery])
    -> impl Future<Output = Result<(), BusError>> + Send;

    /// Makes `delivery` available again after `delay`, with its attempt counted.
    fn retry(
        &mut self,
        delivery: &Delivery,
        delay: Duration,
    ) -> impl Future<Output = Result<(), BusError>> + Send;

    /// Makes `delivery` available again after `delay` without counting an attempt: the
    /// message is not failing, it is waiting for its time (a timer not yet due).
    fn defer(
        &mut self,
        delivery: &Delivery,
        delay: Duration,
    ) -> impl Future<Output = Result<(), BusError>> + Send;

    /// [`Consumer::retry`] for each delivery with its delay, in order, stopping at the
    /// first failure. A bus may apply them together (a stage worker retries what is
    /// left of a batch at once); by default they go one by one.
    fn retry_all(
        &mut self,
        retries: &[(&Delivery, Duration)],
    ) -> impl Future<Output = Result<(), BusError>> + Send {
        async move {
            for (delivery, delay) in retries {
                self.retry(delivery, *delay).await?;
            }
            Ok(())
        }
    }

    /// [`Consumer::defer`] for each delivery with its delay, as
    /// [`Consumer::retry_all`] does for retries.
    fn defer_all(
        &mut self,
        deferrals: &[(&Delivery, Duration)],
    ) -> impl Future<Output = Result<(), BusError>> + Send {
        async move {
            for (delivery, delay) in deferrals {
                self.defer(delivery, *delay).await?;
            }
            Ok(())
        }
    }

    /// Sends `delivery` to the bus's dead-letter queue with `reason`.
    fn reject(
        &mut self,
        delivery: &Delivery,
        reason: &str,
    ) -> impl Future<Output = Result<(), BusError>> + Send;

    /// Whether a delivery is acknowledged by the store's commit of the unit that
    /// consumes it ([`crate::store::UnitOfWork::acknowledges`]), in the same transaction,
    /// rather than by [`Consumer::ack`]: true of a bus that lives in the store (one
    /// transaction then consumes a message, writes its effects and publishes what
    /// follows). False by default.
    fn acknowledges_in_commit(&self) -> bool {
        false
    }

    /// Tells the consumer that its caller has handled the batch it holds and is about to
    /// commit it: a consumer that leases its next batch ahead asks for it now, so that
    /// the lease takes what came while the batch was handled and is ready by the time the
    /// commit is. Nothing by default.
    fn lease_ahead(&mut self) {}

    /// Records that `count` deliveries were acknowledged by commits
    /// ([`Consumer::acknowledges_in_commit`]); they are settled.
    fn acknowledged_in_commit(&mut self, count: usize) {
        let _ = count;
    }
}
