//! The translate stage on the real embedded bus and SQLite store, with the shipped
//! mapping library: X12 in → canonical events + 997/TA1 out; duplicates, rejections and
//! unroutable messages are refused visibly.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use transload::bus::embedded::{EmbeddedBus, EmbeddedBusOptions};
use transload::ingest::{self, Accepted, Incoming};
use transload::pipeline::{OutboxRelay, RetryPolicy, StageWorker, WorkerOptions};
use transload::stages::Translate;
use transload::store::sqlite::SqliteStore;
use transload_connectors::partner::{PartnerDirectory, PartnerProfile};
use transload_core::bus::{ConsumerOptions, Stage};
use transload_core::event::Event;
use transload_core::ids::{PartnerId, TenantId};
use transload_core::store::{DeadLetterFilter, OutboxRecord, Store};
use transload_mappings::Registry;
use uuid::Uuid;

const ODFL: &str = r#"
id = "odfl"
tenant = "acme"
name = "Old Dominion"
time_zone = "America/New_York"

[x12]
isa_qualifier = "02"
isa_id = "ODFL"
gs_id = "ODFL"
our_isa_qualifier = "ZZ"
our_isa_id = "ACMEHUB"
our_gs_id = "ACMEHUB"

[[routes]]
format = "x12"
x12_set = "214"
mapping = "x12-004010-214-in"

[code_maps.status]
AF = "departed_pickup"
AG = "eta_updated"
X1 = "arrived_at_delivery"
"#;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("mappings/library/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

struct Hub {
    store: SqliteStore,
    bus: EmbeddedBus,
    worker: StageWorker<EmbeddedBus, SqliteStore, Translate<SqliteStore>>,
    relay: OutboxRelay<EmbeddedBus, SqliteStore>,
    /// Its files' directory, removed with the hub (last).
    _dir: tempfile::TempDir,
}

async fn hub() -> Hub {
    let temp = tempfile::Builder::new()
        .prefix("transload-translate-")
        .tempdir()
        .unwrap();
    let dir = temp.path();
    let bus = EmbeddedBus::open(&dir.join("bus.sqlite3"), EmbeddedBusOptions::default()).unwrap();
    let store = SqliteStore::open(&dir.join("store.sqlite3")).unwrap();
    let profile = PartnerProfile::parse(&dir.join("odfl.toml"), ODFL).unwrap();
    let partners = Arc::new(PartnerDirectory::from_profiles([profile]));
    let mappings = Arc::new(Registry::open(vec![transload_mappings::library_dir()]).unwrap());
    let handler = Translate::new(store.clone(), partners, mappings);
    let options = WorkerOptions {
        name: "translate".to_owned(),
        stage: Stage::Inbound,
        batch: 10,
        batch_wait: Duration::from_millis(100),
        consumer: ConsumerOptions {
            prefetch: 10,
            visibility_timeout: Duration::from_secs(30),
        },
        retry: RetryPolicy {
            first_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            factor: 2.0,
            max_attempts: 2,
        },
        concurrency: 4,
        ordered_by: None,
    };
    let worker = StageWorker::new(&bus, store.clone(), handler, options, None)
        .await
        .unwrap();
    let relay = OutboxRelay::new(bus.clone(), store.clone());
    Hub {
        store,
        bus,
        worker,
        relay,
        _dir: temp,
    }
}

impl Hub {
    async fn receive(&self, body: Vec<u8>) -> Uuid {
        let incoming = Incoming {
            tenant: TenantId::new("acme").unwrap(),
            partner: PartnerId::new("odfl").unwrap(),
            format: "x12",
            kind: None,
            endpoint: "file",
            dedupe_key: ingest::content_dedupe_key(&body).unwrap(),
            metadata: BTreeMap::new(),
            body,
        };
        match ingest::accept(&self.store, incoming).await.unwrap() {
            Accepted::New(id) => id,
            Accepted::Duplicate(id) => panic!("unexpected duplicate of {id}"),
        }
    }

    /// Publishes the outbox, translates what arrived, and returns what the translation
    /// committed to the outbox (before publishing it).
    async fn translate(&mut self) -> Vec<OutboxRecord> {
        while self.relay.relay_once().await.unwrap() > 0 {}
        let report = self.worker.run_once().await.unwrap();
        assert!(
            report.committed + report.dead_lettered + report.duplicates > 0,
            "{report:?}"
        );
        self.store.pending_outbox(1000).await.unwrap()
    }
}

fn events(records: &[OutboxRecord]) -> Vec<Event> {
    records
        .iter()
        .filter(|r| r.stage == Stage::Events)
        .map(|r| serde_json::from_slice(&r.message.body).unwrap())
        .collect()
}

