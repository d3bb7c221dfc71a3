//! Outgoing control numbers: one sequence per partner for ISA13, GS06 and ST02.
//!
//! [`MemoryControlNumbers`] keeps them in memory; `SqliteControlNumbers` (feature `sqlite`)
//! persists them, so numbers never repeat across restarts.

use std::collections::HashMap;

/// Which control number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlKind {
    /// ISA13 / IEA02 (9 digits).
    Interchange,
    /// GS06 / GE02 (1 to 9 digits).
    Group,
    /// ST02 / SE02 (4 to 9 characters).
    TransactionSet,
}

impl ControlKind {
    /// Its name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Interchange => "isa13",
            Self::Group => "gs06",
            Self::TransactionSet => "st02",
        }
    }

    /// The largest value before the sequence wraps to 1.
    pub fn max(self) -> u64 {
        999_999_999
    }

    /// Formats `n` as sent: ISA13 with 9 digits, ST02 with at least 4, GS06 as is.
    pub fn format(self, n: u64) -> String {
        match self {
            Self::Interchange => format!("{n:09}"),
            Self::Group => n.to_string(),
            Self::TransactionSet => format!("{n:04}"),
        }
    }
}

/// Why a control number could not be allocated.
#[derive(Debug, thiserror::Error)]
pub enum ControlNumberError {
    /// The store failed.
    #[cfg(feature = "sqlite")]
    #[error("control number store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The store failed for another reason.
    #[error("control number store: {0}")]
    Other(String),
}

/// Hands out the next outgoing control number of each kind, per partner.
pub trait ControlNumberStore {
    /// The next number of `kind` for `partner` (1 after the maximum).
    fn next(&mut self, partner: &str, kind: ControlKind) -> Result<u64, ControlNumberError>;
}

/// A [`ControlNumberStore`] in memory.
#[derive(Debug, Default, Clone)]
pub struct MemoryControlNumbers {
    last: HashMap<(String, ControlKind), u64>,
}

impl ControlNumberStore for MemoryControlNumbers {
    fn next(&mut self, partner: &str, kind: ControlKind) -> Result<u64, ControlNumberError> {
        let last = self.last.entry((partner.to_owned(), kind)).or_insert(0);
        *last = if *last >= kind.max() { 1 } else { *last + 1 };
        Ok(*last)
    }
}

#[cfg(feature = "sqlite")]
pub use sqlite::SqliteControlNumbers;

#[cfg(feature = "sqlite")]
mod sqlite {
    use std::path::Path;

    use rusqlite::{Connection, params};

    use super::{ControlKind, ControlNumberError, ControlNumberStore};

    /// A [`ControlNumberStore`] persisted in a SQLite database; each allocation is one
    /// atomic upsert, so concurrent processes never get the same number.
    #[derive(Debug)]
    pub struct SqliteControlNumbers {
        conn: Connection,
    }

    impl SqliteControlNumbers {
        /// Opens (and creates if needed) the database at `path`.
        pub fn open(path: impl AsRef<Path>) -> Result<Self, ControlNumberError> {
            Self::init(Connection::open(path)?)
        }

        /// An in-memory database (for tests).
        pub fn in_memory() -> Result<Self, ControlNumberError> {
            Self::init(Connection::open_in_memory()?)
        }

        fn init(conn: Connection) -> Result<Self, ControlNumberError> {
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS x12_control_numbers (
                    partner TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    last INTEGER NOT NULL,
                    PRIMARY KEY (partner, kind)
                )",
            )?;
            Ok(Self { conn })
        }
    }

    impl ControlNumberStore for SqliteControlNumbers {
        fn next(&mut self, partner: &str, kind: ControlKind) -> Result<u64, ControlNumberError> {
            let max = i64::try_from(kind.max()).unwrap_or(i64::MAX);
            let n: i64 = self.conn.query_row(
                "INSERT INTO x12_control_numbers (partner, kind, last) VALUES (?1, ?2, 1)
                 ON CONFLICT (partner, kind) DO UPDATE
                 SET last = CASE WHEN last >= ?3 THEN 1 ELSE last + 1 END
                 RETURNING last",
                params![partner, kind.as_str(), max],
                |row| row.get(0),
            )?;
            u64::try_from(n)
                .map_err(|_| ControlNumberError::Other(format!("negative control number {n}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sequences_are_per_partner_and_kind_and_wrap() {
        let mut s = MemoryControlNumbers::default();
        assert_eq!(s.next("A", ControlKind::Interchange).unwrap(), 1);
        assert_eq!(s.next("A", ControlKind::Interchange).unwrap(), 2);
        assert_eq!(s.next("A", ControlKind::Group).unwrap(), 1);
        assert_eq!(s.next("B", ControlKind::Interchange).unwrap(), 1);
        s.last
            .insert(("A".to_owned(), ControlKind::Group), 999_999_999);
        assert_eq!(s.next("A", ControlKind::Group).unwrap(), 1);
        assert_eq!(ControlKind::Interchange.format(42), "000000042");
        assert_eq!(ControlKind::TransactionSet.format(7), "0007");
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_sequences_survive_reopening() {
        let path = std::env::temp_dir().join(format!("x12-cn-{}.sqlite", std::process::id()));
        let _ = std::fs::remove_file(&path);
        {
            let mut s = SqliteControlNumbers::open(&path).unwrap();
            assert_eq!(s.next("A", ControlKind::Interchange).unwrap(), 1);
            assert_eq!(s.next("A", ControlKind::Interchange).unwrap(), 2);
            assert_eq!(s.next("A", ControlKind::TransactionSet).unwrap(), 1);
        }
        let mut s = SqliteControlNumbers::open(&path).unwrap();
        assert_eq!(s.next("A", ControlKind::Interchange).unwrap(), 3);
        assert_eq!(s.next("B", ControlKind::Interchange).unwrap(), 1);
        let _ = std::fs::remove_file(&path);
    }
}
