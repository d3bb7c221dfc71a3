//! Opens the bus and the store the configuration names.

use std::time::Duration;

use thiserror::Error;
use transload_core::bus::BusError;
use transload_core::store::StoreError;

use crate::bus::AnyBus;
use crate::bus::amqp::{AmqpBus, AmqpConfig, ClientIdentity};
use crate::bus::embedded::{EmbeddedBus, EmbeddedBusOptions};
use crate::config::{BusKind, Config, StoreKind};
use crate::store::AnyStore;
use crate::store::postgres::PostgresStore;
use crate::store::sqlite::SqliteStore;

/// The embedded bus's file inside the data directory, when the store is not SQLite
/// (with the SQLite store, the bus lives in the store's file).
pub const BUS_FILE: &str = "bus.sqlite3";
/// The SQLite store's file inside the data directory.
pub const STORE_FILE: &str = "store.sqlite3";
/// The file a hub on the embedded bus holds locked while it runs: one hub per data
/// directory.
pub const LOCK_FILE: &str = "hub.lock";

/// Why the bus or the store could not be opened.
///
/// The message says what failed; why is its [`std::error::Error::source`] (printed as a
/// chain by the binary), not repeated in the message.
#[derive(Debug, Error)]
pub enum OpenError {
    /// The data directory cannot be created.
    #[error("cannot create data directory {path}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The bus failed to open.
    #[error("cannot open the {kind} bus")]
    Bus {
        /// `embedded` or `amqp`.
        kind: &'static str,
        /// Why.
        source: BusError,
    },
    /// The store failed to open.
    #[error("cannot open the {kind} store")]
    Store {
        /// `sqlite` or `postgres`.
        kind: &'static str,
        /// Why.
        source: StoreError,
    },
    /// The configuration names a backend without its settings.
    #[error("the configuration names {0} without its settings")]
    Incomplete(&'static str),
    /// A TLS file of `[amqp]` (`ca_file`, `client_cert_file`, `client_key_file`,
    /// `client_identity_file`) cannot be read, or does not hold what it should.
    #[error("cannot use [amqp] {setting} {path}: {reason}")]
    TlsFile {
        /// The setting that names it.
        setting: &'static str,
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Opens the configured bus and store. The embedded bus with the SQLite store share one
/// file and one writer: a stage's commit enqueues what it publishes, and no outbox relay
/// runs ([`AnyStore::needs_relay`]).
///
/// # Errors
/// When either cannot be reached or opened.
pub async fn open_backends(config: &Config) -> Result<(AnyBus, AnyStore), OpenError> {
    if let (BusKind::Embedded, StoreKind::Sqlite) = (config.bus, config.store) {
        let (store, bus) = open_store_with_bus(config)?;
        let bus = claim(bus, config).await?;
        return Ok((AnyBus::Embedded(bus), AnyStore::Sqlite(store)));
    }
    let bus = open_bus(config).await?;
    let store = open_store(config).await?;
    Ok((bus, store))
}

/// `bus`, claimed for this process ([`EmbeddedBus::claim`]) with the data directory's
/// [`LOCK_FILE`].
async fn claim(bus: EmbeddedBus, config: &Config) -> Result<EmbeddedBus, OpenError> {
    bus.claim(&config.data_dir.join(LOCK_FILE))
        .await
        .map_err(|source| OpenError::Bus {
            kind: "embedded",
            source,
        })
}

/// The SQLite store with the embedded bus in its file; the messages of a bus file of an
/// earlier version, if the data directory has one, move into it.
fn open_store_with_bus(config: &Config) -> Result<(SqliteStore, EmbeddedBus), OpenError> {
    create_data_dir(config)?;
    let path = config.data_dir.join(STORE_FILE);
    let (store, bus) = SqliteStore::open_with_embedded_bus(&path, EmbeddedBusOptions::default())
        .map_err(|source| OpenError::Store {
            kind: "sqlite",
            source,
        })?;
    let legacy = config.data_dir.join(BUS_FILE);
    if legacy.exists() {
        let moved =
            crate::bus::embedded::import_file(&path, &legacy).map_err(|source| OpenError::Bus {
                kind: "embedded",
                source,
            })?;
        tracing::info!(moved, from = %legacy.display(), "the embedded bus moved into the store's file");
    }
    Ok((store, bus))
}

/// Opens the configured bus.
///
/// # Errors
/// When it cannot be reached or opened.
async fn open_bus(config: &Config) -> Result<AnyBus, OpenError> {
    match config.bus {
        BusKind::Embedded => {
            create_data_dir(config)?;
            let bus = EmbeddedBus::open(
                &config.data_dir.join(BUS_FILE),
                EmbeddedBusOptions::default(),
            )
            .map_err(|source| OpenError::Bus {
                kind: "embedded",
                source,
            })?;
            Ok(AnyBus::Embedded(claim(bus, config).await?))
        }
        BusKind::Amqp => {
            let section = config
                .amqp
                .as_ref()
                .ok_or(OpenError::Incomplete("bus = \"amqp\""))?;
            let ca_certificates = section
                .ca_file
                .as_deref()
                .map(|path| read_pem(path, "ca_file", "CERTIFICATE"))
                .transpose()?;
            let client_identity = match (
                &section.client_cert_file,
                &section.client_key_file,
                &section.client_identity_file,
            ) {
                (Some(certificate), Some(key), _) => Some(ClientIdentity::Pem {
                    certificate_chain: read_pem(certificate, "client_cert_file", "CERTIFICATE")?,
                    private_key: read_pem(key, "client_key_file", "PRIVATE KEY")?,
                }),
                (_, _, Some(archive)) => Some(read_pkcs12(
                    archive,
                    section.client_identity_password_env.as_deref(),
                )?),
                _ => None,
            };
            let amqp = AmqpConfig {
                uri: section.url.clone(),
                ca_certificates,
                client_identity,
                prefix: section.prefix.clone(),
                startup_timeout: Duration::from_secs(section.startup_timeout_secs),
                ..AmqpConfig::default()
            };
            AmqpBus::connect(amqp)
                .await
                .map(AnyBus::Amqp)
                .map_err(|source| OpenError::Bus {
                    kind: "amqp",
                    source,
                })
        }
    }
}

/// Opens the configured store.
///
/// # Errors
/// When it cannot be reached or opened.
pub async fn open_store(config: &Config) -> Result<AnyStore, OpenError> {
    match config.store {
        // What it publishes goes to the embedded bus in its file, as the hub's does.
        StoreKind::Sqlite if config.bus == BusKind::Embedded => {
            open_store_with_bus(config).map(|(store, _)| AnyStore::Sqlite(store))
        }
        StoreKind::Sqlite => {
            create_data_dir(config)?;
            SqliteStore::open(&config.data_dir.join(STORE_FILE))
                .map(AnyStore::Sqlite)
                .map_err(|source| OpenError::Store {
                    kind: "sqlite",
                    source,
                })
        }
        StoreKind::Postgres => {
            let section = config
                .postgres
                .as_ref()
                .ok_or(OpenError::Incomplete("store = \"postgres\""))?;
            let connect = PostgresStore::connect(&section.url);
            tokio::time::timeout(Duration::from_secs(30), connect)
                .await
                .map_err(|_| OpenError::Store {
                    kind: "postgres",
                    source: StoreError::Unavailable("no answer within 30 s".to_owned()),
                })?
                .map(AnyStore::Postgres)
                .map_err(|source| OpenError::Store {
                    kind: "postgres",
                    source,
                })
        }
    }
}

fn create_data_dir(config: &Config) -> Result<(), OpenError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| OpenError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    })
}