fn outbound(records: &[OutboxRecord]) -> Vec<(String, String)> {
    records
        .iter()
        .filter(|r| r.stage == Stage::Outbound)
        .map(|r| {
            (
                r.message.headers["transload-document"].clone(),
                String::from_utf8(r.message.body.clone()).unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_214_becomes_status_events_and_a_997() {
    let mut hub = hub().await;
    let raw = hub.receive(fixture("214-two-stops.edi")).await;
    let out = hub.translate().await;

    let events = events(&out);
    assert_eq!(events.len(), 3, "one status per AT7");
    for event in &events {
        assert_eq!(event.event_type().as_str(), "transload.shipment.status");
        assert_eq!(event.tenant.as_str(), "acme");
        assert_eq!(event.source, "/partners/odfl");
        let stamp = event.mapping_version.as_deref().unwrap();
        assert!(stamp.starts_with("x12-004010-214-in@"), "{stamp}");
        assert!(event.dedupe_key.as_str().starts_with(&raw.to_string()));
    }
    let acks = outbound(&out);
    assert_eq!(acks.len(), 1, "{acks:?}");
    let (document, text) = &acks[0];
    assert_eq!(document, "997");
    assert!(text.starts_with("ISA*00*"), "{text}");
    assert!(
        text.contains("*ZZ*ACMEHUB        *02*ODFL           *"),
        "{text}"
    );
    assert!(text.contains("AK1*QM*950~"), "{text}");
    assert!(text.contains("AK2*214*0001~AK5*A~"), "{text}");
    assert!(text.contains("AK9*A*1*1*1~"), "{text}");
    // Published, the events are on the bus for the next stage.
    while hub.relay.relay_once().await.unwrap() > 0 {}
    assert_eq!(hub.bus.depth(Stage::Events).unwrap(), 3);
    assert!(
        !hub.store
            .record_received_control_number(&PartnerId::new("odfl").unwrap(), "isa13", "000000950")
            .await
            .unwrap(),
        "the interchange control number was recorded"
    );
}

#[tokio::test]
async fn a_second_interchange_with_the_same_isa13_is_refused_with_a_ta1() {
    let mut hub = hub().await;
    hub.receive(fixture("214-two-stops.edi")).await;
    hub.translate().await;
    while hub.relay.relay_once().await.unwrap() > 0 {}
    // Different bytes (another time), same ISA13: not a resend of the same file.
    let again = String::from_utf8(fixture("214-two-stops.edi"))
        .unwrap()
        .replace("*261125*1345*", "*261125*1346*");
    hub.receive(again.into_bytes()).await;
    let out = hub.translate().await;
    assert!(events(&out).is_empty());
    let acks = outbound(&out);
    assert_eq!(acks.len(), 1, "{acks:?}");
    assert_eq!(acks[0].0, "TA1");
    assert!(
        acks[0].1.contains("TA1*000000950*261125*1346*R*025~"),
        "{}",
        acks[0].1
    );
    let dead = hub
        .store
        .dead_letters(&DeadLetterFilter::default())
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].reason.contains("duplicate interchange"),
        "{}",
        dead[0].reason
    );
    assert!(dead[0].message.body.starts_with(b"ISA"));
}

#[tokio::test]
async fn a_set_failing_its_spec_is_rejected_in_the_997_and_not_mapped() {
    let mut hub = hub().await;
    // B10 is mandatory in a 214: without it the set is rejected (AK3 … 3, AK5 R).
    let broken = String::from_utf8(fixture("214-two-stops.edi"))
        .unwrap()
        .replace("B10*07212345678*LD-2026-000417*ODFL~", "")
        .replace("SE*15*0001~", "SE*14*0001~");
    let raw = hub.receive(broken.into_bytes()).await;
    let out = hub.translate().await;
    assert!(events(&out).is_empty(), "a rejected set is not mapped");
    let acks = outbound(&out);
    assert_eq!(acks.len(), 1);
    assert!(acks[0].1.contains("AK5*R"), "{}", acks[0].1);
    assert!(acks[0].1.contains("AK9*R*1*1*0~"), "{}", acks[0].1);
    let audit = hub
        .store
        .audit_log(&TenantId::new("acme").unwrap(), &raw.to_string())
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "x12.rejected");
}

#[tokio::test]
async fn an_unroutable_set_is_dead_lettered_with_the_reason() {
    let mut hub = hub().await;
    // A spec-valid 990: the partner's profile routes only 214s.
    let unroutable = String::from_utf8(fixture("990-accept-and-decline.edi")).unwrap();
    hub.receive(unroutable.clone().into_bytes()).await;
    let out = hub.translate().await;
    assert!(out.is_empty(), "nothing is half-written: {out:?}");
    let dead = hub
        .store
        .dead_letters(&DeadLetterFilter::default())
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].reason.contains("no route for X12 990"),
        "{}",
        dead[0].reason
    );
    assert_eq!(
        dead[0].message.body,
        unroutable.as_bytes(),
        "the original bytes"
    );
}
