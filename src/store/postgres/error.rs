//! Mapping of PostgreSQL and pool errors to [`StoreError`].

use std::error::Error as _;

use deadpool_postgres::PoolError;
use transload_core::store::StoreError;

/// SQLSTATE classes and codes after which trying again may succeed: connection
/// exceptions (08), insufficient resources (53), operator intervention such as a server
/// shutting down (57P), a statement cancelled by `statement_timeout` (57014), a lock not
/// obtained in time (55P03), serialization failures and deadlocks (40001, 40P01).
fn is_transient_code(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57P")
        || matches!(code, "57014" | "55P03" | "40001" | "40P01")
}

/// Whether `error` is about reaching the server rather than about the statement.
fn is_connection_error(error: &tokio_postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    let mut source = error.source();
    while let Some(cause) = source {
        if cause.is::<std::io::Error>() {
            return true;
        }
        source = cause.source();
    }
    // The timeout kind has no source; its message is the only thing that tells it.
    error.to_string().starts_with("timeout")
}

/// A PostgreSQL error as a [`StoreError`]: `Unavailable` when it is transient,
/// `Other` (with the server's message, detail and constraint) otherwise.
pub(super) fn db(error: &tokio_postgres::Error) -> StoreError {
    if let Some(db) = error.as_db_error() {
        let code = db.code().code();
        let mut text = format!("{} ({code})", db.message());
        if let Some(detail) = db.detail() {
            text.push_str(": ");
            text.push_str(detail);
        }
        if let Some(constraint) = db.constraint() {
            text.push_str(" [constraint ");
            text.push_str(constraint);
            text.push(']');
        }
        return if is_transient_code(code) {
            StoreError::Unavailable(text)
        } else {
            StoreError::Other(text)
        };
    }
    let text = match error.source() {
        Some(cause) => format!("{error}: {cause}"),
        None => error.to_string(),
    };
    if is_connection_error(error) {
        StoreError::Unavailable(text)
    } else {
        StoreError::Other(text)
    }
}

/// A pool error as a [`StoreError`].
pub(super) fn pool(error: PoolError) -> StoreError {
    match error {
        PoolError::Backend(error) => db(&error),
        PoolError::Timeout(kind) => {
            StoreError::Unavailable(format!("timed out waiting for a connection ({kind:?})"))
        }
        PoolError::Closed => StoreError::Unavailable("the connection pool is closed".to_owned()),
        PoolError::NoRuntimeSpecified => {
            StoreError::Other("the connection pool has no runtime for timeouts".to_owned())
        }
        PoolError::PostCreateHook(error) => StoreError::Other(error.to_string()),
    }
}

/// Stored data that does not decode: `what` names the column or value.
pub(super) fn corrupt(what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {error}"))
}
