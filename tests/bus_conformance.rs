//! One conformance suite for every bus implementation.
//!
//! Each behaviour is a generic async function over a [`Harness`]; the
//! `bus_conformance!` macro instantiates all of them for one implementation. To add an
//! implementation, write its harness and append one line:
//! `bus_conformance!(module_name, HarnessType);`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use transload::bus::embedded::{EmbeddedBus, EmbeddedBusOptions};
use transload::store::sqlite::SqliteStore;
use transload_core::bus::{Bus, BusMessage, Consumer, ConsumerOptions, Stage};
use uuid::Uuid;

/// A fresh, isolated bus for one test.
trait Harness: Sized + Send + Sync + 'static {
    type Bus: Bus;
    /// A new bus no other test uses.
    async fn new() -> Self;
    /// A handle on it.
    fn bus(&self) -> Self::Bus;
    /// A second, independent handle on the same bus (a new connection or a reopened file),
    /// as after a restart of the hub.
    async fn reopen(&self) -> Self::Bus;
    /// Consumer options with a short visibility timeout, so tests of redelivery run fast.
    fn options(&self) -> ConsumerOptions {
        ConsumerOptions {
            prefetch: 100,
            visibility_timeout: Duration::from_millis(500),
        }
    }
}

const WAIT: Duration = Duration::from_secs(5);
const SHORT: Duration = Duration::from_millis(300);

fn message(n: usize) -> BusMessage {
    BusMessage::new(format!("acme.test.{n}"), format!("body {n}").into_bytes())
        .with_header("tenant", "acme")
        .with_header("n", n.to_string())
}

/// Collects deliveries until `count` arrived or `WAIT` passed.
async fn take<C: Consumer>(consumer: &mut C, count: usize) -> Vec<transload_core::bus::Delivery> {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut got = Vec::new();
    while got.len() < count && tokio::time::Instant::now() < deadline {
        got.extend(
            consumer
                .next_batch(count - got.len(), Duration::from_millis(200))
                .await
                .unwrap(),
        );
    }
    got
}

async fn publish_consume_ack<H: Harness>() {
    let harness = H::new().await;
    let bus = harness.bus();
    let sent: Vec<BusMessage> = (0..3).map(message).collect();
    bus.publish(Stage::Events, sent.clone()).await.unwrap();
    let mut consumer = bus
        .consumer(Stage::Events, harness.options())
        .await
        .unwrap();
    let got = take(&mut consumer, 3).await;
    let received: Vec<BusMessage> = got
        .iter()
        .map(|delivery| delivery.message.clone())
        .collect();
    assert_eq!(
        received, sent,
        "id, routing key, headers and body arrive unchanged and in order"
    );
    assert!(got.iter().all(|delivery| delivery.attempt == 1));
    consumer.ack(&got).await.unwrap();
    tokio::time::sleep(harness.options().visibility_timeout * 2).await;
    assert!(
        consumer.next_batch(10, SHORT).await.unwrap().is_empty(),
        "acknowledged messages do not come again"
    );
}

async fn unanswered_deliveries_come_again<H: Harness>() {
    let harness = H::new().await;
    let bus = harness.bus();
    let sent = message(1);
    bus.publish(Stage::Inbound, vec![sent.clone()])
        .await
        .unwrap();
    {
        let mut consumer = bus
            .consumer(Stage::Inbound, harness.options())
            .await
            .unwrap();
        let first = take(&mut consumer, 1).await;
        assert_eq!(first[0].message.id, sent.id);
        // Dropped without an answer, as by a crash.
    }
    let other = harness.reopen().await;
    let mut consumer = other
        .consumer(Stage::Inbound, harness.options())
        .await
        .unwrap();
    let again = take(&mut consumer, 1).await;
    assert_eq!(again.len(), 1, "the message is delivered again");
    assert_eq!(again[0].message, sent);
    assert_eq!(again[0].attempt, 2, "the redelivery is counted");
    consumer.ack(&again).await.unwrap();
}

