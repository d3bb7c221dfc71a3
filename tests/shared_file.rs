//! The embedded bus in the SQLite store's file (the hub's embedded default): a unit's
//! messages are enqueued in the unit's own transaction, with no outbox and no relay;
//! messages left by a run with another bus, or in the bus file of an earlier version,
//! move into the queue that is in use.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;
use transload::backends::open_backends;
use transload::bus::embedded::{EmbeddedBus, EmbeddedBusOptions, import_file};
use transload::config::Config;
use transload::pipeline::{Handler, HandlerError, RetryPolicy, StageWorker, WorkerOptions};
use transload::store::sqlite::SqliteStore;
use transload_core::bus::{Bus, BusMessage, Consumer, ConsumerOptions, Delivery, Stage};
use transload_core::ids::TenantId;
use transload_core::store::{
    CommitOutcome, DeadLetter, Processed, Redrive, StateKey, StateWrite, Store, StoreError,
    UnitOfWork,
};
use uuid::Uuid;

/// A directory of its own for one test's files, removed when dropped (keep it while
/// they are used).
fn data_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("transload-shared-file-")
        .tempdir()
        .unwrap()
}

/// The configuration of a hub on the embedded default, in a data directory of its own.
fn hub_config() -> (tempfile::TempDir, Config) {
    let dir = data_dir();
    let file = dir.path().join("transload.toml");
    std::fs::write(
        &file,
        "data_dir = \"data\"\nbus = \"embedded\"\nstore = \"sqlite\"\n[http]\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let config = Config::load(&file).unwrap();
    (dir, config)
}

fn open_shared(path: &Path) -> (SqliteStore, EmbeddedBus) {
    SqliteStore::open_with_embedded_bus(path, EmbeddedBusOptions::default()).unwrap()
}

fn quick() -> ConsumerOptions {
    ConsumerOptions {
        prefetch: 100,
        visibility_timeout: Duration::from_secs(5),
    }
}

/// A window of `prefetch` deliveries and a visibility timeout longer than any test.
fn window(prefetch: u16) -> ConsumerOptions {
    ConsumerOptions {
        prefetch,
        visibility_timeout: Duration::from_secs(60),
    }
}

/// Everything waiting on `stage`, acknowledged.
async fn take_all(bus: &EmbeddedBus, stage: Stage) -> Vec<Delivery> {
    let mut consumer = bus.consumer(stage, quick()).await.unwrap();
    let mut taken = Vec::new();
    loop {
        let batch = consumer
            .next_batch(100, Duration::from_millis(100))
            .await
            .unwrap();
        if batch.is_empty() {
            return taken;
        }
        consumer.ack(&batch).await.unwrap();
        taken.extend(batch);
    }
}

fn bodies(deliveries: &[Delivery]) -> Vec<String> {
    deliveries
        .iter()
        .map(|delivery| String::from_utf8_lossy(&delivery.message.body).into_owned())
        .collect()
}

fn publishing(consumer: &str, message_id: Uuid, body: &str) -> UnitOfWork {
    UnitOfWork {
        processed: Some(Processed {
            consumer: consumer.to_owned(),
            message_id,
        }),
        outbox: vec![(
            Stage::Events,
            BusMessage::new("acme", body.as_bytes().to_vec()),
        )],
        ..UnitOfWork::default()
    }
}

/// Forwards each message to `events` with its body upper-cased.
struct Forward;

impl Handler for Forward {
    async fn handle(&self, message: &BusMessage) -> Result<UnitOfWork, HandlerError> {
        Ok(UnitOfWork {
            outbox: vec![(
                Stage::Events,
                BusMessage::new("acme.forwarded", message.body.to_ascii_uppercase()),
            )],
            ..UnitOfWork::default()
        })
    }
}

/// Publishes `count` picks on `inbound` and runs a translate worker ([`Forward`]) on
/// `bus` and `store` until it committed them all; their ids.
async fn forward_picks<B: Bus, S: Store>(bus: &B, store: S, count: usize) -> Vec<Uuid> {
    let options = WorkerOptions {
        name: "translate".to_owned(),
        stage: Stage::Inbound,
        batch: 10,
        batch_wait: Duration::from_millis(200),
        consumer: quick(),
        retry: RetryPolicy::default(),
        concurrency: 4,
        ordered_by: None,
    };
    let mut worker = StageWorker::new(bus, store, Forward, options, None)
        .await
        .unwrap();
    let messages: Vec<BusMessage> = (0..count)
        .map(|n| BusMessage::new("acme", format!("pick {n}").into_bytes()))
        .collect();
    let ids = messages.iter().map(|message| message.id).collect();
    bus.publish(Stage::Inbound, messages).await.unwrap();
    let mut committed = 0;
    while committed < count {
        let report = worker.run_once().await.unwrap();
        assert_eq!(report.retried + report.dead_lettered, 0);
        committed += report.committed;
    }
    ids
}

/// A stage worker's commit puts its messages on the next stage's queue itself: nothing
/// waits in the outbox, and no relay runs, yet the next stage gets every message once,
/// in order, and the stage's own queue is empty once it acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_commit_enqueues_its_messages_with_no_relay() {
    let dir = data_dir();
    let (store, bus) = open_shared(&dir.path().join("store.sqlite3"));
    assert!(store.publishes_to_bus());
    forward_picks(&bus, store.clone(), 25).await;
    assert!(store.pending_outbox(100).await.unwrap().is_empty());
    assert_eq!(bus.depth(Stage::Inbound).unwrap(), 0);
    let forwarded = take_all(&bus, Stage::Events).await;
    let expected: Vec<String> = (0..25).map(|n| format!("PICK {n}")).collect();
    assert_eq!(bodies(&forwarded), expected);
}

