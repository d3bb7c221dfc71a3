//! Observability, black-box: a hub in process on the embedded bus + SQLite, served on a
//! real socket; a signed pick-complete webhook goes through the translate stage, and
//! `GET /metrics` then shows it (intake and translate counters, the latency histograms,
//! the outbox and queue gauges); `/ready` probes the bus and store; a second hub in the
//! same process serves metrics too (the recorder is installed once).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use transload::config::Config;
use transload::hub::Hub;
use transload_connectors::webhook::WebhookSecret;
use transload_core::bus::{Bus, Consumer, ConsumerOptions, Stage};
use uuid::Uuid;

const WMS_SECRET: &str = "whsec_YC/Mxsc7BAKnStt+XkD1Y2N41ca0pmAq";

fn library() -> PathBuf {
    transload_mappings::library_dir()
}

/// A hub folder on the embedded bus and SQLite, with the WMS partner that signs.
fn setup() -> (PathBuf, Config) {
    let dir = std::env::temp_dir().join(format!("transload-metrics-{}", Uuid::now_v7()));
    std::fs::create_dir_all(dir.join("partners")).unwrap();
    std::fs::write(
        dir.join("transload.toml"),
        format!(
            "data_dir = \"data\"\nmappings_dirs = [\"{}\"]\nbus = \"embedded\"\nstore = \"sqlite\"\n[http]\nlisten = \"127.0.0.1:0\"\n",
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
    let config = Config::load(&dir.join("transload.toml")).unwrap();
    (dir, config)
}

async fn serve(hub: &Hub) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = hub.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}")
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Waits until the events stage has one message (the translate stage committed).
async fn one_event<B: Bus>(bus: &B) {
    let mut consumer = bus
        .consumer(Stage::Events, ConsumerOptions::default())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "no event came from translate");
        let batch = consumer
            .next_batch(10, Duration::from_millis(500))
            .await
            .unwrap();
        if !batch.is_empty() {
            consumer.ack(&batch).await.unwrap();
            return;
        }
    }
}

/// The sum of the samples of `name` whose labels include `labels`, in a Prometheus text
/// rendering; `None` when there is none.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in text
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
    {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
        if metric != name
            || !labels
                .iter()
                .all(|(label, value)| rest.contains(&format!("{label}=\"{value}\"")))
        {
            continue;
        }
        *found.get_or_insert(0.0) += value.parse::<f64>().unwrap();
    }
    found
}

async fn get_metrics(client: &reqwest::Client, base: &str) -> String {
    let response = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_through_translate_shows_in_the_metrics() {
    let (dir, config) = setup();
    let hub = Hub::start(&config).await.unwrap();
    let base = serve(&hub).await;
    let client = client();

    let body = std::fs::read(library().join("fixtures/wms-pick-complete.json")).unwrap();
    let id = format!("msg_{}", Uuid::now_v7().simple());
    let timestamp = jiff::Timestamp::now().as_second();
    let signature = WebhookSecret::parse(WMS_SECRET)
        .unwrap()
        .sign(&id, timestamp, &body);
    let response = client
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
    one_event(&hub.bus).await;

    // The worker records its measurements right after the commit: give them a moment.
    // (On the embedded default the commits enqueue what they publish on the bus in the
    // store's file: no outbox relay runs, and its metrics stay absent.)
    let translate = [("stage", "translate"), ("partner", "acme-wms")];
    let committed = [
        ("stage", "translate"),
        ("partner", "acme-wms"),
        ("outcome", "committed"),
    ];
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let text = get_metrics(&client, &base).await;
        let processed =
            sample(&text, "transload_messages_processed_total", &committed).unwrap_or(0.0);
        // The worker records the end-to-end age last, after the outcome.
        let aged = sample(
            &text,
            "transload_end_to_end_seconds_count",
            &[("stage", "translate")],
        )
        .unwrap_or(0.0);
        if processed >= 1.0 && aged >= 1.0 {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "translate's commit never showed:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let at_least_one = |name: &str, labels: &[(&str, &str)]| {
        let value = sample(&text, name, labels);
        assert!(
            value.is_some_and(|v| v >= 1.0),
            "{name} {labels:?} = {value:?}:\n{text}"
        );
    };
    at_least_one("transload_messages_received_total", &translate);
    at_least_one(
        "transload_messages_received_total",
        &[("stage", "intake"), ("partner", "acme-wms")],
    );
    at_least_one(
        "transload_messages_processed_total",
        &[
            ("stage", "intake"),
            ("partner", "acme-wms"),
            ("outcome", "committed"),
        ],
    );
    at_least_one(
        "transload_stage_latency_seconds_count",
        &[("stage", "translate")],
    );
    at_least_one(
        "transload_stage_latency_seconds_bucket",
        &[("stage", "translate"), ("le", "+Inf")],
    );
    at_least_one(
        "transload_end_to_end_seconds_count",
        &[("stage", "translate")],
    );
    assert!(
        sample(&text, "transload_outbox_published_total", &[]).is_none(),
        "no relay runs on the embedded default:\n{text}"
    );
    // Queue depth is sampled at each scrape on the embedded bus.
    assert!(
        sample(&text, "transload_queue_depth", &[("stage", "translate")]).is_some(),
        "{text}"
    );
    assert!(text.contains("# TYPE transload_stage_latency_seconds histogram"));
    assert!(text.contains("# HELP transload_messages_processed_total"));

    let ready = client.get(format!("{base}/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: serde_json::Value = serde_json::from_str(&ready.text().await.unwrap()).unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["bus"], "embedded");
    assert_eq!(ready["store"], "sqlite");

    hub.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hub_of_the_process_serves_metrics_health_and_readiness() {
    let (dir, config) = setup();
    let first = Hub::start(&config).await.unwrap();
    let (other_dir, other_config) = setup();
    let second = Hub::start(&other_config).await.unwrap();
    let client = client();
    for hub in [&first, &second] {
        let base = serve(hub).await;
        let text = get_metrics(&client, &base).await;
        assert!(text.contains("transload_queue_depth"), "{text}");
        for route in ["/health", "/ready"] {
            let response = client.get(format!("{base}{route}")).send().await.unwrap();
            assert_eq!(response.status(), 200, "{route}");
        }
    }
    first.stop();
    second.stop();
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(other_dir);
}