async fn retry_waits_for_its_delay<H: Harness>() {
    let harness = H::new().await;
    let bus = harness.bus();
    bus.publish(Stage::Outbound, vec![message(7)])
        .await
        .unwrap();
    let mut consumer = bus
        .consumer(Stage::Outbound, harness.options())
        .await
        .unwrap();
    let first = take(&mut consumer, 1).await;
    let started = tokio::time::Instant::now();
    consumer
        .retry(&first[0], Duration::from_secs(1))
        .await
        .unwrap();
    assert!(
        consumer
            .next_batch(10, Duration::from_millis(600))
            .await
            .unwrap()
            .is_empty(),
        "not delivered before its delay"
    );
    let again = take(&mut consumer, 1).await;
    assert_eq!(again.len(), 1, "delivered after its delay");
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(again[0].message.id, first[0].message.id);
    assert_eq!(again[0].attempt, 2);
    consumer.ack(&again).await.unwrap();
}

/// A deferral (a timer read before it is due) waits like a retry but counts no attempt,
/// however often it happens.
async fn defer_waits_without_counting_an_attempt<H: Harness>() {
    let harness = H::new().await;
    let bus = harness.bus();
    bus.publish(Stage::Events, vec![message(8)]).await.unwrap();
    let mut consumer = bus
        .consumer(Stage::Events, harness.options())
        .await
        .unwrap();
    let mut delivery = take(&mut consumer, 1).await.remove(0);
    let id = delivery.message.id;
    assert_eq!(delivery.attempt, 1);
    for _ in 0..3 {
        let started = tokio::time::Instant::now();
        consumer
            .defer(&delivery, Duration::from_secs(1))
            .await
            .unwrap();
        assert!(
            consumer
                .next_batch(10, Duration::from_millis(600))
                .await
                .unwrap()
                .is_empty(),
            "not delivered before its delay"
        );
        delivery = take(&mut consumer, 1).await.remove(0);
        assert!(started.elapsed() >= Duration::from_secs(1));
        assert_eq!(delivery.message.id, id);
        assert_eq!(delivery.attempt, 1, "a deferral is no attempt");
    }
    consumer.ack(&[delivery]).await.unwrap();
}

/// `retry_all` and `defer_all`: what is left of a batch goes back at once, each with its
/// delay, the retries counting an attempt and the deferrals not.
async fn retries_and_deferrals_of_a_batch_go_back_together<H: Harness>() {
    let harness = H::new().await;
    let bus = harness.bus();
    bus.publish(Stage::Events, (0..6).map(message).collect())
        .await
        .unwrap();
    let mut consumer = bus
        .consumer(Stage::Events, harness.options())
        .await
        .unwrap();
    let first = take(&mut consumer, 6).await;
    assert_eq!(first.len(), 6);
    let started = tokio::time::Instant::now();
    let delay = Duration::from_secs(1);
    let (retried, deferred) = first.split_at(3);
    let retries: Vec<_> = retried.iter().map(|delivery| (delivery, delay)).collect();
    let deferrals: Vec<_> = deferred.iter().map(|delivery| (delivery, delay)).collect();
    consumer.retry_all(&retries).await.unwrap();
    consumer.defer_all(&deferrals).await.unwrap();
    consumer.retry_all(&[]).await.unwrap();
    assert!(
        consumer
            .next_batch(10, Duration::from_millis(600))
            .await
            .unwrap()
            .is_empty(),
        "not delivered before their delay"
    );
    let again = take(&mut consumer, 6).await;
    assert!(started.elapsed() >= delay);
    assert_eq!(again.len(), 6);
    for delivery in &again {
        let was_retried = retried.iter().any(|r| r.message.id == delivery.message.id);
        let was_deferred = deferred.iter().any(|d| d.message.id == delivery.message.id);
        assert!(was_retried != was_deferred, "{:?}", delivery.message.id);
        assert_eq!(delivery.attempt, if was_retried { 2 } else { 1 });
    }
    consumer.ack(&again).await.unwrap();
}

