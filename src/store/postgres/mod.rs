//! The store in PostgreSQL: for several hub processes sharing one database.
//!
//! Connections come from a `deadpool-postgres` pool; the schema is created and upgraded
//! by the migrations in `src/store/migrations/postgres/`, applied when connecting.
//! [`Store::commit`] runs a unit of work in one READ COMMITTED transaction whose checks
//! are all single conditional statements (see `commit.rs` for why that is enough).
//! Times are stored as `timestamptz`, so with microsecond precision.
//!
//! Errors: a server that cannot be reached, a dropped connection, a pool timeout, a
//! deadlock or a serialization failure are [`StoreError::Unavailable`] (try again);
//! stored values that do not decode are [`StoreError::Corrupt`]; anything else from the
//! server is [`StoreError::Other`] with its message.

mod commit;
mod error;
mod migrate;
mod rows;

use jiff::Timestamp;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use serde_json::value::RawValue;
use tokio_postgres::types::Json;
use tokio_postgres::{IsolationLevel, NoTls};
use tracing::{debug, warn};
use transload_core::bus::Stage;
use transload_core::ids::{PartnerId, TenantId};
use transload_core::store::{
    AuditEntry, CommitOutcome, DeadLetter, DeadLetterFilter, History, OutboxRecord, RawMessage,
    StateKey, StateRecord, Store, StoreError, UnitOfWork,
};
use uuid::Uuid;

pub use commit::{DEAD_LETTER_HEADER, REDRIVE_OF_HEADER};

use self::error::db;
use self::rows::{AUDIT_COLUMNS, DEAD_LETTER_COLUMNS, OUTBOX_COLUMNS, RAW_COLUMNS};

/// How many dead letters [`Store::dead_letters`] returns when the filter says 0.
const DEFAULT_DEAD_LETTER_LIMIT: usize = 100;
/// Processed markers deleted per statement when pruning.
const PRUNE_CHUNK: i64 = 5_000;

/// How to reach the database.
#[derive(Clone)]
pub struct PostgresOptions {
    /// A libpq connection string, as `postgres://user@host:5432/db` or
    /// `host=… user=… dbname=…`. Connections are made without TLS.
    pub url: String,
    /// Connections in the pool at most.
    pub max_connections: usize,
    /// How long to wait for a new connection to be established.
    pub connect_timeout: Duration,
    /// How long an operation waits for a free connection before it fails as
    /// `Unavailable`.
    pub acquire_timeout: Duration,
    /// How long one statement may run, waiting for locks included, before the server
    /// cancels it and the operation fails as `Unavailable` (a hub process stuck inside a
    /// transaction cannot hold the others up for longer). Zero: no limit.
    pub statement_timeout: Duration,
}

impl PostgresOptions {
    /// Options for `url` with the defaults: 16 connections, 5 s to connect, 10 s to get a
    /// connection from the pool, 30 s per statement.
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(30),
        }
    }
}

impl fmt::Debug for PostgresOptions {
    // The URL may hold a password: it is not printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("url", &"<redacted>")
            .field("max_connections", &self.max_connections)
            .field("connect_timeout", &self.connect_timeout)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .finish()
    }
}

/// The store in PostgreSQL. Cloning shares the connection pool.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PostgresStore")
            .field("max_connections", &status.max_size)
            .field("connections", &status.size)
            .field("idle", &status.available)
            .finish()
    }
}