/// The hub's own bus and store (as `transload run` opens them on the embedded default)
/// acknowledge a stage's deliveries in its commits: no separate acknowledgement, no
/// processed marker, nothing left on the stage's queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hubs_backends_acknowledge_in_the_commit() {
    let (_dir, config) = hub_config();
    let (bus, store) = open_backends(&config).await.unwrap();
    let probe = bus.consumer(Stage::Inbound, quick()).await.unwrap();
    assert!(probe.acknowledges_in_commit());
    drop(probe);
    let ids = forward_picks(&bus, store.clone(), 25).await;
    for id in ids {
        assert!(!store.is_processed("translate", id).await.unwrap());
    }
    let mut inbound = bus.consumer(Stage::Inbound, quick()).await.unwrap();
    assert!(
        inbound
            .next_batch(100, Duration::from_millis(100))
            .await
            .unwrap()
            .is_empty()
    );
}

/// On the bus in the store's file, a unit acknowledges the delivery it consumes in its
/// own transaction: committed, the message is gone without a call of `ack`; not
/// committed (processed before), the message stays and comes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_unit_acknowledges_its_delivery() {
    let dir = data_dir();
    let (store, bus) = open_shared(&dir.path().join("store.sqlite3"));
    let messages = vec![
        BusMessage::new("acme", b"first".to_vec()),
        BusMessage::new("acme", b"second".to_vec()),
    ];
    bus.publish(Stage::Inbound, messages.clone()).await.unwrap();
    let options = ConsumerOptions {
        prefetch: 10,
        visibility_timeout: Duration::from_millis(300),
    };
    let mut consumer = bus.consumer(Stage::Inbound, options).await.unwrap();
    assert!(consumer.acknowledges_in_commit());
    let batch = consumer
        .next_batch(10, Duration::from_millis(500))
        .await
        .unwrap();
    assert_eq!(batch.len(), 2);
    // The second was processed before, as after a crash between commit and ack.
    store
        .commit(publishing("translate", batch[1].message.id, "before"))
        .await
        .unwrap();
    for delivery in &batch {
        let mut unit = publishing("translate", delivery.message.id, "forwarded");
        unit.acknowledges = Some(delivery.token);
        store.commit(unit).await.unwrap();
    }
    consumer.acknowledged_in_commit(1);
    assert_eq!(bus.depth(Stage::Inbound).unwrap(), 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let again = consumer
        .next_batch(10, Duration::from_millis(500))
        .await
        .unwrap();
    assert_eq!(bodies(&again), vec!["second"]);
}

