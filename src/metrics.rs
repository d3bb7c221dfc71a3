//! The hub's Prometheus metrics: their names, and one small function per measurement so
//! that every call site is one line.
//!
//! Measurements go through the [`metrics`] facade to a Prometheus recorder installed once
//! per process ([`install`]); the hub serves what it holds at `GET /metrics`
//! ([`render`]). Until the recorder is installed (a stage worker or an intake used
//! without a hub), the measurements go nowhere.
//!
//! Label values are bounded: `stage` is a stage name (`intake`, `translate`, `decide`,
//! `deliver`), `partner` a configured partner id (or `none` when a message names none),
//! `outcome` one of [`Outcome`], `channel` `http` or `file`.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::task::JoinHandle;
use uuid::Uuid;

/// Counter `{stage, partner}`: messages taken in: accepted by the intake, and every
/// delivery a stage worker takes from its queue (a redelivery counts again).
pub const MESSAGES_RECEIVED: &str = "transload_messages_received_total";
/// Counter `{stage, partner, outcome}`: what became of each message a stage handled; the
/// outcomes are [`Outcome`]'s.
pub const MESSAGES_PROCESSED: &str = "transload_messages_processed_total";
/// Histogram `{stage}`, seconds: a stage worker's handling and commit of one message
/// (for the intake: the commit of an accepted message).
pub const STAGE_LATENCY: &str = "transload_stage_latency_seconds";
/// Histogram `{stage}`, seconds: from the creation of a bus message (the timestamp of its
/// UUIDv7 id) to its commit at that stage.
pub const END_TO_END: &str = "transload_end_to_end_seconds";
/// Counter `{partner, channel}`: documents handed to a partner (`http` endpoint, or
/// `file` in its outbound folder).
pub const DELIVERED: &str = "transload_delivered_total";
/// Counter `{partner}`: failed attempts to hand a document to a partner (each is retried
/// or dead-lettered).
pub const DELIVERY_FAILURES: &str = "transload_delivery_failures_total";
/// Counter: outbox messages the relay published to the bus.
pub const OUTBOX_PUBLISHED: &str = "transload_outbox_published_total";
/// Gauge: outbox messages the relay found waiting at its last look (at most one batch,
/// 500).
pub const OUTBOX_PENDING: &str = "transload_outbox_pending";
/// Gauge `{stage}`: messages waiting or in flight in the queue a stage reads, sampled at
/// each scrape. Embedded bus only (RabbitMQ has its own metrics).
pub const QUEUE_DEPTH: &str = "transload_queue_depth";
/// Counter: messages the embedded bus itself dead-lettered (past its delivery limit, or
/// rejected), by stage and reason; the hub then moves them into the store's dead letters
/// ([`BUS_DEAD_LETTERS_MOVED`]).
pub const BUS_DEAD_LETTERED: &str = "transload_bus_dead_lettered_total";
/// Counter: messages the bus gave up on, moved into the store's dead letters, by stage.
pub const BUS_DEAD_LETTERS_MOVED: &str = "transload_bus_dead_letters_moved_total";

/// The label of messages that name no partner.
pub const NO_PARTNER: &str = "none";

/// The stage label of the HTTP intake.
pub const INTAKE: &str = "intake";

/// Buckets of [`STAGE_LATENCY`], in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Buckets of [`END_TO_END`], in seconds (a message may wait for retries or timers).
const END_TO_END_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];
/// How often [`spawn_upkeep`] drains the histograms between scrapes.
const UPKEEP: Duration = Duration::from_secs(5);