/// The PEM text of a TLS file named by `[amqp] {setting}`, with at least one `kind`
/// block in it (rustls skips what it cannot parse: a CA file without any certificate
/// would trust nothing more, silently).
fn read_pem(
    path: &std::path::Path,
    setting: &'static str,
    kind: &str,
) -> Result<String, OpenError> {
    let refused = |reason: String| OpenError::TlsFile {
        setting,
        path: path.display().to_string(),
        reason,
    };
    let pem = std::fs::read_to_string(path).map_err(|error| refused(error.to_string()))?;
    if !pem.contains(&format!("-----BEGIN {kind}-----")) {
        return Err(refused(format!("no PEM {} in it", kind.to_lowercase())));
    }
    Ok(pem)
}

/// The PKCS#12 archive at `path`, with its password from the environment variable
/// `password_env` (none: an empty password).
fn read_pkcs12(
    path: &std::path::Path,
    password_env: Option<&str>,
) -> Result<ClientIdentity, OpenError> {
    let password = match password_env {
        None => String::new(),
        Some(name) => std::env::var(name).map_err(|_| OpenError::TlsFile {
            setting: "client_identity_file",
            path: path.display().to_string(),
            reason: format!(
                "its password is to be in the environment variable {name} (client_identity_password_env), which is not set"
            ),
        })?,
    };
    open_pkcs12(path, password)
}

