//! Configuration of the RabbitMQ bus.

use std::time::Duration;

use thiserror::Error;

/// The longest prefix accepted: queue and exchange names are AMQP short strings (255
/// bytes) and the longest name built from the prefix adds about 30 bytes.
const MAX_PREFIX_LEN: usize = 200;

/// How to reach RabbitMQ and how the bus uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmqpConfig {
    /// Broker URI, e.g. `amqp://guest:guest@127.0.0.1:5672/%2f`; `amqps://` for TLS.
    pub uri: String,
    /// Over TLS: certificate authorities (PEM) the broker's certificate may chain to,
    /// besides the system's.
    pub ca_certificates: Option<String>,
    /// Over TLS: the certificate the hub shows a broker that asks for one.
    pub client_identity: Option<ClientIdentity>,
    /// Prefix of every exchange and queue name (`{prefix}.inbound`, `{prefix}.dlq`…).
    pub prefix: String,
    /// Returns of one message to its queue (a consumer died or its channel closed
    /// without an answer) that the broker tolerates (`x-delivery-limit`): the message
    /// is delivered at most `delivery_limit + 1` times, then dead-lettered.
    pub delivery_limit: u32,
    /// Delays of the retry tiers, ascending; [`crate::bus::amqp::AmqpConsumer`]'s
    /// `retry(delay)` uses the first tier at least as long as `delay`. A longer delay
    /// than the longest tier goes through the longest tier and then, as the message
    /// carries its due time, through the tiers again for the time left.
    pub retry_tiers: Vec<Duration>,
    /// AMQP heartbeat, in seconds (0 disables it).
    pub heartbeat_secs: u16,
    /// Bound on opening a connection and its channel.
    pub connect_timeout: Duration,
    /// Bound on one protocol operation (declare, qos, consume, ack, handing one publish
    /// to the connection).
    pub operation_timeout: Duration,
    /// Bound on waiting for one publisher confirm.
    pub confirm_timeout: Duration,
    /// Publishes in flight (sent, not yet confirmed) at most within one `publish` call.
    pub confirm_window: usize,
    /// A consumer that got nothing for this long checks that its connection, channel
    /// and consumer are alive, and rebuilds them if not.
    pub watchdog_interval: Duration,
    /// Longest pause between two reconnection attempts (exponential with jitter).
    pub reconnect_max_delay: Duration,
    /// Connection attempts within one operation before it gives up with
    /// [`transload_core::bus::BusError::Unavailable`].
    pub reconnect_attempts: usize,
    /// How long [`crate::bus::amqp::AmqpBus::connect`] keeps trying to reach a broker
    /// that does not answer yet (starting, restarting, recovering its queues) before it
    /// gives up; a hub started together with its broker waits for it instead of failing.
    pub startup_timeout: Duration,
}

impl Default for AmqpConfig {
    fn default() -> Self {
        Self {
            uri: "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned(),
            ca_certificates: None,
            client_identity: None,
            prefix: "transload".to_owned(),
            delivery_limit: 20,
            retry_tiers: [1, 5, 30, 120, 600]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            heartbeat_secs: 10,
            connect_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(10),
            confirm_timeout: Duration::from_secs(15),
            confirm_window: 1000,
            watchdog_interval: Duration::from_secs(5),
            reconnect_max_delay: Duration::from_secs(2),
            reconnect_attempts: 3,
            startup_timeout: Duration::from_secs(60),
        }
    }
}

/// A configuration the bus cannot work with.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum AmqpConfigError {
    /// The prefix is empty, too long, or has characters other than ASCII letters,
    /// digits, `.`, `-` and `_`.
    #[error("invalid prefix {0:?}: 1 to 200 ASCII letters, digits, '.', '-', '_'")]
    Prefix(String),
    /// No retry tier, a zero or sub-millisecond tier, tiers not strictly ascending, or
    /// one longer than the broker accepts for a message TTL.
    #[error("invalid retry tiers: {0}")]
    RetryTiers(String),
    /// `delivery_limit` is 0 or does not fit the broker's signed 32-bit argument.
    #[error("invalid delivery limit {0}: 1 to 2^31-1")]
    DeliveryLimit(u32),
    /// `confirm_window` is 0.
    #[error("confirm window must be at least 1")]
    ConfirmWindow,
    /// The URI does not parse.
    #[error("invalid AMQP URI: {0}")]
    Uri(String),
}

