//! SQLite store commit throughput: a batch of `BATCH` units shaped like the decide
//! stage's on the pick path (a processed marker, a new 2.7 KB load state, a 1.1 KB
//! order state updated, an audit entry, two outbox messages of 1.0 and 1.8 KB),
//! committed as the stage worker does (`commit_chain`, one durable transaction):
//!
//! - `raw_rusqlite`: the baseline, the same rows and bytes inserted with plain rusqlite
//!   (prepared statements, one transaction, `synchronous = FULL` in WAL mode) into
//!   tables of the same shape without the store's checks;
//! - `sqlite_store`: `SqliteStore::commit_chain`.
//!
//! Run with `cargo bench -p transload --bench store`. Each run uses a fresh temporary
//! directory.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use jiff::Timestamp;
use rusqlite::{Connection, params};
use serde_json::json;
use tokio::runtime::Runtime;
use transload::store::sqlite::SqliteStore;
use transload_core::bus::{BusMessage, Stage};
use transload_core::ids::TenantId;
use transload_core::store::{AuditEntry, Processed, StateKey, StateWrite, Store, UnitOfWork};
use uuid::Uuid;

/// Units per commit, as the stage workers' batch.
const BATCH: usize = 200;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn text(bytes: usize) -> String {
    "x".repeat(bytes)
}

/// One decide-like unit; the order `order` exists at `version`.
fn unit(tenant: &TenantId, order: usize, version: u64) -> UnitOfWork {
    let load_id = Uuid::now_v7().to_string();
    let key = |kind: &str, key: &str| StateKey {
        tenant: tenant.clone(),
        kind: kind.to_owned(),
        key: key.to_owned(),
    };
    let message = |bytes: usize| {
        BusMessage::new("bench.event", text(bytes).into_bytes())
            .with_header("transload-correlation-id", load_id.clone())
    };
    UnitOfWork {
        processed: Some(Processed {
            consumer: "decide".to_owned(),
            message_id: Uuid::now_v7(),
        }),
        states: vec![
            StateWrite {
                key: key("load", &load_id),
                expected_version: None,
                value: json!({ "id": load_id, "body": text(2_650) }).into(),
            },
            StateWrite {
                key: key("order", &format!("SO-{order}")),
                expected_version: Some(version),
                value: json!({ "order": order, "body": text(1_080) }).into(),
            },
        ],
        audit: vec![AuditEntry {
            tenant: tenant.clone(),
            actor: "orchestrator".to_owned(),
            action: "load.tendered".to_owned(),
            subject: load_id.clone(),
            details: json!({ "carrier": "bench-rest", "rule": "cheapest" }),
            at: Timestamp::now(),
        }],
        outbox: vec![
            (Stage::Events, message(1_000)),
            (Stage::Outbound, message(1_800)),
        ],
        ..UnitOfWork::default()
    }
}

/// The orders the units update, each at version 1.
fn seed_orders(store: &SqliteStore, runtime: &Runtime, tenant: &TenantId) {
    let states = (0..BATCH)
        .map(|order| StateWrite {
            key: StateKey {
                tenant: tenant.clone(),
                kind: "order".to_owned(),
                key: format!("SO-{order}"),
            },
            expected_version: None,
            value: json!({ "order": order }).into(),
        })
        .collect();
    runtime
        .block_on(store.commit(UnitOfWork {
            states,
            ..UnitOfWork::default()
        }))
        .unwrap();
}

fn sqlite_store(group: &mut BenchmarkGroup<'_, WallTime>, dir: &Path, runtime: &Runtime) {
    let store = SqliteStore::open(&dir.join("store.sqlite3")).unwrap();
    let tenant = TenantId::new("acme").unwrap();
    seed_orders(&store, runtime, &tenant);
    let mut version = 1;
    group.bench_function("sqlite_store", |b| {
        b.iter_custom(|rounds| {
            let mut spent = Duration::ZERO;
            for _ in 0..rounds {
                let units = (0..BATCH)
                    .map(|order| unit(&tenant, order, version))
                    .collect();
                let started = Instant::now();
                let outcomes = runtime.block_on(store.commit_chain(units));
                spent += started.elapsed();
                assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
                version += 1;
            }
            spent
        });
    });
}