/// What became of a message a stage handled (the `outcome` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Committed for the first time.
    Committed,
    /// Already processed or accepted before (a redelivery, a replay).
    Duplicate,
    /// Scheduled for another attempt.
    Retried,
    /// Not due yet (a timer), back later.
    Deferred,
    /// Given up on and recorded as a dead letter.
    DeadLettered,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 5] = [
        Outcome::Committed,
        Outcome::Duplicate,
        Outcome::Retried,
        Outcome::Deferred,
        Outcome::DeadLettered,
    ];

    /// The place of this outcome in [`Outcome::ALL`].
    #[must_use]
    pub fn index(self) -> usize {
        match self {
            Outcome::Committed => 0,
            Outcome::Duplicate => 1,
            Outcome::Retried => 2,
            Outcome::Deferred => 3,
            Outcome::DeadLettered => 4,
        }
    }

    /// The label value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Committed => "committed",
            Outcome::Duplicate => "duplicate",
            Outcome::Retried => "retried",
            Outcome::Deferred => "deferred",
            Outcome::DeadLettered => "dead_lettered",
        }
    }
}

/// The process's recorder: its handle, or why it could not be installed.
static RECORDER: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// Installs the Prometheus recorder (once per process; later calls return the same
/// handle).
///
/// # Errors
/// Why the recorder could not be installed (another recorder was installed first); the
/// measurements then go to that recorder, or nowhere.
pub fn install() -> Result<&'static PrometheusHandle, &'static str> {
    RECORDER
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(STAGE_LATENCY.to_owned()), LATENCY_BUCKETS)
                .and_then(|builder| {
                    builder.set_buckets_for_metric(
                        Matcher::Full(END_TO_END.to_owned()),
                        END_TO_END_BUCKETS,
                    )
                })
                .and_then(PrometheusBuilder::install_recorder)
                .map_err(|error| error.to_string())?;
            describe();
            Ok(handle)
        })
        .as_ref()
        .map_err(String::as_str)
}

/// The metrics in the Prometheus text format (version 0.0.4), installing the recorder if
/// nobody did.
///
/// # Errors
/// As for [`install`].
pub fn render() -> Result<String, &'static str> {
    install().map(PrometheusHandle::render)
}

/// A task that drains the histograms every few seconds, so that a hub nobody scrapes
/// does not keep every observation; `None` when there is no recorder of ours.
#[must_use]
pub fn spawn_upkeep() -> Option<JoinHandle<()>> {
    let handle = install().ok()?;
    Some(tokio::spawn(async move {
        let mut interval = tokio::time::interval(UPKEEP);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            handle.run_upkeep();
        }
    }))
}

fn describe() {
    use ::metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        MESSAGES_RECEIVED,
        "Messages accepted by the intake or taken by a stage worker."
    );
    describe_counter!(
        MESSAGES_PROCESSED,
        "Messages handled by a stage, by outcome (committed, duplicate, retried, deferred, dead_lettered)."
    );
    describe_histogram!(
        STAGE_LATENCY,
        Unit::Seconds,
        "Handling and commit time of one message at a stage."
    );
    describe_histogram!(
        END_TO_END,
        Unit::Seconds,
        "Time from a bus message's creation to its commit at a stage."
    );
    describe_counter!(DELIVERED, "Documents handed to a partner, by channel.");
    describe_counter!(
        DELIVERY_FAILURES,
        "Failed attempts to hand a document to a partner."
    );
    describe_counter!(OUTBOX_PUBLISHED, "Outbox messages published to the bus.");
    describe_counter!(
        BUS_DEAD_LETTERED,
        "Messages the bus itself dead-lettered (past its delivery limit, or rejected), by stage and reason."
    );
    describe_counter!(
        BUS_DEAD_LETTERS_MOVED,
        "Messages the bus gave up on (embedded bus_dead_letters, RabbitMQ {prefix}.dlq), moved into the store's dead letters, by stage."
    );
    describe_gauge!(
        OUTBOX_PENDING,
        "Outbox messages waiting at the relay's last look (at most one batch)."
    );
    describe_gauge!(
        QUEUE_DEPTH,
        "Messages waiting or in flight in the queue a stage reads (embedded bus)."
    );
}