impl PostgresStore {
    /// Connects to `url` with the default [`PostgresOptions`] and migrates the schema.
    ///
    /// # Errors
    /// See [`PostgresStore::connect_with`].
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        Self::connect_with(PostgresOptions::new(url)).await
    }

    /// Connects with `options`, checks that the server answers, and applies the
    /// migrations the database does not have yet.
    ///
    /// # Errors
    /// [`StoreError::Other`] for an invalid connection string or a failed migration,
    /// [`StoreError::Unavailable`] when the server cannot be reached,
    /// [`StoreError::Corrupt`] when the database was migrated by a newer transload.
    pub async fn connect_with(options: PostgresOptions) -> Result<PostgresStore, StoreError> {
        let mut config = tokio_postgres::Config::from_str(&options.url).map_err(|error| {
            StoreError::Other(format!("invalid PostgreSQL connection string: {error}"))
        })?;
        config.connect_timeout(options.connect_timeout);
        if config.get_application_name().is_none() {
            config.application_name("transload");
        }
        let timeout_ms = options.statement_timeout.as_millis();
        if timeout_ms > 0 {
            let session = match config.get_options() {
                Some(given) => format!("{given} -c statement_timeout={timeout_ms}"),
                None => format!("-c statement_timeout={timeout_ms}"),
            };
            config.options(session);
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_connections.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.acquire_timeout))
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|error| StoreError::Other(format!("connection pool: {error}")))?;
        let store = PostgresStore { pool };
        let mut client = store.client().await?;
        migrate::run(&mut client).await?;
        Ok(store)
    }

    /// Checks that the database answers (for readiness probes).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .simple_query("SELECT 1")
            .await
            .map_err(|error| db(&error))?;
        Ok(())
    }

    /// A connection from the pool.
    async fn client(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(error::pool)
    }

    /// Applies `units` in order in one transaction, each in a savepoint of its own
    /// (rolled back alone when it is not committed); as a chain, the first unit that is
    /// not committed stops the rest ([`Store::commit_chain`]).
    async fn commit_units(
        &self,
        units: Vec<UnitOfWork>,
        chain: bool,
    ) -> Vec<Result<CommitOutcome, StoreError>> {
        let all_fail = |error: &StoreError| units.iter().map(|_| Err(error.clone())).collect();
        let mut client = match self.client().await {
            Ok(client) => client,
            Err(error) => return all_fail(&error),
        };
        let mut transaction = match client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .await
        {
            Ok(transaction) => transaction,
            Err(error) => return all_fail(&db(&error)),
        };
        let mut outcomes = Vec::with_capacity(units.len());
        let mut broken = false;
        for unit in &units {
            if broken && chain {
                outcomes.push(Err(StoreError::NotAttempted));
                continue;
            }
            let savepoint = match transaction.savepoint("unit").await {
                Ok(savepoint) => savepoint,
                Err(error) => return all_fail(&db(&error)),
            };
            let outcome = commit::apply(&savepoint, unit).await;
            let keep = matches!(outcome, Ok(CommitOutcome::Committed));
            let ended = if keep {
                savepoint.commit().await
            } else {
                savepoint.rollback().await
            };
            if let Err(error) = ended {
                // The transaction is unusable: none of the units is committed.
                return all_fail(&db(&error));
            }
            broken |= !keep;
            outcomes.push(outcome);
        }
        match transaction.commit().await {
            Ok(()) => outcomes,
            // A connection lost during COMMIT leaves the outcome unknown: the callers
            // retry, and the processed markers or dedupe keys tell them.
            Err(error) => {
                let error = db(&error);
                outcomes
                    .into_iter()
                    .map(|outcome| match outcome {
                        Ok(CommitOutcome::Committed) => Err(error.clone()),
                        other => other,
                    })
                    .collect()
            }
        }
    }
}

impl Store for PostgresStore {
    async fn commit(&self, unit: UnitOfWork) -> Result<CommitOutcome, StoreError> {
        let mut client = self.client().await?;
        let transaction = client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .await
            .map_err(|error| db(&error))?;
        let outcome = commit::apply(&transaction, &unit).await;
        match outcome {
            Ok(CommitOutcome::Committed) => {
                // A connection lost during COMMIT leaves the outcome unknown: the caller
                // retries, and the processed marker or dedupe key tells it.
                transaction.commit().await.map_err(|error| db(&error))?;
                debug!("unit of work committed");
            }
            Ok(_) | Err(_) => {
                if let Err(error) = transaction.rollback().await {
                    warn!(error = %error, "rollback of a refused unit of work failed");
                }
            }
        }
        outcome
    }

    async fn commit_all(&self, units: Vec<UnitOfWork>) -> Vec<Result<CommitOutcome, StoreError>> {
        self.commit_units(units, false).await
    }

    async fn commit_chain(&self, units: Vec<UnitOfWork>) -> Vec<Result<CommitOutcome, StoreError>> {
        self.commit_units(units, true).await
    }