async fn rejected_messages_do_not_come_again<H: Harness>() {
    let harness = H::new().await;
    let bus = harness.bus();
    bus.publish(Stage::Events, vec![message(1), message(2)])
        .await
        .unwrap();
    let mut consumer = bus
        .consumer(Stage::Events, harness.options())
        .await
        .unwrap();
    let got = take(&mut consumer, 2).await;
    consumer.reject(&got[0], "cannot be mapped").await.unwrap();
    consumer.ack(&got[1..]).await.unwrap();
    tokio::time::sleep(harness.options().visibility_timeout * 2).await;
    assert!(consumer.next_batch(10, SHORT).await.unwrap().is_empty());
}

async fn stages_are_separate_queues<H: Harness>() {
    let harness = H::new().await;
    let bus = harness.bus();
    bus.publish(Stage::Inbound, vec![message(1)]).await.unwrap();
    for stage in [Stage::Events, Stage::Outbound] {
        let mut consumer = bus.consumer(stage, harness.options()).await.unwrap();
        assert!(
            consumer.next_batch(10, SHORT).await.unwrap().is_empty(),
            "{stage} sees nothing"
        );
    }
    let mut consumer = bus
        .consumer(Stage::Inbound, harness.options())
        .await
        .unwrap();
    let got = take(&mut consumer, 1).await;
    consumer.ack(&got).await.unwrap();
}

async fn competing_consumers_share_the_work<H: Harness>() {
    let harness = H::new().await;
    let bus = harness.bus();
    let sent: Vec<BusMessage> = (0..200).map(message).collect();
    let ids: BTreeSet<Uuid> = sent.iter().map(|m| m.id).collect();
    bus.publish(Stage::Events, sent).await.unwrap();
    let mut workers = Vec::new();
    for _ in 0..2 {
        let bus = harness.reopen().await;
        let options = harness.options();
        workers.push(tokio::spawn(async move {
            let mut consumer = bus.consumer(Stage::Events, options).await.unwrap();
            let mut seen = Vec::new();
            loop {
                let batch = consumer
                    .next_batch(20, Duration::from_millis(500))
                    .await
                    .unwrap();
                if batch.is_empty() {
                    return seen;
                }
                seen.extend(batch.iter().map(|delivery| delivery.message.id));
                consumer.ack(&batch).await.unwrap();
            }
        }));
    }
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    let unique: BTreeSet<Uuid> = all.iter().copied().collect();
    assert_eq!(unique, ids, "every message consumed");
    assert_eq!(
        all.len(),
        ids.len(),
        "no message consumed twice while acknowledged in time"
    );
}

async fn published_means_durable<H: Harness>() {
    let harness = H::new().await;
    let sent: Vec<BusMessage> = (0..50).map(message).collect();
    harness
        .bus()
        .publish(Stage::Inbound, sent.clone())
        .await
        .unwrap();
    let reopened = harness.reopen().await;
    let mut consumer = reopened
        .consumer(Stage::Inbound, harness.options())
        .await
        .unwrap();
    let got = take(&mut consumer, 50).await;
    assert_eq!(
        got.iter().map(|d| d.message.id).collect::<Vec<_>>(),
        sent.iter().map(|m| m.id).collect::<Vec<_>>()
    );
    consumer.ack(&got).await.unwrap();
}