/// A document handed to `partner` through `channel` (`http`, `file`).
pub fn delivered(partner: &str, channel: &'static str) {
    ::metrics::counter!(
        DELIVERED,
        "partner" => partner.to_owned(),
        "channel" => channel
    )
    .increment(1);
}

/// A failed attempt to hand a document to `partner`.
pub fn delivery_failed(partner: &str) {
    ::metrics::counter!(DELIVERY_FAILURES, "partner" => partner.to_owned()).increment(1);
}

/// The relay published `count` outbox messages.
pub fn outbox_published(count: usize) {
    ::metrics::counter!(OUTBOX_PUBLISHED).increment(u64::try_from(count).unwrap_or(u64::MAX));
}

/// The relay found `count` outbox messages waiting.
pub fn outbox_pending(count: usize) {
    ::metrics::gauge!(OUTBOX_PENDING).set(count as f64);
}

/// The bus itself dead-lettered `count` messages of `stage`, for `reason`.
pub fn bus_dead_lettered(stage: &str, reason: &'static str, count: usize) {
    ::metrics::counter!(BUS_DEAD_LETTERED, "stage" => stage.to_owned(), "reason" => reason)
        .increment(u64::try_from(count).unwrap_or(u64::MAX));
}

/// `count` messages the bus gave up on at `stage` were moved into the store's dead letters.
pub fn bus_dead_letters_moved(stage: &str, count: usize) {
    ::metrics::counter!(BUS_DEAD_LETTERS_MOVED, "stage" => stage.to_owned())
        .increment(u64::try_from(count).unwrap_or(u64::MAX));
}

/// The queue `stage` reads holds `depth` messages.
pub fn queue_depth(stage: &str, depth: u64) {
    ::metrics::gauge!(QUEUE_DEPTH, "stage" => stage.to_owned()).set(depth as f64);
}

/// One stage's measurements, as handles looked up once per partner and outcome rather
/// than once per message (building a metric's labels and finding its series costs a few
/// allocations and a hash each time): [`MESSAGES_RECEIVED`], [`MESSAGES_PROCESSED`],
/// [`STAGE_LATENCY`] and [`END_TO_END`].
#[derive(Debug)]
pub struct StageMeters {
    stage: String,
    latency: Option<Histogram>,
    end_to_end: Option<Histogram>,
    /// By the partner label.
    partners: HashMap<String, PartnerMeters>,
}

/// One partner's counters at one stage, each registered at its first use.
#[derive(Debug, Default)]
struct PartnerMeters {
    received: Option<Counter>,
    /// By [`Outcome::index`].
    processed: [Option<Counter>; Outcome::ALL.len()],
}

impl StageMeters {
    /// The measurements of `stage`. Handles are taken at first use, so a recorder
    /// installed after this is made still gets them.
    #[must_use]
    pub fn new(stage: &str) -> Self {
        Self {
            stage: stage.to_owned(),
            latency: None,
            end_to_end: None,
            partners: HashMap::new(),
        }
    }

    /// The counters of the partner labelled `label`, made when missing (called when a
    /// handle is registered, not per message).
    fn partner(&mut self, label: &str) -> &mut PartnerMeters {
        self.partners.entry(label.to_owned()).or_default()
    }

    /// A message taken in, from `partner`.
    pub fn received(&mut self, partner: Option<&str>) {
        let label = partner.unwrap_or(NO_PARTNER);
        let counter = self
            .partners
            .get(label)
            .and_then(|meters| meters.received.as_ref());
        if let Some(counter) = counter {
            counter.increment(1);
            return;
        }
        let counter = ::metrics::counter!(
            MESSAGES_RECEIVED,
            "stage" => self.stage.clone(),
            "partner" => label.to_owned()
        );
        counter.increment(1);
        self.partner(label).received = Some(counter);
    }