/// A unit that consumes its delivery needs no processed marker (its message is gone once
/// it is committed), and one whose lease was lost (the message came again to another
/// consumer) writes nothing: the other delivery's unit is the one committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_whose_lease_was_lost_writes_nothing() {
    let dir = data_dir();
    let (store, bus) = open_shared(&dir.path().join("store.sqlite3"));
    bus.publish(
        Stage::Inbound,
        vec![BusMessage::new("acme", b"pick".to_vec())],
    )
    .await
    .unwrap();
    let short = ConsumerOptions {
        prefetch: 10,
        visibility_timeout: Duration::from_millis(200),
    };
    let mut slow = bus.consumer(Stage::Inbound, short.clone()).await.unwrap();
    let first = slow
        .next_batch(1, Duration::from_millis(500))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut other = bus.consumer(Stage::Inbound, short).await.unwrap();
    let again = other
        .next_batch(1, Duration::from_millis(500))
        .await
        .unwrap();
    assert_eq!(again.len(), 1, "the lease ran out: the message comes again");

    let mut late = publishing("translate", first[0].message.id, "late");
    late.acknowledges = Some(first[0].token);
    assert_eq!(
        store.commit(late).await.unwrap(),
        CommitOutcome::AlreadyProcessed
    );
    let mut current = publishing("translate", again[0].message.id, "current");
    current.acknowledges = Some(again[0].token);
    assert_eq!(
        store.commit(current).await.unwrap(),
        CommitOutcome::Committed
    );
    assert_eq!(bus.depth(Stage::Inbound).unwrap(), 0);
    assert_eq!(
        bodies(&take_all(&bus, Stage::Events).await),
        vec!["current"]
    );
    assert!(
        !store
            .is_processed("translate", first[0].message.id)
            .await
            .unwrap(),
        "no marker: the message is gone with the commit"
    );
}

/// What a unit publishes is part of the unit: a unit that is not committed (a message
/// processed before, a state conflict) enqueues nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_that_is_not_committed_enqueues_nothing() {
    let dir = data_dir();
    let (store, bus) = open_shared(&dir.path().join("store.sqlite3"));
    let id = Uuid::now_v7();
    let first = store
        .commit(publishing("decide", id, "first"))
        .await
        .unwrap();
    assert_eq!(first, CommitOutcome::Committed);
    let again = store
        .commit(publishing("decide", id, "again"))
        .await
        .unwrap();
    assert_eq!(again, CommitOutcome::AlreadyProcessed);
    let mut conflicting = publishing("decide", Uuid::now_v7(), "conflict");
    conflicting.states.push(StateWrite {
        key: StateKey {
            tenant: TenantId::new("acme").unwrap(),
            kind: "load".to_owned(),
            key: "LSO-1".to_owned(),
        },
        // There is no such state: version 3 of it cannot be replaced.
        expected_version: Some(3),
        value: serde_json::json!({"status": "tendered"}).into(),
    });
    let outcome = store.commit(conflicting).await;
    assert!(
        matches!(outcome, Err(StoreError::Conflict { .. })),
        "{outcome:?}"
    );
    let outcomes = store
        .commit_chain(vec![
            publishing("decide", Uuid::now_v7(), "chained"),
            publishing("decide", id, "processed before"),
            publishing("decide", Uuid::now_v7(), "after the break"),
        ])
        .await;
    assert!(matches!(outcomes[0], Ok(CommitOutcome::Committed)));
    assert!(matches!(outcomes[1], Ok(CommitOutcome::AlreadyProcessed)));
    assert!(matches!(outcomes[2], Err(StoreError::NotAttempted)));
    let delivered = take_all(&bus, Stage::Events).await;
    assert_eq!(bodies(&delivered), vec!["first", "chained"]);
}

