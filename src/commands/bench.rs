//! `transload bench`: a load generator through the real hub path, beside a raw lapin
//! baseline measured in the same run.
//!
//! The hub path: the bench starts a hub in process (the same `Hub::start` as
//! `transload run`) on the bus and store asked for, and serves a partner endpoint of its
//! own (axum on 127.0.0.1:0). At an open-loop rate it POSTs X12 214s, signed as Standard
//! Webhooks, to the HTTP intake; each goes intake → outbox → inbound queue → translate →
//! outbox → outbound queue → deliver, which POSTs the 997 to the bench's endpoint. The
//! latency of a message runs from its scheduled send to the receipt of its 997 (matched
//! on the group control number in AK1). With `--path pick-tender` the orchestrator is in
//! the path: orders are pre-loaded (not timed), then each timed message is a signed WMS
//! pick-complete webhook → translate → decide (a load of its own, dispatched at once and
//! tendered) → deliver, which POSTs the tender (json-event-out) to the REST carrier
//! endpoint the bench serves; it is matched on the load id.
//!
//! The baseline: plain lapin, persistent messages of the same size and count through as
//! many quorum-queue hops as the hub path has queues (publish with confirms → consume →
//! republish with confirms, ack after the confirm → consume), at the same open-loop rate.

mod baseline;
mod hub_path;
mod report;
mod tender_path;
mod webhooks;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::ValueEnum;

use self::report::Report;

/// Longest run (warm-up + measured), in seconds.
const MAX_SECONDS: u64 = 600;
/// Highest rate offered, messages per second.
const MAX_RATE: u32 = 50_000;
/// Most messages in one run.
const MAX_MESSAGES: u64 = 2_000_000;

/// `transload bench` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
    /// Messages offered per second (open loop: sent on schedule whatever the hub does).
    #[arg(long, default_value_t = 200)]
    pub(crate) rate: u32,
    /// Seconds measured, after the warm-up.
    #[arg(long, default_value_t = 10)]
    pub(crate) duration: u64,
    /// Seconds sent first and left out of the figures.
    #[arg(long, default_value_t = 2)]
    pub(crate) warmup: u64,
    /// What is timed through the hub.
    #[arg(long, value_enum, default_value_t = BenchPath::X12Ack)]
    pub(crate) path: BenchPath,
    /// The hub's bus.
    #[arg(long, value_enum, default_value_t = BenchBus::Embedded)]
    pub(crate) bus: BenchBus,
    /// The hub's store.
    #[arg(long, value_enum, default_value_t = BenchStore::Sqlite)]
    pub(crate) store: BenchStore,
    /// RabbitMQ, for `--bus amqp` and the baseline (loopback only).
    #[arg(
        long,
        env = "TRANSLOAD_AMQP_URI",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    pub(crate) amqp_url: String,
    /// PostgreSQL server, for `--store postgres` (a database of the run's own is created
    /// on it and dropped after).
    #[arg(
        long,
        env = "TRANSLOAD_BENCH_POSTGRES",
        default_value = "host=127.0.0.1 port=5432 user=postgres"
    )]
    pub(crate) postgres: String,
    /// Skip the raw lapin baseline (no RabbitMQ needed with `--bus embedded`).
    #[arg(long)]
    pub(crate) no_baseline: bool,
    /// Skip the hub path (the baseline alone).
    #[arg(long)]
    pub(crate) no_hub: bool,
    /// Seconds to wait after the last send for the last messages.
    #[arg(long, default_value_t = 30)]
    pub(crate) drain: u64,
    /// Requests the generator keeps in flight at most.
    #[arg(long, default_value_t = 512)]
    pub(crate) max_in_flight: usize,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
    /// Write the hub's Prometheus metrics (per stage: processed, latency histograms) to
    /// this file at the end of the hub path, and to FILE.before just before the first
    /// timed message (after the pick path's pre-loaded orders): the difference is the
    /// timed messages'.
    #[arg(long, value_name = "FILE")]
    pub(crate) metrics_out: Option<std::path::PathBuf>,
}

/// The path timed through the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum BenchPath {
    /// A signed X12 214 webhook → translate → the 997 delivered to the partner's HTTP
    /// endpoint.
    X12Ack,
    /// Orders pre-loaded, then a signed WMS pick-complete webhook → translate → decide →
    /// the tender delivered to a REST carrier's endpoint (json-event-out).
    PickTender,
}

