//! The orchestrator path: orders pre-loaded from a signed OMS webhook each, then, timed,
//! a signed WMS pick-complete webhook per order → translate → decide (a load of its own,
//! dispatched at once, tendered to the one carrier) → deliver, which POSTs the tender
//! (`transload.tender.offered`, json-event-out) to the carrier's REST endpoint the bench
//! serves.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use transload::bus::AnyBus;
use transload::config::Config;
use transload::hub::Hub;
use transload_connectors::webhook::WebhookSecret;

use super::webhooks::sign_all;
use transload_core::ids::TenantId;
use transload_core::store::Store;
use uuid::Uuid;

use super::hub_path::{create_database, drop_database, wait_for_all};
use super::report::{RunFigures, Timeline};
use super::{BenchArgs, BenchStore, Plan};

const SECRET: &str = "whsec_YmVuY2gtc2VjcmV0LWZvci10cmFuc2xvYWQ=";
const TENANT: &str = "bench";

/// Queues a pick crosses: inbound (intake → translate), events (translate → decide) and
/// outbound (decide → deliver).
pub(crate) const QUEUE_HOPS: usize = 3;

/// The size of the largest pick-complete body of a run of `total`.
pub(crate) fn message_size(total: u64) -> usize {
    serde_json::to_vec(&pick(total.max(1))).map_or(0, |body| body.len())
}

fn order_number(n: u64) -> String {
    format!("SO-{n}")
}

/// The order number `n` of a tender body naming load `LSO-<n>`.
fn tendered_order(body: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("\"LSO-")? + 5;
    let digits: String = text
        .get(start..)?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

async fn receive(State(timeline): State<Arc<Timeline>>, body: Bytes) -> StatusCode {
    match tendered_order(&body) {
        Some(n) if n > 0 => timeline.received(n - 1),
        _ => {
            timeline.strays.fetch_add(1, Ordering::Relaxed);
        }
    }
    StatusCode::OK
}

fn write_hub_folder(
    dir: &Path,
    args: &BenchArgs,
    endpoint: &str,
    database: Option<&str>,
) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir.join("partners"))?;
    std::fs::create_dir_all(dir.join("carriers"))?;
    let mut config = super::hub_path::hub_config(args, database);
    config.push_str("[orchestrator]\ncarriers_dir = \"carriers\"\ntimer_check_secs = 60\n");
    let path = dir.join("transload.toml");
    std::fs::write(&path, config)?;
    let partners = [
        (
            "bench-oms",
            format!(
                "id = \"bench-oms\"\ntenant = \"{TENANT}\"\ntime_zone = \"America/Chicago\"\n[webhook]\nsecret = \"{SECRET}\"\n[[routes]]\nformat = \"json\"\nmapping = \"oms-order-in\"\n"
            ),
        ),
        (
            "bench-wms",
            format!(
                "id = \"bench-wms\"\ntenant = \"{TENANT}\"\ntime_zone = \"America/Chicago\"\n[webhook]\nsecret = \"{SECRET}\"\n[[routes]]\nformat = \"json\"\nkind = \"pick_complete\"\nmapping = \"wms-pick-complete-in\"\n"
            ),
        ),
        (
            "bench-rest",
            format!(
                "id = \"bench-rest\"\ntenant = \"{TENANT}\"\ntime_zone = \"America/Chicago\"\n[endpoint]\nurl = \"{endpoint}\"\ntimeout_ms = 10000\n[[outbound]]\nevent = \"transload.tender.offered\"\nmapping = \"json-event-out\"\n"
            ),
        ),
    ];
    for (id, text) in partners {
        std::fs::write(dir.join(format!("partners/{id}.toml")), text)?;
    }
    std::fs::write(
        dir.join("carriers/bench-rest.toml"),
        r#"id = "bench-rest"
scac = "BRST"
name = "bench REST carrier"
currency = "USD"
equipment = ["dry_van"]
hazmat = false
tender_lead_time_hours = 24
response_time_hours = 2
allocation_pct = "100"
[quality]
on_time_pct = "95"
acceptance_pct = "90"
[[lanes]]
id = "tx-ga"
origin = { country = "US", region = "TX" }
destination = { country = "US", zip3 = "303" }
effective_from = 2026-01-01
transit_days = 2
capacity_per_day = 1000000
routing_guide_rank = 1
[[lanes.rates]]
effective_from = 2026-01-01
linehaul = { flat = "900.00" }
fuel_surcharge_pct = "20"
"#,
    )?;
    Ok(path)
}

