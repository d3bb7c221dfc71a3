//! The hub's configuration file (`transload.toml`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

/// Which bus carries messages between the stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BusKind {
    /// The durable queue in SQLite, in process (the default).
    Embedded,
    /// RabbitMQ.
    Amqp,
}

/// Which database keeps state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    /// SQLite in the data directory (the default).
    Sqlite,
    /// PostgreSQL, for several hub processes.
    Postgres,
}

/// The `[http]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address the HTTP API listens on.
    pub listen: SocketAddr,
}

/// The `[amqp]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmqpSection {
    /// Broker URL, e.g. `amqp://guest:guest@127.0.0.1:5672/%2f`.
    pub url: String,
    /// Prefix of the exchange and queue names (`transload.inbound`…).
    #[serde(default = "default_prefix")]
    pub prefix: String,
}

fn default_prefix() -> String {
    "transload".to_owned()
}

/// The `[postgres]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresSection {
    /// Connection URL, e.g. `postgres://postgres@127.0.0.1:5432/transload`.
    pub url: String,
}

/// The whole file, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default = "default_bus")]
    bus: BusKind,
    #[serde(default = "default_store")]
    store: StoreKind,
    data_dir: PathBuf,
    http: HttpConfig,
    amqp: Option<AmqpSection>,
    postgres: Option<PostgresSection>,
}

fn default_bus() -> BusKind {
    BusKind::Embedded
}

fn default_store() -> StoreKind {
    StoreKind::Sqlite
}

/// The hub's configuration, checked, with paths resolved against the file's folder.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// The bus.
    pub bus: BusKind,
    /// The store.
    pub store: StoreKind,
    /// Where the embedded bus and store keep their files.
    pub data_dir: PathBuf,
    /// The HTTP API.
    pub http: HttpConfig,
    /// RabbitMQ, when `bus = "amqp"`.
    pub amqp: Option<AmqpSection>,
    /// PostgreSQL, when `store = "postgres"`.
    pub postgres: Option<PostgresSection>,
}

impl Config {
    /// Reads and checks the configuration at `path`.
    ///
    /// # Errors
    /// When the file cannot be read, is not valid TOML of this shape (the message gives
    /// the line and column), or names a bus or store without its connection settings.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read configuration {}", path.display()))?;
        Self::parse(path, &text)
    }

    fn parse(path: &Path, text: &str) -> anyhow::Result<Config> {
        let file: ConfigFile = toml::from_str(text).map_err(|error| {
            let position = error
                .span()
                .map(|span| line_and_column(text, span.start))
                .map(|(line, column)| format!(":{line}:{column}"))
                .unwrap_or_default();
            anyhow::anyhow!("{}{position}: {}", path.display(), error.message())
        })?;
        if file.bus == BusKind::Amqp && file.amqp.is_none() {
            bail!(
                "{}: bus = \"amqp\" needs an [amqp] table with url",
                path.display()
            );
        }
        if file.store == StoreKind::Postgres && file.postgres.is_none() {
            bail!(
                "{}: store = \"postgres\" needs a [postgres] table with url",
                path.display()
            );
        }
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        Ok(Config {
            path: path.to_path_buf(),
            bus: file.bus,
            store: file.store,
            data_dir: base.join(file.data_dir),
            http: file.http,
            amqp: file.amqp,
            postgres: file.postgres,
        })
    }
}

/// 1-based line and column of byte `offset` in `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |tail| tail.chars().count())
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "data_dir = \"data\"\n[http]\nlisten = \"127.0.0.1:8080\"\n";

    #[test]
    fn defaults_to_the_embedded_bus_and_sqlite() {
        let config = Config::parse(Path::new("/etc/transload/transload.toml"), GOOD).unwrap();
        assert_eq!(config.bus, BusKind::Embedded);
        assert_eq!(config.store, StoreKind::Sqlite);
        assert_eq!(config.data_dir, Path::new("/etc/transload/data"));
    }

    #[test]
    fn errors_name_the_file_line_and_column() {
        let text = "data_dir = \"data\"\n[http]\nlisten = \"not an address\"\n";
        let error = Config::parse(Path::new("hub.toml"), text)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("hub.toml:3:10: "), "{error}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let text = format!("{GOOD}colour = \"blue\"\n");
        let error = Config::parse(Path::new("hub.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(error.contains("colour"), "{error}");
    }

    #[test]
    fn a_distributed_setup_needs_its_urls() {
        let text = format!("bus = \"amqp\"\n{GOOD}");
        let error = Config::parse(Path::new("hub.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(error.contains("[amqp]"), "{error}");
        let text = format!("bus = \"amqp\"\n{GOOD}[amqp]\nurl = \"amqp://127.0.0.1\"\n");
        assert!(Config::parse(Path::new("hub.toml"), &text).is_ok());
    }
}
