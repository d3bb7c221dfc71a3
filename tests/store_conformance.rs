//! One conformance suite for every store implementation.
//!
//! Each behaviour is a generic async function over a [`Harness`]; the
//! `store_conformance!` macro instantiates all of them for one implementation. To add an
//! implementation, write its harness and append one line:
//! `store_conformance!(module_name, HarnessType);`
//!
//! The PostgreSQL instance runs against a real server: by default
//! `host=127.0.0.1 port=5432 user=postgres` (trust auth), or the libpq key=value string
//! in `TRANSLOAD_TEST_POSTGRES`. Every test creates its own database
//! (`transload_test_<uuid>`) and drops it at the end. A server that cannot be reached
//! fails the tests; they are never skipped.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod store_support;

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use jiff::Timestamp;
use serde_json::json;
use transload_core::bus::{BusMessage, DeliveryToken, Stage};
use transload_core::ids::{DedupeKey, PartnerId, TenantId};
use transload_core::store::{
    AuditEntry, CommitOutcome, DeadLetter, DeadLetterFilter, History, Processed, RawMessage,
    ReceivedControlNumber, Redrive, StateDocument, StateKey, StateRecord, StateWrite, Store,
    StoreError, UnitOfWork,
};
use uuid::Uuid;

use store_support::Harness;

// ---------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------

fn tenant(name: &str) -> TenantId {
    TenantId::new(name).unwrap()
}

fn partner(name: &str) -> PartnerId {
    PartnerId::new(name).unwrap()
}

/// A fixed point in time plus `millis` (stores keep at least microseconds).
fn at(millis: i64) -> Timestamp {
    Timestamp::from_millisecond(1_780_000_000_000 + millis).unwrap()
}

fn raw(tenant_name: &str, dedupe_key: &str) -> RawMessage {
    RawMessage {
        id: Uuid::now_v7(),
        tenant: tenant(tenant_name),
        partner: partner("odfl"),
        format: "x12".to_owned(),
        dedupe_key: DedupeKey::new(dedupe_key).unwrap(),
        received_at: at(0),
        metadata: [
            ("content-type".to_owned(), "application/edi-x12".to_owned()),
            ("file".to_owned(), "in/204.edi".to_owned()),
        ]
        .into(),
        body: b"ISA*00*\x00\xff binary-safe~".to_vec(),
    }
}

fn key(tenant_name: &str, kind: &str, key: &str) -> StateKey {
    StateKey {
        tenant: tenant(tenant_name),
        kind: kind.to_owned(),
        key: key.to_owned(),
    }
}

fn write(key: &StateKey, expected_version: Option<u64>, value: serde_json::Value) -> StateWrite {
    StateWrite {
        key: key.clone(),
        expected_version,
        value: value.into(),
    }
}

fn audit(tenant_name: &str, subject: &str, action: &str, when: Timestamp) -> AuditEntry {
    AuditEntry {
        tenant: tenant(tenant_name),
        actor: "orchestrator".to_owned(),
        action: action.to_owned(),
        subject: subject.to_owned(),
        details: json!({ "rule": "cheapest", "alternatives": ["odfl", "xpo"], "action": action }),
        at: when,
    }
}

fn message(n: usize) -> BusMessage {
    BusMessage::new(format!("acme.test.{n}"), format!("body {n}").into_bytes())
        .with_header("tenant", "acme")
        .with_header("n", n.to_string())
}

fn processed(consumer: &str, message_id: Uuid) -> Option<Processed> {
    Some(Processed {
        consumer: consumer.to_owned(),
        message_id,
    })
}

fn dead_letter(stage: Stage, partner_name: Option<&str>, failed_at: Timestamp) -> DeadLetter {
    DeadLetter {
        id: Uuid::now_v7(),
        stage,
        tenant: Some(tenant("acme")),
        partner: partner_name.map(partner),
        reason: "segment B2 at byte 118: element 4 missing".to_owned(),
        attempts: 3,
        message: BusMessage::new("odfl", b"ST*204*0001~\x00\x01".to_vec())
            .with_header("tenant", "acme")
            .with_header("format", "x12"),
        failed_at,
        redriven: None,
    }
}

async fn commit<S: Store>(store: &S, unit: UnitOfWork) -> CommitOutcome {
    store.commit(unit).await.unwrap()
}

async fn all_pending<S: Store>(store: &S) -> Vec<transload_core::store::OutboxRecord> {
    store.pending_outbox(10_000).await.unwrap()
}

// ---------------------------------------------------------------------------------------
// Units of work
// ---------------------------------------------------------------------------------------

async fn commit_writes_everything<H: Harness>(harness: &H) {
    let store = harness.store();
    let input = Uuid::now_v7();
    let raw = raw("acme", "204-000000001");
    let load = key("acme", "load", "L-1");
    let dead = dead_letter(Stage::Inbound, Some("odfl"), at(5));
    let outgoing = vec![(Stage::Events, message(1)), (Stage::Outbound, message(2))];
    let entry = audit("acme", "L-1", "decision", at(1));
    let unit = UnitOfWork {
        processed: processed("translate", input),
        raw: Some(raw.clone()),
        states: vec![write(&load, None, json!({ "status": "tendered", "n": 1 }))],
        audit: vec![entry.clone()],
        outbox: outgoing.clone(),
        dead_letters: vec![dead.clone()],
        redrives: vec![],
        received_control_numbers: vec![ReceivedControlNumber {
            partner: partner("odfl"),
            sequence: "isa13".to_owned(),
            number: "000000001".to_owned(),
        }],
        acknowledges: None,
    };
    assert_eq!(commit(&store, unit).await, CommitOutcome::Committed);

    assert!(store.is_processed("translate", input).await.unwrap());
    assert!(!store.is_processed("decide", input).await.unwrap());
    assert!(
        !store
            .is_processed("translate", Uuid::now_v7())
            .await
            .unwrap()
    );
    assert_eq!(store.raw_message(raw.id).await.unwrap(), Some(raw));
    assert_eq!(store.raw_message(Uuid::now_v7()).await.unwrap(), None);
    assert_eq!(
        store.load_state(&load).await.unwrap(),
        Some(StateRecord {
            version: 1,
            value: StateDocument::from(json!({ "status": "tendered", "n": 1 }))
        })
    );
    assert_eq!(
        store.audit_log(&tenant("acme"), "L-1").await.unwrap(),
        vec![entry]
    );
    let pending = all_pending(&store).await;
    let pending: Vec<(Stage, BusMessage)> = pending
        .into_iter()
        .map(|record| (record.stage, record.message))
        .collect();
    assert_eq!(pending, outgoing);
    assert_eq!(store.dead_letter(dead.id).await.unwrap(), Some(dead));
    assert!(
        !store
            .record_received_control_number(&partner("odfl"), "isa13", "000000001")
            .await
            .unwrap(),
        "the unit recorded its control number"
    );
}

