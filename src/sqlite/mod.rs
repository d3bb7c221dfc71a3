//! Opening SQLite files durably, and writing them ([`group_commit`]), shared by the
//! embedded bus and the SQLite store.

pub mod group_commit;

use std::path::{Path, PathBuf};
use std::sync::Weak;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};

/// Opens (creating) the database at `path` in WAL mode with `synchronous = FULL`, so a
/// committed transaction survives a crash of the process or of the machine.
///
/// # Errors
/// When the file cannot be opened or a pragma fails.
pub fn open_durable(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open(path)?;
    connection.busy_timeout(Duration::from_secs(10))?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    // Statement journals and temporary tables in memory: spilled to temporary files,
    // they were writes to the file system that nothing reads after the transaction.
    connection.pragma_update(None, "temp_store", "MEMORY")?;
    // The writers run a score of distinct statements, beyond rusqlite's default 16.
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(connection)
}

/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 64;

/// How often [`spawn_checkpointer`] checkpoints: often enough that the writer's own
/// checkpoint ([`group_commit`], every 500 ms) finds little left to copy, seldom enough
/// that a page written again and again (a queue's tail, an index's upper pages) is
/// copied once for many commits, and that the database file is synced a few times a
/// second rather than ten (3 % more picks/s than at 100 ms; see BENCHMARKS.md).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(300);

/// Opens the write connection of the database at `path` ([`open_durable`]) without
/// automatic checkpoints, and starts [`spawn_checkpointer`] for it, which runs as long
/// as `alive` can be upgraded.
///
/// # Errors
/// When the file cannot be opened or a pragma fails.
pub fn open_writer<T: ?Sized + Send + Sync + 'static>(
    path: &Path,
    alive: Weak<T>,
) -> rusqlite::Result<Connection> {
    let connection = open_durable(path)?;
    connection.pragma_update(None, "wal_autocheckpoint", 0)?;
    spawn_checkpointer(path.to_owned(), alive);
    Ok(connection)
}

/// Checkpoints the WAL of the database at `path` (passively: it neither waits for nor
/// blocks readers and writers) every [`CHECKPOINT_EVERY`] on a thread of its own, as long as `alive`
/// can be upgraded. A checkpoint copies the WAL into the database file and fsyncs it;
/// left to SQLite it runs inside a commit every 1,000 pages, and that commit (and every
/// caller waiting for it) waits tens to hundreds of milliseconds. Under a steady load it
/// never copies the last frames, so the WAL never starts over: the writer finishes the
/// job between two transactions ([`group_commit`]).
fn spawn_checkpointer<T: ?Sized + Send + Sync + 'static>(path: PathBuf, alive: Weak<T>) {
    let name = format!("transload-checkpoint-{}", path.display());
    let started = std::thread::Builder::new().name(name).spawn(move || {
        let connection = match open_durable(&path) {
            Ok(connection) => connection,
            Err(error) => {
                tracing::error!(path = %path.display(), %error, "cannot open the checkpointer; the WAL will grow");
                return;
            }
        };
        while alive.strong_count() > 0 {
            std::thread::sleep(CHECKPOINT_EVERY);
            if let Err(error) =
                connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            {
                tracing::warn!(path = %path.display(), %error, "checkpoint failed; trying again");
            }
        }
    });
    if let Err(error) = started {
        tracing::error!(%error, "cannot start the checkpointer; the WAL will grow");
    }
}

/// How a transaction on a connection opened by [`open_durable`] ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous = FULL`: fsync'd at commit, it survives a crash of the machine.
    Full,
    /// `synchronous = NORMAL` (WAL): atomic and kept across a crash of the process, but
    /// the last ones may be lost with the machine. For writes whose loss only makes a
    /// message come again (a lease, an acknowledgement, a published mark), which the
    /// processed markers absorb.
    Normal,
}

/// Sets `sync` for the next transactions on `connection` when `current` differs, and
/// records it there.
///
/// # Errors
/// When the pragma fails.
pub fn set_sync(
    connection: &Connection,
    current: &mut Durability,
    sync: Durability,
) -> rusqlite::Result<()> {
    if *current != sync {
        let value = match sync {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        connection.pragma_update(None, "synchronous", value)?;
        *current = sync;
    }
    Ok(())
}

/// Whether `error` is SQLite saying another connection holds the lock (worth a retry).
#[must_use]
pub fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Applies `migrations` in order, tracking progress in `PRAGMA user_version`.
///
/// # Errors
/// When a migration fails; the failed one is rolled back.
pub fn migrate(connection: &mut Connection, migrations: &[&str]) -> rusqlite::Result<()> {
    let applied: usize = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    for (index, sql) in migrations.iter().enumerate().skip(applied) {
        let transaction = connection.transaction()?;
        transaction.execute_batch(sql)?;
        transaction.pragma_update(None, "user_version", index + 1)?;
        transaction.commit()?;
    }
    Ok(())
}

/// Applies `migrations` of `component` in order, tracking progress in the table
/// `schema_versions`: for a component that shares a file with another, which tracks its
/// own in `PRAGMA user_version` ([`migrate`]).
///
/// # Errors
/// When a migration fails; the failed one is rolled back.
pub fn migrate_component(
    connection: &mut Connection,
    component: &str,
    migrations: &[&str],
) -> rusqlite::Result<()> {
    connection.execute_batch(SCHEMA_VERSIONS)?;
    let applied: usize = connection
        .query_row(
            "SELECT version FROM schema_versions WHERE component = ?1",
            [component],
            |row| row.get(0),
        )
        .optional()?
        .unwrap_or(0);
    for (index, sql) in migrations.iter().enumerate().skip(applied) {
        let transaction = connection.transaction()?;
        transaction.execute_batch(sql)?;
        record_version(&transaction, component, index + 1)?;
        transaction.commit()?;
    }
    Ok(())
}

/// The table where [`migrate_component`] tracks each component's version.
const SCHEMA_VERSIONS: &str = "CREATE TABLE IF NOT EXISTS schema_versions (
     component TEXT PRIMARY KEY,
     version   INTEGER NOT NULL
 )";

/// Records in `schema_versions` that `component` is at `version` (for a migration, or a
/// schema brought there by other means), in the caller's transaction.
///
/// # Errors
/// When the table cannot be created or written.
pub fn record_version(
    connection: &Connection,
    component: &str,
    version: usize,
) -> rusqlite::Result<()> {
    connection.execute_batch(SCHEMA_VERSIONS)?;
    connection.execute(
        "INSERT INTO schema_versions (component, version) VALUES (?1, ?2)
         ON CONFLICT (component) DO UPDATE SET version = excluded.version",
        rusqlite::params![component, version],
    )?;
    Ok(())
}

/// Whether the database of `connection` has a table `name`.
///
/// # Errors
/// When the schema cannot be read.
pub fn has_table(connection: &Connection, name: &str) -> rusqlite::Result<bool> {
    connection
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [name],
            |_| Ok(()),
        )
        .optional()
        .map(|found| found.is_some())
}