macro_rules! bus_conformance {
    ($module:ident, $harness:ty) => {
        mod $module {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn publish_consume_ack() {
                super::publish_consume_ack::<$harness>().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn unanswered_deliveries_come_again() {
                super::unanswered_deliveries_come_again::<$harness>().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn retry_waits_for_its_delay() {
                super::retry_waits_for_its_delay::<$harness>().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn defer_waits_without_counting_an_attempt() {
                super::defer_waits_without_counting_an_attempt::<$harness>().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn retries_and_deferrals_of_a_batch_go_back_together() {
                super::retries_and_deferrals_of_a_batch_go_back_together::<$harness>().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn rejected_messages_do_not_come_again() {
                super::rejected_messages_do_not_come_again::<$harness>().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn stages_are_separate_queues() {
                super::stages_are_separate_queues::<$harness>().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn competing_consumers_share_the_work() {
                super::competing_consumers_share_the_work::<$harness>().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn published_means_durable() {
                super::published_means_durable::<$harness>().await;
            }
        }
    };
}

/// A directory of its own for one test's files, removed when dropped.
fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("transload-bus-conformance-")
        .tempdir()
        .unwrap()
}

/// The embedded bus in a fresh file.
struct EmbeddedHarness {
    path: PathBuf,
    bus: EmbeddedBus,
    /// Removed with the harness (last, after the bus).
    _dir: tempfile::TempDir,
}

impl Harness for EmbeddedHarness {
    type Bus = EmbeddedBus;

    async fn new() -> Self {
        let dir = temp_dir();
        let path = dir.path().join("bus.sqlite3");
        let bus = EmbeddedBus::open(&path, EmbeddedBusOptions::default()).unwrap();
        EmbeddedHarness {
            path,
            bus,
            _dir: dir,
        }
    }

    fn bus(&self) -> EmbeddedBus {
        self.bus.clone()
    }

    async fn reopen(&self) -> EmbeddedBus {
        EmbeddedBus::open(&self.path, EmbeddedBusOptions::default()).unwrap()
    }
}

bus_conformance!(embedded, EmbeddedHarness);

/// The embedded bus in the SQLite store's file, sharing the store's writer (the hub's
/// embedded default).
struct EmbeddedInStoreHarness {
    path: PathBuf,
    bus: EmbeddedBus,
    _store: SqliteStore,
    /// Removed with the harness (last, after the store and the bus).
    _dir: tempfile::TempDir,
}

impl Harness for EmbeddedInStoreHarness {
    type Bus = EmbeddedBus;

    async fn new() -> Self {
        let dir = temp_dir();
        let path = dir.path().join("store.sqlite3");
        let (store, bus) =
            SqliteStore::open_with_embedded_bus(&path, EmbeddedBusOptions::default()).unwrap();
        EmbeddedInStoreHarness {
            path,
            bus,
            _store: store,
            _dir: dir,
        }
    }

    fn bus(&self) -> EmbeddedBus {
        self.bus.clone()
    }

    async fn reopen(&self) -> EmbeddedBus {
        SqliteStore::open_with_embedded_bus(&self.path, EmbeddedBusOptions::default())
            .unwrap()
            .1
    }
}

bus_conformance!(embedded_in_store, EmbeddedInStoreHarness);

use transload::bus::amqp::{AmqpBus, AmqpConfig};

/// RabbitMQ (127.0.0.1:5672, or `TRANSLOAD_AMQP_URI`) under a fresh prefix, whose
/// exchanges and queues are deleted when the harness is dropped.
struct AmqpHarness {
    config: AmqpConfig,
    bus: AmqpBus,
}

impl Harness for AmqpHarness {
    type Bus = AmqpBus;

    async fn new() -> Self {
        let config = AmqpConfig {
            uri: std::env::var("TRANSLOAD_AMQP_URI")
                .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned()),
            prefix: format!("tl-conformance-{}", Uuid::now_v7().simple()),
            retry_tiers: vec![Duration::from_secs(1), Duration::from_secs(5)],
            watchdog_interval: Duration::from_secs(1),
            ..AmqpConfig::default()
        };
        let bus = AmqpBus::connect(config.clone())
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "RabbitMQ is not reachable at {} ({error}); the amqp conformance tests \
                     need a running broker",
                    config.uri
                )
            });
        AmqpHarness { config, bus }
    }

    fn bus(&self) -> AmqpBus {
        self.bus.clone()
    }

    async fn reopen(&self) -> AmqpBus {
        AmqpBus::connect(self.config.clone()).await.unwrap()
    }
}

impl Drop for AmqpHarness {
    fn drop(&mut self) {
        let bus = self.bus.clone();
        // Drop cannot await: delete the topology on a runtime of its own.
        let deleted = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|runtime| runtime.block_on(bus.delete_topology()))
        })
        .join();
        if !matches!(deleted, Ok(Ok(Ok(())))) {
            eprintln!("amqp conformance: could not delete the test topology: {deleted:?}");
        }
    }
}

bus_conformance!(amqp, AmqpHarness);
