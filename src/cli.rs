//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use transload_core::bus::Stage;
use transload_core::ids::{PartnerId, TenantId};
use uuid::Uuid;

use crate::commands::x12::X12Command;

/// transload: an integration hub for logistics.
///
/// EDI X12, XML and JSON from shippers, warehouses and carriers in; one canonical event
/// model; dispatch and carrier decisions; each partner's own format out.
#[derive(Debug, Parser)]
#[command(name = "transload", version, propagate_version = true)]
pub(crate) struct Cli {
    /// Log format on stderr.
    #[arg(long, value_enum, global = true, default_value_t = LogFormat::Text, env = "TRANSLOAD_LOG_FORMAT")]
    pub(crate) log_format: LogFormat,

    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the hub.
    ///
    /// Opens the bus and store, loads the partner profiles and mappings (reloaded when
    /// their files change), serves the HTTP intake with /health and /ready, watches the
    /// partners' drop folders, and runs the translate and deliver stages.
    Run {
        /// The configuration file.
        #[arg(long, short, default_value = "transload.toml")]
        config: PathBuf,
        /// Listen on this address instead of the configured one (port 0 picks a free port).
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// The X12 engine on files: parse, validate, acknowledge, convert.
    #[command(subcommand)]
    X12(X12Command),
    /// The JSON Schemas of the canonical events.
    #[command(subcommand)]
    Schemas(SchemasCommand),
    /// Check the configuration, partner and mapping files, and how they refer to each other.
    Validate {
        /// The configuration file.
        #[arg(long, short, default_value = "transload.toml")]
        config: PathBuf,
    },
    /// Test and run mapping files.
    #[command(subcommand)]
    Map(MapCommand),
    /// Find, inspect and replay what failed (the dead-letter queue).
    Dlq {
        /// The configuration file (it names the store).
        #[arg(long, short, global = true, default_value = "transload.toml")]
        config: PathBuf,
        /// What to do.
        #[command(subcommand)]
        command: DlqCommand,
    },
    /// Look at a load and override the orchestrator: approve what the guardrails held
    /// back, or tender again. Overrides go to the running hub through the store's outbox,
    /// and are written to the audit log with who and why.
    Load {
        /// The configuration file (it names the store).
        #[arg(long, short, global = true, default_value = "transload.toml")]
        config: PathBuf,
        /// The tenant of the load.
        #[arg(long, global = true, value_parser = |value: &str| TenantId::new(value).map_err(|error| error.to_string()))]
        tenant: Option<TenantId>,
        /// What to do.
        #[command(subcommand)]
        command: LoadCommand,
    },
    /// Play a day of sample messages through a running hub: signed OMS orders and WMS
    /// picks, every carrier's answers (X12 files, a simulated REST carrier), approvals of
    /// hazmat loads; then a summary read back from the store.
    Demo(crate::commands::demo::DemoArgs),
    /// Load-test the hub beside a raw RabbitMQ baseline measured in the same run.
    ///
    /// Starts a hub in process (bus and store as asked), POSTs signed X12 214s to its
    /// HTTP intake at an open-loop rate and times each to the 997 the hub delivers to an
    /// endpoint the bench serves (`--path pick-tender`: WMS pick-complete webhooks for
    /// pre-loaded orders, timed to the tender the orchestrator sends a REST carrier); then
    /// sends the same number of messages of the same size through as many quorum queues
    /// with plain lapin. Prints throughput and latency percentiles of both. Loopback only.
    Bench(crate::commands::bench::BenchArgs),
}

/// `transload schemas …`.
#[derive(Debug, Subcommand)]
pub(crate) enum SchemasCommand {
    /// Write the schemas generated from the model into DIR.
    Export {
        /// The folder to write into.
        #[arg(default_value = "schemas/events")]
        dir: PathBuf,
    },
    /// Fail when the schemas in DIR differ from the model.
    Check {
        /// The folder to check.
        #[arg(default_value = "schemas/events")]
        dir: PathBuf,
    },
}

/// `transload map …` (issue #5).
#[derive(Debug, Subcommand)]
pub(crate) enum MapCommand {
    /// Run the tests declared in mapping files; print a diff of each failure; exit 1
    /// when any fails.
    Test {
        /// A mapping file or a directory of them (default: mappings/library).
        file: Option<PathBuf>,
    },
    /// Run MAPPING on INPUT and print the canonical result (inbound) or the document
    /// (outbound); on failure the error with the field's lineage, exit 1.
    Run {
        /// The mapping file.
        mapping: PathBuf,
        /// The input document (.edi/.x12, .json, .xml; a canonical event for outbound).
        input: PathBuf,
        /// The partner profile as JSON (the program's $partner).
        #[arg(long)]
        partner: Option<PathBuf>,
    },
}

/// `transload load …`.
#[derive(Debug, Subcommand)]
pub(crate) enum LoadCommand {
    /// The load's state and its decision records.
    Show {
        /// The shipper load id.
        load: String,
    },
    /// Approve a load the guardrails hold (hazmat, high value, above max pay).
    Approve {
        /// The shipper load id.
        load: String,
        /// Who approves, for the audit log.
        #[arg(long, env = "USER", default_value = "operator")]
        by: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Withdraw the open tender and tender to the next carrier (or to `--carrier`).
    Retender {
        /// The shipper load id.
        load: String,
        /// A carrier of the ranking to tender to.
        #[arg(long, value_parser = |value: &str| PartnerId::new(value).map_err(|error| error.to_string()))]
        carrier: Option<PartnerId>,
        /// Who decides, for the audit log.
        #[arg(long, env = "USER", default_value = "operator")]
        by: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
}

/// `transload dlq …`.
#[derive(Debug, Subcommand)]
pub(crate) enum DlqCommand {
    /// List dead letters, newest first.
    List {
        /// Only this stage: inbound, events or outbound.
        #[arg(long, value_parser = crate::commands::dlq::parse_stage)]
        stage: Option<Stage>,
        /// Only this partner.
        #[arg(long, value_parser = |value: &str| PartnerId::new(value).map_err(|error| error.to_string()))]
        partner: Option<PartnerId>,
        /// Include the ones already redriven.
        #[arg(long)]
        all: bool,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Show one dead letter with its reason, headers and original bytes.
    Show {
        /// The dead letter's id.
        id: Uuid,
    },
    /// Send a dead letter through its stage again (once).
    Redrive {
        /// The dead letter's id.
        id: Uuid,
        /// Open the body in $VISUAL/$EDITOR first and send what was saved.
        #[arg(long)]
        edit: bool,
        /// Who is redriving, for the audit log.
        #[arg(long, env = "USER", default_value = "operator")]
        by: String,
    },
    /// Send every dead letter that matches through its stage again (once each), e.g.
    /// after a partner's outage. Without --yes, only lists what it would send.
    RedriveAll {
        /// Only this stage: inbound, events or outbound.
        #[arg(long, value_parser = crate::commands::dlq::parse_stage)]
        stage: Option<Stage>,
        /// Only this partner.
        #[arg(long, value_parser = |value: &str| PartnerId::new(value).map_err(|error| error.to_string()))]
        partner: Option<PartnerId>,
        /// Only those whose reason contains this text.
        #[arg(long)]
        reason: Option<String>,
        /// Look at the newest this many (they are sent oldest first).
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// Send them; without it, the command lists them and sends nothing.
        #[arg(long)]
        yes: bool,
        /// Who is redriving, for the audit log.
        #[arg(long, env = "USER", default_value = "operator")]
        by: String,
    },
}