/// A unit whose last state write conflicts leaves no trace of its earlier parts.
async fn failed_commit_writes_nothing<H: Harness>(harness: &H) {
    let store = harness.store();
    let input = Uuid::now_v7();
    let raw = raw("acme", "204-000000002");
    let fresh = key("acme", "load", "L-2");
    let missing = key("acme", "load", "L-never-written");
    let dead = dead_letter(Stage::Events, None, at(0));
    let unit = UnitOfWork {
        processed: processed("decide", input),
        raw: Some(raw.clone()),
        states: vec![
            write(&fresh, None, json!({ "status": "new" })),
            // Expects a version of a state that does not exist: a conflict.
            write(&missing, Some(4), json!({ "status": "changed" })),
        ],
        audit: vec![audit("acme", "L-2", "decision", at(0))],
        outbox: vec![(Stage::Outbound, message(1))],
        dead_letters: vec![dead.clone()],
        redrives: vec![],
        received_control_numbers: vec![ReceivedControlNumber {
            partner: partner("odfl"),
            sequence: "isa13".to_owned(),
            number: "000000002".to_owned(),
        }],
        acknowledges: None,
    };
    match store.commit(unit.clone()).await {
        Err(StoreError::Conflict {
            kind,
            key,
            expected,
        }) => {
            assert_eq!(
                (kind.as_str(), key.as_str(), expected),
                ("load", "L-never-written", Some(4))
            );
        }
        other => panic!("expected a state conflict, got {other:?}"),
    }
    assert!(
        store.commit(unit.clone()).await.unwrap_err().is_transient(),
        "a conflict is transient: reload and decide again"
    );

    assert!(!store.is_processed("decide", input).await.unwrap());
    assert_eq!(store.raw_message(raw.id).await.unwrap(), None);
    assert_eq!(store.load_state(&fresh).await.unwrap(), None);
    assert_eq!(store.load_state(&missing).await.unwrap(), None);
    assert!(
        store
            .audit_log(&tenant("acme"), "L-2")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(all_pending(&store).await.is_empty(), "outbox entry leaked");
    assert_eq!(store.dead_letter(dead.id).await.unwrap(), None);

    // Nothing stuck: the same input (processed marker, dedupe key) commits once fixed.
    let mut fixed = unit;
    fixed.states.truncate(1);
    assert_eq!(commit(&store, fixed).await, CommitOutcome::Committed);
    assert!(store.is_processed("decide", input).await.unwrap());
    assert_eq!(all_pending(&store).await.len(), 1);
}

/// A unit that ends with a refused redrive leaves no trace either.
async fn failed_redrive_writes_nothing<H: Harness>(harness: &H) {
    let store = harness.store();
    let input = Uuid::now_v7();
    let unknown = Uuid::now_v7();
    let load = key("acme", "load", "L-3");
    let unit = UnitOfWork {
        processed: processed("operator", input),
        states: vec![write(&load, None, json!(1))],
        audit: vec![audit("acme", "L-3", "redrive", at(0))],
        outbox: vec![(Stage::Events, message(1))],
        redrives: vec![Redrive {
            dead_letter_id: unknown,
            by: "operator:alice".to_owned(),
            edited_body: None,
        }],
        ..UnitOfWork::default()
    };
    match store.commit(unit).await {
        Err(StoreError::NoSuchDeadLetter(id)) => assert_eq!(id, unknown),
        other => panic!("expected NoSuchDeadLetter, got {other:?}"),
    }
    assert!(!store.is_processed("operator", input).await.unwrap());
    assert_eq!(store.load_state(&load).await.unwrap(), None);
    assert!(
        store
            .audit_log(&tenant("acme"), "L-3")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(all_pending(&store).await.is_empty());
}

async fn processed_marker_refuses_a_second_commit<H: Harness>(harness: &H) {
    let store = harness.store();
    let input = Uuid::now_v7();
    let first_key = key("acme", "load", "L-4");
    let second_key = key("acme", "load", "L-5");
    let first_out = message(1);
    let first = UnitOfWork {
        processed: processed("decide", input),
        states: vec![write(&first_key, None, json!("first"))],
        audit: vec![audit("acme", "L-4", "decision", at(0))],
        outbox: vec![(Stage::Outbound, first_out.clone())],
        ..UnitOfWork::default()
    };
    assert_eq!(commit(&store, first).await, CommitOutcome::Committed);

    let raw = raw("acme", "resent-under-the-same-input");
    let dead = dead_letter(Stage::Events, None, at(0));
    let second = UnitOfWork {
        processed: processed("decide", input),
        raw: Some(raw.clone()),
        states: vec![
            write(&first_key, Some(1), json!("second")),
            write(&second_key, None, json!("second")),
        ],
        audit: vec![audit("acme", "L-4", "decision", at(1))],
        outbox: vec![(Stage::Outbound, message(2))],
        dead_letters: vec![dead.clone()],
        redrives: vec![],
        received_control_numbers: vec![ReceivedControlNumber {
            partner: partner("odfl"),
            sequence: "isa13".to_owned(),
            number: "000000003".to_owned(),
        }],
        acknowledges: None,
    };
    assert_eq!(
        commit(&store, second.clone()).await,
        CommitOutcome::AlreadyProcessed
    );
    assert_eq!(
        store.load_state(&first_key).await.unwrap(),
        Some(StateRecord {
            version: 1,
            value: StateDocument::from(json!("first"))
        })
    );
    assert_eq!(store.load_state(&second_key).await.unwrap(), None);
    assert_eq!(store.raw_message(raw.id).await.unwrap(), None);
    assert_eq!(store.dead_letter(dead.id).await.unwrap(), None);
    assert_eq!(
        store.audit_log(&tenant("acme"), "L-4").await.unwrap().len(),
        1
    );
    let pending = all_pending(&store).await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].message, first_out);

    // The marker is per consumer: another stage processes the same message id.
    let mut other_consumer = second;
    other_consumer.processed = processed("deliver", input);
    other_consumer.states.clear();
    assert_eq!(
        commit(&store, other_consumer).await,
        CommitOutcome::Committed
    );
}

/// Markers recorded before the cutoff go, in as many chunks as it takes; younger ones
/// stay and still refuse a second commit.
async fn processed_markers_are_pruned_by_age<H: Harness>(harness: &H) {
    let store = harness.store();
    // More than one chunk (5,000) of old markers.
    let old: Vec<Uuid> = (0..5_100).map(|_| Uuid::now_v7()).collect();
    let units = old
        .iter()
        .map(|id| UnitOfWork {
            processed: processed("translate", *id),
            ..UnitOfWork::default()
        })
        .collect();
    for outcome in store.commit_all(units).await {
        assert_eq!(outcome.unwrap(), CommitOutcome::Committed);
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let cutoff = Timestamp::now();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let young = Uuid::now_v7();
    let unit = |id| UnitOfWork {
        processed: processed("deliver", id),
        ..UnitOfWork::default()
    };
    assert_eq!(commit(&store, unit(young)).await, CommitOutcome::Committed);

    assert_eq!(
        store
            .prune(History::ProcessedMarkers, cutoff)
            .await
            .unwrap(),
        5_100
    );
    assert!(!store.is_processed("translate", old[0]).await.unwrap());
    assert!(!store.is_processed("translate", old[5_099]).await.unwrap());
    assert!(store.is_processed("deliver", young).await.unwrap());
    assert_eq!(
        commit(&store, unit(young)).await,
        CommitOutcome::AlreadyProcessed
    );
    assert_eq!(
        store
            .prune(History::ProcessedMarkers, cutoff)
            .await
            .unwrap(),
        0
    );
}

/// Raw messages go by when they were received, and their dedupe keys with them.
async fn raw_messages_are_pruned_by_age<H: Harness>(harness: &H) {
    let store = harness.store();
    let old = raw("acme", "isa-000000101");
    let young = RawMessage {
        received_at: at(10_000),
        ..raw("acme", "isa-000000102")
    };
    for raw in [&old, &young] {
        let unit = UnitOfWork {
            raw: Some(raw.clone()),
            ..UnitOfWork::default()
        };
        assert_eq!(commit(&store, unit).await, CommitOutcome::Committed);
    }

    assert_eq!(
        store.prune(History::RawMessages, at(5_000)).await.unwrap(),
        1
    );
    assert_eq!(store.raw_message(old.id).await.unwrap(), None);
    assert_eq!(
        store.raw_message(young.id).await.unwrap(),
        Some(young.clone())
    );
    assert_eq!(
        store.prune(History::RawMessages, at(5_000)).await.unwrap(),
        0
    );
    // The old message's key is free again; the young one's still recognises a retry.
    let again = |raw: &RawMessage| UnitOfWork {
        raw: Some(RawMessage {
            id: Uuid::now_v7(),
            ..raw.clone()
        }),
        ..UnitOfWork::default()
    };
    assert_eq!(commit(&store, again(&old)).await, CommitOutcome::Committed);
    assert!(matches!(
        commit(&store, again(&young)).await,
        CommitOutcome::DuplicateRaw { .. }
    ));
}

/// Audit entries go by their time, whoever wrote them.
async fn audit_entries_are_pruned_by_age<H: Harness>(harness: &H) {
    let store = harness.store();
    let unit = UnitOfWork {
        audit: vec![
            audit("acme", "L-20", "decision", at(0)),
            audit("globex", "L-21", "override", at(1_000)),
            audit("acme", "L-20", "tendered", at(10_000)),
        ],
        ..UnitOfWork::default()
    };
    assert_eq!(commit(&store, unit).await, CommitOutcome::Committed);

    assert_eq!(
        store.prune(History::AuditEntries, at(5_000)).await.unwrap(),
        2
    );
    let left: Vec<String> = store
        .audit_log(&tenant("acme"), "L-20")
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.action)
        .collect();
    assert_eq!(left, ["tendered"]);
    assert!(
        store
            .audit_log(&tenant("globex"), "L-21")
            .await
            .unwrap()
            .is_empty()
    );
}

/// A dead letter goes some time after it was redriven; one never redriven stays,
/// however old.
async fn redriven_dead_letters_are_pruned_by_age<H: Harness>(harness: &H) {
    let store = harness.store();
    let redriven = dead_letter(Stage::Outbound, Some("odfl"), at(0));
    let waiting = dead_letter(Stage::Outbound, Some("odfl"), at(1));
    insert_dead_letters(&store, &[redriven.clone(), waiting.clone()]).await;
    let redrive = UnitOfWork {
        redrives: vec![Redrive {
            dead_letter_id: redriven.id,
            by: "operator:alice".to_owned(),
            edited_body: None,
        }],
        ..UnitOfWork::default()
    };
    assert_eq!(commit(&store, redrive).await, CommitOutcome::Committed);
    let (redriven_at, _) = store
        .dead_letter(redriven.id)
        .await
        .unwrap()
        .unwrap()
        .redriven
        .unwrap();

    assert_eq!(
        store
            .prune(History::RedrivenDeadLetters, redriven_at)
            .await
            .unwrap(),
        0,
        "redriven at the cutoff: kept"
    );
    let later = redriven_at + jiff::SignedDuration::from_millis(1);
    assert_eq!(
        store
            .prune(History::RedrivenDeadLetters, later)
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.dead_letter(redriven.id).await.unwrap(), None);
    assert_eq!(store.dead_letter(waiting.id).await.unwrap(), Some(waiting));
}

