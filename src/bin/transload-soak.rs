//! `transload-soak`: a two-stage pass-through pipeline on the real bus and store, for
//! fault and soak tests (kill -9 at random points, broker restarts).
//!
//! inbound --forward--> events --effect--> one `effect` state row per original message.
//!
//! Every input message, whatever crashes happen, must end as exactly one effect row:
//! the processed markers and the transactional outbox make redeliveries harmless.
//!
//! Usage: `transload-soak (--bus-file BUS.sqlite3 | --amqp-url URL --amqp-prefix P)
//!                        (--store-file STORE.sqlite3 | --postgres-url URL)`

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use transload::bus::AnyBus;
use transload::bus::amqp::{AmqpBus, AmqpConfig};
use transload::bus::embedded::{EmbeddedBus, EmbeddedBusOptions};
use transload::pipeline::{
    Handler, HandlerError, OutboxRelay, RetryPolicy, StageWorker, WorkerOptions,
};
use transload::store::AnyStore;
use transload::store::postgres::PostgresStore;
use transload::store::sqlite::SqliteStore;
use transload_core::bus::{Bus, BusMessage, ConsumerOptions, Stage};
use transload_core::ids::TenantId;
use transload_core::store::{StateKey, StateWrite, Store, UnitOfWork};

/// A pass-through pipeline for fault tests.
#[derive(Debug, Parser)]
struct Args {
    /// The embedded bus file; the same as `--store-file` puts the bus in the store's
    /// file, written by the store's writer (the hub's embedded default).
    #[arg(
        long,
        required_unless_present = "amqp_url",
        conflicts_with = "amqp_url"
    )]
    bus_file: Option<PathBuf>,
    /// RabbitMQ instead of the embedded bus.
    #[arg(long)]
    amqp_url: Option<String>,
    /// Prefix of the exchanges and queues on RabbitMQ.
    #[arg(long, default_value = "transload-soak")]
    amqp_prefix: String,
    /// The SQLite store file.
    #[arg(
        long,
        required_unless_present = "postgres_url",
        conflicts_with = "postgres_url"
    )]
    store_file: Option<PathBuf>,
    /// PostgreSQL instead of SQLite.
    #[arg(long)]
    postgres_url: Option<String>,
}

/// Forwards an inbound message to `events`, remembering its id in a header.
struct Forward;

impl Handler for Forward {
    async fn handle(&self, message: &BusMessage) -> Result<UnitOfWork, HandlerError> {
        let out = BusMessage::new("soak.forwarded", message.body.clone())
            .with_header("origin", message.id.to_string());
        Ok(UnitOfWork {
            outbox: vec![(Stage::Events, out)],
            ..UnitOfWork::default()
        })
    }
}

/// Records one effect per original message; a second effect for the same origin would
/// be a state conflict, which the test would see as a dead letter.
struct Effect {
    tenant: TenantId,
}

impl Handler for Effect {
    async fn handle(&self, message: &BusMessage) -> Result<UnitOfWork, HandlerError> {
        let origin = message
            .headers
            .get("origin")
            .ok_or_else(|| HandlerError::Permanent("no origin header".to_owned()))?;
        Ok(UnitOfWork {
            states: vec![StateWrite {
                key: StateKey {
                    tenant: self.tenant.clone(),
                    kind: "effect".to_owned(),
                    key: origin.clone(),
                },
                expected_version: None,
                value: serde_json::json!({ "event": message.id.to_string() }).into(),
            }],
            ..UnitOfWork::default()
        })
    }
}

fn worker_options(name: &str, stage: Stage) -> WorkerOptions {
    WorkerOptions {
        name: name.to_owned(),
        stage,
        batch: 200,
        batch_wait: Duration::from_millis(50),
        consumer: ConsumerOptions {
            prefetch: 200,
            visibility_timeout: Duration::from_secs(3),
        },
        retry: RetryPolicy::default(),
        concurrency: if stage == Stage::Events { 1 } else { 8 },
        ordered_by: None,
    }
}

async fn run<B: Bus, S: Store>(bus: B, store: S) -> anyhow::Result<()> {
    let relay = OutboxRelay::new(bus.clone(), store.clone());
    let forward = StageWorker::new(
        &bus,
        store.clone(),
        Forward,
        worker_options("soak-forward", Stage::Inbound),
        Some(relay.waker()),
    )
    .await?;
    let effect = StageWorker::new(
        &bus,
        store.clone(),
        Effect {
            tenant: TenantId::new("soak")?,
        },
        worker_options("soak-effect", Stage::Events),
        None,
    )
    .await?;
    println!("soak pipeline running");
    tokio::select! {
        () = relay.run() => {}
        () = forward.run() => {}
        () = effect.run() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        if let (Some(bus_file), Some(store_file)) = (&args.bus_file, &args.store_file)
            && bus_file == store_file
        {
            let (store, bus) =
                SqliteStore::open_with_embedded_bus(store_file, EmbeddedBusOptions::default())
                    .context("opening the store with the bus in its file")?;
            return Box::pin(run(AnyBus::Embedded(bus), AnyStore::Sqlite(store))).await;
        }
        let bus = match (&args.bus_file, &args.amqp_url) {
            (Some(file), _) => AnyBus::Embedded(
                EmbeddedBus::open(file, EmbeddedBusOptions::default())
                    .context("opening the bus")?,
            ),
            (None, Some(url)) => {
                let config = AmqpConfig {
                    uri: url.clone(),
                    prefix: args.amqp_prefix.clone(),
                    ..AmqpConfig::default()
                };
                AnyBus::Amqp(
                    AmqpBus::connect(config)
                        .await
                        .context("connecting to RabbitMQ")?,
                )
            }
            (None, None) => anyhow::bail!("--bus-file or --amqp-url"),
        };
        let store = match (&args.store_file, &args.postgres_url) {
            (Some(file), _) => {
                AnyStore::Sqlite(SqliteStore::open(file).context("opening the store")?)
            }
            (None, Some(url)) => AnyStore::Postgres(
                PostgresStore::connect(url)
                    .await
                    .context("connecting to PostgreSQL")?,
            ),
            (None, None) => anyhow::bail!("--store-file or --postgres-url"),
        };
        Box::pin(run(bus, store)).await
    })
}
