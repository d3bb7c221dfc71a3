//! The deliver stage on the real embedded bus and SQLite store: documents and events for a
//! partner leave through a real HTTP endpoint (a local server acting as the partner) or
//! into the partner's outbound folder.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use transload::bus::embedded::{EmbeddedBus, EmbeddedBusOptions};
use transload::pipeline::{OutboxRelay, RetryPolicy, StageWorker, WorkerOptions};
use transload::stages::Deliver;
use transload::store::sqlite::SqliteStore;
use transload_connectors::http_out::SenderOptions;
use transload_connectors::partner::{PartnerDirectory, PartnerProfile};
use transload_core::bus::{BusMessage, ConsumerOptions, Stage};
use transload_core::ids::TenantId;
use transload_core::store::{DeadLetterFilter, Store, UnitOfWork};
use transload_mappings::Registry;

/// A request as the partner got it.
type Request = (HeaderMap, Vec<u8>);

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Request>>>);

/// A partner endpoint answering `status` to every POST, recording what it got.
async fn partner_server(status: StatusCode) -> (String, Received) {
    let received = Received::default();
    let app = Router::new()
        .route(
            "/edi",
            post(
                move |State(r): State<Received>, headers: HeaderMap, body: Bytes| async move {
                    r.0.lock().unwrap().push((headers, body.to_vec()));
                    status
                },
            ),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}/edi"), received)
}

/// The mapping the X12 carrier's tenders go out with.
const TENDER_204: &str = "x12-004010-204-out";

fn profile(dir: &std::path::Path, endpoint: Option<&str>, tender_mapping: &str) -> PartnerProfile {
    let transport = match endpoint {
        Some(url) => format!("[endpoint]\nurl = \"{url}\"\ntimeout_ms = 2000\nmax_attempts = 2\n"),
        None => "[file_drop]\ndir = \"drop\"\n".to_owned(),
    };
    let text = format!(
        r#"
id = "odfl"
tenant = "acme"
time_zone = "America/New_York"

[x12]
isa_qualifier = "02"
isa_id = "ODFL"
gs_id = "ODFL"
our_isa_qualifier = "ZZ"
our_isa_id = "ACMEHUB"
our_gs_id = "ACMEHUB"

[[outbound]]
event = "transload.tender.offered"
mapping = "{tender_mapping}"

{transport}"#
    );
    PartnerProfile::parse(&dir.join("odfl.toml"), &text).unwrap()
}

struct Hub {
    dir: PathBuf,
    store: SqliteStore,
    worker: StageWorker<EmbeddedBus, SqliteStore, Deliver<SqliteStore>>,
    relay: OutboxRelay<EmbeddedBus, SqliteStore>,
    /// `dir`, removed with the hub (last).
    _temp: tempfile::TempDir,
}

async fn hub(endpoint: Option<&str>) -> Hub {
    hub_with(endpoint, TENDER_204).await
}

/// A hub whose partner's tenders go out through `tender_mapping`.
async fn hub_with(endpoint: Option<&str>, tender_mapping: &str) -> Hub {
    let temp = tempfile::Builder::new()
        .prefix("transload-deliver-")
        .tempdir()
        .unwrap();
    let dir = temp.path().to_owned();
    let bus = EmbeddedBus::open(&dir.join("bus.sqlite3"), EmbeddedBusOptions::default()).unwrap();
    let store = SqliteStore::open(&dir.join("store.sqlite3")).unwrap();
    let partners = Arc::new(PartnerDirectory::from_profiles([profile(
        &dir,
        endpoint,
        tender_mapping,
    )]));
    let mappings = Arc::new(Registry::open(vec![transload_mappings::library_dir()]).unwrap());
    let options = SenderOptions {
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        ..SenderOptions::default()
    };
    let handler = Deliver::new(store.clone(), partners, mappings, &options).unwrap();
    let worker_options = WorkerOptions {
        name: "deliver".to_owned(),
        stage: Stage::Outbound,
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
            max_attempts: 1,
        },
        concurrency: 4,
        ordered_by: Some(transload::stages::translate::CORRELATION_HEADER),
    };
    let worker = StageWorker::new(&bus, store.clone(), handler, worker_options, None)
        .await
        .unwrap();
    let relay = OutboxRelay::new(bus, store.clone());
    Hub {
        dir,
        store,
        worker,
        relay,
        _temp: temp,
    }
}

impl Hub {
    async fn send(&mut self, message: BusMessage) {
        let unit = UnitOfWork {
            outbox: vec![(Stage::Outbound, message)],
            ..UnitOfWork::default()
        };
        self.store.commit(unit).await.unwrap();
        while self.relay.relay_once().await.unwrap() > 0 {}
        self.worker.run_once().await.unwrap();
    }
}

