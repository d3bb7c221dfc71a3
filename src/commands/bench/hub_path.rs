//! The hub path: a hub in process, signed X12 214s POSTed to its intake at an open-loop
//! rate, the 997s it delivers received by an endpoint the bench serves.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use transload::bus::AnyBus;
use transload::config::Config;
use transload::hub::Hub;
use transload_connectors::webhook::WebhookSecret;

use super::webhooks::sign_all;
use uuid::Uuid;

use super::report::{RunFigures, Timeline};
use super::{BenchArgs, BenchBus, BenchStore, Plan};

/// Queues a message crosses on the hub path: inbound (intake → translate) and outbound
/// (translate → deliver).
pub(crate) const QUEUE_HOPS: usize = 2;

const SECRET: &str = "whsec_YmVuY2gtc2VjcmV0LWZvci10cmFuc2xvYWQ=";
const PARTNER: &str = "bench-carrier";

/// An X12 214 (two stops, three statuses) with interchange and group control number `n`.
fn edi_214(n: u64) -> String {
    format!(
        "ISA*00*          *00*          *02*BNCH           *ZZ*BENCHHUB       *261125*1345*U*00401*{n:09}*0*P*>~\n\
GS*QM*BNCH*BENCHHUB*20261125*1345*{n}*X*004010~\n\
ST*214*0001~\n\
B10*PRO{n:09}*LD-BENCH-{n:09}*BNCH~\n\
L11*BOL-{n:09}*BM~\n\
N1*SH*ACME FURNITURE*93*DC-DAL~\n\
N1*CN*PEACHTREE HOME*93*ST-0412~\n\
LX*1~\n\
AT7*AF*NS***20261125*1342~\n\
MS1*DALLAS*TX*USA~\n\
LX*2~\n\
AT7*AG*NS***20261127*0915*ET~\n\
MS1*ATLANTA*GA*US~\n\
LX*2~\n\
AT7*X1*NS***20261127*0902~\n\
SE*14*0001~\n\
GE*1*{n}~\n\
IEA*1*{n:09}~\n"
    )
}

/// The size of the largest message of a run of `total` (the baseline sends this many bytes).
pub(crate) fn message_size(total: u64) -> usize {
    edi_214(total.max(1)).len()
}

/// The group control number acknowledged by a 997 (`AK1*QM*<n>`).
fn acknowledged_group(body: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("AK1*")? + 4;
    let rest = text.get(start..)?;
    let mut elements = rest.split(['*', '~']);
    let _functional_id = elements.next()?;
    elements.next()?.trim().parse().ok()
}

async fn receive(State(timeline): State<Arc<Timeline>>, body: Bytes) -> StatusCode {
    match acknowledged_group(&body) {
        Some(n) if n > 0 => timeline.received(n - 1),
        _ => {
            timeline.strays.fetch_add(1, Ordering::Relaxed);
        }
    }
    StatusCode::OK
}

/// The hub's configuration for the bus and store of `args` (`database`: the PostgreSQL
/// database of the run), without partners; both bench paths start from it.
pub(crate) fn hub_config(args: &BenchArgs, database: Option<&str>) -> String {
    let library = transload_mappings::library_dir();
    let mut config = format!(
        "data_dir = \"data\"\nmappings_dirs = [\"{}\"]\n",
        library.display()
    );
    config.push_str(match args.bus {
        BenchBus::Embedded => "bus = \"embedded\"\n",
        BenchBus::Amqp => "bus = \"amqp\"\n",
    });
    config.push_str(match args.store {
        BenchStore::Sqlite => "store = \"sqlite\"\n",
        BenchStore::Postgres => "store = \"postgres\"\n",
    });
    config.push_str(
        "[http]\nlisten = \"127.0.0.1:0\"\n[intake]\nrate_limit = { per_second = 1000000 }\n",
    );
    if args.bus == BenchBus::Amqp {
        config.push_str(&format!(
            "[amqp]\nurl = \"{}\"\nprefix = \"bench{}\"\n",
            args.amqp_url,
            Uuid::now_v7().simple()
        ));
    }
    if let Some(database) = database {
        config.push_str(&format!(
            "[postgres]\nurl = \"{} dbname={database}\"\n",
            args.postgres
        ));
    }
    config
}

/// The hub's folder: configuration and the one partner.
fn write_hub_folder(
    dir: &Path,
    args: &BenchArgs,
    endpoint: &str,
    database: Option<&str>,
) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir.join("partners"))?;
    let config = hub_config(args, database);
    let path = dir.join("transload.toml");
    std::fs::write(&path, config)?;
    std::fs::write(
        dir.join(format!("partners/{PARTNER}.toml")),
        format!(
            r#"id = "{PARTNER}"
tenant = "bench"
time_zone = "America/New_York"
[x12]
isa_qualifier = "02"
isa_id = "BNCH"
gs_id = "BNCH"
our_isa_qualifier = "ZZ"
our_isa_id = "BENCHHUB"
our_gs_id = "BENCHHUB"
[webhook]
secret = "{SECRET}"
[endpoint]
url = "{endpoint}"
timeout_ms = 10000
[[routes]]
format = "x12"
x12_set = "214"
mapping = "x12-004010-214-in"
[code_maps.status]
AF = "departed_pickup"
AG = "eta_updated"
X1 = "arrived_at_delivery"
"#
        ),
    )?;
    Ok(path)
}

