//! The whole hub in process, over real sockets and real folders: a signed pick-complete
//! webhook becomes a canonical event on the bus; an X12 214 dropped in a partner's folder
//! becomes canonical status events, and the 997 the partner expects leaves through the
//! deliver stage. Runs on the embedded bus + SQLite, and on RabbitMQ + PostgreSQL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use transload::bus::AnyBus;
use transload::config::Config;
use transload::hub::Hub;
use transload_connectors::webhook::WebhookSecret;
use transload_core::bus::{Bus, Consumer, ConsumerOptions, Stage};
use transload_core::event::Event;
use transload_core::ids::TenantId;
use transload_core::store::Store;
use uuid::Uuid;

const WMS_SECRET: &str = "whsec_YC/Mxsc7BAKnStt+XkD1Y2N41ca0pmAq";

fn library() -> PathBuf {
    transload_mappings::library_dir()
}

/// A hub folder: configuration, two partners, a drop folder; removed when the returned
/// directory is dropped.
fn setup(backends: &str) -> (tempfile::TempDir, Config) {
    let temp = tempfile::Builder::new()
        .prefix("transload-e2e-")
        .tempdir()
        .unwrap();
    let dir = temp.path();
    std::fs::create_dir_all(dir.join("partners")).unwrap();
    std::fs::write(
        dir.join("transload.toml"),
        format!(
            "data_dir = \"data\"\nmappings_dirs = [\"{}\"]\n{backends}\n[http]\nlisten = \"127.0.0.1:0\"\n",
            library().display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("partners/acme-wms.toml"),
        format!(
            r#"id = "acme-wms"
tenant = "acme"
time_zone = "America/Chicago"
[webhook]
secret = "{WMS_SECRET}"
[[routes]]
format = "json"
kind = "pick_complete"
mapping = "wms-pick-complete-in"
"#
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("partners/odfl.toml"),
        r#"id = "odfl"
tenant = "acme"
time_zone = "America/New_York"
[x12]
isa_qualifier = "02"
isa_id = "ODFL"
gs_id = "ODFL"
our_isa_qualifier = "ZZ"
our_isa_id = "ACMEHUB"
our_gs_id = "ACMEHUB"
[file_drop]
dir = "../drop/odfl"
[[routes]]
format = "x12"
x12_set = "214"
mapping = "x12-004010-214-in"
[code_maps.status]
AF = "departed_pickup"
AG = "eta_updated"
X1 = "arrived_at_delivery"
"#,
    )
    .unwrap();
    let config = Config::load(&dir.join("transload.toml")).unwrap();
    (temp, config)
}

async fn serve(hub: &Hub) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = hub.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}")
}

/// Reads the events stage until `count` events came, or fails after 20 s.
async fn events<B: Bus>(bus: &B, count: usize) -> Vec<Event> {
    let mut consumer = bus
        .consumer(Stage::Events, ConsumerOptions::default())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut out = Vec::new();
    while out.len() < count {
        assert!(
            Instant::now() < deadline,
            "only {} of {count} events came",
            out.len()
        );
        let batch = consumer
            .next_batch(100, Duration::from_millis(500))
            .await
            .unwrap();
        for delivery in &batch {
            out.push(serde_json::from_slice(&delivery.message.body).unwrap());
        }
        consumer.ack(&batch).await.unwrap();
    }
    out
}

/// Stops the hub and deletes what it declared on RabbitMQ, so test runs leave no queues.
async fn stop(hub: Hub) {
    hub.stop();
    if let AnyBus::Amqp(bus) = &hub.bus {
        bus.delete_topology()
            .await
            .expect("deleting the test topology");
    }
}

async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            let mut names: Vec<String> = entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        })
        .unwrap_or_default()
}

