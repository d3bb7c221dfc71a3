//! The `transload` binary.

mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use transload_core::store::DeadLetterFilter;

use transload_orchestrator::process::Override;

use crate::cli::{Cli, Command, DlqCommand, LoadCommand, LogFormat, MapCommand, SchemasCommand};

/// mimalloc instead of the system allocator: the hub makes many small, short-lived
/// allocations per message (JSON values, jaq values, SQL parameters), and glibc's malloc
/// and free were about 15 % of the CPU under load (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The bench's hub would log every message it accepts and delivers: warnings only.
    let default_filter = if matches!(cli.command, Command::Bench(_)) {
        "warn"
    } else {
        "info"
    };
    init_logging(cli.log_format, default_filter);
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run { config, listen } => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(commands::run::run(&config, listen))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::X12(command) => commands::x12::run(&command),
        Command::Schemas(SchemasCommand::Export { dir }) => commands::schemas::export(&dir),
        Command::Schemas(SchemasCommand::Check { dir }) => commands::schemas::check(&dir),
        Command::Validate { config } => commands::validate::validate(&config),
        Command::Map(MapCommand::Test { file }) => commands::map::test(file.as_deref()),
        Command::Map(MapCommand::Run {
            mapping,
            input,
            partner,
        }) => commands::map::run(&mapping, &input, partner.as_deref()),
        Command::Dlq { config, command } => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(dlq(&config, command))
        }
        Command::Load {
            config,
            tenant,
            command,
        } => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(load(&config, tenant, command))
        }
        Command::Demo(args) => commands::demo::run(args),
        Command::Bench(args) => commands::bench::run(args),
    }
}

async fn dlq(config: &std::path::Path, command: DlqCommand) -> anyhow::Result<ExitCode> {
    let config = transload::config::Config::load(config)?;
    let store = transload::backends::open_store(&config).await?;
    match command {
        DlqCommand::List {
            stage,
            partner,
            all,
            limit,
        } => {
            let filter = DeadLetterFilter {
                stage,
                partner,
                include_redriven: all,
                limit,
            };
            commands::dlq::list(&store, &filter).await
        }
        DlqCommand::Show { id } => commands::dlq::show(&store, id).await,
        DlqCommand::Redrive { id, edit, by } => commands::dlq::redrive(&store, id, &by, edit).await,
        DlqCommand::RedriveAll {
            stage,
            partner,
            reason,
            limit,
            yes,
            by,
        } => {
            let matching = commands::dlq::Matching {
                filter: DeadLetterFilter {
                    stage,
                    partner,
                    include_redriven: false,
                    limit,
                },
                reason_contains: reason,
            };
            commands::dlq::redrive_all(&store, &matching, &by, yes).await
        }
    }
}

async fn load(
    config: &std::path::Path,
    tenant: Option<transload_core::ids::TenantId>,
    command: LoadCommand,
) -> anyhow::Result<ExitCode> {
    let Some(tenant) = tenant else {
        anyhow::bail!("--tenant is required: loads belong to a tenant");
    };
    let config = transload::config::Config::load(config)?;
    let store = transload::backends::open_store(&config).await?;
    match command {
        LoadCommand::Show { load } => commands::load::show(&store, &tenant, &load).await,
        LoadCommand::Approve { load, by, reason } => {
            commands::load::submit(&store, &tenant, &load, Override::Approve { by, reason }).await
        }
        LoadCommand::Retender {
            load,
            carrier,
            by,
            reason,
        } => {
            commands::load::submit(
                &store,
                &tenant,
                &load,
                Override::Retender {
                    by,
                    reason,
                    carrier,
                },
            )
            .await
        }
    }
}

fn init_logging(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