/// A redriven dead letter goes straight back to its stage's queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redrive_enqueues_the_message_again() {
    let dir = data_dir();
    let (store, bus) = open_shared(&dir.path().join("store.sqlite3"));
    let original = BusMessage::new("acme.204", b"ISA*00*bad".to_vec());
    let dead = DeadLetter {
        id: Uuid::now_v7(),
        stage: Stage::Inbound,
        tenant: None,
        partner: None,
        reason: "segment 3: unknown N1 code".to_owned(),
        attempts: 1,
        message: original.clone(),
        failed_at: Timestamp::now(),
        redriven: None,
    };
    store
        .commit(UnitOfWork {
            dead_letters: vec![dead.clone()],
            ..UnitOfWork::default()
        })
        .await
        .unwrap();
    store
        .commit(UnitOfWork {
            redrives: vec![Redrive {
                dead_letter_id: dead.id,
                by: "ops@acme".to_owned(),
                edited_body: Some(b"ISA*00*fixed".to_vec()),
            }],
            ..UnitOfWork::default()
        })
        .await
        .unwrap();
    let delivered = take_all(&bus, Stage::Inbound).await;
    assert_eq!(bodies(&delivered), vec!["ISA*00*fixed"]);
    assert_eq!(delivered[0].message.routing_key, "acme.204");
    assert_ne!(delivered[0].message.id, original.id);
}

/// Switching the bus keeps what is waiting: messages left in the outbox by a run with
/// another bus move to the embedded bus when the store opens with it, and messages left
/// on the embedded bus move to the outbox when the store opens without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_messages_move_with_a_change_of_bus() {
    let dir = data_dir();
    let path = dir.path().join("store.sqlite3");
    {
        let store = SqliteStore::open(&path).unwrap();
        assert!(!store.publishes_to_bus());
        for body in ["one", "two"] {
            store
                .commit(publishing("translate", Uuid::now_v7(), body))
                .await
                .unwrap();
        }
        assert_eq!(store.pending_outbox(10).await.unwrap().len(), 2);
    }
    {
        let (store, bus) = open_shared(&path);
        assert!(store.pending_outbox(10).await.unwrap().is_empty());
        let mut consumer = bus.consumer(Stage::Events, quick()).await.unwrap();
        let batch = consumer
            .next_batch(10, Duration::from_millis(500))
            .await
            .unwrap();
        assert_eq!(bodies(&batch), vec!["one", "two"]);
        consumer.ack(&batch).await.unwrap();
        store
            .commit(publishing("translate", Uuid::now_v7(), "three"))
            .await
            .unwrap();
        assert_eq!(bus.depth(Stage::Events).unwrap(), 1);
    }
    let store = SqliteStore::open(&path).unwrap();
    let pending = store.pending_outbox(10).await.unwrap();
    let moved: Vec<(Stage, &[u8])> = pending
        .iter()
        .map(|record| (record.stage, record.message.body.as_slice()))
        .collect();
    assert_eq!(moved, vec![(Stage::Events, b"three".as_slice())]);
}

/// The schema of the embedded bus's own file before it could share the store's file.
const EARLIER_BUS_SCHEMA: &str = "
    CREATE TABLE messages (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, stage TEXT NOT NULL, message_id TEXT NOT NULL,
        routing_key TEXT NOT NULL, headers TEXT NOT NULL, body BLOB NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, available_at INTEGER NOT NULL, lease INTEGER
    );
    CREATE INDEX messages_ready ON messages (stage, available_at, seq);
    CREATE TABLE dead_letters (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, stage TEXT NOT NULL, message_id TEXT NOT NULL,
        routing_key TEXT NOT NULL, headers TEXT NOT NULL, body BLOB NOT NULL,
        attempts INTEGER NOT NULL, reason TEXT NOT NULL, failed_at INTEGER NOT NULL
    );
    PRAGMA user_version = 1;