/// A database of the run's own on the PostgreSQL server.
pub(crate) async fn create_database(server: &str) -> anyhow::Result<String> {
    let database = format!("transload_bench_{}", Uuid::now_v7().simple());
    let (client, connection) =
        tokio_postgres::connect(&format!("{server} dbname=postgres"), tokio_postgres::NoTls)
            .await
            .context("cannot reach PostgreSQL")?;
    tokio::spawn(connection);
    client
        .execute(&format!("CREATE DATABASE {database}"), &[])
        .await?;
    Ok(database)
}

pub(crate) async fn drop_database(server: &str, database: &str) {
    let connected =
        tokio_postgres::connect(&format!("{server} dbname=postgres"), tokio_postgres::NoTls).await;
    if let Ok((client, connection)) = connected {
        tokio::spawn(connection);
        if let Err(error) = client
            .execute(
                &format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"),
                &[],
            )
            .await
        {
            tracing::warn!(%error, database, "cannot drop the bench database");
        }
    }
}

/// Runs the hub path.
pub(crate) async fn run(args: &BenchArgs, plan: Plan) -> anyhow::Result<RunFigures> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let timeline = Arc::new(Timeline::new(plan.total));

    // The partner endpoint the hub delivers 997s to.
    let receiver = TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}/edi", receiver.local_addr()?);
    let app = Router::new()
        .route("/edi", post(receive))
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
        let intake = format!(
            "http://{}/v1/partners/{PARTNER}/messages",
            listener.local_addr()?
        );
        let router = hub.router.clone();
        let server = tokio::spawn(async move { axum::serve(listener, router).await });
        let figures = match super::write_metrics_before(args) {
            Ok(()) => generate(&intake, plan, &timeline).await,
            Err(error) => Err(error),
        };
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

/// Sends the plan's messages on schedule, then waits for their 997s.
async fn generate(
    intake: &str,
    plan: Plan,
    timeline: &Arc<Timeline>,
) -> anyhow::Result<RunFigures> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(plan.max_in_flight)
        .timeout(Duration::from_secs(30))
        .build()?;
    let secret = WebhookSecret::parse(SECRET)?;
    let signed = sign_all(&secret, plan, |index| edi_214(index + 1).into_bytes());
    let url = Arc::new(intake.to_owned());
    let in_flight = Arc::new(Semaphore::new(plan.max_in_flight));
    // The schedule starts once the messages are signed.
    let origin = tokio::time::Instant::now();
    let offset = timeline.origin().elapsed();
    for (index, webhook) in (0..plan.total).zip(signed) {
        let due = plan.due(index);
        tokio::time::sleep_until(origin + due).await;
        let permit = Arc::clone(&in_flight).acquire_owned().await?;
        timeline.sent(index, offset + due);
        let (client, timeline, url) = (client.clone(), Arc::clone(timeline), Arc::clone(&url));
        tokio::spawn(async move {
            let response = webhook
                .post(&client, &url, "application/edi-x12")
                .send()
                .await;
            match response {
                Ok(response) if response.status() == reqwest::StatusCode::ACCEPTED => {
                    timeline.accepted(index);
                }
                Ok(response) => {
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    tracing::warn!(index, %status, %text, "the intake refused a message");
                    timeline.failed.fetch_add(1, Ordering::Relaxed);
                }
                Err(error) => {
                    tracing::warn!(index, %error, "cannot post to the intake");
                    timeline.failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            drop(permit);
        });
    }
    wait_for_all(timeline, plan).await;
    Ok(timeline.figures(
        "hub",
        "signed X12 214 webhook → HTTP intake → inbound → translate → outbound → deliver → 997 POSTed to the bench",
        plan.warmup,
    ))
}

/// Waits until every message that was not refused arrived, or the drain time passed.
pub(crate) async fn wait_for_all(timeline: &Timeline, plan: Plan) {
    let deadline = tokio::time::Instant::now() + plan.drain;
    let total = usize::try_from(plan.total).unwrap_or(usize::MAX);
    loop {
        let done = timeline.received_count() + timeline.failed.load(Ordering::Relaxed);
        if done >= total || tokio::time::Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::{acknowledged_group, edi_214};

    #[test]
    fn the_generated_214_has_matching_control_numbers() {
        let text = edi_214(42);
        assert!(text.contains("*000000042*0*P*>~"), "{text}");
        assert!(
            text.contains("GS*QM*BNCH*BENCHHUB*20261125*1345*42*X*004010~"),
            "{text}"
        );
        assert!(text.contains("GE*1*42~"), "{text}");
        assert!(text.contains("IEA*1*000000042~"), "{text}");
    }

    #[test]
    fn the_group_acknowledged_is_read_from_ak1() {
        assert_eq!(
            acknowledged_group(b"ST*997*0001~AK1*QM*950~AK2*214*0001~"),
            Some(950)
        );
        assert_eq!(acknowledged_group(b"ST*997*0001~"), None);
    }
}