async fn webhook_becomes_an_event(backends: &str) {
    let (_dir, config) = setup(backends);
    let hub = Hub::start(&config).await.unwrap();
    let base = serve(&hub).await;
    let body = std::fs::read(library().join("fixtures/wms-pick-complete.json")).unwrap();
    let id = format!("msg_{}", Uuid::now_v7().simple());
    let timestamp = jiff::Timestamp::now().as_second();
    let signature = WebhookSecret::parse(WMS_SECRET)
        .unwrap()
        .sign(&id, timestamp, &body);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/partners/acme-wms/messages"))
        .header("content-type", "application/json")
        .header("transload-kind", "pick_complete")
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());

    let events = events(&hub.bus, 1).await;
    let event = &events[0];
    assert_eq!(event.event_type().as_str(), "transload.order.picked");
    assert_eq!(event.tenant, TenantId::new("acme").unwrap());
    assert_eq!(event.source, "/partners/acme-wms");
    assert!(
        event
            .mapping_version
            .as_deref()
            .unwrap()
            .starts_with("wms-pick-complete-in@1.0.0+")
    );
    stop(hub).await;
}

async fn dropped_214_becomes_statuses_and_a_997(backends: &str) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_test_writer()
        .try_init();
    let (temp, config) = setup(backends);
    let dir = temp.path();
    let hub = Hub::start(&config).await.unwrap();
    let drop = dir.join("drop/odfl");
    std::fs::create_dir_all(&drop).unwrap();
    let edi = std::fs::read(library().join("fixtures/214-two-stops.edi")).unwrap();
    // Written the way an SFTP server would: under a temporary name, then renamed.
    std::fs::write(drop.join("214-0950.edi.part"), &edi).unwrap();
    std::fs::rename(drop.join("214-0950.edi.part"), drop.join("214-0950.edi")).unwrap();

    let statuses = events(&hub.bus, 3).await;
    assert!(
        statuses
            .iter()
            .all(|e| e.event_type().as_str() == "transload.shipment.status")
    );
    wait_for("the file to move to done/", || {
        files(&drop.join("done")) == ["214-0950.edi"]
    })
    .await;
    // The 997 leaves through the deliver stage into the partner's outbound folder.
    let outbound = drop.join("outbound");
    wait_for("the 997 in the outbound folder", || {
        files(&outbound).iter().any(|n| n.starts_with("997-"))
    })
    .await;
    let name = files(&outbound)
        .into_iter()
        .find(|n| n.starts_with("997-"))
        .unwrap();
    let ack = std::fs::read_to_string(outbound.join(&name)).unwrap();
    assert!(ack.contains("AK1*QM*950~"), "{ack}");
    assert!(ack.contains("AK9*A*1*1*1~"), "{ack}");
    // And the hub recorded the delivery: the deliver stage writes the file, then commits
    // its unit with the audit entry, so the entry may come a moment after the file.
    let message_id = name.trim_start_matches("997-").trim_end_matches(".edi");
    let tenant = TenantId::new("acme").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let audit = loop {
        let audit = hub.store.audit_log(&tenant, message_id).await.unwrap();
        if !audit.is_empty() || Instant::now() >= deadline {
            break audit;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].action, "delivered");
    stop(hub).await;
}

const EMBEDDED: &str = "bus = \"embedded\"\nstore = \"sqlite\"";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_webhook_becomes_an_event() {
    webhook_becomes_an_event(EMBEDDED).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_dropped_214_becomes_statuses_and_a_997() {
    dropped_214_becomes_statuses_and_a_997(EMBEDDED).await;
}

/// RabbitMQ with a prefix of its own, PostgreSQL with a database of its own.
async fn distributed() -> String {
    let amqp = std::env::var("TRANSLOAD_AMQP_URI")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
    let server = std::env::var("TRANSLOAD_TEST_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres".to_owned());
    let database = format!("transload_e2e_{}", Uuid::now_v7().simple());
    let (client, connection) =
        tokio_postgres::connect(&format!("{server} dbname=postgres"), tokio_postgres::NoTls)
            .await
            .expect("PostgreSQL must answer for the distributed end-to-end tests");
    tokio::spawn(connection);
    client
        .execute(&format!("CREATE DATABASE {database}"), &[])
        .await
        .unwrap();
    let prefix = format!("e2e{}", Uuid::now_v7().simple());
    format!(
        "bus = \"amqp\"\nstore = \"postgres\"\n[amqp]\nurl = \"{amqp}\"\nprefix = \"{prefix}\"\n[postgres]\nurl = \"{server} dbname={database}\"\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_postgres_webhook_becomes_an_event() {
    webhook_becomes_an_event(&distributed().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_postgres_dropped_214_becomes_statuses_and_a_997() {
    dropped_214_becomes_statuses_and_a_997(&distributed().await).await;
}
