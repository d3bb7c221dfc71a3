//! Harnesses of the store conformance suite: a fresh, isolated database per test.

use std::path::PathBuf;

use tokio_postgres::NoTls;
use transload::store::postgres::PostgresStore;
use transload::store::sqlite::SqliteStore;
use transload_core::store::Store;
use uuid::Uuid;

/// A fresh, isolated store for one test.
pub(crate) trait Harness: Sized + Send + Sync + 'static {
    /// The implementation under test.
    type Store: Store;
    /// A new, empty database no other test uses.
    async fn new() -> Self;
    /// A handle on it.
    fn store(&self) -> Self::Store;
    /// A second, independent handle on the same database (a new pool or a reopened
    /// file), as another hub process or a restarted one has.
    async fn reopen(&self) -> Self::Store;
    /// Rows in `table`, counted with plain SQL.
    async fn rows(&self, table: &str) -> i64;
    /// Removes the database.
    async fn destroy(self);
}

/// The PostgreSQL server the suite uses, as a libpq key=value string naming no database.
fn postgres_server() -> String {
    std::env::var("TRANSLOAD_TEST_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres".to_owned())
}

/// A connection to the server's `postgres` database, to create and drop test databases.
async fn postgres_admin() -> tokio_postgres::Client {
    let server = postgres_server();
    let url = format!("{server} dbname=postgres connect_timeout=10");
    let (client, connection) = tokio_postgres::connect(&url, NoTls)
        .await
        .unwrap_or_else(|error| {
            let cause = std::error::Error::source(&error)
                .map(|cause| format!(" ({cause})"))
                .unwrap_or_default();
            panic!(
                "the store conformance suite needs a PostgreSQL server at `{server}` \
                 (trust auth for user postgres), and it cannot be reached: {error}{cause}. \
                 Start it (CI does, in .ci/run) or point TRANSLOAD_TEST_POSTGRES at one."
            )
        });
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            eprintln!("admin connection to PostgreSQL ended: {error}");
        }
    });
    client
}

/// A database of its own on the real server, dropped at the end.
pub(crate) struct PostgresHarness {
    database: String,
    url: String,
    store: PostgresStore,
}

impl PostgresHarness {
    /// The connection string of the test database.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// A plain connection to the test database, to look at or tamper with its tables.
    pub(crate) async fn sql(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url, NoTls).await.unwrap();
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                eprintln!("connection to the test database ended: {error}");
            }
        });
        client
    }
}

impl Harness for PostgresHarness {
    type Store = PostgresStore;

    async fn new() -> Self {
        let database = format!("transload_test_{}", Uuid::now_v7().simple());
        postgres_admin()
            .await
            .batch_execute(&format!("CREATE DATABASE {database}"))
            .await
            .unwrap_or_else(|error| panic!("creating database {database}: {error}"));
        let url = format!("{} dbname={database}", postgres_server());
        let store = PostgresStore::connect(&url)
            .await
            .unwrap_or_else(|error| panic!("connecting the store to {database}: {error}"));
        PostgresHarness {
            database,
            url,
            store,
        }
    }

    fn store(&self) -> PostgresStore {
        self.store.clone()
    }

    async fn reopen(&self) -> PostgresStore {
        PostgresStore::connect(&self.url).await.unwrap()
    }

    async fn rows(&self, table: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM {table}");
        self.sql().await.query_one(&sql, &[]).await.unwrap().get(0)
    }

    async fn destroy(self) {
        let PostgresHarness {
            database, store, ..
        } = self;
        drop(store);
        postgres_admin()
            .await
            .batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            .await
            .unwrap_or_else(|error| panic!("dropping database {database}: {error}"));
    }
}

/// A SQLite file of its own in a fresh directory, removed at the end.
pub(crate) struct SqliteHarness {
    dir: PathBuf,
    store: SqliteStore,
}

impl SqliteHarness {
    fn path(dir: &std::path::Path) -> PathBuf {
        dir.join("store.sqlite3")
    }
}

impl Harness for SqliteHarness {
    type Store = SqliteStore;

    async fn new() -> Self {
        let dir =
            std::env::temp_dir().join(format!("transload-store-conformance-{}", Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = SqliteStore::open(&Self::path(&dir)).unwrap();
        SqliteHarness { dir, store }
    }

    fn store(&self) -> SqliteStore {
        self.store.clone()
    }

    async fn reopen(&self) -> SqliteStore {
        SqliteStore::open(&Self::path(&self.dir)).unwrap()
    }

    async fn rows(&self, table: &str) -> i64 {
        let db = rusqlite::Connection::open(Self::path(&self.dir)).unwrap();
        db.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
            row.get(0)
        })
        .unwrap()
    }

    async fn destroy(self) {
        let SqliteHarness { dir, store } = self;
        drop(store);
        // Best effort: a leftover temporary directory fails nothing.
        let _ = std::fs::remove_dir_all(dir);
    }
}