fn raw_rusqlite(group: &mut BenchmarkGroup<'_, WallTime>, dir: &Path) {
    let mut db = Connection::open(dir.join("raw.sqlite3")).unwrap();
    db.pragma_update(None, "journal_mode", "WAL").unwrap();
    db.pragma_update(None, "synchronous", "FULL").unwrap();
    db.execute_batch(
        "CREATE TABLE processed (consumer TEXT, message_id TEXT, PRIMARY KEY (consumer, message_id)) WITHOUT ROWID;
         CREATE TABLE state (tenant TEXT, kind TEXT, key TEXT, value TEXT, PRIMARY KEY (tenant, kind, key));
         CREATE TABLE audit_log (seq INTEGER PRIMARY KEY, subject TEXT, details TEXT);
         CREATE TABLE outbox (seq INTEGER PRIMARY KEY, message_id TEXT, headers TEXT, body BLOB);",
    )
    .unwrap();
    for order in 0..BATCH {
        db.execute(
            "INSERT INTO state VALUES ('acme', 'order', ?1, '{}')",
            params![format!("SO-{order}")],
        )
        .unwrap();
    }
    let tenant = TenantId::new("acme").unwrap();
    group.bench_function("raw_rusqlite", |b| {
        b.iter_custom(|rounds| {
            let mut spent = Duration::ZERO;
            for _ in 0..rounds {
                let units: Vec<UnitOfWork> =
                    (0..BATCH).map(|order| unit(&tenant, order, 0)).collect();
                let started = Instant::now();
                let transaction = db.transaction().unwrap();
                for unit in &units {
                    let processed = unit.processed.as_ref().unwrap();
                    transaction
                        .prepare_cached("INSERT INTO processed VALUES (?1, ?2)")
                        .unwrap()
                        .execute(params![processed.consumer, processed.message_id.to_string()])
                        .unwrap();
                    for write in &unit.states {
                        transaction
                            .prepare_cached("INSERT OR REPLACE INTO state VALUES (?1, ?2, ?3, ?4)")
                            .unwrap()
                            .execute(params![
                                write.key.tenant.as_str(),
                                write.key.kind,
                                write.key.key,
                                serde_json::to_string(&write.value).unwrap()
                            ])
                            .unwrap();
                    }
                    for entry in &unit.audit {
                        transaction
                            .prepare_cached("INSERT INTO audit_log (subject, details) VALUES (?1, ?2)")
                            .unwrap()
                            .execute(params![
                                entry.subject,
                                serde_json::to_string(&entry.details).unwrap()
                            ])
                            .unwrap();
                    }
                    for (_, message) in &unit.outbox {
                        transaction
                            .prepare_cached(
                                "INSERT INTO outbox (message_id, headers, body) VALUES (?1, ?2, ?3)",
                            )
                            .unwrap()
                            .execute(params![
                                message.id.to_string(),
                                serde_json::to_string(&message.headers).unwrap(),
                                message.body
                            ])
                            .unwrap();
                    }
                }
                transaction.commit().unwrap();
                spent += started.elapsed();
                black_box(&units);
            }
            spent
        });
    });
}

fn store_commit(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("transload-bench-store-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let runtime = runtime();
    let mut group = c.benchmark_group("store_commit");
    group.throughput(Throughput::Elements(BATCH as u64));
    raw_rusqlite(&mut group, &dir);
    sqlite_store(&mut group, &dir, &runtime);
    group.finish();
    std::fs::remove_dir_all(&dir).ok();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(5));
    targets = store_commit
}
criterion_main!(benches);
