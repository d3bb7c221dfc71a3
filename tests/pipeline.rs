//! The stage worker and the outbox relay on the real embedded bus and SQLite store.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use transload::bus::embedded::{EmbeddedBus, EmbeddedBusOptions};
use transload::pipeline::{
    Handler, HandlerError, OutboxRelay, RetryPolicy, StageWorker, WorkerOptions,
};
use transload::store::sqlite::SqliteStore;
use transload_core::bus::{Bus, BusMessage, Consumer, ConsumerOptions, Stage};
use transload_core::store::{DeadLetterFilter, Store, UnitOfWork};
use uuid::Uuid;

/// A bus and a store in fresh files, with the directory that holds them (removed when
/// dropped: keep it while they are used).
fn open() -> (tempfile::TempDir, EmbeddedBus, SqliteStore) {
    let dir = tempfile::Builder::new()
        .prefix("transload-pipeline-")
        .tempdir()
        .unwrap();
    let bus = EmbeddedBus::open(
        &dir.path().join("bus.sqlite3"),
        EmbeddedBusOptions::default(),
    )
    .unwrap();
    let store = SqliteStore::open(&dir.path().join("store.sqlite3")).unwrap();
    (dir, bus, store)
}

fn options(name: &str) -> WorkerOptions {
    WorkerOptions {
        name: name.to_owned(),
        stage: Stage::Inbound,
        batch: 50,
        batch_wait: Duration::from_millis(300),
        consumer: ConsumerOptions {
            prefetch: 100,
            visibility_timeout: Duration::from_secs(5),
        },
        retry: RetryPolicy {
            first_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(200),
            factor: 2.0,
            max_attempts: 3,
        },
        concurrency: 1,
        ordered_by: None,
    }
}

/// Forwards each message to `events` with its body upper-cased.
struct Forward;

impl Handler for Forward {
    async fn handle(&self, message: &BusMessage) -> Result<UnitOfWork, HandlerError> {
        let out = BusMessage::new("acme.forwarded", message.body.to_ascii_uppercase())
            .with_header("cause", message.id.to_string());
        Ok(UnitOfWork {
            outbox: vec![(Stage::Events, out)],
            ..UnitOfWork::default()
        })
    }
}

/// Fails permanently on bodies starting with "bad", transiently for the first `flaky`
/// calls.
struct Picky {
    flaky: AtomicU32,
}

impl Handler for Picky {
    async fn handle(&self, message: &BusMessage) -> Result<UnitOfWork, HandlerError> {
        if message.body.starts_with(b"bad") {
            return Err(HandlerError::Permanent(
                "segment 3: N1 entity code ZZ unknown".to_owned(),
            ));
        }
        if self.flaky.load(Ordering::SeqCst) > 0 {
            self.flaky.fetch_sub(1, Ordering::SeqCst);
            return Err(HandlerError::Transient(
                "partner API answered 503".to_owned(),
            ));
        }
        Ok(UnitOfWork::default())
    }
}