/// The PKCS#12 archive at `path`, once it opens with `password` and holds a private key
/// with its certificate.
fn open_pkcs12(path: &std::path::Path, password: String) -> Result<ClientIdentity, OpenError> {
    let refused = |reason: String| OpenError::TlsFile {
        setting: "client_identity_file",
        path: path.display().to_string(),
        reason,
    };
    let der = std::fs::read(path).map_err(|error| refused(error.to_string()))?;
    let archive = p12_keystore::KeyStore::from_pkcs12(&der, &password).map_err(|error| {
        refused(format!(
            "not a PKCS#12 archive this password opens ({error}); a wrong password shows as a MAC mismatch"
        ))
    })?;
    if archive.private_key_chain().is_none() {
        return Err(refused(
            "the archive holds no private key with its certificate".to_owned(),
        ));
    }
    Ok(ClientIdentity::Pkcs12 { der, password })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_pkcs12_identity_must_open_with_its_password() {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
        let archive = fixtures.join("client.p12");
        let identity = open_pkcs12(&archive, "transload-test".to_owned()).unwrap();
        assert!(
            matches!(&identity, ClientIdentity::Pkcs12 { password, .. } if password == "transload-test")
        );
        let wrong = open_pkcs12(&archive, "not-the-password".to_owned())
            .unwrap_err()
            .to_string();
        assert!(
            wrong.contains("client_identity_file")
                && wrong.contains("client.p12")
                && wrong.contains("password"),
            "{wrong}"
        );
        let unset = read_pkcs12(&archive, Some("TRANSLOAD_TEST_P12_NEVER_SET"))
            .unwrap_err()
            .to_string();
        assert!(
            unset.contains("TRANSLOAD_TEST_P12_NEVER_SET") && unset.contains("not set"),
            "{unset}"
        );
        let pem = open_pkcs12(&fixtures.join("client.pem"), String::new())
            .unwrap_err()
            .to_string();
        assert!(pem.contains("not a PKCS#12 archive"), "{pem}");
    }

    #[test]
    fn a_tls_file_must_hold_what_its_setting_names() {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
        let ca = read_pem(&fixtures.join("ca.pem"), "ca_file", "CERTIFICATE").unwrap();
        assert!(ca.contains("BEGIN CERTIFICATE"));
        let key = read_pem(
            &fixtures.join("client.key"),
            "client_key_file",
            "PRIVATE KEY",
        );
        assert!(key.unwrap().contains("BEGIN PRIVATE KEY"));
        let swapped = read_pem(
            &fixtures.join("client.key"),
            "client_cert_file",
            "CERTIFICATE",
        )
        .unwrap_err()
        .to_string();
        assert!(
            swapped.contains("client_cert_file") && swapped.contains("no PEM certificate"),
            "{swapped}"
        );
        let missing = read_pem(&fixtures.join("missing.pem"), "ca_file", "CERTIFICATE")
            .unwrap_err()
            .to_string();
        assert!(missing.contains("missing.pem"), "{missing}");
    }
}