    /// What became of a message from `partner`.
    pub fn processed(&mut self, partner: Option<&str>, outcome: Outcome) {
        let label = partner.unwrap_or(NO_PARTNER);
        let index = outcome.index();
        let counter = self
            .partners
            .get(label)
            .and_then(|meters| meters.processed.get(index)?.as_ref());
        if let Some(counter) = counter {
            counter.increment(1);
            return;
        }
        let counter = ::metrics::counter!(
            MESSAGES_PROCESSED,
            "stage" => self.stage.clone(),
            "partner" => label.to_owned(),
            "outcome" => outcome.as_str()
        );
        counter.increment(1);
        if let Some(slot) = self.partner(label).processed.get_mut(index) {
            *slot = Some(counter);
        }
    }

    /// How long handling and committing one message took.
    pub fn latency(&mut self, elapsed: Duration) {
        let stage = &self.stage;
        self.latency
            .get_or_insert_with(|| ::metrics::histogram!(STAGE_LATENCY, "stage" => stage.clone()))
            .record(elapsed.as_secs_f64());
    }

    /// The bus message `message_id` was committed now: records its age (nothing when the
    /// id carries no timestamp).
    pub fn end_to_end(&mut self, message_id: Uuid) {
        if let Some(age) = age_of(message_id, SystemTime::now()) {
            let stage = &self.stage;
            self.end_to_end
                .get_or_insert_with(|| ::metrics::histogram!(END_TO_END, "stage" => stage.clone()))
                .record(age.as_secs_f64());
        }
    }
}

/// How long before `now` the message `id` was created, from its UUIDv7 (or v1/v6)
/// timestamp; zero for an id from the future (clock skew between hubs), `None` for an id
/// without a timestamp.
#[must_use]
pub fn age_of(id: Uuid, now: SystemTime) -> Option<Duration> {
    let (seconds, nanos) = id.get_timestamp()?.to_unix();
    let created = UNIX_EPOCH + Duration::new(seconds, nanos);
    Some(now.duration_since(created).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_age_of_a_v7_id_is_the_time_since_it_was_made() {
        let made = SystemTime::now();
        let id = Uuid::now_v7();
        let age = age_of(id, made + Duration::from_secs(3)).unwrap();
        // v7 timestamps have millisecond precision.
        assert!(
            age >= Duration::from_millis(2_990) && age <= Duration::from_millis(3_100),
            "{age:?}"
        );
        assert_eq!(
            age_of(id, made - Duration::from_secs(60)),
            Some(Duration::ZERO)
        );
        assert_eq!(age_of(Uuid::nil(), made), None);
        let random = uuid::Builder::from_random_bytes([7; 16]).into_uuid();
        assert_eq!(age_of(random, made), None);
    }

    #[test]
    fn measurements_show_in_the_rendering() {
        install().unwrap();
        let mut translate = StageMeters::new("translate");
        translate.received(Some("unit-test-partner"));
        translate.processed(Some("unit-test-partner"), Outcome::DeadLettered);
        // A second measurement through the same handle.
        translate.processed(Some("unit-test-partner"), Outcome::DeadLettered);
        translate.processed(None, Outcome::Duplicate);
        StageMeters::new("unit-test-stage").latency(Duration::from_millis(7));
        bus_dead_lettered("unit-test-stage", "delivery limit reached", 2);
        let text = render().unwrap();
        assert!(
            text.contains(
                r#"transload_bus_dead_lettered_total{stage="unit-test-stage",reason="delivery limit reached"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"transload_messages_received_total{stage="translate",partner="unit-test-partner"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"transload_messages_processed_total{stage="translate",partner="unit-test-partner",outcome="dead_lettered"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"transload_messages_processed_total{stage="translate",partner="none",outcome="duplicate"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"transload_stage_latency_seconds_bucket{stage="unit-test-stage",le="0.01"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains("# TYPE transload_stage_latency_seconds histogram"),
            "{text}"
        );
        // A second install is the same recorder.
        assert!(std::ptr::eq(install().unwrap(), install().unwrap()));
    }
}
