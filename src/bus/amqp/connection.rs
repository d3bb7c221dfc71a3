//! Opening connections: heartbeat from the configuration, a timeout on the handshake,
//! and reconnection attempts spaced by exponential backoff with jitter (`backon`). An
//! `amqps://` URI connects over TLS (rustls): the broker's certificate must chain to a
//! certificate authority of the system's or of [`AmqpConfig::ca_certificates`] and name
//! the URI's host; a broker that asks for a client certificate gets
//! [`AmqpConfig::client_identity`].
//!
//! lapin's own automatic recovery is not enabled: after a broker restart it can stall
//! (lapin issue 450), so the bus drops a connection at the first doubt and opens a new
//! one here, and every await on the broker has a timeout.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::types::LongString;
use lapin::uri::AMQPUri;
use lapin::{Connection, ConnectionProperties};
use tracing::{debug, warn};
use transload_core::bus::BusError;

use super::config::{AmqpConfig, ClientIdentity};
use super::error::with_timeout;

/// Opens one connection, bounded by `connect_timeout`.
pub(crate) async fn open(config: &AmqpConfig, role: &str) -> Result<Connection, BusError> {
    let mut uri: AMQPUri = config
        .uri
        .parse()
        .map_err(|error: String| BusError::Other(format!("invalid AMQP URI: {error}")))?;
    uri.query.heartbeat = Some(config.heartbeat_secs);
    uri.query.connection_timeout =
        Some(u64::try_from(config.connect_timeout.as_millis()).unwrap_or(u64::MAX));
    let properties = ConnectionProperties::default().with_connection_name(LongString::from(
        format!("transload-{}-{role}", config.prefix),
    ));
    let runtime = lapin::runtime::default_runtime()
        .map_err(|error| BusError::Other(format!("no runtime for the AMQP connection: {error}")))?;
    let tls = OwnedTLSConfig {
        identity: config
            .client_identity
            .as_ref()
            .map(|identity| match identity {
                ClientIdentity::Pem {
                    certificate_chain,
                    private_key,
                } => OwnedIdentity::PKCS8 {
                    pem: certificate_chain.as_bytes().to_vec(),
                    key: private_key.as_bytes().to_vec(),
                },
                ClientIdentity::Pkcs12 { der, password } => OwnedIdentity::PKCS12 {
                    der: der.clone(),
                    password: password.clone(),
                },
            }),
        cert_chain: config.ca_certificates.clone(),
    };
    let connection = with_timeout(
        config.connect_timeout,
        "connection.open",
        Connection::connect_uri_with_config(uri, properties, tls, runtime),
    )
    .await?;
    debug!(role, "amqp connection opened");
    Ok(connection)
}

/// Opens a connection, trying up to `reconnect_attempts` more times after a transient
/// failure, with exponential backoff and jitter capped at `reconnect_max_delay`.
pub(crate) async fn open_with_retry(
    config: &AmqpConfig,
    role: &str,
) -> Result<Connection, BusError> {
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(config.reconnect_max_delay)
        .with_max_times(config.reconnect_attempts)
        .with_jitter();
    (|| open(config, role))
        .retry(backoff)
        .when(BusError::is_transient)
        .notify(|error, pause| {
            warn!(role, %error, ?pause, "amqp connection failed; retrying");
        })
        .await
}

/// Whether the connection and the channel both look usable (no I/O error seen, not
/// closing). A `true` here is no proof of liveness; the callers' timeouts and the
/// consumer's watchdog probe are.
pub(crate) fn looks_alive(connection: &Connection, channel: &lapin::Channel) -> bool {
    connection.status().connected() && channel.status().connected()
}