    async fn load_state(&self, key: &StateKey) -> Result<Option<StateRecord>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT version, value FROM state WHERE tenant = $1 AND kind = $2 AND key = $3",
            )
            .await
            .map_err(|error| db(&error))?;
        let row = client
            .query_opt(&statement, &[&key.tenant.as_str(), &key.kind, &key.key])
            .await
            .map_err(|error| db(&error))?;
        row.map(|row| {
            Ok(StateRecord {
                version: rows::version(&row, "version")?,
                value: rows::get::<Json<Box<RawValue>>>(&row, "value")?.0.into(),
            })
        })
        .transpose()
    }

    async fn pending_outbox(&self, limit: usize) -> Result<Vec<OutboxRecord>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY seq LIMIT $1"
            ))
            .await
            .map_err(|error| db(&error))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        client
            .query(&statement, &[&limit])
            .await
            .map_err(|error| db(&error))?
            .iter()
            .map(rows::outbox_record)
            .collect()
    }

    async fn mark_published(&self, seqs: &[i64]) -> Result<(), StoreError> {
        if seqs.is_empty() {
            return Ok(());
        }
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                // The bus has the messages now: they leave the outbox, which keeps only
                // what is still to publish.
                "DELETE FROM outbox WHERE seq = ANY($1)",
            )
            .await
            .map_err(|error| db(&error))?;
        client
            .execute(&statement, &[&seqs])
            .await
            .map_err(|error| db(&error))?;
        Ok(())
    }

    async fn raw_message(&self, id: Uuid) -> Result<Option<RawMessage>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {RAW_COLUMNS} FROM raw_messages WHERE id = $1"
            ))
            .await
            .map_err(|error| db(&error))?;
        client
            .query_opt(&statement, &[&id])
            .await
            .map_err(|error| db(&error))?
            .map(|row| rows::raw_message(&row))
            .transpose()
    }

    async fn prune(&self, history: History, before: Timestamp) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(match history {
                History::ProcessedMarkers => {
                    "DELETE FROM processed_messages WHERE ctid IN (
                         SELECT ctid FROM processed_messages WHERE processed_at < $1 LIMIT $2)"
                }
                History::RawMessages => {
                    "DELETE FROM raw_messages WHERE ctid IN (
                         SELECT ctid FROM raw_messages WHERE received_at < $1 LIMIT $2)"
                }
                History::AuditEntries => {
                    "DELETE FROM audit_log WHERE ctid IN (
                         SELECT ctid FROM audit_log WHERE at < $1 LIMIT $2)"
                }
                History::RedrivenDeadLetters => {
                    "DELETE FROM dead_letters WHERE ctid IN (
                         SELECT ctid FROM dead_letters
                         WHERE redriven_at IS NOT NULL AND redriven_at < $1 LIMIT $2)"
                }
                History::ReceivedControlNumbers => {
                    "DELETE FROM received_control_numbers WHERE ctid IN (
                         SELECT ctid FROM received_control_numbers WHERE received_at < $1 LIMIT $2)"
                }
            })
            .await
            .map_err(|error| db(&error))?;
        let before = rows::sql_time(before)?;
        let mut pruned = 0;
        // In chunks, each its own short transaction.
        loop {
            let deleted = client
                .execute(&statement, &[&before, &PRUNE_CHUNK])
                .await
                .map_err(|error| db(&error))?;
            pruned += deleted;
            if deleted < PRUNE_CHUNK.unsigned_abs() {
                return Ok(pruned);
            }
        }
    }

    async fn is_processed(&self, consumer: &str, message_id: Uuid) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM processed_messages
                                WHERE consumer = $1 AND message_id = $2) AS found",
            )
            .await
            .map_err(|error| db(&error))?;
        let row = client
            .query_one(&statement, &[&consumer, &message_id])
            .await
            .map_err(|error| db(&error))?;
        rows::get(&row, "found")
    }

    async fn next_control_number(
        &self,
        partner: &PartnerId,
        sequence: &str,
    ) -> Result<u64, StoreError> {
        let client = self.client().await?;
        // One statement, committed on its own: concurrent callers (from any process)
        // queue on the row lock and each sees the value the previous one wrote.
        let statement = client
            .prepare_cached(
                "INSERT INTO control_number_sequences (partner, sequence, last_value)
                 VALUES ($1, $2, 1)
                 ON CONFLICT (partner, sequence)
                 DO UPDATE SET last_value = control_number_sequences.last_value + 1
                 RETURNING last_value",
            )
            .await
            .map_err(|error| db(&error))?;
        let row = client
            .query_one(&statement, &[&partner.as_str(), &sequence])
            .await
            .map_err(|error| db(&error))?;
        rows::version(&row, "last_value")
    }

    /// One statement, committed on its own, for all the sequences: the rows stay locked
    /// for one commit, as in `next_control_number`, whatever the number of sequences.
    /// Each sequence may appear once in `wanted`.
    async fn next_control_numbers(
        &self,
        partner: &PartnerId,
        wanted: &[(&str, u64)],
    ) -> Result<Vec<Vec<u64>>, StoreError> {
        let mut sequences: Vec<&str> = Vec::with_capacity(wanted.len());
        let mut steps: Vec<i64> = Vec::with_capacity(wanted.len());
        for (sequence, count) in wanted.iter().filter(|(_, count)| *count > 0) {
            if sequences.contains(sequence) {
                return Err(StoreError::Other(format!(
                    "control sequence {sequence} asked for twice in one allocation"
                )));
            }
            sequences.push(sequence);
            steps.push(i64::try_from(*count).map_err(|_| {
                StoreError::Other(format!("cannot allocate {count} control numbers"))
            })?);
        }
        let mut last_of: Vec<(String, u64)> = Vec::with_capacity(sequences.len());
        if !sequences.is_empty() {
            let client = self.client().await?;
            let statement = client
                .prepare_cached(
                    "INSERT INTO control_number_sequences (partner, sequence, last_value)
                     SELECT $1, wanted.sequence, wanted.step
                     FROM unnest($2::text[], $3::bigint[]) AS wanted (sequence, step)
                     ON CONFLICT (partner, sequence)
                     DO UPDATE SET last_value =
                         control_number_sequences.last_value + EXCLUDED.last_value
                     RETURNING sequence, last_value",
                )
                .await
                .map_err(|error| db(&error))?;
            for row in client
                .query(&statement, &[&partner.as_str(), &sequences, &steps])
                .await
                .map_err(|error| db(&error))?
            {
                let sequence: String = rows::get(&row, "sequence")?;
                last_of.push((sequence, rows::version(&row, "last_value")?));
            }
        }
        wanted
            .iter()
            .map(|(sequence, count)| {
                if *count == 0 {
                    return Ok(Vec::new());
                }
                let last = last_of
                    .iter()
                    .find(|(name, _)| name == sequence)
                    .map(|(_, last)| *last)
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("no number came back for {sequence}"))
                    })?;
                Ok((last + 1 - count..=last).collect())
            })
            .collect()
    }

    async fn record_received_control_number(
        &self,
        partner: &PartnerId,
        sequence: &str,
        number: &str,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "INSERT INTO received_control_numbers (partner, sequence, number)
                 VALUES ($1, $2, $3)
                 ON CONFLICT (partner, sequence, number) DO NOTHING",
            )
            .await
            .map_err(|error| db(&error))?;
        let inserted = client
            .execute(&statement, &[&partner.as_str(), &sequence, &number])
            .await
            .map_err(|error| db(&error))?;
        Ok(inserted == 1)
    }

    async fn dead_letters(&self, filter: &DeadLetterFilter) -> Result<Vec<DeadLetter>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {DEAD_LETTER_COLUMNS} FROM dead_letters
                 WHERE ($1::text IS NULL OR stage = $1)
                   AND ($2::text IS NULL OR partner = $2)
                   AND ($3 OR redriven_at IS NULL)
                 ORDER BY failed_at DESC, position DESC
                 LIMIT $4"
            ))
            .await
            .map_err(|error| db(&error))?;
        let limit = match filter.limit {
            0 => DEFAULT_DEAD_LETTER_LIMIT,
            limit => limit,
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let stage = filter.stage.map(Stage::name);
        let partner = filter.partner.as_ref().map(PartnerId::as_str);
        client
            .query(
                &statement,
                &[&stage, &partner, &filter.include_redriven, &limit],
            )
            .await
            .map_err(|error| db(&error))?
            .iter()
            .map(rows::dead_letter)
            .collect()
    }

    async fn dead_letter(&self, id: Uuid) -> Result<Option<DeadLetter>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {DEAD_LETTER_COLUMNS} FROM dead_letters WHERE id = $1"
            ))
            .await
            .map_err(|error| db(&error))?;
        client
            .query_opt(&statement, &[&id])
            .await
            .map_err(|error| db(&error))?
            .map(|row| rows::dead_letter(&row))
            .transpose()
    }

    async fn audit_log(
        &self,
        tenant: &TenantId,
        subject: &str,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_log
                 WHERE tenant = $1 AND subject = $2
                 ORDER BY at, seq"
            ))
            .await
            .map_err(|error| db(&error))?;
        client
            .query(&statement, &[&tenant.as_str(), &subject])
            .await
            .map_err(|error| db(&error))?
            .iter()
            .map(rows::audit_entry)
            .collect()
    }
}