/// A received control number is forgotten some time after it came: the same number
/// from the partner is then new again.
async fn received_control_numbers_are_pruned_by_age<H: Harness>(harness: &H) {
    let store = harness.store();
    let odfl = partner("odfl");
    assert!(
        store
            .record_received_control_number(&odfl, "isa13", "000000905")
            .await
            .unwrap()
    );
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let cutoff = Timestamp::now();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(
        store
            .record_received_control_number(&odfl, "isa13", "000000906")
            .await
            .unwrap()
    );

    assert_eq!(
        store
            .prune(History::ReceivedControlNumbers, cutoff)
            .await
            .unwrap(),
        1
    );
    assert!(
        store
            .record_received_control_number(&odfl, "isa13", "000000905")
            .await
            .unwrap(),
        "forgotten: new again"
    );
    assert!(
        !store
            .record_received_control_number(&odfl, "isa13", "000000906")
            .await
            .unwrap(),
        "kept: still a duplicate"
    );
}

/// Concurrent commits of one input: exactly one wins.
async fn processed_marker_under_concurrency<H: Harness>(harness: &H) {
    let input = Uuid::now_v7();
    let mut tasks = Vec::new();
    for n in 0..8 {
        let store = if n % 2 == 0 {
            harness.store()
        } else {
            harness.reopen().await
        };
        tasks.push(tokio::spawn(async move {
            let unit = UnitOfWork {
                processed: processed("decide", input),
                outbox: vec![(Stage::Outbound, message(n))],
                ..UnitOfWork::default()
            };
            store.commit(unit).await.unwrap()
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    let committed = outcomes
        .iter()
        .filter(|outcome| **outcome == CommitOutcome::Committed)
        .count();
    assert_eq!(committed, 1, "outcomes: {outcomes:?}");
    assert!(outcomes.iter().all(|outcome| matches!(
        outcome,
        CommitOutcome::Committed | CommitOutcome::AlreadyProcessed
    )));
    assert_eq!(all_pending(&harness.store()).await.len(), 1);
}

// ---------------------------------------------------------------------------------------
// Raw messages
// ---------------------------------------------------------------------------------------

async fn raw_messages_dedupe_per_tenant<H: Harness>(harness: &H) {
    let store = harness.store();
    let original = raw("acme", "ISA-000000123");
    let unit = UnitOfWork {
        raw: Some(original.clone()),
        outbox: vec![(Stage::Inbound, message(1))],
        ..UnitOfWork::default()
    };
    assert_eq!(commit(&store, unit).await, CommitOutcome::Committed);

    // A resend: same tenant and dedupe key, new id, other bytes.
    let input = Uuid::now_v7();
    let mut resend = raw("acme", "ISA-000000123");
    resend.body = b"resent".to_vec();
    let load = key("acme", "load", "L-6");
    let unit = UnitOfWork {
        processed: processed("receive", input),
        raw: Some(resend.clone()),
        states: vec![write(&load, None, json!(1))],
        outbox: vec![(Stage::Inbound, message(2))],
        ..UnitOfWork::default()
    };
    assert_eq!(
        commit(&store, unit).await,
        CommitOutcome::DuplicateRaw {
            existing: original.id
        }
    );
    assert_eq!(store.raw_message(resend.id).await.unwrap(), None);
    assert_eq!(
        store.raw_message(original.id).await.unwrap(),
        Some(original.clone())
    );
    assert!(!store.is_processed("receive", input).await.unwrap());
    assert_eq!(store.load_state(&load).await.unwrap(), None);
    assert_eq!(all_pending(&store).await.len(), 1);

    // The same dedupe key from another tenant is another message.
    let other_tenant = raw("globex", "ISA-000000123");
    let unit = UnitOfWork {
        raw: Some(other_tenant.clone()),
        ..UnitOfWork::default()
    };
    assert_eq!(commit(&store, unit).await, CommitOutcome::Committed);
    assert_eq!(
        store.raw_message(other_tenant.id).await.unwrap(),
        Some(other_tenant)
    );

    // Another key from the first tenant too.
    let unit = UnitOfWork {
        raw: Some(raw("acme", "ISA-000000124")),
        ..UnitOfWork::default()
    };
    assert_eq!(commit(&store, unit).await, CommitOutcome::Committed);
}

/// Receivers racing with the same input: one stores it, the others learn its id.
async fn raw_dedupe_under_concurrency<H: Harness>(harness: &H) {
    let mut tasks = Vec::new();
    for n in 0..8 {
        let store = if n % 2 == 0 {
            harness.store()
        } else {
            harness.reopen().await
        };
        tasks.push(tokio::spawn(async move {
            let raw = raw("acme", "ISA-000000777");
            let id = raw.id;
            let unit = UnitOfWork {
                raw: Some(raw),
                outbox: vec![(Stage::Inbound, message(n))],
                ..UnitOfWork::default()
            };
            (id, store.commit(unit).await.unwrap())
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    let winners: Vec<Uuid> = results
        .iter()
        .filter(|(_, outcome)| *outcome == CommitOutcome::Committed)
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(winners.len(), 1, "results: {results:?}");
    for (_, outcome) in &results {
        assert!(
            *outcome == CommitOutcome::Committed
                || *outcome
                    == CommitOutcome::DuplicateRaw {
                        existing: winners[0]
                    },
            "{outcome:?}"
        );
    }
    assert_eq!(all_pending(&harness.store()).await.len(), 1);
}

// ---------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------

fn conflict_on(result: Result<CommitOutcome, StoreError>, expected: Option<u64>) {
    match result {
        Err(StoreError::Conflict {
            expected: reported, ..
        }) => assert_eq!(reported, expected),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

async fn state_optimistic_concurrency<H: Harness>(harness: &H) {
    let store = harness.store();
    let load = key("acme", "load", "L-7");
    let set = |expected, value| UnitOfWork {
        states: vec![write(&load, expected, value)],
        ..UnitOfWork::default()
    };
    assert_eq!(store.load_state(&load).await.unwrap(), None);
    assert_eq!(
        commit(&store, set(None, json!({ "v": 1 }))).await,
        CommitOutcome::Committed
    );
    conflict_on(store.commit(set(None, json!({ "v": "again" }))).await, None);
    assert_eq!(
        commit(&store, set(Some(1), json!({ "v": 2 }))).await,
        CommitOutcome::Committed
    );
    conflict_on(
        store.commit(set(Some(1), json!({ "v": "stale" }))).await,
        Some(1),
    );
    conflict_on(
        store.commit(set(Some(3), json!({ "v": "ahead" }))).await,
        Some(3),
    );
    conflict_on(
        store.commit(set(Some(u64::MAX), json!("huge"))).await,
        Some(u64::MAX),
    );
    assert_eq!(
        store.load_state(&load).await.unwrap(),
        Some(StateRecord {
            version: 2,
            value: StateDocument::from(json!({ "v": 2 }))
        })
    );

    // A version chain inside one unit.
    let chain = key("acme", "tender", "T-1");
    let unit = UnitOfWork {
        states: vec![
            write(&chain, None, json!("offered")),
            write(&chain, Some(1), json!("accepted")),
            write(&chain, Some(2), json!("booked")),
        ],
        ..UnitOfWork::default()
    };
    assert_eq!(commit(&store, unit).await, CommitOutcome::Committed);
    assert_eq!(
        store.load_state(&chain).await.unwrap(),
        Some(StateRecord {
            version: 3,
            value: StateDocument::from(json!("booked"))
        })
    );
}

/// Writers racing from the same version: exactly one wins, the others conflict.
async fn state_writers_race<H: Harness>(harness: &H) {
    let load = key("acme", "load", "L-8");
    let create = UnitOfWork {
        states: vec![write(&load, None, json!(0))],
        ..UnitOfWork::default()
    };
    assert_eq!(
        commit(&harness.store(), create).await,
        CommitOutcome::Committed
    );
    let mut tasks = Vec::new();
    for n in 0..8 {
        let store = if n % 2 == 0 {
            harness.store()
        } else {
            harness.reopen().await
        };
        let load = load.clone();
        tasks.push(tokio::spawn(async move {
            let unit = UnitOfWork {
                states: vec![write(&load, Some(1), json!(n))],
                outbox: vec![(Stage::Outbound, message(n))],
                ..UnitOfWork::default()
            };
            store.commit(unit).await
        }));
    }
    let mut winners = Vec::new();
    for (n, task) in tasks.into_iter().enumerate() {
        match task.await.unwrap() {
            Ok(CommitOutcome::Committed) => winners.push(n),
            Err(StoreError::Conflict { .. }) => {}
            other => panic!("writer {n}: unexpected {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let stored = harness.store().load_state(&load).await.unwrap().unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(stored.value.to_value(), json!(winners[0]));
    assert_eq!(all_pending(&harness.store()).await.len(), 1);
}

/// Many writers at once (the SQLite store commits them together, each in a savepoint):
/// the units that fail (a state conflict) or find their message processed before roll
/// back alone; every other unit is committed whole.
async fn concurrent_commits_fail_alone<H: Harness>(harness: &H) {
    let store = harness.store();
    let seen = Uuid::now_v7();
    let first = UnitOfWork {
        processed: processed("batch", seen),
        ..UnitOfWork::default()
    };
    assert_eq!(commit(&store, first).await, CommitOutcome::Committed);
    let mut tasks = Vec::new();
    for n in 0..60_usize {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let own = key("acme", "batch", &format!("K-{n}"));
            let mut states = vec![write(&own, None, json!(n))];
            if n % 5 == 0 {
                // After its own state, a version of another that does not exist.
                let missing = key("acme", "batch-missing", &format!("K-{n}"));
                states.push(write(&missing, Some(4), json!(n)));
            }
            let unit = UnitOfWork {
                // Every third unit's message was processed before.
                processed: processed("batch", if n % 3 == 0 { seen } else { Uuid::now_v7() }),
                states,
                outbox: vec![(Stage::Outbound, message(n))],
                ..UnitOfWork::default()
            };
            (n, store.commit(unit).await)
        }));
    }
    let mut committed = Vec::new();
    for task in tasks {
        let (n, outcome) = task.await.unwrap();
        match outcome {
            Ok(CommitOutcome::Committed) => committed.push(n),
            Ok(CommitOutcome::AlreadyProcessed) => assert_eq!(n % 3, 0, "unit {n}"),
            Err(StoreError::Conflict { .. }) => assert_eq!(n % 5, 0, "unit {n}"),
            other => panic!("unit {n}: unexpected {other:?}"),
        }
    }
    committed.sort_unstable();
    let expected: Vec<usize> = (0..60).filter(|n| n % 3 != 0 && n % 5 != 0).collect();
    assert_eq!(committed, expected);
    for n in 0..60_usize {
        let stored = store
            .load_state(&key("acme", "batch", &format!("K-{n}")))
            .await
            .unwrap();
        assert_eq!(stored.is_some(), expected.contains(&n), "state of unit {n}");
    }
    let mut published: Vec<usize> = all_pending(&store)
        .await
        .into_iter()
        .map(|record| record.message.headers["n"].parse().unwrap())
        .collect();
    published.sort_unstable();
    assert_eq!(published, expected);
}

/// Short names of commit outcomes, for comparing batches of them.
fn labels(outcomes: &[Result<CommitOutcome, StoreError>]) -> Vec<&'static str> {
    outcomes
        .iter()
        .map(|outcome| match outcome {
            Ok(CommitOutcome::Committed) => "committed",
            Ok(_) => "not committed",
            Err(StoreError::Conflict { .. }) => "conflict",
            Err(StoreError::NotAttempted) => "not attempted",
            Err(_) => "other error",
        })
        .collect()
}

/// `commit_all` fails a unit alone; `commit_chain` stops at it.
async fn batches_fail_alone_or_stop_the_chain<H: Harness>(harness: &H) {
    let store = harness.store();
    let units = |prefix: &str| -> Vec<UnitOfWork> {
        (0..3)
            .map(|n| {
                let own = key("acme", prefix, &format!("K-{n}"));
                let mut states = vec![write(&own, None, json!(n))];
                if n == 1 {
                    states.push(write(&key("acme", prefix, "missing"), Some(4), json!(n)));
                }
                UnitOfWork {
                    processed: processed(prefix, Uuid::now_v7()),
                    states,
                    outbox: vec![(Stage::Outbound, message(n))],
                    ..UnitOfWork::default()
                }
            })
            .collect()
    };
    let outcomes = store.commit_all(units("all")).await;
    assert_eq!(labels(&outcomes), ["committed", "conflict", "committed"]);
    let outcomes = store.commit_chain(units("chain")).await;
    assert_eq!(
        labels(&outcomes),
        ["committed", "conflict", "not attempted"]
    );
    assert!(outcomes[2].as_ref().unwrap_err().is_transient());
    for (prefix, written) in [
        ("all", [true, false, true]),
        ("chain", [true, false, false]),
    ] {
        for (n, expected) in written.iter().enumerate() {
            let stored = store
                .load_state(&key("acme", prefix, &format!("K-{n}")))
                .await
                .unwrap();
            assert_eq!(stored.is_some(), *expected, "{prefix} unit {n}");
        }
    }
    assert_eq!(
        all_pending(&store).await.len(),
        3,
        "outbox of the 3 committed units"
    );
}

async fn state_is_isolated_by_tenant<H: Harness>(harness: &H) {
    let store = harness.store();
    let acme = key("acme", "load", "L-9");
    let globex = key("globex", "load", "L-9");
    let unit = UnitOfWork {
        states: vec![
            write(&acme, None, json!("acme's")),
            write(&acme, Some(1), json!("acme's, v2")),
        ],
        ..UnitOfWork::default()
    };
    assert_eq!(commit(&store, unit).await, CommitOutcome::Committed);
    assert_eq!(store.load_state(&globex).await.unwrap(), None);
    // Another tenant's state with the same kind and key is created, not a conflict.
    let unit = UnitOfWork {
        states: vec![write(&globex, None, json!("globex's"))],
        ..UnitOfWork::default()
    };
    assert_eq!(commit(&store, unit).await, CommitOutcome::Committed);
    assert_eq!(
        store.load_state(&globex).await.unwrap(),
        Some(StateRecord {
            version: 1,
            value: StateDocument::from(json!("globex's"))
        })
    );
    assert_eq!(
        store.load_state(&acme).await.unwrap(),
        Some(StateRecord {
            version: 2,
            value: StateDocument::from(json!("acme's, v2"))
        })
    );
    // Kind is part of the key too.
    assert_eq!(
        store
            .load_state(&key("acme", "tender", "L-9"))
            .await
            .unwrap(),
        None
    );
}

// ---------------------------------------------------------------------------------------
// Audit
// ---------------------------------------------------------------------------------------

async fn audit_is_isolated_by_tenant<H: Harness>(harness: &H) {
    let store = harness.store();
    let acme = audit("acme", "L-10", "decision", at(0));
    let globex = audit("globex", "L-10", "override", at(1));
    let unit = UnitOfWork {
        audit: vec![
            acme.clone(),
            globex.clone(),
            audit("acme", "L-11", "decision", at(2)),
        ],
        ..UnitOfWork::default()
    };
    assert_eq!(commit(&store, unit).await, CommitOutcome::Committed);
    assert_eq!(
        store.audit_log(&tenant("acme"), "L-10").await.unwrap(),
        vec![acme]
    );
    assert_eq!(
        store.audit_log(&tenant("globex"), "L-10").await.unwrap(),
        vec![globex]
    );
    assert!(
        store
            .audit_log(&tenant("initech"), "L-10")
            .await
            .unwrap()
            .is_empty()
    );
}

/// Oldest first, by the entries' time, whatever order they were committed in; entries
/// with the same time keep the order they were written in.
async fn audit_log_is_oldest_first<H: Harness>(harness: &H) {
    let store = harness.store();
    let entry = |action: &str, millis| audit("acme", "L-12", action, at(millis));
    let units = [
        vec![entry("second", 2_000), entry("third", 3_500)],
        vec![entry("fourth", 4_000)],
        // Written last, happened first (another process, a clock a little behind).
        vec![entry("first", 1_000)],
        vec![entry("fifth-a", 5_000), entry("fifth-b", 5_000)],
    ];
    for audit in units {
        let unit = UnitOfWork {
            audit,
            ..UnitOfWork::default()
        };
        assert_eq!(commit(&store, unit).await, CommitOutcome::Committed);
    }
    let actions: Vec<String> = store
        .audit_log(&tenant("acme"), "L-12")
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.action)
        .collect();
    assert_eq!(
        actions,
        ["first", "second", "third", "fourth", "fifth-a", "fifth-b"]
    );
}

// ---------------------------------------------------------------------------------------
// Outbox
// ---------------------------------------------------------------------------------------

async fn outbox_order_and_mark_published<H: Harness>(harness: &H) {
    let store = harness.store();
    assert!(all_pending(&store).await.is_empty());
    let first = vec![
        (Stage::Outbound, message(1)),
        (Stage::Events, message(2)),
        (Stage::Inbound, message(3)),
    ];
    let second = vec![(Stage::Outbound, message(4)), (Stage::Outbound, message(5))];
    for outbox in [first.clone(), second.clone()] {
        let unit = UnitOfWork {
            outbox,
            ..UnitOfWork::default()
        };
        assert_eq!(commit(&store, unit).await, CommitOutcome::Committed);
    }
    let pending = all_pending(&store).await;
    let expected: Vec<(Stage, BusMessage)> = first.into_iter().chain(second).collect();
    assert_eq!(
        pending
            .iter()
            .map(|record| (record.stage, record.message.clone()))
            .collect::<Vec<_>>(),
        expected
    );
    assert!(
        pending.windows(2).all(|pair| pair[0].seq < pair[1].seq),
        "seqs must increase: {:?}",
        pending.iter().map(|record| record.seq).collect::<Vec<_>>()
    );
    // `limit` takes the oldest.
    let two = store.pending_outbox(2).await.unwrap();
    assert_eq!(two, pending[..2].to_vec());

    store
        .mark_published(&[pending[0].seq, pending[2].seq])
        .await
        .unwrap();
    let left = all_pending(&store).await;
    assert_eq!(
        left,
        vec![pending[1].clone(), pending[3].clone(), pending[4].clone()]
    );
    // Marking again, marking nothing and marking an unknown seq are harmless.
    store.mark_published(&[pending[0].seq]).await.unwrap();
    store.mark_published(&[]).await.unwrap();
    store.mark_published(&[i64::MAX]).await.unwrap();
    assert_eq!(all_pending(&store).await, left);
    // A second handle (another process) sees the same outbox.
    assert_eq!(all_pending(&harness.reopen().await).await, left);

    let rest: Vec<i64> = left.iter().map(|record| record.seq).collect();
    store.mark_published(&rest).await.unwrap();
    assert!(all_pending(&store).await.is_empty());
    // Published rows are gone, not kept marked: the outbox does not grow with every
    // message ever sent.
    assert_eq!(harness.rows("outbox").await, 0);
    // New entries come after everything published.
    let unit = UnitOfWork {
        outbox: vec![(Stage::Events, message(6))],
        ..UnitOfWork::default()
    };
    assert_eq!(commit(&store, unit).await, CommitOutcome::Committed);
    let newest = all_pending(&store).await;
    assert_eq!(newest.len(), 1);
    assert!(newest[0].seq > pending[4].seq);
}

// ---------------------------------------------------------------------------------------
// Control numbers
// ---------------------------------------------------------------------------------------

async fn control_numbers_count_per_partner_and_sequence<H: Harness>(harness: &H) {
    let store = harness.store();
    let odfl = partner("odfl");
    let xpo = partner("xpo");
    let mut isa = Vec::new();
    for _ in 0..3 {
        isa.push(store.next_control_number(&odfl, "isa13").await.unwrap());
    }
    assert_eq!(isa, [1, 2, 3]);
    assert_eq!(store.next_control_number(&odfl, "gs06").await.unwrap(), 1);
    assert_eq!(store.next_control_number(&xpo, "isa13").await.unwrap(), 1);
    // Kept across a reopen (a restart).
    let reopened = harness.reopen().await;
    assert_eq!(
        reopened.next_control_number(&odfl, "isa13").await.unwrap(),
        4
    );
    assert_eq!(store.next_control_number(&odfl, "isa13").await.unwrap(), 5);
}

/// 8 tasks × 200 calls, on two handles as two hub processes would: 1600 distinct
/// numbers, increasing within each caller.
async fn control_numbers_are_unique_under_concurrency<H: Harness>(harness: &H) {
    const TASKS: usize = 8;
    const CALLS: usize = 200;
    let odfl = partner("odfl");
    let mut tasks = Vec::new();
    for n in 0..TASKS {
        let store = if n % 2 == 0 {
            harness.store()
        } else {
            harness.reopen().await
        };
        let odfl = odfl.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::with_capacity(CALLS);
            for _ in 0..CALLS {
                got.push(store.next_control_number(&odfl, "isa13").await.unwrap());
            }
            got
        }));
    }
    let mut all = BTreeSet::new();
    for task in tasks {
        let got = task.await.unwrap();
        assert!(
            got.windows(2).all(|pair| pair[0] < pair[1]),
            "one caller's numbers must increase"
        );
        all.extend(got);
    }
    assert_eq!(all.len(), TASKS * CALLS, "a control number was repeated");
    assert!(all.first().is_some_and(|first| *first >= 1));
    let next = harness
        .store()
        .next_control_number(&odfl, "isa13")
        .await
        .unwrap();
    assert!(next > *all.last().unwrap());
}

/// `next_control_numbers`: a block per sequence, in order, mixed with single calls from
/// 8 tasks on two handles: every number of a sequence handed out once, each caller's
/// numbers increasing, and a reopened store going on after the last.
async fn control_numbers_allocate_in_blocks<H: Harness>(harness: &H) {
    const TASKS: usize = 8;
    const CALLS: usize = 50;
    let odfl = partner("odfl");
    let store = harness.store();
    assert_eq!(
        store
            .next_control_numbers(&odfl, &[("isa13", 1), ("gs06", 0), ("st02", 3)])
            .await
            .unwrap(),
        vec![vec![1], vec![], vec![1, 2, 3]]
    );
    assert_eq!(store.next_control_number(&odfl, "st02").await.unwrap(), 4);
    let mut tasks = Vec::new();
    for n in 0..TASKS {
        let store = if n % 2 == 0 {
            harness.store()
        } else {
            harness.reopen().await
        };
        let odfl = odfl.clone();
        tasks.push(tokio::spawn(async move {
            let (mut isa, mut st) = (Vec::new(), Vec::new());
            for call in 0..CALLS {
                if call % 3 == 0 {
                    st.push(store.next_control_number(&odfl, "st02").await.unwrap());
                } else {
                    let got = store
                        .next_control_numbers(&odfl, &[("isa13", 1), ("st02", 4)])
                        .await
                        .unwrap();
                    isa.extend(&got[0]);
                    st.extend(&got[1]);
                }
            }
            (isa, st)
        }));
    }
    let (mut all_isa, mut all_st) = (BTreeSet::from([1]), BTreeSet::from([1, 2, 3, 4]));
    let (mut isa_count, mut st_count) = (1, 4);
    for task in tasks {
        let (isa, st) = task.await.unwrap();
        for numbers in [&isa, &st] {
            assert!(
                numbers.windows(2).all(|pair| pair[0] < pair[1]),
                "one caller's numbers must increase: {numbers:?}"
            );
        }
        isa_count += isa.len();
        st_count += st.len();
        all_isa.extend(isa);
        all_st.extend(st);
    }
    assert_eq!(all_isa.len(), isa_count, "an ISA13 was repeated");
    assert_eq!(all_st.len(), st_count, "an ST02 was repeated");
    let reopened = harness.reopen().await;
    let next = reopened
        .next_control_numbers(&odfl, &[("st02", 2)])
        .await
        .unwrap();
    assert!(next[0][0] > *all_st.last().unwrap());
    assert_eq!(next[0][1], next[0][0] + 1);
}

async fn received_control_numbers_detect_duplicates<H: Harness>(harness: &H) {
    let store = harness.store();
    let odfl = partner("odfl");
    let xpo = partner("xpo");
    assert!(
        store
            .record_received_control_number(&odfl, "isa13", "000000905")
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_received_control_number(&odfl, "isa13", "000000905")
            .await
            .unwrap()
    );
    // Numbers are compared as sent: another partner, sequence or number is new.
    assert!(
        store
            .record_received_control_number(&xpo, "isa13", "000000905")
            .await
            .unwrap()
    );
    assert!(
        store
            .record_received_control_number(&odfl, "gs06", "000000905")
            .await
            .unwrap()
    );
    assert!(
        store
            .record_received_control_number(&odfl, "isa13", "905")
            .await
            .unwrap()
    );
    let reopened = harness.reopen().await;
    assert!(
        !reopened
            .record_received_control_number(&odfl, "isa13", "000000905")
            .await
            .unwrap()
    );
}

async fn control_numbers_recorded_with_a_unit_refuse_the_duplicate_unit<H: Harness>(harness: &H) {
    let store = harness.store();
    let odfl = partner("odfl");
    let received = |number: &str| ReceivedControlNumber {
        partner: odfl.clone(),
        sequence: "isa13".to_owned(),
        number: number.to_owned(),
    };
    let unit = |numbers: Vec<ReceivedControlNumber>, n: usize| UnitOfWork {
        received_control_numbers: numbers,
        outbox: vec![(Stage::Events, message(n))],
        ..UnitOfWork::default()
    };
    assert_eq!(
        commit(&store, unit(vec![received("000000905")], 1)).await,
        CommitOutcome::Committed
    );
    // The same interchange number again: nothing of the unit is written, not even the
    // other, new number it carries.
    assert_eq!(
        commit(
            &store,
            unit(vec![received("000000906"), received("000000905")], 2)
        )
        .await,
        CommitOutcome::DuplicateControlNumber {
            sequence: "isa13".to_owned(),
            number: "000000905".to_owned()
        }
    );
    assert_eq!(store.pending_outbox(10).await.unwrap().len(), 1);
    assert!(
        store
            .record_received_control_number(&odfl, "isa13", "000000906")
            .await
            .unwrap(),
        "the refused unit recorded nothing"
    );
    // Units and the direct call share the record.
    assert!(
        !store
            .record_received_control_number(&odfl, "isa13", "000000905")
            .await
            .unwrap()
    );
}

// ---------------------------------------------------------------------------------------
// Dead letters
// ---------------------------------------------------------------------------------------

async fn insert_dead_letters<S: Store>(store: &S, letters: &[DeadLetter]) {
    let unit = UnitOfWork {
        dead_letters: letters.to_vec(),
        ..UnitOfWork::default()
    };
    assert_eq!(commit(store, unit).await, CommitOutcome::Committed);
}

fn ids(letters: &[DeadLetter]) -> Vec<Uuid> {
    letters.iter().map(|letter| letter.id).collect()
}

async fn dead_letters_list_filter_and_show<H: Harness>(harness: &H) {
    let store = harness.store();
    let oldest = dead_letter(Stage::Inbound, Some("odfl"), at(0));
    let mut second = dead_letter(Stage::Outbound, Some("xpo"), at(1_000));
    second.tenant = None;
    let third = dead_letter(Stage::Outbound, Some("odfl"), at(1_500));
    let newest = dead_letter(Stage::Events, None, at(2_000));
    // Committed out of time order, in two units.
    insert_dead_letters(&store, &[third.clone(), oldest.clone()]).await;
    insert_dead_letters(&store, &[newest.clone(), second.clone()]).await;

    let list = |filter: DeadLetterFilter| {
        let store = store.clone();
        async move { store.dead_letters(&filter).await.unwrap() }
    };
    let everything = list(DeadLetterFilter::default()).await;
    assert_eq!(
        everything,
        vec![
            newest.clone(),
            third.clone(),
            second.clone(),
            oldest.clone()
        ]
    );
    assert_eq!(
        ids(&list(DeadLetterFilter {
            stage: Some(Stage::Outbound),
            ..DeadLetterFilter::default()
        })
        .await),
        ids(&[third.clone(), second.clone()])
    );
    assert_eq!(
        ids(&list(DeadLetterFilter {
            partner: Some(partner("odfl")),
            ..DeadLetterFilter::default()
        })
        .await),
        ids(&[third.clone(), oldest.clone()])
    );
    assert_eq!(
        ids(&list(DeadLetterFilter {
            stage: Some(Stage::Inbound),
            partner: Some(partner("odfl")),
            ..DeadLetterFilter::default()
        })
        .await),
        vec![oldest.id]
    );
    assert!(
        list(DeadLetterFilter {
            partner: Some(partner("nobody")),
            ..DeadLetterFilter::default()
        })
        .await
        .is_empty()
    );
    assert_eq!(
        ids(&list(DeadLetterFilter {
            limit: 2,
            ..DeadLetterFilter::default()
        })
        .await),
        ids(&[newest.clone(), third.clone()])
    );

    assert_eq!(store.dead_letter(second.id).await.unwrap(), Some(second));
    assert_eq!(store.dead_letter(Uuid::now_v7()).await.unwrap(), None);
}

async fn dead_letters_default_limit_is_100<H: Harness>(harness: &H) {
    let store = harness.store();
    let letters: Vec<DeadLetter> = (0..105)
        .map(|n| dead_letter(Stage::Events, Some("odfl"), at(n)))
        .collect();
    insert_dead_letters(&store, &letters).await;
    let listed = store
        .dead_letters(&DeadLetterFilter::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), 100);
    assert_eq!(listed[0].id, letters[104].id);
    assert_eq!(listed[99].id, letters[5].id);
}

/// A redrive marks the dead letter once and puts its message back on its stage through
/// the outbox, in the same transaction.
async fn redrive_once_through_the_outbox<H: Harness>(harness: &H) {
    let store = harness.store();
    let dead = dead_letter(Stage::Outbound, Some("odfl"), at(0));
    let other = dead_letter(Stage::Outbound, Some("odfl"), at(1));
    insert_dead_letters(&store, &[dead.clone(), other.clone()]).await;
    assert!(all_pending(&store).await.is_empty());

    let redrive = UnitOfWork {
        redrives: vec![Redrive {
            dead_letter_id: dead.id,
            by: "operator:alice".to_owned(),
            edited_body: None,
        }],
        audit: vec![audit("acme", &dead.id.to_string(), "redrive", at(10))],
        ..UnitOfWork::default()
    };
    assert_eq!(
        commit(&store, redrive.clone()).await,
        CommitOutcome::Committed
    );

    let shown = store.dead_letter(dead.id).await.unwrap().unwrap();
    let (_, by) = shown.redriven.clone().expect("marked redriven");
    assert_eq!(by, "operator:alice");
    assert_eq!(
        DeadLetter {
            redriven: None,
            ..shown
        },
        dead,
        "a redrive changes nothing but the mark"
    );
    let pending = all_pending(&store).await;
    assert_eq!(pending.len(), 1, "one outbox entry per redrive");
    assert_eq!(pending[0].stage, Stage::Outbound);
    assert_eq!(pending[0].message.body, dead.message.body);
    assert_eq!(pending[0].message.routing_key, dead.message.routing_key);
    for (name, value) in &dead.message.headers {
        assert_eq!(
            pending[0].message.headers.get(name),
            Some(value),
            "header {name} kept"
        );
    }

    // Listed only when asked for redriven ones.
    assert_eq!(
        ids(&store
            .dead_letters(&DeadLetterFilter::default())
            .await
            .unwrap()),
        vec![other.id]
    );
    assert_eq!(
        ids(&store
            .dead_letters(&DeadLetterFilter {
                include_redriven: true,
                ..DeadLetterFilter::default()
            })
            .await
            .unwrap()),
        ids(&[other, dead.clone()])
    );

    // A second redrive of the same entry is refused, with no effect at all.
    match store.commit(redrive).await {
        Err(StoreError::NoSuchDeadLetter(id)) => assert_eq!(id, dead.id),
        other => panic!("expected NoSuchDeadLetter, got {other:?}"),
    }
    assert_eq!(all_pending(&store).await.len(), 1);
    assert_eq!(
        store
            .audit_log(&tenant("acme"), &dead.id.to_string())
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store.dead_letter(dead.id).await.unwrap().unwrap().redriven,
        shown.redriven
    );
}

/// Concurrent redrives of one entry: exactly one goes through.
async fn redrive_races<H: Harness>(harness: &H) {
    let dead = dead_letter(Stage::Events, None, at(0));
    insert_dead_letters(&harness.store(), std::slice::from_ref(&dead)).await;
    let mut tasks = Vec::new();
    for n in 0..6 {
        let store = if n % 2 == 0 {
            harness.store()
        } else {
            harness.reopen().await
        };
        tasks.push(tokio::spawn(async move {
            let unit = UnitOfWork {
                redrives: vec![Redrive {
                    dead_letter_id: dead.id,
                    by: format!("operator:{n}"),
                    edited_body: None,
                }],
                ..UnitOfWork::default()
            };
            store.commit(unit).await
        }));
    }
    let mut done = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(CommitOutcome::Committed) => done += 1,
            Err(StoreError::NoSuchDeadLetter(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(done, 1);
    assert_eq!(all_pending(&harness.store()).await.len(), 1);
}

/// A stage that marked a message processed in the unit that dead-lettered it (so that a
/// redelivery is not dead-lettered twice) must still process the redriven message: the
/// redrive is not swallowed by the processed marker.
async fn redrive_is_not_swallowed_by_the_processed_marker<H: Harness>(harness: &H) {
    let store = harness.store();
    let dead = dead_letter(Stage::Inbound, Some("odfl"), at(0));
    let gave_up = UnitOfWork {
        processed: processed("translate", dead.message.id),
        dead_letters: vec![dead.clone()],
        ..UnitOfWork::default()
    };
    assert_eq!(commit(&store, gave_up).await, CommitOutcome::Committed);
    let redrive = UnitOfWork {
        redrives: vec![Redrive {
            dead_letter_id: dead.id,
            by: "operator:alice".to_owned(),
            edited_body: None,
        }],
        ..UnitOfWork::default()
    };
    assert_eq!(commit(&store, redrive).await, CommitOutcome::Committed);
    let pending = all_pending(&store).await;
    assert_eq!(pending.len(), 1);
    let redriven = pending[0].message.id;
    assert!(
        !store.is_processed("translate", redriven).await.unwrap(),
        "the redriven message carries the id the stage already marked processed: \
         the stage would drop it as a duplicate"
    );
    // And the stage's commit for it goes through.
    let retried = UnitOfWork {
        processed: processed("translate", redriven),
        outbox: vec![(Stage::Events, message(1))],
        ..UnitOfWork::default()
    };
    assert_eq!(commit(&store, retried).await, CommitOutcome::Committed);
}

// ---------------------------------------------------------------------------------------
// Instantiation
// ---------------------------------------------------------------------------------------

/// Runs one case on a fresh harness and destroys the harness afterwards, also when the
/// case panicked.
async fn run<H, F>(case: F)
where
    H: Harness,
    F: for<'a> FnOnce(&'a H) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>>,
{
    let harness = H::new().await;
    let outcome = AssertUnwindSafe(case(&harness)).catch_unwind().await;
    harness.destroy().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// A unit that acknowledges a bus delivery can only be committed by a store that holds
/// the bus (the SQLite store with the embedded bus in its file); any other store
/// refuses it, and writes nothing of it.
async fn a_unit_acknowledging_a_delivery_is_refused_without_the_bus<H: Harness>(harness: &H) {
    let store = harness.store();
    let input = Uuid::now_v7();
    let unit = UnitOfWork {
        processed: processed("translate", input),
        outbox: vec![(Stage::Events, message(1))],
        acknowledges: Some(DeliveryToken {
            tag: 1,
            generation: 1,
        }),
        ..UnitOfWork::default()
    };
    match store.commit(unit).await {
        Err(StoreError::Other(reason)) => {
            assert!(reason.contains("does not hold the bus"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(!store.is_processed("translate", input).await.unwrap());
    assert!(store.pending_outbox(10).await.unwrap().is_empty());
}

macro_rules! store_conformance {
    ($module:ident, $harness:ty) => {
        store_conformance!(@cases $module, $harness,
            commit_writes_everything,
            failed_commit_writes_nothing,
            failed_redrive_writes_nothing,
            processed_marker_refuses_a_second_commit,
            processed_marker_under_concurrency,
            processed_markers_are_pruned_by_age,
            raw_messages_are_pruned_by_age,
            audit_entries_are_pruned_by_age,
            redriven_dead_letters_are_pruned_by_age,
            received_control_numbers_are_pruned_by_age,
            raw_messages_dedupe_per_tenant,
            raw_dedupe_under_concurrency,
            state_optimistic_concurrency,
            state_writers_race,
            concurrent_commits_fail_alone,
            batches_fail_alone_or_stop_the_chain,
            state_is_isolated_by_tenant,
            audit_is_isolated_by_tenant,
            audit_log_is_oldest_first,
            outbox_order_and_mark_published,
            control_numbers_count_per_partner_and_sequence,
            control_numbers_are_unique_under_concurrency,
            control_numbers_allocate_in_blocks,
            received_control_numbers_detect_duplicates,
            control_numbers_recorded_with_a_unit_refuse_the_duplicate_unit,
            dead_letters_list_filter_and_show,
            dead_letters_default_limit_is_100,
            redrive_once_through_the_outbox,
            redrive_races,
            redrive_is_not_swallowed_by_the_processed_marker,
            a_unit_acknowledging_a_delivery_is_refused_without_the_bus,
        );
    };
    (@cases $module:ident, $harness:ty, $($case:ident),+ $(,)?) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::run::<$harness, _>(|harness| Box::pin(super::$case(harness))).await;
                }
            )+
        }
    };
}

store_conformance!(postgres, crate::store_support::PostgresHarness);
store_conformance!(sqlite, crate::store_support::SqliteHarness);

/// What only the PostgreSQL store has: a server to lose, migrations, rows written by
/// hand.
mod postgres_only {
    use std::time::Duration;

    use transload::store::postgres::{PostgresOptions, PostgresStore};

    use super::*;
    use crate::store_support::PostgresHarness;

    #[tokio::test]
    async fn unreachable_server_is_unavailable() {
        let mut options = PostgresOptions::new("host=127.0.0.1 port=1 user=postgres dbname=none");
        options.connect_timeout = Duration::from_secs(2);
        match PostgresStore::connect_with(options).await {
            Err(error @ StoreError::Unavailable(_)) => assert!(error.is_transient()),
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn invalid_connection_string_is_refused() {
        match PostgresStore::connect("host=127.0.0.1 port=not-a-port").await {
            Err(error @ StoreError::Other(_)) => assert!(!error.is_transient()),
            other => panic!("expected Other, got {other:?}"),
        }
    }

    async fn migrations_are_recorded_once(harness: &PostgresHarness) {
        // Every connect migrates; several at once must not trip over each other.
        let mut connects = Vec::new();
        for _ in 0..4 {
            let url = harness.url().to_owned();
            connects.push(tokio::spawn(
                async move { PostgresStore::connect(&url).await },
            ));
        }
        for connect in connects {
            connect.await.unwrap().unwrap();
        }
        let rows = harness
            .sql()
            .await
            .query(
                "SELECT version, name FROM schema_migrations ORDER BY version",
                &[],
            )
            .await
            .unwrap();
        let applied: Vec<(i64, String)> = rows.iter().map(|row| (row.get(0), row.get(1))).collect();
        assert_eq!(
            applied,
            [
                (1, "initial".to_owned()),
                (2, "outbox keeps only pending".to_owned()),
                (3, "processed by time".to_owned()),
                (4, "history by time".to_owned())
            ]
        );
    }

    async fn unknown_migration_is_refused(harness: &PostgresHarness) {
        harness
            .sql()
            .await
            .execute(
                "INSERT INTO schema_migrations (version, name) VALUES (9999, 'from the future')",
                &[],
            )
            .await
            .unwrap();
        match PostgresStore::connect(harness.url()).await {
            Err(StoreError::Corrupt(message)) => assert!(message.contains("9999"), "{message}"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    async fn undecodable_rows_are_corrupt(harness: &PostgresHarness) {
        let store = harness.store();
        let dead = dead_letter(Stage::Inbound, Some("odfl"), at(0));
        insert_dead_letters(&store, std::slice::from_ref(&dead)).await;
        let sql = harness.sql().await;
        sql.execute(
            "UPDATE dead_letters SET headers = '{\"n\": 1}' WHERE id = $1",
            &[&dead.id],
        )
        .await
        .unwrap();
        match store.dead_letter(dead.id).await {
            Err(StoreError::Corrupt(message)) => assert!(message.contains("headers"), "{message}"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
        sql.execute(
            "UPDATE dead_letters SET headers = '{}', partner = 'Not A Slug' WHERE id = $1",
            &[&dead.id],
        )
        .await
        .unwrap();
        match store.dead_letters(&DeadLetterFilter::default()).await {
            Err(StoreError::Corrupt(message)) => assert!(message.contains("partner"), "{message}"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
        let load = key("acme", "load", "L-13");
        let unit = UnitOfWork {
            states: vec![write(&load, None, json!(1))],
            ..UnitOfWork::default()
        };
        assert_eq!(commit(&store, unit).await, CommitOutcome::Committed);
        sql.execute("ALTER TABLE state DROP CONSTRAINT state_version_check", &[])
            .await
            .unwrap();
        sql.execute("UPDATE state SET version = -1", &[])
            .await
            .unwrap();
        match store.load_state(&load).await {
            Err(StoreError::Corrupt(message)) => assert!(message.contains("version"), "{message}"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    /// The server drops every connection: calls fail as `Unavailable` (transient), never
    /// as anything else, and the pool recovers by itself.
    async fn lost_connections_are_unavailable_then_recover(harness: &PostgresHarness) {
        let store = harness.store();
        let load = key("acme", "load", "L-14");
        // Fill the pool with a few connections.
        let mut warm = Vec::new();
        for _ in 0..4 {
            let store = store.clone();
            let load = load.clone();
            warm.push(tokio::spawn(async move { store.load_state(&load).await }));
        }
        for task in warm {
            task.await.unwrap().unwrap();
        }
        let killed = harness
            .sql()
            .await
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        assert!(!killed.is_empty(), "the store held no connection to kill");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut recovered = false;
        for _ in 0..10 {
            match store.load_state(&load).await {
                Ok(_) => {
                    recovered = true;
                    break;
                }
                Err(error @ StoreError::Unavailable(_)) => assert!(error.is_transient()),
                Err(other) => panic!("a lost connection must be Unavailable, got {other:?}"),
            }
        }
        assert!(recovered, "the store did not reconnect");
        let unit = UnitOfWork {
            states: vec![write(&load, None, json!("after"))],
            ..UnitOfWork::default()
        };
        let mut outcome = store.commit(unit.clone()).await;
        for _ in 0..10 {
            match outcome {
                Err(StoreError::Unavailable(_)) => outcome = store.commit(unit.clone()).await,
                _ => break,
            }
        }
        assert_eq!(outcome.unwrap(), CommitOutcome::Committed);
    }

    /// The server kills the connection of a commit waiting for a row lock: the commit
    /// fails as `Unavailable` and writes nothing.
    async fn commit_killed_midway_is_unavailable_and_writes_nothing(harness: &PostgresHarness) {
        let store = harness.store();
        let load = key("acme", "load", "L-15");
        let create = UnitOfWork {
            states: vec![write(&load, None, json!("v1"))],
            ..UnitOfWork::default()
        };
        assert_eq!(commit(&store, create).await, CommitOutcome::Committed);

        // Another session holds the row.
        let mut holder = harness.sql().await;
        let lock = holder.transaction().await.unwrap();
        lock.execute(
            "SELECT 1 FROM state WHERE tenant = 'acme' AND key = 'L-15' FOR UPDATE",
            &[],
        )
        .await
        .unwrap();

        let input = Uuid::now_v7();
        let unit = UnitOfWork {
            processed: processed("decide", input),
            states: vec![write(&load, Some(1), json!("v2"))],
            outbox: vec![(Stage::Outbound, message(1))],
            ..UnitOfWork::default()
        };
        let waiting = {
            let store = store.clone();
            tokio::spawn(async move { store.commit(unit).await })
        };
        let watcher = harness.sql().await;
        let mut killed = false;
        for _ in 0..100 {
            let rows = watcher
                .query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                    &[],
                )
                .await
                .unwrap();
            if !rows.is_empty() {
                killed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(killed, "the commit never waited for the lock");
        match waiting.await.unwrap() {
            Err(error @ StoreError::Unavailable(_)) => assert!(error.is_transient()),
            other => panic!("expected Unavailable, got {other:?}"),
        }
        lock.rollback().await.unwrap();
        assert!(!store.is_processed("decide", input).await.unwrap());
        assert_eq!(store.load_state(&load).await.unwrap().unwrap().version, 1);
        assert!(all_pending(&store).await.is_empty());
    }

    /// A commit that waits for a lock longer than the statement timeout fails as
    /// `Unavailable` instead of hanging.
    async fn statement_timeout_bounds_lock_waits(harness: &PostgresHarness) {
        let mut options = PostgresOptions::new(harness.url());
        options.statement_timeout = Duration::from_millis(300);
        let store = PostgresStore::connect_with(options).await.unwrap();
        let load = key("acme", "load", "L-16");
        let create = UnitOfWork {
            states: vec![write(&load, None, json!("v1"))],
            ..UnitOfWork::default()
        };
        assert_eq!(commit(&store, create).await, CommitOutcome::Committed);
        let mut holder = harness.sql().await;
        let lock = holder.transaction().await.unwrap();
        lock.execute(
            "SELECT 1 FROM state WHERE tenant = 'acme' AND key = 'L-16' FOR UPDATE",
            &[],
        )
        .await
        .unwrap();
        let unit = UnitOfWork {
            states: vec![write(&load, Some(1), json!("v2"))],
            ..UnitOfWork::default()
        };
        let started = std::time::Instant::now();
        let outcome = tokio::time::timeout(Duration::from_secs(10), store.commit(unit))
            .await
            .expect("the commit hung past its statement timeout");
        match outcome {
            Err(error @ StoreError::Unavailable(_)) => assert!(error.is_transient()),
            other => panic!("expected Unavailable, got {other:?}"),
        }
        assert!(started.elapsed() >= Duration::from_millis(250));
        lock.rollback().await.unwrap();
        assert_eq!(store.load_state(&load).await.unwrap().unwrap().version, 1);
    }

    macro_rules! postgres_cases {
        ($($case:ident),+ $(,)?) => {
            mod cases {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $case() {
                        crate::run::<crate::store_support::PostgresHarness, _>(|harness| {
                            Box::pin(super::$case(harness))
                        })
                        .await;
                    }
                )+
            }
        };
    }

    postgres_cases!(
        migrations_are_recorded_once,
        unknown_migration_is_refused,
        undecodable_rows_are_corrupt,
        lost_connections_are_unavailable_then_recover,
        commit_killed_midway_is_unavailable_and_writes_nothing,
        statement_timeout_bounds_lock_waits,
    );
}

/// What only the SQLite store has: its write-ahead log, checkpointed in the background.
mod sqlite_only {
    use super::*;

    /// A store written by a version that kept published outbox rows (marked) is opened
    /// by this one: the published rows go, the pending one stays and is still relayed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn opening_an_older_store_drops_the_published_outbox_rows() {
        let dir = std::env::temp_dir().join(format!("transload-migrate-{}", Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("store.sqlite3");
        {
            let db = rusqlite::Connection::open(&path).unwrap();
            db.execute_batch(include_str!(
                "../src/store/migrations/sqlite/0001_initial.sql"
            ))
            .unwrap();
            db.pragma_update(None, "user_version", 1).unwrap();
            for (n, published_at) in [
                (1, Some(1_700_000_000_000_000_i64)),
                (2, None),
                (3, Some(1)),
            ] {
                db.execute(
                    "INSERT INTO outbox (stage, message_id, routing_key, headers, body, published_at)
                     VALUES ('events', ?1, 'acme.test', '{}', x'00', ?2)",
                    rusqlite::params![Uuid::from_u128(n).to_string(), published_at],
                )
                .unwrap();
            }
        }
        let store = transload::store::sqlite::SqliteStore::open(&path).unwrap();
        let pending = store.pending_outbox(10).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].message.id, Uuid::from_u128(2));
        drop(store);
        let db = rusqlite::Connection::open(&path).unwrap();
        let rows: i64 = db
            .query_row("SELECT count(*) FROM outbox", [], |row| row.get(0))
            .unwrap();
        assert_eq!(rows, 1);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A store written before migration 5 (states in a WITHOUT ROWID table) keeps its
    /// states, versions and all, in the rowid table that replaces it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn opening_an_older_store_keeps_its_states() {
        let dir = std::env::temp_dir().join(format!("transload-migrate-{}", Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("store.sqlite3");
        let large = "x".repeat(3000);
        {
            let db = rusqlite::Connection::open(&path).unwrap();
            for migration in [
                include_str!("../src/store/migrations/sqlite/0001_initial.sql"),
                include_str!("../src/store/migrations/sqlite/0002_outbox_keeps_only_pending.sql"),
                include_str!("../src/store/migrations/sqlite/0003_processed_by_time.sql"),
                include_str!("../src/store/migrations/sqlite/0004_history_by_time.sql"),
            ] {
                db.execute_batch(migration).unwrap();
            }
            db.pragma_update(None, "user_version", 4).unwrap();
            for (name, version, value) in [
                ("L-1", 3, json!({ "status": "tendering" }).to_string()),
                ("L-2", 1, json!({ "notes": large }).to_string()),
            ] {
                db.execute(
                    "INSERT INTO state (tenant, kind, key, version, value) VALUES ('acme', 'load', ?1, ?2, ?3)",
                    rusqlite::params![name, version, value],
                )
                .unwrap();
            }
        }
        let store = transload::store::sqlite::SqliteStore::open(&path).unwrap();
        let (one, two) = (key("acme", "load", "L-1"), key("acme", "load", "L-2"));
        assert_eq!(
            store.load_state(&one).await.unwrap(),
            Some(StateRecord {
                version: 3,
                value: StateDocument::from(json!({ "status": "tendering" }))
            })
        );
        assert_eq!(
            store
                .load_state(&two)
                .await
                .unwrap()
                .map(|record| record.version),
            Some(1)
        );
        // The versions still guard the writes.
        let stale = UnitOfWork {
            states: vec![write(&one, Some(2), json!({ "status": "covered" }))],
            ..UnitOfWork::default()
        };
        assert!(matches!(
            store.commit(stale).await,
            Err(StoreError::Conflict { .. })
        ));
        let current = UnitOfWork {
            states: vec![write(&one, Some(3), json!({ "status": "covered" }))],
            ..UnitOfWork::default()
        };
        assert_eq!(commit(&store, current).await, CommitOutcome::Committed);
        assert_eq!(
            store
                .load_state(&one)
                .await
                .unwrap()
                .map(|record| record.version),
            Some(4)
        );
        drop(store);
        let db = rusqlite::Connection::open(&path).unwrap();
        let table: String = db
            .query_row(
                "SELECT sql FROM sqlite_master WHERE name = 'state'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert!(!table.contains("WITHOUT ROWID"), "{table}");
        let _ = std::fs::remove_dir_all(dir);
    }

    fn wal_bytes(path: &std::path::Path) -> u64 {
        std::fs::metadata(path.with_extension("sqlite3-wal"))
            .map(|meta| meta.len())
            .unwrap_or(0)
    }

    async fn write_rows(store: &transload::store::sqlite::SqliteStore, prefix: &str) {
        for n in 0..200 {
            let unit = UnitOfWork {
                states: vec![write(
                    &key("acme", prefix, &format!("K-{n}")),
                    None,
                    json!("x".repeat(2000)),
                )],
                ..UnitOfWork::default()
            };
            assert_eq!(commit(store, unit).await, CommitOutcome::Committed);
        }
    }

    /// No commit checkpoints (that would stall it); the background checkpointer and the
    /// writer between two transactions do, so the log is reused instead of growing with
    /// every write.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_write_ahead_log_is_checkpointed_in_the_background() {
        let dir = std::env::temp_dir().join(format!("transload-wal-{}", Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("store.sqlite3");
        let store = transload::store::sqlite::SqliteStore::open(&path).unwrap();
        write_rows(&store, "first").await;
        let after_first = wal_bytes(&path);
        assert!(
            after_first > 200 * 2000,
            "the log holds the writes: {after_first} bytes"
        );
        // The checkpointer runs every 300 ms, the writer's own checkpoint every 500 ms.
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        write_rows(&store, "second").await;
        let after_second = wal_bytes(&path);
        assert!(
            after_second < after_first + after_first / 2,
            "the log grew from {after_first} to {after_second} bytes: nothing checkpointed it"
        );
        drop(store);
        std::fs::remove_dir_all(&dir).ok();
    }
}
