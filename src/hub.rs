//! The hub assembled from its configuration: the bus and store, the partner profiles, the
//! mappings (reloaded when their files change), the HTTP API with the intake, the file-drop
//! watcher, and the stage workers (translate, deliver) with the outbox relay; the
//! Prometheus recorder is installed (once per process) before any of them runs.
//!
//! `transload run` starts one; tests start one in process on a temporary folder.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use thiserror::Error;
use tokio::task::JoinHandle;
use transload_connectors::http_out::SenderOptions;
use transload_connectors::partner::PartnerDirectory;
use transload_core::bus::{ConsumerOptions, Stage};
use transload_mappings::{MappingError, Registry, Watcher};

use crate::backends::{OpenError, open_backends};
use crate::bus::AnyBus;
use crate::config::{BusKind, Config, StoreKind};
use crate::file_drop::{FileDropOptions, FileDropWatcher};
use crate::http::{AppState, Backends, hub_router_with_backends};
use crate::intake::auth::ApiKeys;
use crate::intake::{IntakeSetupError, IntakeState};
use crate::loads_api::LoadsApi;
use crate::pipeline::{
    DeadLetterDrain, OutboxRelay, PendingState, RetryPolicy, StageWorker, WithPendingState,
    WorkerOptions,
};
use crate::stages::decide::{Clock, DecideOptions};
use crate::stages::deliver::DeliverSetupError;
use crate::stages::translate::CORRELATION_HEADER;
use crate::stages::{Decide, Deliver, Translate};
use crate::store::AnyStore;