struct Poster {
    client: reqwest::Client,
    secret: WebhookSecret,
    base: String,
}

impl Poster {
    async fn post(&self, partner: &str, kind: Option<&str>, body: &Value) -> anyhow::Result<()> {
        let body = serde_json::to_vec(body)?;
        let id = format!("bench_{}", Uuid::now_v7().simple());
        let timestamp = jiff::Timestamp::now().as_second();
        let signature = self.secret.sign(&id, timestamp, &body);
        let mut request = self
            .client
            .post(format!("{}/v1/partners/{partner}/messages", self.base))
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature);
        if let Some(kind) = kind {
            request = request.header("transload-kind", kind);
        }
        accepted(request.body(body))
            .await
            .with_context(|| format!("posting to {partner}"))
    }
}

/// Sends `request`; an error unless the intake answered 202.
async fn accepted(request: reqwest::RequestBuilder) -> anyhow::Result<()> {
    let response = request.send().await?;
    if response.status() != reqwest::StatusCode::ACCEPTED {
        bail!(
            "{} {}",
            response.status(),
            response.text().await.unwrap_or_default()
        );
    }
    Ok(())
}

fn order(n: u64, day: jiff::civil::Date) -> Value {
    let number = order_number(n);
    let deliver_by = day.saturating_add(jiff::Span::new().days(3));
    json!({
        "action": "created",
        "message_id": format!("m-{number}"),
        "order": {
            "number": number,
            "po": format!("PO-{number}"),
            "ship_from": {"code": "DC-DAL", "name": "ACME Dallas DC", "street": "4100 Logistics Pkwy", "city": "Dallas", "state": "TX", "zip": "75241", "country": "US"},
            "ship_to": {"code": "ST-0412", "name": "Peachtree Home Store 412", "street": "1200 Peachtree St NE", "city": "Atlanta", "state": "GA", "zip": "30309", "country": "US"},
            "pickup": {"from": format!("{day}T08:00:00"), "to": format!("{day}T15:00:00")},
            "deliver_by": format!("{deliver_by}T16:00:00"),
            "service": "STD",
            "mode": "TL",
            "currency": "USD",
            "items": [{"line": 1, "sku": "SOFA-3S-GRY", "qty": 12, "uom": "EA", "weight_lb": "1080.0"}]
        }
    })
}

fn pick(n: u64) -> Value {
    let number = order_number(n);
    json!({
        "event": "pick.completed",
        "event_id": format!("p-{number}"),
        "order_number": number,
        "warehouse": {"code": "DC-DAL", "name": "ACME Dallas DC", "street": "4100 Logistics Pkwy", "city": "Dallas", "state": "TX", "zip": "75241", "country": "US", "timezone": "America/Chicago"},
        "completed_at": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "lines": [{"line": 1, "item": "SOFA-3S-GRY", "ordered": 12, "picked": 12}],
        "total_weight_lb": 1080.0
    })
}