impl AmqpConfig {
    /// The default configuration with another prefix.
    #[must_use]
    pub fn with_prefix(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            ..Self::default()
        }
    }

    /// Checks the configuration.
    ///
    /// # Errors
    /// The first problem found.
    pub fn validate(&self) -> Result<(), AmqpConfigError> {
        let prefix_ok = !self.prefix.is_empty()
            && self.prefix.len() <= MAX_PREFIX_LEN
            && self
                .prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !prefix_ok {
            return Err(AmqpConfigError::Prefix(self.prefix.clone()));
        }
        if self.retry_tiers.is_empty() {
            return Err(AmqpConfigError::RetryTiers("none given".to_owned()));
        }
        let mut previous = Duration::ZERO;
        for tier in &self.retry_tiers {
            if tier.as_millis() == 0 {
                return Err(AmqpConfigError::RetryTiers(format!(
                    "{tier:?} is shorter than a millisecond"
                )));
            }
            if *tier <= previous {
                return Err(AmqpConfigError::RetryTiers(
                    "tiers must be strictly ascending".to_owned(),
                ));
            }
            if i64::try_from(tier.as_millis()).is_err() {
                return Err(AmqpConfigError::RetryTiers(format!("{tier:?} is too long")));
            }
            previous = *tier;
        }
        if self.delivery_limit == 0 || i32::try_from(self.delivery_limit).is_err() {
            return Err(AmqpConfigError::DeliveryLimit(self.delivery_limit));
        }
        if self.confirm_window == 0 {
            return Err(AmqpConfigError::ConfirmWindow);
        }
        self.uri
            .parse::<lapin::uri::AMQPUri>()
            .map_err(AmqpConfigError::Uri)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        assert_eq!(AmqpConfig::default().validate(), Ok(()));
    }

    #[test]
    fn rejects_bad_prefix_tiers_and_limits() {
        let bad_prefix = AmqpConfig::with_prefix("a b");
        assert!(matches!(
            bad_prefix.validate(),
            Err(AmqpConfigError::Prefix(_))
        ));
        let unordered = AmqpConfig {
            retry_tiers: vec![Duration::from_secs(5), Duration::from_secs(1)],
            ..AmqpConfig::default()
        };
        assert!(matches!(
            unordered.validate(),
            Err(AmqpConfigError::RetryTiers(_))
        ));
        let no_limit = AmqpConfig {
            delivery_limit: 0,
            ..AmqpConfig::default()
        };
        assert_eq!(no_limit.validate(), Err(AmqpConfigError::DeliveryLimit(0)));
        let bad_uri = AmqpConfig {
            uri: "http://nope".to_owned(),
            ..AmqpConfig::default()
        };
        assert!(matches!(bad_uri.validate(), Err(AmqpConfigError::Uri(_))));
    }
}

/// A client certificate for TLS, with its private key.
#[derive(Clone, PartialEq, Eq)]
pub enum ClientIdentity {
    /// In PEM.
    Pem {
        /// The certificate, then the intermediates of its chain.
        certificate_chain: String,
        /// Its private key (PKCS#8).
        private_key: String,
    },
    /// A PKCS#12 archive (`.p12`, `.pfx`) holding the certificate, its chain and its key.
    Pkcs12 {
        /// The archive (DER).
        der: Vec<u8>,
        /// The password it is encrypted with.
        password: String,
    },
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientIdentity::Pem {
                certificate_chain, ..
            } => f
                .debug_struct("ClientIdentity::Pem")
                .field("certificate_chain", certificate_chain)
                .field("private_key", &"<redacted>")
                .finish(),
            ClientIdentity::Pkcs12 { der, .. } => f
                .debug_struct("ClientIdentity::Pkcs12")
                .field("der", &format_args!("{} bytes", der.len()))
                .field("password", &"<redacted>")
                .finish(),
        }
    }
}