";

/// A bus file written by an earlier version, holding one waiting message and one dead
/// letter.
fn earlier_bus_file(path: &Path) -> Uuid {
    let id = Uuid::now_v7();
    let file = rusqlite::Connection::open(path).unwrap();
    file.execute_batch(EARLIER_BUS_SCHEMA).unwrap();
    file.execute(
        "INSERT INTO messages (stage, message_id, routing_key, headers, body, available_at)
         VALUES ('events', ?1, 'acme', '{}', X'77616974696E67', 0)",
        [id.to_string()],
    )
    .unwrap();
    file.execute(
        "INSERT INTO dead_letters (stage, message_id, routing_key, headers, body, attempts, reason, failed_at)
         VALUES ('events', ?1, 'acme', '{}', X'6465616400', 20, 'delivery limit reached', 0)",
        [Uuid::now_v7().to_string()],
    )
    .unwrap();
    id
}

/// A bus file of an earlier version opens as it is: its tables are renamed, and what
/// waited in it is delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bus_file_of_an_earlier_version_opens_with_its_messages() {
    let dir = data_dir();
    let path = dir.path().join("bus.sqlite3");
    let id = earlier_bus_file(&path);
    let bus = EmbeddedBus::open(&path, EmbeddedBusOptions::default()).unwrap();
    let delivered = take_all(&bus, Stage::Events).await;
    assert_eq!(bodies(&delivered), vec!["waiting"]);
    assert_eq!(delivered[0].message.id, id);
    assert_eq!(bus.dead_letters(Stage::Events).unwrap().len(), 1);
    // Opened again, it is not migrated twice.
    drop(bus);
    let bus = EmbeddedBus::open(&path, EmbeddedBusOptions::default()).unwrap();
    assert_eq!(bus.depth(Stage::Events).unwrap(), 0);
}

/// The bus's own file of an earlier version is imported into the store's file (its
/// waiting messages and its dead letters) and renamed, so that it is not imported twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_earlier_bus_file_is_imported_into_the_store_file() {
    let dir = data_dir();
    let (legacy, path) = (
        dir.path().join("bus.sqlite3"),
        dir.path().join("store.sqlite3"),
    );
    let id = earlier_bus_file(&legacy);
    let (_store, bus) = open_shared(&path);
    assert_eq!(import_file(&path, &legacy).unwrap(), 1);
    assert!(!legacy.exists());
    assert!(dir.path().join("bus.sqlite3.imported").exists());
    let delivered = take_all(&bus, Stage::Events).await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].message.id, id);
    let dead = bus.dead_letters(Stage::Events).unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].2, "delivery limit reached");
}

/// Frames in the WAL of the file at `path` now (the log column of a passive checkpoint).
fn wal_frames(path: &Path) -> i64 {
    let file = rusqlite::Connection::open(path).unwrap();
    file.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))
        .unwrap()
}