/// Runs the orchestrator path.
pub(crate) async fn run(args: &BenchArgs, plan: Plan) -> anyhow::Result<RunFigures> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let timeline = Arc::new(Timeline::new(plan.total));
    let receiver = TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}/tender", receiver.local_addr()?);
    let app = Router::new()
        .route("/tender", post(receive))
        .with_state(Arc::clone(&timeline));
    let receiver = tokio::spawn(async move { axum::serve(receiver, app).await });
    let dir = std::env::temp_dir().join(format!("transload-bench-{}", Uuid::now_v7()));
    let database = match args.store {
        BenchStore::Postgres => Some(create_database(&args.postgres).await?),
        BenchStore::Sqlite => None,
    };
    let outcome = async {
        let config_path = write_hub_folder(&dir, args, &endpoint, database.as_deref())?;
        let config = Config::load(&config_path)?;
        let hub = Hub::start(&config).await?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let router = hub.router.clone();
        let server = tokio::spawn(async move { axum::serve(listener, router).await });
        let poster = Arc::new(Poster {
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(plan.max_in_flight)
                .timeout(Duration::from_secs(30))
                .build()?,
            secret: WebhookSecret::parse(SECRET)?,
            base,
        });
        let figures = async {
            preload(&hub, &poster, plan).await?;
            super::write_metrics_before(args)?;
            generate(&poster, plan, &timeline).await
        }
        .await;
        server.abort();
        hub.stop();
        if let AnyBus::Amqp(bus) = &hub.bus {
            if let Err(error) = bus.delete_topology().await {
                tracing::warn!(%error, "cannot delete the bench's RabbitMQ topology");
            }
            bus.close().await;
        }
        drop(hub);
        figures
    }
    .await;
    receiver.abort();
    if let Some(database) = &database {
        drop_database(&args.postgres, database).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

/// Posts every order (not timed) and waits until the orchestrator recorded the last.
async fn preload(hub: &Hub, poster: &Arc<Poster>, plan: Plan) -> anyhow::Result<()> {
    let chicago = jiff::tz::TimeZone::get("America/Chicago")?;
    let day = chicago
        .to_datetime(jiff::Timestamp::now())
        .date()
        .saturating_add(jiff::Span::new().days(3));
    let in_flight = Arc::new(Semaphore::new(plan.max_in_flight.min(64)));
    let mut tasks = Vec::new();
    for n in 1..=plan.total {
        let permit = Arc::clone(&in_flight).acquire_owned().await?;
        let poster = Arc::clone(poster);
        tasks.push(tokio::spawn(async move {
            let posted = poster.post("bench-oms", None, &order(n, day)).await;
            drop(permit);
            posted
        }));
    }
    for task in tasks {
        task.await??;
    }
    let tenant = TenantId::new(TENANT)?;
    let last = order_number(plan.total);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    loop {
        let recorded = hub
            .store
            .audit_log(&tenant, &last)
            .await?
            .iter()
            .any(|entry| entry.action == "decision");
        if recorded {
            // Orders are decided in order; a moment for any retried one.
            tokio::time::sleep(Duration::from_millis(500)).await;
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("the orchestrator did not record the pre-loaded orders within 300 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn generate(
    poster: &Arc<Poster>,
    plan: Plan,
    timeline: &Arc<Timeline>,
) -> anyhow::Result<RunFigures> {
    let picks = sign_all(&poster.secret, plan, |index| {
        serde_json::to_vec(&pick(index + 1)).unwrap_or_default()
    });
    let url = Arc::new(format!("{}/v1/partners/bench-wms/messages", poster.base));
    let in_flight = Arc::new(Semaphore::new(plan.max_in_flight));
    let origin = tokio::time::Instant::now();
    let offset = timeline.origin().elapsed();
    for (index, signed) in (0..plan.total).zip(picks) {
        let due = plan.due(index);
        tokio::time::sleep_until(origin + due).await;
        let permit = Arc::clone(&in_flight).acquire_owned().await?;
        timeline.sent(index, offset + due);
        let (poster, timeline, url) = (Arc::clone(poster), Arc::clone(timeline), Arc::clone(&url));
        tokio::spawn(async move {
            let request = signed
                .post(&poster.client, &url, "application/json")
                .header("transload-kind", "pick_complete");
            match accepted(request).await {
                Ok(()) => timeline.accepted(index),
                Err(error) => {
                    tracing::warn!(index, %error, "the intake refused a pick");
                    timeline.failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            drop(permit);
        });
    }
    wait_for_all(timeline, plan).await;
    Ok(timeline.figures(
        "hub",
        "pre-loaded orders; signed WMS pick-complete webhook → intake → translate → decide (dispatch, tender) → deliver → tender JSON POSTed to the REST carrier",
        plan.warmup,
    ))
}

#[cfg(test)]
mod tests {
    use super::tendered_order;

    #[test]
    fn the_order_is_read_from_the_load_id() {
        assert_eq!(
            tendered_order(br#"{"data":{"load_id":"LSO-42","x":1}}"#),
            Some(42)
        );
        assert_eq!(tendered_order(b"{}"), None);
    }
}
