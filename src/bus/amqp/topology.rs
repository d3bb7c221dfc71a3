//! The exchanges and queues of one bus (one prefix), declared idempotently at start.
//!
//! ```text
//! {p}.inbound / {p}.events / {p}.outbound   topic exchanges, one per stage
//!   └─ '#' → {p}.{stage}                    quorum queue; delivery limit; DLX {p}.dlx
//! {p}.retry                                 headers exchange
//!   └─ stage+tier → {p}.retry.{stage}.{tier} quorum queue, x-message-ttl = tier;
//!                                            dead-letters to {p}.{stage} (routing key kept)
//! {p}.dlx                                   topic exchange
//!   └─ '#' → {p}.dlq                        quorum queue
//! ```
//!
//! Every queue that dead-letters uses `x-dead-letter-strategy = at-least-once` with
//! `x-overflow = reject-publish` (RabbitMQ ≥ 3.10), so a message moved to the DLQ or
//! back from a retry tier is never dropped on the way.

use std::time::Duration;

use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};
use tracing::debug;
use transload_core::bus::{BusError, Stage};

use super::config::AmqpConfig;
use super::error::with_timeout;
use super::message::{HEADER_ATTEMPT, HEADER_NOT_BEFORE};

/// Header naming the stage of a message on the retry exchange (headers-exchange match).
pub(crate) const HEADER_RETRY_STAGE: &str = "transload-bus-retry-stage";
/// Header naming the tier of a message on the retry exchange (headers-exchange match).
pub(crate) const HEADER_RETRY_TIER: &str = "transload-bus-retry-tier";

/// The names of one bus's exchanges and queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    prefix: String,
    tiers: Vec<Duration>,
    delivery_limit: u32,
}

impl Topology {
    /// The topology of `config` (assumed validated).
    #[must_use]
    pub fn new(config: &AmqpConfig) -> Self {
        Self {
            prefix: config.prefix.clone(),
            tiers: config.retry_tiers.clone(),
            delivery_limit: config.delivery_limit,
        }
    }

    /// The exchange a stage's messages are published to: `{prefix}.{stage}`.
    #[must_use]
    pub fn stage_exchange(&self, stage: Stage) -> String {
        format!("{}.{}", self.prefix, stage.name())
    }

    /// The quorum queue a stage's consumers read: `{prefix}.{stage}`.
    #[must_use]
    pub fn stage_queue(&self, stage: Stage) -> String {
        format!("{}.{}", self.prefix, stage.name())
    }

    /// The stage whose queue is named `queue`, if it is one of this bus's.
    #[must_use]
    pub fn stage_of_queue(&self, queue: &str) -> Option<Stage> {
        Stage::ALL
            .into_iter()
            .find(|stage| self.stage_queue(*stage) == queue)
    }

    /// The stages' queues' `x-delivery-limit`: a message is delivered at most this many
    /// times plus one, then dead-lettered.
    #[must_use]
    pub fn delivery_limit(&self) -> u32 {
        self.delivery_limit
    }

    /// The headers exchange delayed retries are published to: `{prefix}.retry`.
    #[must_use]
    pub fn retry_exchange(&self) -> String {
        format!("{}.retry", self.prefix)
    }

    /// The delay queue of `stage` for `tier`: `{prefix}.retry.{stage}.{label}`.
    #[must_use]
    pub fn tier_queue(&self, stage: Stage, tier: Duration) -> String {
        format!(
            "{}.retry.{}.{}",
            self.prefix,
            stage.name(),
            tier_label(tier)
        )
    }

    /// The dead-letter exchange: `{prefix}.dlx`.
    #[must_use]
    pub fn dead_letter_exchange(&self) -> String {
        format!("{}.dlx", self.prefix)
    }

    /// The dead-letter queue: `{prefix}.dlq`.
    #[must_use]
    pub fn dead_letter_queue(&self) -> String {
        format!("{}.dlq", self.prefix)
    }

    /// The retry tiers, ascending.
    #[must_use]
    pub fn tiers(&self) -> &[Duration] {
        &self.tiers
    }

