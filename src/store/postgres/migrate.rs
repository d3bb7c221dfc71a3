//! Schema migrations, applied at connect: idempotent, serialised between processes by an
//! advisory lock, recorded in `schema_migrations`.

use std::collections::BTreeMap;

use deadpool_postgres::Object;
use tokio_postgres::IsolationLevel;
use tracing::info;
use transload_core::store::StoreError;

use super::error::{corrupt, db};
use super::rows::get;

/// One migration: a version, a name, and its SQL.
struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

/// Every migration, in order. Released migrations are never edited: a change is a new one.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "outbox keeps only pending",
        sql: include_str!("../migrations/postgres/0002_outbox_keeps_only_pending.sql"),
    },
    Migration {
        version: 3,
        name: "processed by time",
        sql: include_str!("../migrations/postgres/0003_processed_by_time.sql"),
    },
    Migration {
        version: 4,
        name: "history by time",
        sql: include_str!("../migrations/postgres/0004_history_by_time.sql"),
    },
];

/// Key of the transaction-scoped advisory lock that serialises migrators ("tload-mg").
const LOCK_KEY: i64 = 0x746c_6f61_642d_6d67;

/// Applies the migrations the database does not have yet, in one transaction.
///
/// # Errors
/// `Unavailable` when the connection fails, `Corrupt` when the database records a
/// migration this binary does not know or knows by another name (it was migrated by
/// another version of transload), `Other` when a migration fails.
pub(super) async fn run(client: &mut Object) -> Result<(), StoreError> {
    let transaction = client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .await
        .map_err(|error| db(&error))?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(|error| db(&error))?;
    // Waiting for another migrator is bounded by the statement timeout; a migration,
    // once this process runs it, is not.
    transaction
        .batch_execute("SET LOCAL statement_timeout = 0")
        .await
        .map_err(|error| db(&error))?;
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    bigint      PRIMARY KEY,
                 name       text        NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(|error| db(&error))?;
    let mut applied = BTreeMap::new();
    for row in transaction
        .query("SELECT version, name FROM schema_migrations", &[])
        .await
        .map_err(|error| db(&error))?
    {
        applied.insert(get::<i64>(&row, "version")?, get::<String>(&row, "name")?);
    }
    for (version, name) in &applied {
        match MIGRATIONS.iter().find(|known| known.version == *version) {
            Some(known) if known.name == name => {}
            Some(known) => {
                return Err(corrupt(
                    "schema_migrations",
                    format!(
                        "migration {version} is recorded as {name:?}, this binary calls it {:?}",
                        known.name
                    ),
                ));
            }
            None => {
                return Err(corrupt(
                    "schema_migrations",
                    format!(
                        "migration {version} ({name:?}) is unknown to this binary: the \
                         database was migrated by a newer transload"
                    ),
                ));
            }
        }
    }
    for migration in MIGRATIONS {
        if applied.contains_key(&migration.version) {
            continue;
        }
        transaction
            .batch_execute(migration.sql)
            .await
            .map_err(|error| db(&error))?;
        transaction
            .execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                &[&migration.version, &migration.name],
            )
            .await
            .map_err(|error| db(&error))?;
        info!(
            version = migration.version,
            name = migration.name,
            "applied store migration"
        );
    }
    transaction.commit().await.map_err(|error| db(&error))
}