/// Under a steady stream of writes and reads the WAL starts over again and again: it
/// holds the last moments' frames, not every frame since the load began (it grew by
/// 100 MB/s at 1,000 picks/s when only a checkpointer beside the writer copied it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_starts_over_under_a_steady_load() {
    let dir = data_dir();
    let path = dir.path().join("store.sqlite3");
    let (store, bus) = open_shared(&path);
    let until = std::time::Instant::now() + Duration::from_secs(3);
    let publishers: Vec<_> = (0..8)
        .map(|_| {
            let bus = bus.clone();
            tokio::spawn(async move {
                let mut published = 0_i64;
                while std::time::Instant::now() < until {
                    let message = BusMessage::new("acme", vec![b'x'; 300]);
                    bus.publish(Stage::Inbound, vec![message]).await.unwrap();
                    published += 1;
                }
                published
            })
        })
        .collect();
    let reader = tokio::spawn(async move {
        let key = StateKey {
            tenant: TenantId::new("acme").unwrap(),
            kind: "load".to_owned(),
            key: "LSO-1".to_owned(),
        };
        while std::time::Instant::now() < until {
            store.load_state(&key).await.unwrap();
            tokio::task::yield_now().await;
        }
    });
    let mut consumer = bus.consumer(Stage::Inbound, quick()).await.unwrap();
    while std::time::Instant::now() < until {
        let batch = consumer
            .next_batch(100, Duration::from_millis(50))
            .await
            .unwrap();
        consumer.ack(&batch).await.unwrap();
    }
    let mut transactions = 0;
    for publisher in publishers {
        transactions += publisher.await.unwrap();
    }
    reader.await.unwrap();
    // Every publish was a transaction of at least one frame.
    let frames = wal_frames(&path);
    assert!(transactions > 100, "only {transactions} publishes in 3 s");
    assert!(
        frames < transactions / 2,
        "{frames} frames in the WAL after {transactions} publishes: it never started over"
    );
}