fn ack_document() -> BusMessage {
    BusMessage::new("odfl", b"ISA*00*...~".to_vec())
        .with_header("transload-partner", "odfl")
        .with_header("transload-tenant", "acme")
        .with_header("transload-document", "997")
        .with_header("content-type", "application/edi-x12")
}

fn tender_event() -> BusMessage {
    let path = transload_mappings::library_dir().join("fixtures/event-tender-offered.json");
    BusMessage::new("odfl", std::fs::read(path).unwrap())
        .with_header("transload-partner", "odfl")
        .with_header("transload-tenant", "acme")
        .with_header("content-type", "application/cloudevents+json")
}

#[tokio::test]
async fn a_document_is_posted_with_an_idempotency_key_and_audited() {
    let (url, received) = partner_server(StatusCode::ACCEPTED).await;
    let mut hub = hub(Some(&url)).await;
    let message = ack_document();
    let id = message.id;
    hub.send(message).await;
    let got = received.0.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, b"ISA*00*...~");
    assert_eq!(got[0].0["idempotency-key"], id.to_string().as_str());
    assert_eq!(got[0].0["content-type"], "application/edi-x12");
    let audit = hub
        .store
        .audit_log(&TenantId::new("acme").unwrap(), &id.to_string())
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "delivered");
    assert_eq!(audit[0].details["channel"], "http");
}

#[tokio::test]
async fn a_tender_event_leaves_as_an_enveloped_204_with_our_control_numbers() {
    let (url, received) = partner_server(StatusCode::OK).await;
    let mut hub = hub(Some(&url)).await;
    hub.send(tender_event()).await;
    hub.send(tender_event()).await;
    let dead = hub
        .store
        .dead_letters(&DeadLetterFilter::default())
        .await
        .unwrap();
    assert!(
        dead.is_empty(),
        "{:?}",
        dead.iter().map(|d| &d.reason).collect::<Vec<_>>()
    );
    let got = received.0.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    let first = String::from_utf8(got[0].1.clone()).unwrap();
    let second = String::from_utf8(got[1].1.clone()).unwrap();
    assert!(
        first.starts_with("ISA*00*          *00*          *ZZ*ACMEHUB        *02*ODFL           *"),
        "{first}"
    );
    assert!(
        first.contains("*00401*000000001*0*P*>~GS*SM*ACMEHUB*ODFL*"),
        "{first}"
    );
    assert!(first.contains("~ST*204*0001~B2*"), "{first}");
    assert!(first.ends_with("IEA*1*000000001~"), "{first}");
    assert!(second.ends_with("IEA*1*000000002~"), "{second}");
    // What we send is valid X12 by our own validator.
    let findings = transload_connectors::x12::document::validate_envelopes(first.as_bytes());
    assert!(findings.is_empty(), "{findings:?}");
}

#[tokio::test]
async fn an_event_for_a_json_api_leaves_as_the_bytes_it_came_in() {
    let (url, received) = partner_server(StatusCode::OK).await;
    let mut hub = hub_with(Some(&url), "json-event-out").await;
    let message = tender_event();
    let sent = message.body.clone();
    hub.send(message).await;
    let dead = hub
        .store
        .dead_letters(&DeadLetterFilter::default())
        .await
        .unwrap();
    assert!(dead.is_empty(), "{dead:?}");
    let got = received.0.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0["content-type"], "application/json");
    // The fixture is pretty-printed: a document decoded and written again would be compact.
    assert!(sent.contains(&b'\n'));
    assert_eq!(got[0].1, sent);
}

#[tokio::test]
async fn a_partner_without_an_endpoint_gets_files_in_its_outbound_folder() {
    let mut hub = hub(None).await;
    let message = ack_document();
    let id = message.id;
    hub.send(message).await;
    let path = hub.dir.join("drop/outbound").join(format!("997-{id}.edi"));
    assert_eq!(std::fs::read(&path).unwrap(), b"ISA*00*...~");
    let leftovers: Vec<_> = std::fs::read_dir(hub.dir.join("drop/outbound"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");
}

#[tokio::test]
async fn a_refused_document_is_dead_lettered_with_the_partners_answer() {
    let (url, received) = partner_server(StatusCode::UNPROCESSABLE_ENTITY).await;
    let mut hub = hub(Some(&url)).await;
    hub.send(ack_document()).await;
    assert_eq!(received.0.lock().unwrap().len(), 1, "a 422 is not retried");
    let dead = hub
        .store
        .dead_letters(&DeadLetterFilter::default())
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert!(dead[0].reason.contains("422"), "{}", dead[0].reason);
    assert_eq!(dead[0].message.body, b"ISA*00*...~");
}