async fn drain<B: Bus, S: Store, H: Handler>(
    worker: &mut StageWorker<B, S, H>,
) -> transload::pipeline::worker::BatchReport {
    let mut total = transload::pipeline::worker::BatchReport::default();
    let mut idle_rounds = 0;
    while idle_rounds < 3 {
        let report = worker.run_once().await.unwrap();
        if report == transload::pipeline::worker::BatchReport::default() {
            idle_rounds += 1;
        } else {
            idle_rounds = 0;
        }
        total.committed += report.committed;
        total.duplicates += report.duplicates;
        total.retried += report.retried;
        total.dead_lettered += report.dead_lettered;
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handled_messages_are_committed_relayed_and_never_handled_twice() {
    let (_dir, bus, store) = open();
    let relay = OutboxRelay::new(bus.clone(), store.clone());
    let mut worker = StageWorker::new(
        &bus,
        store.clone(),
        Forward,
        options("translate"),
        Some(relay.waker()),
    )
    .await
    .unwrap();
    let message = BusMessage::new("acme", b"pick complete".to_vec());
    // The same message twice, as after a publisher's retry.
    bus.publish(Stage::Inbound, vec![message.clone(), message.clone()])
        .await
        .unwrap();
    let report = drain(&mut worker).await;
    assert_eq!((report.committed, report.duplicates), (1, 1));
    assert!(store.is_processed("translate", message.id).await.unwrap());

    assert_eq!(relay.relay_once().await.unwrap(), 1);
    assert_eq!(
        relay.relay_once().await.unwrap(),
        0,
        "published once, then marked"
    );
    let mut events = bus
        .consumer(Stage::Events, ConsumerOptions::default())
        .await
        .unwrap();
    let got = events.next_batch(10, Duration::from_secs(2)).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message.body, b"PICK COMPLETE");
    assert_eq!(got[0].message.headers["cause"], message.id.to_string());
}

/// One relay pass publishes the outbox of every stage (all at once) and marks it all:
/// each stage's queue gets its messages in outbox order, and nothing is published twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_publishes_every_stage_of_the_outbox_in_one_pass() {
    let (_dir, bus, store) = open();
    let relay = OutboxRelay::new(bus.clone(), store.clone());
    let stages = [Stage::Outbound, Stage::Inbound, Stage::Events];
    let mut unit = UnitOfWork::default();
    let mut sent = Vec::new();
    for n in 0..9 {
        let message = BusMessage::new("acme", format!("message {n}").into_bytes());
        let stage = stages[n % 3];
        sent.push((stage, message.id));
        unit.outbox.push((stage, message));
    }
    store.commit(unit).await.unwrap();
    assert_eq!(relay.relay_once().await.unwrap(), 9);
    assert_eq!(relay.relay_once().await.unwrap(), 0, "all of it marked");
    for stage in stages {
        let mut consumer = bus
            .consumer(stage, ConsumerOptions::default())
            .await
            .unwrap();
        let got = consumer
            .next_batch(10, Duration::from_secs(2))
            .await
            .unwrap();
        let expected: Vec<Uuid> = sent
            .iter()
            .filter(|(s, _)| *s == stage)
            .map(|(_, id)| *id)
            .collect();
        let ids: Vec<Uuid> = got.iter().map(|delivery| delivery.message.id).collect();
        assert_eq!(ids, expected, "{stage}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_failures_become_dead_letters_with_reason_and_bytes() {
    let (_dir, bus, store) = open();
    let handler = Picky {
        flaky: AtomicU32::new(0),
    };
    let mut worker = StageWorker::new(&bus, store.clone(), handler, options("translate"), None)
        .await
        .unwrap();
    let bad = BusMessage::new("acme", b"bad 204".to_vec())
        .with_header(transload::ingest::TENANT_HEADER, "acme")
        .with_header(transload::ingest::PARTNER_HEADER, "odfl");
    bus.publish(Stage::Inbound, vec![bad.clone()])
        .await
        .unwrap();
    let report = drain(&mut worker).await;
    assert_eq!(report.dead_lettered, 1);
    let dead = store
        .dead_letters(&DeadLetterFilter::default())
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].message, bad, "original bytes kept");
    assert_eq!(dead[0].reason, "segment 3: N1 entity code ZZ unknown");
    assert_eq!(dead[0].partner.as_ref().unwrap().as_str(), "odfl");
    assert_eq!(dead[0].tenant.as_ref().unwrap().as_str(), "acme");
    assert_eq!(
        bus.depth(Stage::Inbound).unwrap(),
        0,
        "acknowledged, not redelivered forever"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_then_dead_lettered_when_attempts_run_out() {
    let (_dir, bus, store) = open();
    let handler = Picky {
        flaky: AtomicU32::new(1),
    };
    let mut worker = StageWorker::new(&bus, store.clone(), handler, options("deliver"), None)
        .await
        .unwrap();
    bus.publish(
        Stage::Inbound,
        vec![BusMessage::new("acme", b"ok".to_vec())],
    )
    .await
    .unwrap();
    let report = drain(&mut worker).await;
    assert_eq!(
        (report.retried, report.committed, report.dead_lettered),
        (1, 1, 0)
    );
    // Stopped: a consumer of this process that is waiting would be handed the next
    // message.
    drop(worker);

    let handler = Picky {
        flaky: AtomicU32::new(100),
    };
    let mut worker = StageWorker::new(&bus, store.clone(), handler, options("deliver"), None)
        .await
        .unwrap();
    bus.publish(
        Stage::Inbound,
        vec![BusMessage::new("acme", b"never".to_vec())],
    )
    .await
    .unwrap();
    let report = drain(&mut worker).await;
    assert_eq!(
        (report.retried, report.dead_lettered),
        (2, 1),
        "3 attempts, then the DLQ"
    );
    let dead = store
        .dead_letters(&DeadLetterFilter::default())
        .await
        .unwrap();
    assert!(
        dead[0]
            .reason
            .starts_with("gave up after 3 attempts: partner API answered 503"),
        "{}",
        dead[0].reason
    );
    assert_eq!(dead[0].attempts, 3);
}

/// Records the order it handles messages in, per `key` header, and how many it handled
/// at once; sleeps a little (longer for early messages) so that lanes finish out of
/// order; refuses bodies starting with "bad".
#[derive(Default, Clone)]
struct Recorder(std::sync::Arc<Record>);

#[derive(Default)]
struct Record {
    seen: std::sync::Mutex<Vec<(String, usize)>>,
    in_flight: AtomicU32,
    most_in_flight: AtomicU32,
}

impl Handler for Recorder {
    async fn handle(&self, message: &BusMessage) -> Result<UnitOfWork, HandlerError> {
        let record = &self.0;
        let now = record.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        record.most_in_flight.fetch_max(now, Ordering::SeqCst);
        let n: usize = message.headers["n"].parse().unwrap();
        tokio::time::sleep(Duration::from_millis(2 + (40 - n as u64 % 40) / 8)).await;
        record.in_flight.fetch_sub(1, Ordering::SeqCst);
        record
            .seen
            .lock()
            .unwrap()
            .push((message.headers["key"].clone(), n));
        if message.body.starts_with(b"bad") {
            return Err(HandlerError::Permanent("refused".to_owned()));
        }
        Ok(UnitOfWork {
            outbox: vec![(
                Stage::Events,
                BusMessage::new("acme.out", message.body.clone()).with_header("n", n.to_string()),
            )],
            ..UnitOfWork::default()
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_worker_keeps_order_per_key_and_commits_in_arrival_order() {
    let (_dir, bus, store) = open();
    let recorder = Recorder::default();
    let mut worker_options = options("translate");
    worker_options.concurrency = 4;
    worker_options.ordered_by = Some("key");
    let mut worker = StageWorker::new(&bus, store.clone(), recorder.clone(), worker_options, None)
        .await
        .unwrap();
    let messages: Vec<BusMessage> = (0..40_usize)
        .map(|n| {
            let body = if n == 13 || n == 26 { "bad" } else { "ok" };
            BusMessage::new("acme", format!("{body} {n}").into_bytes())
                .with_header("n", n.to_string())
                .with_header("key", format!("load-{}", n % 4))
        })
        .collect();
    bus.publish(Stage::Inbound, messages).await.unwrap();
    let report = drain(&mut worker).await;
    assert_eq!((report.committed, report.dead_lettered), (38, 2));
    assert!(
        recorder.0.most_in_flight.load(Ordering::SeqCst) > 1,
        "handled one at a time"
    );
    let seen = recorder.0.seen.lock().unwrap().clone();
    for key in 0..4 {
        let order: Vec<usize> = seen
            .iter()
            .filter(|(k, _)| *k == format!("load-{key}"))
            .map(|(_, n)| *n)
            .collect();
        let expected: Vec<usize> = (0..40).filter(|n| n % 4 == key).collect();
        assert_eq!(order, expected, "order of load-{key}");
    }
    let committed: Vec<usize> = store
        .pending_outbox(100)
        .await
        .unwrap()
        .iter()
        .map(|record| record.message.headers["n"].parse().unwrap())
        .collect();
    let expected: Vec<usize> = (0..40).filter(|n| *n != 13 && *n != 26).collect();
    assert_eq!(
        committed, expected,
        "committed in the order the messages came"
    );
    assert_eq!(
        store
            .dead_letters(&DeadLetterFilter::default())
            .await
            .unwrap()
            .len(),
        2
    );
}

/// Adds one to a counter state per message (reading it through the batch's pending
/// state); a "poison" body also writes a state version that cannot exist (a conflict).
#[derive(Clone)]
struct Counter {
    store: transload::pipeline::WithPendingState<SqliteStore>,
}

fn counter_key() -> transload_core::store::StateKey {
    transload_core::store::StateKey {
        tenant: transload_core::ids::TenantId::new("acme").unwrap(),
        kind: "counter".to_owned(),
        key: "picks".to_owned(),
    }
}

impl Handler for Counter {
    async fn handle(&self, message: &BusMessage) -> Result<UnitOfWork, HandlerError> {
        let current = self
            .store
            .load_state(&counter_key())
            .await
            .map_err(|error| HandlerError::Transient(error.to_string()))?;
        let (expected_version, count) = current.map_or((None, 0), |record| {
            (
                Some(record.version),
                record.value.to_value().as_u64().unwrap(),
            )
        });
        let mut states = vec![transload_core::store::StateWrite {
            key: counter_key(),
            expected_version,
            value: serde_json::json!(count + 1).into(),
        }];
        if message.body.starts_with(b"poison") {
            states.push(transload_core::store::StateWrite {
                key: transload_core::store::StateKey {
                    kind: "missing".to_owned(),
                    ..counter_key()
                },
                expected_version: Some(99),
                value: serde_json::json!(0).into(),
            });
        }
        Ok(UnitOfWork {
            states,
            ..UnitOfWork::default()
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chained_batch_reads_its_own_writes_and_stops_at_the_first_failed_unit() {
    let (_dir, bus, store) = open();
    let pending = transload::pipeline::PendingState::default();
    let handler = Counter {
        store: transload::pipeline::WithPendingState::new(store.clone(), pending.clone()),
    };
    let mut worker = StageWorker::new(&bus, store.clone(), handler, options("decide"), None)
        .await
        .unwrap()
        .with_pending_state(pending);
    let messages: Vec<BusMessage> = (0..30)
        .map(|n| {
            let body = if n == 10 { "poison" } else { "pick" };
            BusMessage::new("acme", body.as_bytes().to_vec())
        })
        .collect();
    bus.publish(Stage::Inbound, messages).await.unwrap();
    let report = drain(&mut worker).await;
    // The poison is retried until its attempts run out; the 19 after it in its batch
    // were not committed with it and come back; none is counted twice.
    assert_eq!(report.dead_lettered, 1);
    assert_eq!(report.committed, 29);
    let counted = store.load_state(&counter_key()).await.unwrap().unwrap();
    assert_eq!(counted.value, serde_json::json!(29).into());
    assert_eq!(counted.version, 29);
}

/// A worker that handles its batches concurrently, run as the hub runs it (`run`, with
/// the relay) under bursts larger than its batch: every message is committed once, the
/// commits (hence the outbox, hence the next queue) keep the order the messages came in,
/// and every delivery is acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_concurrent_worker_forwards_in_order_and_acknowledges_everything() {
    let (_dir, bus, store) = open();
    let relay = OutboxRelay::new(bus.clone(), store.clone());
    let worker = StageWorker::new(
        &bus,
        store.clone(),
        Forward,
        WorkerOptions {
            batch: 10,
            concurrency: 4,
            ..options("translate")
        },
        Some(relay.waker()),
    )
    .await
    .unwrap();
    let worker = tokio::spawn(worker.run());
    let relaying = tokio::spawn(relay.run());
    let mut sent = Vec::new();
    for burst in 0..10 {
        let messages: Vec<BusMessage> = (0..25)
            .map(|n| BusMessage::new("acme", format!("pick {burst}-{n}").into_bytes()))
            .collect();
        sent.extend(messages.iter().map(|message| message.id));
        bus.publish(Stage::Inbound, messages).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let mut events = bus
        .consumer(Stage::Events, ConsumerOptions::default())
        .await
        .unwrap();
    let mut causes = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while causes.len() < sent.len() && tokio::time::Instant::now() < deadline {
        let got = events
            .next_batch(100, Duration::from_millis(500))
            .await
            .unwrap();
        for delivery in &got {
            causes.push(Uuid::parse_str(&delivery.message.headers["cause"]).unwrap());
        }
        events.ack(&got).await.unwrap();
    }
    assert_eq!(
        causes, sent,
        "each message forwarded once, in the order it came"
    );
    for id in &sent {
        assert!(store.is_processed("translate", *id).await.unwrap());
    }
    // Every inbound delivery acknowledged: nothing is left on the queue, leased or not.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let depths = bus.depths().unwrap();
        let inbound = depths
            .iter()
            .find(|(stage, _)| *stage == Stage::Inbound)
            .map_or(0, |(_, depth)| *depth);
        if inbound == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{inbound} inbound messages never acknowledged"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.abort();
    relaying.abort();
}