/// `(body, attempts, leased)` of each message of `stage` in the file at `path`.
fn rows_in_file(path: &Path, stage: Stage) -> Vec<(String, u32, bool)> {
    let connection = rusqlite::Connection::open(path).unwrap();
    let mut statement = connection
        .prepare(
            "SELECT body, attempts, lease IS NOT NULL FROM bus_messages WHERE stage = ?1 ORDER BY seq",
        )
        .unwrap();
    statement
        .query_map([stage.name()], |row| {
            Ok((
                String::from_utf8_lossy(&row.get::<_, Vec<u8>>(0)?).into_owned(),
                row.get(1)?,
                row.get(2)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A committed unit hands its messages to a caught-up consumer of their stage in this
/// process (leased to it in the same transaction); a unit that fails (here: a dead
/// letter whose id is taken) hands nothing and keeps no place in the consumer's window,
/// in `commit` as in `commit_all`, where the unit after it commits.
#[tokio::test]
async fn a_unit_rolled_back_hands_nothing_and_keeps_no_place_in_the_window() {
    let dir = data_dir();
    let path = dir.path().join("store.sqlite3");
    let (store, bus) = open_shared(&path);
    let mut consumer = bus.consumer(Stage::Events, window(1)).await.unwrap();
    assert!(
        consumer
            .next_batch(10, Duration::from_millis(50))
            .await
            .unwrap()
            .is_empty()
    );
    let dead = DeadLetter {
        id: Uuid::now_v7(),
        stage: Stage::Inbound,
        tenant: None,
        partner: None,
        reason: "unreadable".to_owned(),
        attempts: 1,
        message: BusMessage::new("acme", b"?".to_vec()),
        failed_at: Timestamp::now(),
        redriven: None,
    };
    let failing = |body: &str| UnitOfWork {
        dead_letters: vec![dead.clone()],
        ..publishing("translate", Uuid::now_v7(), body)
    };
    assert_eq!(
        store.commit(failing("a")).await.unwrap(),
        CommitOutcome::Committed
    );
    assert_eq!(
        rows_in_file(&path, Stage::Events),
        vec![("a".to_owned(), 1, true)]
    );
    let handed = consumer.next_batch(10, Duration::ZERO).await.unwrap();
    assert_eq!(bodies(&handed), vec!["a"]);
    consumer.ack(&handed).await.unwrap();

    // The same dead letter again fails each unit.
    assert!(store.commit(failing("x")).await.is_err());
    let outcomes = store
        .commit_all(vec![
            failing("y"),
            publishing("translate", Uuid::now_v7(), "b"),
        ])
        .await;
    assert!(outcomes[0].is_err());
    assert!(matches!(outcomes[1], Ok(CommitOutcome::Committed)));
    assert_eq!(
        rows_in_file(&path, Stage::Events),
        vec![("b".to_owned(), 1, true)],
        "b took the one place of the window, which x and y gave back"
    );
    let handed = consumer.next_batch(10, Duration::ZERO).await.unwrap();
    assert_eq!(bodies(&handed), vec!["b"]);
    consumer.ack(&handed).await.unwrap();
    assert_eq!(bus.depth(Stage::Events).unwrap(), 0);
}

/// The messages of a unit whose caller went away once it was queued (a request
/// cancelled) are still handed over when the unit commits: the writer hands them over
/// itself, and the consumer does not wait for their visibility timeout.
#[tokio::test]
async fn a_commit_whose_caller_went_away_still_hands_its_messages_over() {
    let dir = data_dir();
    let path = dir.path().join("store.sqlite3");
    let (store, bus) = open_shared(&path);
    let mut consumer = bus.consumer(Stage::Events, quick()).await.unwrap();
    assert!(
        consumer
            .next_batch(10, Duration::from_millis(50))
            .await
            .unwrap()
            .is_empty()
    );
    // Another connection holds the file's write lock, so that the unit waits in the
    // writer until the caller has gone.
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let unit = publishing("translate", Uuid::now_v7(), "cancelled caller");
    // Polled once (the unit is queued for the writer), then dropped.
    assert!(
        tokio::time::timeout(Duration::ZERO, store.commit(unit))
            .await
            .is_err()
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    blocker.execute_batch("COMMIT").unwrap();
    let handed = consumer
        .next_batch(10, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(bodies(&handed), vec!["cancelled caller"]);
    assert_eq!(handed[0].attempt, 1);
    consumer.ack(&handed).await.unwrap();
}

/// One hub per data directory: a second opening of the hub's backends on the same
/// directory is refused while the first lives, and accepted once it is gone.
#[tokio::test]
async fn a_second_hub_on_the_same_data_directory_is_refused() {
    let (_dir, config) = hub_config();
    let first = open_backends(&config).await.unwrap();
    let Err(error) = open_backends(&config).await else {
        panic!("a second hub opened the same data directory");
    };
    let why = std::error::Error::source(&error).map(ToString::to_string);
    assert!(
        why.as_deref()
            .is_some_and(|why| why.contains("one hub per data directory")),
        "{error}: {why:?}"
    );
    drop(first);
    open_backends(&config).await.unwrap();
}

/// Messages a stopped hub had leased (handed out to a stage, not settled) come again as
/// soon as the next hub on the data directory starts, their delivery counted, instead of
/// after their visibility timeout.
#[tokio::test]
async fn what_a_stopped_hub_had_leased_comes_again_when_the_next_starts() {
    let (_dir, config) = hub_config();
    let (bus, store) = open_backends(&config).await.unwrap();
    bus.publish(
        Stage::Inbound,
        vec![
            BusMessage::new("acme", b"pick 1".to_vec()),
            BusMessage::new("acme", b"pick 2".to_vec()),
        ],
    )
    .await
    .unwrap();
    let mut consumer = bus.consumer(Stage::Inbound, window(10)).await.unwrap();
    let leased = consumer
        .next_batch(10, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(leased.len(), 2);
    // Stopped with both unsettled, as by a crash.
    drop((consumer, bus, store));

    let (bus, _store) = open_backends(&config).await.unwrap();
    let mut consumer = bus.consumer(Stage::Inbound, window(10)).await.unwrap();
    let again = consumer
        .next_batch(10, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(bodies(&again), vec!["pick 1", "pick 2"]);
    assert!(again.iter().all(|delivery| delivery.attempt == 2));
    consumer.ack(&again).await.unwrap();
}