/// The hub's bus in a bench run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum BenchBus {
    /// The SQLite queue, in process.
    Embedded,
    /// RabbitMQ.
    Amqp,
}

/// The hub's store in a bench run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum BenchStore {
    /// SQLite in the run's temporary folder.
    Sqlite,
    /// PostgreSQL, a database of the run's own.
    Postgres,
}

/// What one run sends: how many messages, when.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// Messages per second.
    pub(crate) rate: u32,
    /// Messages sent during the warm-up (the first ones), left out of the figures.
    pub(crate) warmup: u64,
    /// Messages in all.
    pub(crate) total: u64,
    /// Wait for stragglers after the last send.
    pub(crate) drain: Duration,
    /// Requests in flight at most.
    pub(crate) max_in_flight: usize,
}

impl Plan {
    /// When message `index` is due, after the start.
    pub(crate) fn due(&self, index: u64) -> Duration {
        Duration::from_nanos(index.saturating_mul(1_000_000_000) / u64::from(self.rate.max(1)))
    }
}

fn plan(args: &BenchArgs) -> anyhow::Result<Plan> {
    if args.rate == 0 || args.rate > MAX_RATE {
        bail!("--rate must be between 1 and {MAX_RATE} messages per second");
    }
    if args.duration == 0 || args.duration + args.warmup > MAX_SECONDS {
        bail!("--duration must be at least 1 s, and --warmup + --duration at most {MAX_SECONDS} s");
    }
    if args.no_hub && args.no_baseline {
        bail!("--no-hub and --no-baseline together leave nothing to measure");
    }
    let warmup = u64::from(args.rate) * args.warmup;
    let total = warmup + u64::from(args.rate) * args.duration;
    if total > MAX_MESSAGES {
        bail!("{total} messages is more than the {MAX_MESSAGES} a run may send");
    }
    Ok(Plan {
        rate: args.rate,
        warmup,
        total,
        drain: Duration::from_secs(args.drain.min(MAX_SECONDS)),
        max_in_flight: args.max_in_flight.clamp(1, 10_000),
    })
}

/// Writes the hub's metrics as they are now to `file`.
fn write_metrics(file: &std::path::Path) -> anyhow::Result<()> {
    let text = transload::metrics::render()
        .map_err(|reason| anyhow::anyhow!("no metrics to write: {reason}"))?;
    std::fs::write(file, text).with_context(|| format!("cannot write {}", file.display()))
}

/// With `--metrics-out FILE`, the metrics before the first timed message, to FILE.before.
pub(crate) fn write_metrics_before(args: &BenchArgs) -> anyhow::Result<()> {
    let Some(file) = &args.metrics_out else {
        return Ok(());
    };
    let mut before = file.clone().into_os_string();
    before.push(".before");
    write_metrics(std::path::Path::new(&before))
}

/// Runs the bench.
pub(crate) fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let plan = plan(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(measure(&args, plan))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", report.table());
    }
    let complete = report.runs.iter().all(|run| run.received > 0);
    Ok(if complete {
        ExitCode::SUCCESS
    } else {
        eprintln!("error: a path delivered nothing in the measured window");
        ExitCode::FAILURE
    })
}

async fn measure(args: &BenchArgs, plan: Plan) -> anyhow::Result<Report> {
    let (size, hops) = match args.path {
        BenchPath::X12Ack => (hub_path::message_size(plan.total), hub_path::QUEUE_HOPS),
        BenchPath::PickTender => (
            tender_path::message_size(plan.total),
            tender_path::QUEUE_HOPS,
        ),
    };
    let mut report = Report {
        bus: args.bus,
        store: args.store,
        plan,
        warmup_secs: args.warmup,
        duration_secs: args.duration,
        message_bytes: size,
        runs: Vec::new(),
    };
    if !args.no_hub {
        let run = match args.path {
            BenchPath::X12Ack => hub_path::run(args, plan).await,
            BenchPath::PickTender => tender_path::run(args, plan).await,
        }
        .context("the hub path failed")?;
        report.runs.push(run);
        if let Some(file) = &args.metrics_out {
            write_metrics(file)?;
        }
    }
    if !args.no_baseline {
        let run = baseline::run(&args.amqp_url, plan, size, hops)
            .await
            .context("the raw lapin baseline failed (is RabbitMQ on 127.0.0.1:5672?)")?;
        report.runs.push(run);
    }
    Ok(report)
}
