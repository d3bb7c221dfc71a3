//! `transload-soak`: a two-stage pass-through pipeline on the real bus and store, for
//! fault and soak tests (kill -9 at random points, broker restarts).
//!
//! inbound --forward--> events --effect--> one `effect` state row per original message.
//!
//! Every input message, whatever crashes happen, must end as exactly one effect row:
//! the processed markers and the transactional outbox make redeliveries harmless.
//!
//! Usage: `transload-soak --bus-file BUS.sqlite3 --store-file STORE.sqlite3`

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use transload::bus::embedded::{EmbeddedBus, EmbeddedBusOptions};
use transload::pipeline::{
    Handler, HandlerError, OutboxRelay, RetryPolicy, StageWorker, WorkerOptions,
};
use transload::store::sqlite::SqliteStore;
use transload_core::bus::{Bus, BusMessage, ConsumerOptions, Stage};
use transload_core::ids::TenantId;
use transload_core::store::{StateKey, StateWrite, Store, UnitOfWork};

/// A pass-through pipeline for fault tests.
#[derive(Debug, Parser)]
struct Args {
    /// The embedded bus file.
    #[arg(long)]
    bus_file: PathBuf,
    /// The SQLite store file.
    #[arg(long)]
    store_file: PathBuf,
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
                value: serde_json::json!({ "event": message.id.to_string() }),
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
        let bus = EmbeddedBus::open(&args.bus_file, EmbeddedBusOptions::default())
            .context("opening the bus")?;
        let store = SqliteStore::open(&args.store_file).context("opening the store")?;
        run(bus, store).await
    })
}