    /// The tier a retry after `delay` waits in: the shortest tier not shorter than
    /// `delay`, or the longest tier when `delay` exceeds them all.
    #[must_use]
    pub fn tier_for(&self, delay: Duration) -> Option<Duration> {
        self.tiers
            .iter()
            .copied()
            .find(|tier| *tier >= delay)
            .or_else(|| self.tiers.last().copied())
    }

    /// Declares every exchange, queue and binding; declaring an existing topology with
    /// the same arguments changes nothing.
    ///
    /// # Errors
    /// [`BusError::Other`] when an existing queue was declared with other arguments
    /// (the broker answers `PRECONDITION_FAILED` and closes the channel),
    /// [`BusError::Unavailable`] / [`BusError::Timeout`] when the broker does not answer.
    pub async fn declare(&self, channel: &Channel, timeout: Duration) -> Result<(), BusError> {
        let dlx = self.dead_letter_exchange();
        declare_exchange(channel, &dlx, ExchangeKind::Topic, timeout).await?;
        let dlq = self.dead_letter_queue();
        declare_queue(channel, &dlq, quorum_args(), timeout).await?;
        bind(channel, &dlq, &dlx, "#", FieldTable::default(), timeout).await?;

        let retry = self.retry_exchange();
        declare_exchange(channel, &retry, ExchangeKind::Headers, timeout).await?;

        for stage in Stage::ALL {
            let exchange = self.stage_exchange(stage);
            declare_exchange(channel, &exchange, ExchangeKind::Topic, timeout).await?;
            let queue = self.stage_queue(stage);
            let mut args = dead_lettering_args(&dlx);
            args.insert(
                "x-delivery-limit".into(),
                AMQPValue::LongInt(i32::try_from(self.delivery_limit).unwrap_or(i32::MAX)),
            );
            declare_queue(channel, &queue, args, timeout).await?;
            bind(
                channel,
                &queue,
                &exchange,
                "#",
                FieldTable::default(),
                timeout,
            )
            .await?;

            for tier in &self.tiers {
                let tier_queue = self.tier_queue(stage, *tier);
                let mut args = dead_lettering_args(&exchange);
                args.insert(
                    "x-message-ttl".into(),
                    AMQPValue::LongLongInt(i64::try_from(tier.as_millis()).unwrap_or(i64::MAX)),
                );
                declare_queue(channel, &tier_queue, args, timeout).await?;
                let mut match_args = FieldTable::default();
                match_args.insert("x-match".into(), AMQPValue::LongString("all".into()));
                match_args.insert(
                    HEADER_RETRY_STAGE.into(),
                    AMQPValue::LongString(stage.name().into()),
                );
                match_args.insert(
                    HEADER_RETRY_TIER.into(),
                    AMQPValue::LongString(tier_label(*tier).into()),
                );
                bind(channel, &tier_queue, &retry, "", match_args, timeout).await?;
            }
        }
        debug!(prefix = %self.prefix, "amqp topology declared");
        Ok(())
    }

    /// Deletes every queue and exchange of this topology, with the messages in them
    /// (for tests and for tearing down an environment).
    ///
    /// # Errors
    /// As for [`Topology::declare`].
    pub async fn delete(&self, channel: &Channel, timeout: Duration) -> Result<(), BusError> {
        let mut queues = vec![self.dead_letter_queue()];
        let mut exchanges = vec![self.dead_letter_exchange(), self.retry_exchange()];
        for stage in Stage::ALL {
            queues.push(self.stage_queue(stage));
            exchanges.push(self.stage_exchange(stage));
            for tier in &self.tiers {
                queues.push(self.tier_queue(stage, *tier));
            }
        }
        for queue in queues {
            let name = short(&queue)?;
            with_timeout(
                timeout,
                "queue.delete",
                channel.queue_delete(name, QueueDeleteOptions::default()),
            )
            .await?;
        }
        for exchange in exchanges {
            let name = short(&exchange)?;
            with_timeout(
                timeout,
                "exchange.delete",
                channel.exchange_delete(name, ExchangeDeleteOptions::default()),
            )
            .await?;
        }
        Ok(())
    }
}