/// Why the hub cannot start.
#[derive(Debug, Error)]
pub enum StartError {
    /// The bus or store cannot be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// A partner profile is invalid.
    #[error("cannot load the partner profiles in {dir}:\n  {errors}")]
    Partners {
        /// The folder.
        dir: PathBuf,
        /// Every problem, one per line.
        errors: String,
    },
    /// A mapping does not compile.
    #[error("cannot load the mappings:\n  {0}")]
    Mappings(String),
    /// The intake cannot be set up (a secret or key missing).
    #[error(transparent)]
    Intake(#[from] IntakeSetupError),
    /// A partner endpoint cannot be set up.
    #[error(transparent)]
    Deliver(#[from] DeliverSetupError),
    /// The carrier files cannot be loaded.
    #[error("cannot load the carriers: {0}")]
    Carriers(String),
    /// A stage consumer cannot be opened.
    #[error("cannot open the {stage} stage: {reason}")]
    Stage {
        /// The stage.
        stage: Stage,
        /// Why.
        reason: String,
    },
    /// The mapping folders cannot be watched.
    #[error("cannot watch the mappings: {0}")]
    Watch(std::io::Error),
}

/// A running hub: its HTTP API (to serve) and its background work.
#[derive(Debug)]
pub struct Hub {
    /// The HTTP API: health, readiness, metrics, intake.
    pub router: Router,
    /// The bus, for tests and tools.
    pub bus: AnyBus,
    /// The store, for tests and tools.
    pub store: AnyStore,
    /// The partner profiles loaded.
    pub partners: Arc<PartnerDirectory>,
    /// The mappings, reloaded when their files change.
    pub mappings: Arc<Registry>,
    /// The orchestrator's clock (tests move it forward).
    pub clock: Clock,
    tasks: Vec<JoinHandle<()>>,
    _watcher: Watcher,
    shutdown: Arc<tokio::sync::Notify>,
}

impl Hub {
    /// Opens everything `config` names and starts the background work.
    ///
    /// # Errors
    /// See [`StartError`]; nothing keeps running after an error.
    pub async fn start(config: &Config) -> Result<Hub, StartError> {
        if let Err(reason) = crate::metrics::install() {
            tracing::warn!(%reason, "no Prometheus recorder: /metrics answers 503");
        }
        let partners = Arc::new(load_partners(config)?);
        let mappings = Arc::new(
            Registry::open(config.mappings_dirs.clone())
                .map_err(|errors| StartError::Mappings(join_errors(&errors)))?,
        );
        let (bus, store) = open_backends(config).await?;
        // With the embedded bus in the SQLite store's file, commits enqueue what they
        // publish themselves: there is no outbox to relay.
        let relay = store
            .needs_relay()
            .then(|| OutboxRelay::new(bus.clone(), store.clone()));
        let waker = relay.as_ref().map(OutboxRelay::waker);
        let mut intake = IntakeState::new(
            store.clone(),
            (*partners).clone(),
            &config.intake,
            &config.api_keys,
        )?;
        if let Some(waker) = &waker {
            intake = intake.with_relay_waker(Arc::clone(waker));
        }
        let state = AppState {
            bus: match config.bus {
                BusKind::Embedded => "embedded",
                BusKind::Amqp => "amqp",
            },
            store: match config.store {
                StoreKind::Sqlite => "sqlite",
                StoreKind::Postgres => "postgres",
            },
        };
        let carriers = match &config.orchestrator {
            Some(section) => {
                let carriers = transload_orchestrator::load_dir(&section.carriers_dir)
                    .map_err(|e| StartError::Carriers(e.to_string()))?;
                tracing::info!(
                    carriers = carriers.len(),
                    "orchestrator: carrier master loaded"
                );
                Some(Arc::new(carriers))
            }
            None => None,
        };
        let loads_api = LoadsApi::new(
            store.clone(),
            ApiKeys::from_config(&config.api_keys).map_err(IntakeSetupError::from)?,
            carriers.clone(),
            Arc::clone(&partners),
        );
        let router = hub_router_with_backends(
            state,
            intake,
            Backends {
                bus: bus.clone(),
                store: store.clone(),
            },
        )
        .merge(crate::loads_api::router(loads_api));

        let translate = Translate::new(store.clone(), Arc::clone(&partners), Arc::clone(&mappings));
        let translate = StageWorker::new(
            &bus,
            store.clone(),
            translate,
            worker_options("translate", Stage::Inbound),
            waker.clone(),
        )
        .await
        .map_err(|e| StartError::Stage {
            stage: Stage::Inbound,
            reason: e.to_string(),
        })?;
        let deliver = Deliver::new(
            store.clone(),
            Arc::clone(&partners),
            Arc::clone(&mappings),
            &SenderOptions::default(),
        )?;
        let deliver = StageWorker::new(
            &bus,
            store.clone(),
            deliver,
            worker_options("deliver", Stage::Outbound),
            waker.clone(),
        )
        .await
        .map_err(|e| StartError::Stage {
            stage: Stage::Outbound,
            reason: e.to_string(),
        })?;
        let clock = Clock::default();
        let decide = match (&config.orchestrator, &carriers) {
            (Some(section), Some(carriers)) => {
                // Decide commits each batch at once; a decision reads the state the
                // decisions before it in the batch wrote through `pending`.
                let pending = PendingState::default();
                let decide = Decide::new(
                    WithPendingState::new(store.clone(), pending.clone()),
                    Arc::clone(carriers),
                    Arc::new(section.policy()),
                    Arc::clone(&partners),
                    clock.clone(),
                    DecideOptions {
                        max_timer_wait: Duration::from_secs(section.timer_check_secs.max(1)),
                    },
                );
                Some(
                    StageWorker::new(
                        &bus,
                        store.clone(),
                        decide,
                        worker_options("decide", Stage::Events),
                        waker.clone(),
                    )
                    .await
                    .map_err(|e| StartError::Stage {
                        stage: Stage::Events,
                        reason: e.to_string(),
                    })?
                    .with_pending_state(pending),
                )
            }
            _ => None,
        };
        let watcher = mappings
            .watch(Duration::from_secs(1))
            .map_err(StartError::Watch)?;
        let shutdown = Arc::new(tokio::sync::Notify::new());
        let drop_watcher =
            FileDropWatcher::for_partners(store.clone(), &partners, FileDropOptions::default());
        let drop_folders = drop_watcher.folders().len();
        let drop_shutdown = Arc::clone(&shutdown);
        let mut tasks = vec![
            tokio::spawn(translate.run()),
            tokio::spawn(deliver.run()),
            tokio::spawn(async move {
                drop_watcher
                    .run(async move { drop_shutdown.notified().await })
                    .await;
            }),
        ];
        if let Some(relay) = relay {
            tasks.push(tokio::spawn(relay.run()));
        }
        tasks.push(tokio::spawn(
            DeadLetterDrain::new(bus.dead_letters(), store.clone()).run(),
        ));
        tasks.extend(crate::metrics::spawn_upkeep());
        tasks.push(crate::retention::spawn_pruning(
            store.clone(),
            config.retention,
        ));
        let orchestrating = decide.is_some();
        if let Some(decide) = decide {
            tasks.push(tokio::spawn(decide.run()));
        }
        tracing::info!(
            orchestrating,
            partners = partners.len(),
            mappings = mappings.current().len(),
            drop_folders,
            relaying = waker.is_some(),
            "hub started: intake, file drop, translate, deliver"
        );
        Ok(Hub {
            router,
            bus,
            store,
            partners,
            mappings,
            clock,
            tasks,
            _watcher: watcher,
            shutdown,
        })
    }

    /// Stops the background work.
    pub fn stop(&self) {
        self.shutdown.notify_waiters();
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Messages of one batch that translate and deliver handle at once. Translate's lanes
/// are independent (its units are still committed in the order the messages came);
/// deliver sends what concerns one load (its correlation id) one message after another.
/// Decide handles one message at a time (each decision reads what the previous wrote)
/// and commits its batch at once.
const STAGE_CONCURRENCY: usize = 8;

/// Messages a stage handles per batch (and acknowledges at once).
const STAGE_BATCH: u16 = 200;

fn worker_options(name: &str, stage: Stage) -> WorkerOptions {
    let (concurrency, ordered_by) = match stage {
        Stage::Inbound => (STAGE_CONCURRENCY, None),
        Stage::Outbound => (STAGE_CONCURRENCY, Some(CORRELATION_HEADER)),
        Stage::Events => (1, None),
    };
    WorkerOptions {
        name: name.to_owned(),
        stage,
        batch: usize::from(STAGE_BATCH),
        batch_wait: Duration::from_secs(1),
        // Room for the next batch while one is handled: the bus delivers it meanwhile.
        consumer: ConsumerOptions {
            prefetch: 2 * STAGE_BATCH,
            ..ConsumerOptions::default()
        },
        retry: RetryPolicy::default(),
        concurrency,
        ordered_by,
    }
}

/// The partner profiles of the configuration's `partners_dir`. A default folder that does
/// not exist means no partner (with a warning); a folder named in the file must exist.
fn load_partners(config: &Config) -> Result<PartnerDirectory, StartError> {
    let dir = &config.partners_dir;
    if !config.partners_dir_explicit && !dir.exists() {
        tracing::warn!(
            partners_dir = %dir.display(),
            "no partner directory: the hub knows no partner"
        );
        return Ok(PartnerDirectory::default());
    }
    PartnerDirectory::load(dir).map_err(|errors| StartError::Partners {
        dir: dir.clone(),
        errors: errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n  "),
    })
}

fn join_errors(errors: &[MappingError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n  ")
}