/// A tier's name part: `1s`, `2m`, `1500ms`.
#[must_use]
pub(crate) fn tier_label(tier: Duration) -> String {
    let millis = tier.as_millis();
    if millis.is_multiple_of(60_000) {
        format!("{}m", millis / 60_000)
    } else if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

/// A name as an AMQP short string.
pub(crate) fn short(name: &str) -> Result<ShortString, BusError> {
    ShortString::try_new(name)
        .map_err(|_| BusError::Refused(format!("name longer than 255 bytes: {name:.40}…")))
}

fn quorum_args() -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    args
}

fn dead_lettering_args(dead_letter_exchange: &str) -> FieldTable {
    let mut args = quorum_args();
    args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(LongString::from(dead_letter_exchange)),
    );
    args.insert(
        "x-dead-letter-strategy".into(),
        AMQPValue::LongString("at-least-once".into()),
    );
    args.insert(
        "x-overflow".into(),
        AMQPValue::LongString("reject-publish".into()),
    );
    args
}

async fn declare_exchange(
    channel: &Channel,
    name: &str,
    kind: ExchangeKind,
    timeout: Duration,
) -> Result<(), BusError> {
    let options = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    with_timeout(
        timeout,
        "exchange.declare",
        channel.exchange_declare(short(name)?, kind, options, FieldTable::default()),
    )
    .await
    .map_err(|error| declare_error(name, error))
}

async fn declare_queue(
    channel: &Channel,
    name: &str,
    args: FieldTable,
    timeout: Duration,
) -> Result<(), BusError> {
    with_timeout(
        timeout,
        "queue.declare",
        channel.queue_declare(short(name)?, QueueDeclareOptions::durable(), args),
    )
    .await
    .map(|_| ())
    .map_err(|error| declare_error(name, error))
}

async fn bind(
    channel: &Channel,
    queue: &str,
    exchange: &str,
    routing_key: &str,
    args: FieldTable,
    timeout: Duration,
) -> Result<(), BusError> {
    with_timeout(
        timeout,
        "queue.bind",
        channel.queue_bind(
            short(queue)?,
            short(exchange)?,
            short(routing_key)?,
            QueueBindOptions::default(),
            args,
        ),
    )
    .await
    .map_err(|error| declare_error(queue, error))
}

fn declare_error(name: &str, error: BusError) -> BusError {
    match error {
        BusError::Other(message) => BusError::Other(format!("declaring {name}: {message}")),
        other => other,
    }
}

/// The bus headers of a message sent through the delay `tier` of `stage`'s retries, due
/// at `due` (ms since the epoch), as attempt `attempt`: the retry exchange routes it on
/// the stage and tier, and a consumer that gets it before `due` sends it round again.
pub(crate) fn delayed_headers(
    stage: Stage,
    tier: Duration,
    due: u64,
    attempt: u32,
) -> [(&'static str, AMQPValue); 4] {
    [
        (HEADER_ATTEMPT, AMQPValue::LongLongInt(i64::from(attempt))),
        (
            HEADER_NOT_BEFORE,
            AMQPValue::LongLongInt(i64::try_from(due).unwrap_or(i64::MAX)),
        ),
        (
            HEADER_RETRY_STAGE,
            AMQPValue::LongString(LongString::from(stage.name())),
        ),
        (
            HEADER_RETRY_TIER,
            AMQPValue::LongString(LongString::from(tier_label(tier))),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology() -> Topology {
        Topology::new(&AmqpConfig::with_prefix("t1"))
    }

    #[test]
    fn names_follow_the_prefix() {
        let topology = topology();
        assert_eq!(topology.stage_exchange(Stage::Events), "t1.events");
        assert_eq!(topology.stage_queue(Stage::Inbound), "t1.inbound");
        assert_eq!(topology.dead_letter_queue(), "t1.dlq");
        assert_eq!(
            topology.tier_queue(Stage::Outbound, Duration::from_secs(120)),
            "t1.retry.outbound.2m"
        );
        assert_eq!(tier_label(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn delay_rounds_up_to_the_next_tier() {
        let topology = topology();
        assert_eq!(
            topology.tier_for(Duration::from_millis(1)),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            topology.tier_for(Duration::from_secs(5)),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            topology.tier_for(Duration::from_secs(6)),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            topology.tier_for(Duration::from_secs(3600)),
            Some(Duration::from_secs(600))
        );
    }
}
