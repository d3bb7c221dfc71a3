//! The hub's configuration file (`transload.toml`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;
use toml::Spanned;
use transload_core::ids::TenantId;
use transload_core::position::line_and_column;
use transload_core::store::History;
use transload_orchestrator::policy;

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
    /// How long `transload run` waits at start for a broker that does not answer yet.
    #[serde(default = "default_startup_timeout_secs")]
    pub startup_timeout_secs: u64,
    /// For an `amqps://` URL: a PEM file of the certificate authorities the broker's
    /// certificate may chain to, besides the system's (relative to the configuration
    /// file).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// For a broker that asks for a client certificate: the hub's certificate chain
    /// (PEM), with `client_key_file`.
    #[serde(default)]
    pub client_cert_file: Option<PathBuf>,
    /// The private key (PEM, PKCS#8) of `client_cert_file`.
    #[serde(default)]
    pub client_key_file: Option<PathBuf>,
    /// Instead of `client_cert_file` and `client_key_file`: the hub's certificate, chain
    /// and key in one PKCS#12 archive (`.p12`, `.pfx`).
    #[serde(default)]
    pub client_identity_file: Option<PathBuf>,
    /// The environment variable holding the password of `client_identity_file` (none:
    /// the archive has an empty password).
    #[serde(default)]
    pub client_identity_password_env: Option<String>,
}

fn default_startup_timeout_secs() -> u64 {
    60
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

/// A token-bucket rate limit: `per_second` on average, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Requests per second, sustained.
    pub per_second: NonZeroU32,
    /// Requests allowed at once (the bucket size); by default `per_second`.
    #[serde(default)]
    pub burst: Option<NonZeroU32>,
}

impl RateLimitConfig {
    /// The bucket size: `burst`, or `per_second` when not given.
    #[must_use]
    pub fn burst(&self) -> NonZeroU32 {
        self.burst.unwrap_or(self.per_second)
    }
}

/// Default of `[intake] max_body_bytes`: 10 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// Default of `[intake] webhook_tolerance_secs`: 5 minutes, as Standard Webhooks advises.
pub const DEFAULT_WEBHOOK_TOLERANCE_SECS: u32 = 300;
/// Default of `[intake] body_timeout_secs`: how long a client may take to send a body.
pub const DEFAULT_BODY_TIMEOUT_SECS: u32 = 60;
/// Default of `[intake] rate_limit`: 100 requests per second, bursts of 200.
pub const DEFAULT_INTAKE_RATE_LIMIT: RateLimitConfig = RateLimitConfig {
    per_second: match NonZeroU32::new(100) {
        Some(n) => n,
        None => NonZeroU32::MIN,
    },
    burst: NonZeroU32::new(200),
};

/// The `[intake]` table: the HTTP intake of partner messages.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeConfig {
    /// Largest accepted body, in bytes; a larger one is answered 413.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// How far a webhook's timestamp may be from now, either way, in seconds.
    #[serde(default = "default_webhook_tolerance_secs")]
    pub webhook_tolerance_secs: u32,
    /// How long a client may take to send the whole body, in seconds (408 past it).
    #[serde(default = "default_body_timeout_secs")]
    pub body_timeout_secs: u32,
    /// The rate limit of every API key without its own, and of every partner that
    /// authenticates by signature alone.
    #[serde(default = "default_intake_rate_limit")]
    pub rate_limit: RateLimitConfig,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        IntakeConfig {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            webhook_tolerance_secs: DEFAULT_WEBHOOK_TOLERANCE_SECS,
            body_timeout_secs: DEFAULT_BODY_TIMEOUT_SECS,
            rate_limit: DEFAULT_INTAKE_RATE_LIMIT,
        }
    }
}

fn default_max_body_bytes() -> usize {
    DEFAULT_MAX_BODY_BYTES
}

fn default_body_timeout_secs() -> u32 {
    DEFAULT_BODY_TIMEOUT_SECS
}

fn default_webhook_tolerance_secs() -> u32 {
    DEFAULT_WEBHOOK_TOLERANCE_SECS
}

fn default_intake_rate_limit() -> RateLimitConfig {
    DEFAULT_INTAKE_RATE_LIMIT
}

/// Where an API key's secret comes from. Only its SHA-256 is ever kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiKeySource {
    /// The SHA-256 of the key, as written in the file (64 hex digits, lowercase).
    Sha256(String),
    /// The environment variable that holds the key itself.
    Env(String),
}

/// One `[[api_keys]]` entry: a key that lets a tenant's systems post messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyConfig {
    /// A name for logs and rate limits (never the key).
    pub name: String,
    /// The tenant the key belongs to: it may post as that tenant's partners only.
    pub tenant: TenantId,
    /// Where the key comes from.
    pub source: ApiKeySource,
    /// The key's own rate limit, instead of `[intake] rate_limit`.
    pub rate_limit: Option<RateLimitConfig>,
}

/// An `[[api_keys]]` entry as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiKeyEntry {
    name: Spanned<String>,
    tenant: TenantId,
    #[serde(default)]
    key_sha256: Option<Spanned<String>>,
    #[serde(default)]
    key_env: Option<String>,
    #[serde(default)]
    rate_limit: Option<RateLimitConfig>,
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
    #[serde(default)]
    partners_dir: Option<PathBuf>,
    #[serde(default)]
    mappings_dirs: Option<Vec<PathBuf>>,
    http: HttpConfig,
    amqp: Option<AmqpSection>,
    postgres: Option<PostgresSection>,
    #[serde(default)]
    intake: IntakeConfig,
    #[serde(default)]
    api_keys: Vec<ApiKeyEntry>,
    #[serde(default)]
    orchestrator: Option<OrchestratorSection>,
    #[serde(default)]
    retention: RetentionConfig,
}

/// The `[retention]` table: how many days the store keeps what it needs only for a
/// while. Every value is at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Days a processed marker is kept. It stops a message delivered twice (after a
    /// restart, or past the bus's visibility timeout) from acting twice; such deliveries
    /// come within minutes.
    #[serde(default = "default_processed_days")]
    pub processed_days: u32,
    /// Days a raw inbound message (its bytes, metadata and dedupe key) is kept: what
    /// `GET /v1/partners/{partner}/messages/{id}` shows, and what recognises a partner's
    /// retry of a message it sent before.
    #[serde(default = "default_raw_days")]
    pub raw_days: u32,
    /// Days an audit entry (decisions, overrides, redrives) is kept.
    #[serde(default = "default_audit_days")]
    pub audit_days: u32,
    /// Days a dead letter is kept once redriven. One not redriven is kept until it is.
    #[serde(default = "default_redriven_days")]
    pub redriven_dead_letter_days: u32,
    /// Days a partner's control number (ISA13, GS06) is remembered: within them, an
    /// interchange or group with the same number again is a duplicate.
    #[serde(default = "default_control_numbers_days")]
    pub control_numbers_days: u32,
}

impl RetentionConfig {
    /// The days `history` is kept.
    #[must_use]
    pub fn days(&self, history: History) -> u32 {
        match history {
            History::ProcessedMarkers => self.processed_days,
            History::RawMessages => self.raw_days,
            History::AuditEntries => self.audit_days,
            History::RedrivenDeadLetters => self.redriven_dead_letter_days,
            History::ReceivedControlNumbers => self.control_numbers_days,
        }
    }

    /// The setting of `history` in the `[retention]` table.
    #[must_use]
    pub fn setting(history: History) -> &'static str {
        match history {
            History::ProcessedMarkers => "processed_days",
            History::RawMessages => "raw_days",
            History::AuditEntries => "audit_days",
            History::RedrivenDeadLetters => "redriven_dead_letter_days",
            History::ReceivedControlNumbers => "control_numbers_days",
        }
    }
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            processed_days: DEFAULT_PROCESSED_DAYS,
            raw_days: DEFAULT_RAW_DAYS,
            audit_days: DEFAULT_AUDIT_DAYS,
            redriven_dead_letter_days: DEFAULT_REDRIVEN_DAYS,
            control_numbers_days: DEFAULT_CONTROL_NUMBERS_DAYS,
        }
    }
}

/// Default of [`RetentionConfig::processed_days`].
const DEFAULT_PROCESSED_DAYS: u32 = 7;
/// Default of [`RetentionConfig::raw_days`].
const DEFAULT_RAW_DAYS: u32 = 30;
/// Default of [`RetentionConfig::audit_days`]: a year, as carrier claims and audits go.
const DEFAULT_AUDIT_DAYS: u32 = 365;
/// Default of [`RetentionConfig::redriven_dead_letter_days`].
const DEFAULT_REDRIVEN_DAYS: u32 = 30;
/// Default of [`RetentionConfig::control_numbers_days`]: a year.
const DEFAULT_CONTROL_NUMBERS_DAYS: u32 = 365;

fn default_processed_days() -> u32 {
    DEFAULT_PROCESSED_DAYS
}

fn default_raw_days() -> u32 {
    DEFAULT_RAW_DAYS
}

fn default_audit_days() -> u32 {
    DEFAULT_AUDIT_DAYS
}

fn default_redriven_days() -> u32 {
    DEFAULT_REDRIVEN_DAYS
}

fn default_control_numbers_days() -> u32 {
    DEFAULT_CONTROL_NUMBERS_DAYS
}

/// The `[orchestrator]` table: where the carrier files are, and the policy (each of its
/// sub-tables optional: `[orchestrator.dispatch]`, `.tender`, `.guardrails`, `.tracking`,
/// `.cancellation`, `.audit`, `.notify`). Without it the hub runs no decide stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrchestratorSection {
    /// The folder of the carrier files (`*.toml`), relative to the configuration file.
    pub carriers_dir: PathBuf,
    /// Timers (a tender's respond-by, a wave's cutoff) fire within this many seconds of
    /// their time.
    #[serde(default = "default_timer_check_secs")]
    pub timer_check_secs: u64,
    /// Building loads.
    #[serde(default)]
    pub dispatch: policy::DispatchPolicy,
    /// Tendering.
    #[serde(default)]
    pub tender: policy::TenderPolicy,
    /// What needs approval.
    #[serde(default)]
    pub guardrails: policy::Guardrails,
    /// Tracking and exceptions.
    #[serde(default)]
    pub tracking: policy::TrackingPolicy,
    /// Late cancellations.
    #[serde(default)]
    pub cancellation: policy::CancellationPolicy,
    /// Freight audit.
    #[serde(default)]
    pub audit: transload_orchestrator::freight_audit::AuditPolicy,
    /// Whom to tell.
    #[serde(default)]
    pub notify: policy::NotifyPolicy,
}

fn default_timer_check_secs() -> u64 {
    30
}

impl OrchestratorSection {
    /// The policy of this table.
    #[must_use]
    pub fn policy(&self) -> policy::Policy {
        policy::Policy {
            dispatch: self.dispatch.clone(),
            tender: self.tender.clone(),
            guardrails: self.guardrails.clone(),
            tracking: self.tracking.clone(),
            cancellation: self.cancellation.clone(),
            audit: self.audit.clone(),
            notify: self.notify.clone(),
        }
    }
}

/// Default of `partners_dir`, relative to the configuration file.
pub const DEFAULT_PARTNERS_DIR: &str = "partners";

/// Default of `mappings_dirs`, relative to the configuration file (used when it exists).
pub const DEFAULT_MAPPINGS_DIR: &str = "mappings";

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
    /// The folder of the partner profiles (`*.toml`).
    pub partners_dir: PathBuf,
    /// Whether `partners_dir` was written in the file (then it must exist); the default
    /// folder may be absent, and the hub then knows no partner.
    pub partners_dir_explicit: bool,
    /// The folders of the mapping files (`*.toml`), reloaded when they change.
    pub mappings_dirs: Vec<PathBuf>,
    /// The HTTP intake.
    pub intake: IntakeConfig,
    /// The API keys, in file order.
    pub api_keys: Vec<ApiKeyConfig>,
    /// The orchestrator, when configured (`carriers_dir` resolved).
    pub orchestrator: Option<OrchestratorSection>,
    /// What the store prunes, and when.
    pub retention: RetentionConfig,
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
        let at = |offset: usize| {
            let (line, column) = line_and_column(text, offset);
            format!("{}:{line}:{column}", path.display())
        };
        let file: ConfigFile = toml::from_str(text).map_err(|error| {
            let position = error
                .span()
                .map(|span| line_and_column(text, span.start))
                .map(|(line, column)| format!(":{line}:{column}"))
                .unwrap_or_default();
            anyhow::anyhow!("{}{position}: {}", path.display(), error.message())
        })?;
        let api_keys = check_api_keys(file.api_keys, &at)?;
        if file.intake.max_body_bytes == 0 {
            bail!(
                "{}: [intake] max_body_bytes must be at least 1",
                path.display()
            );
        }
        if file.intake.body_timeout_secs == 0 {
            bail!(
                "{}: [intake] body_timeout_secs must be at least 1",
                path.display()
            );
        }
        if let Some(history) = History::ALL
            .into_iter()
            .find(|history| file.retention.days(*history) == 0)
        {
            bail!(
                "{}: [retention] {} must be at least 1",
                path.display(),
                RetentionConfig::setting(history)
            );
        }
        if file.bus == BusKind::Amqp && file.amqp.is_none() {
            bail!(
                "{}: bus = \"amqp\" needs an [amqp] table with url",
                path.display()
            );
        }
        if let Some(amqp) = &file.amqp {
            let tls_files = [
                ("ca_file", &amqp.ca_file),
                ("client_cert_file", &amqp.client_cert_file),
                ("client_key_file", &amqp.client_key_file),
                ("client_identity_file", &amqp.client_identity_file),
            ];
            if let Some((setting, _)) = tls_files.iter().find(|(_, file)| file.is_some())
                && !amqp.url.starts_with("amqps://")
            {
                bail!(
                    "{}: [amqp] {setting} is for a broker reached over TLS: its url must start with amqps://",
                    path.display()
                );
            }
            if amqp.client_cert_file.is_some() != amqp.client_key_file.is_some() {
                bail!(
                    "{}: [amqp] client_cert_file and client_key_file go together",
                    path.display()
                );
            }
            if amqp.client_identity_file.is_some() && amqp.client_cert_file.is_some() {
                bail!(
                    "{}: [amqp] client_identity_file (PKCS#12) replaces client_cert_file and client_key_file (PEM): give one or the other",
                    path.display()
                );
            }
            if amqp.client_identity_password_env.is_some() && amqp.client_identity_file.is_none() {
                bail!(
                    "{}: [amqp] client_identity_password_env is the password of client_identity_file, which is not given",
                    path.display()
                );
            }
        }
        if file.store == StoreKind::Postgres && file.postgres.is_none() {
            bail!(
                "{}: store = \"postgres\" needs a [postgres] table with url",
                path.display()
            );
        }
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        let partners_dir_explicit = file.partners_dir.is_some();
        let partners_dir = base.join(
            file.partners_dir
                .unwrap_or_else(|| PathBuf::from(DEFAULT_PARTNERS_DIR)),
        );
        let mappings_dirs = match file.mappings_dirs {
            Some(dirs) => dirs.iter().map(|dir| base.join(dir)).collect(),
            None => Some(base.join(DEFAULT_MAPPINGS_DIR))
                .filter(|dir| dir.is_dir())
                .into_iter()
                .collect(),
        };
        Ok(Config {
            path: path.to_path_buf(),
            bus: file.bus,
            store: file.store,
            data_dir: base.join(file.data_dir),
            http: file.http,
            amqp: file.amqp.map(|mut section| {
                for file in [
                    &mut section.ca_file,
                    &mut section.client_cert_file,
                    &mut section.client_key_file,
                    &mut section.client_identity_file,
                ] {
                    *file = file.take().map(|file| base.join(file));
                }
                section
            }),
            postgres: file.postgres,
            partners_dir,
            partners_dir_explicit,
            mappings_dirs,
            intake: file.intake,
            api_keys,
            orchestrator: file.orchestrator.map(|mut section| {
                section.carriers_dir = base.join(&section.carriers_dir);
                section
            }),
            retention: file.retention,
        })
    }
}

/// Checks the `[[api_keys]]` entries: unique names, exactly one key source, a SHA-256
/// of 64 hex digits. `at` turns a byte offset into `file:line:column`.
fn check_api_keys(
    entries: Vec<ApiKeyEntry>,
    at: &dyn Fn(usize) -> String,
) -> anyhow::Result<Vec<ApiKeyConfig>> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut keys = Vec::with_capacity(entries.len());
    for entry in entries {
        let name_at = entry.name.span().start;
        let name = entry.name.into_inner();
        if name.trim().is_empty() {
            bail!("{}: an API key needs a name", at(name_at));
        }
        if seen.insert(name.clone(), name_at).is_some() {
            bail!("{}: API key `{name}` is declared twice", at(name_at));
        }
        let source = match (entry.key_sha256, entry.key_env) {
            (Some(hash), None) => {
                let hash_at = hash.span().start;
                let hash = hash.into_inner();
                if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                    bail!(
                        "{}: key_sha256 of API key `{name}` must be 64 hex digits (the SHA-256 of the key)",
                        at(hash_at)
                    );
                }
                ApiKeySource::Sha256(hash.to_ascii_lowercase())
            }
            (None, Some(var)) if !var.trim().is_empty() => ApiKeySource::Env(var),
            (Some(_), Some(_)) => bail!(
                "{}: API key `{name}` gives both key_sha256 and key_env; give one",
                at(name_at)
            ),
            (None, _) => bail!(
                "{}: API key `{name}` needs key_sha256 (hex SHA-256 of the key) or key_env (variable holding the key)",
                at(name_at)
            ),
        };
        keys.push(ApiKeyConfig {
            name,
            tenant: entry.tenant,
            source,
            rate_limit: entry.rate_limit,
        });
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use transload_orchestrator::policy::AllocationPeriod;

    const GOOD: &str = "data_dir = \"data\"\n[http]\nlisten = \"127.0.0.1:8080\"\n";

    #[test]
    fn retention_has_defaults_takes_each_setting_and_at_least_a_day() {
        let path = Path::new("/etc/transload/transload.toml");
        let config = Config::parse(path, GOOD).unwrap();
        assert_eq!(config.retention.processed_days, 7);
        let config =
            Config::parse(path, &format!("{GOOD}[retention]\nprocessed_days = 30\n")).unwrap();
        assert_eq!(config.retention.processed_days, 30);
        let error =
            Config::parse(path, &format!("{GOOD}[retention]\nprocessed_days = 0\n")).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("processed_days must be at least 1"),
            "{error}"
        );
        let config = Config::parse(
            path,
            &format!(
                "{GOOD}[retention]\nraw_days = 90\naudit_days = 730\nredriven_dead_letter_days = 14\ncontrol_numbers_days = 180\n"
            ),
        )
        .unwrap();
        assert_eq!(
            History::ALL.map(|history| config.retention.days(history)),
            [7, 90, 730, 14, 180]
        );
        assert_eq!(
            History::ALL.map(|history| RetentionConfig::default().days(history)),
            [7, 30, 365, 30, 365]
        );
        for setting in [
            "raw_days",
            "audit_days",
            "redriven_dead_letter_days",
            "control_numbers_days",
        ] {
            let error =
                Config::parse(path, &format!("{GOOD}[retention]\n{setting} = 0\n")).unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains(&format!("{setting} must be at least 1")),
                "{error}"
            );
        }
        // Loads' state is never pruned: no such setting.
        let error =
            Config::parse(path, &format!("{GOOD}[retention]\nstate_days = 3\n")).unwrap_err();
        assert!(error.to_string().contains("state_days"), "{error}");
    }

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
    fn the_allocation_period_is_a_month_unless_told() {
        let path = Path::new("/etc/transload/transload.toml");
        let orchestrator = "[orchestrator]\ncarriers_dir = \"carriers\"\n";
        let period = |extra: &str| {
            Config::parse(path, &format!("{GOOD}{orchestrator}{extra}")).map(|config| {
                config
                    .orchestrator
                    .unwrap()
                    .policy()
                    .tender
                    .allocation_period
            })
        };
        assert_eq!(period("").unwrap(), AllocationPeriod::Month);
        assert_eq!(
            period("[orchestrator.tender]\nallocation_period = \"quarter\"\n").unwrap(),
            AllocationPeriod::Quarter
        );
        let error =
            period("[orchestrator.tender]\nallocation_period = \"fortnight\"\n").unwrap_err();
        assert!(error.to_string().contains("fortnight"), "{error}");
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
    fn intake_defaults_and_partners_dir_relative_to_the_file() {
        let config = Config::parse(Path::new("/etc/transload/transload.toml"), GOOD).unwrap();
        assert_eq!(config.partners_dir, Path::new("/etc/transload/partners"));
        assert!(!config.partners_dir_explicit);
        assert_eq!(config.intake, IntakeConfig::default());
        assert_eq!(config.intake.max_body_bytes, 10 * 1024 * 1024);
        assert!(config.api_keys.is_empty());

        let text = format!(
            "partners_dir = \"conf/partners\"\n{GOOD}[intake]\nmax_body_bytes = 1024\nrate_limit = {{ per_second = 5 }}\n"
        );
        let config = Config::parse(Path::new("/etc/transload/transload.toml"), &text).unwrap();
        assert_eq!(
            config.partners_dir,
            Path::new("/etc/transload/conf/partners")
        );
        assert!(config.partners_dir_explicit);
        assert_eq!(config.intake.max_body_bytes, 1024);
        assert_eq!(config.intake.rate_limit.burst().get(), 5);
        assert_eq!(config.intake.webhook_tolerance_secs, 300);
        assert_eq!(config.intake.body_timeout_secs, 60);
    }

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn api_keys_are_read_with_their_source_and_limit() {
        let text = format!(
            "{GOOD}[[api_keys]]\nname = \"oms\"\ntenant = \"acme\"\nkey_sha256 = \"{}\"\nrate_limit = {{ per_second = 2, burst = 4 }}\n\n[[api_keys]]\nname = \"erp\"\ntenant = \"globex\"\nkey_env = \"ERP_KEY\"\n",
            HASH.to_ascii_uppercase()
        );
        let config = Config::parse(Path::new("hub.toml"), &text).unwrap();
        assert_eq!(config.api_keys.len(), 2);
        let oms = &config.api_keys[0];
        assert_eq!(oms.name, "oms");
        assert_eq!(oms.tenant.as_str(), "acme");
        assert_eq!(oms.source, ApiKeySource::Sha256(HASH.to_owned()));
        assert_eq!(oms.rate_limit.unwrap().burst().get(), 4);
        assert_eq!(
            config.api_keys[1].source,
            ApiKeySource::Env("ERP_KEY".to_owned())
        );
    }

    #[test]
    fn bad_api_keys_are_refused_with_their_line_and_column() {
        let key = |body: &str| format!("{GOOD}[[api_keys]]\nname = \"oms\"\n{body}");
        let cases = [
            (
                key("tenant = \"acme\"\nkey_sha256 = \"abc\"\n"),
                "hub.toml:7:14: key_sha256 of API key `oms` must be 64 hex digits",
            ),
            (
                key("tenant = \"acme\"\n"),
                "hub.toml:5:8: API key `oms` needs key_sha256",
            ),
            (
                key(&format!(
                    "tenant = \"acme\"\nkey_env = \"K\"\nkey_sha256 = \"{HASH}\"\n"
                )),
                "hub.toml:5:8: API key `oms` gives both",
            ),
            (
                key("tenant = \"ACME Corp\"\nkey_env = \"K\"\n"),
                "hub.toml:6:10: ",
            ),
            (
                key("tenant = \"acme\"\nkey_env = \"K\"\nscope = \"all\"\n"),
                "hub.toml:8:1: unknown field `scope`",
            ),
            (
                format!(
                    "{}[[api_keys]]\nname = \"oms\"\ntenant = \"b\"\nkey_env = \"K\"\n",
                    key("tenant = \"acme\"\nkey_env = \"K\"\n")
                ),
                "hub.toml:9:8: API key `oms` is declared twice",
            ),
            (
                key("tenant = \"acme\"\nkey_env = \"K\"\nrate_limit = { per_second = 0 }\n"),
                "hub.toml:8:",
            ),
            (
                format!("{GOOD}[intake]\nmax_body_bytes = 0\n"),
                "hub.toml: [intake] max_body_bytes must be at least 1",
            ),
            (
                format!("{GOOD}[intake]\nbody_timeout_secs = 0\n"),
                "hub.toml: [intake] body_timeout_secs must be at least 1",
            ),
            (
                format!("{GOOD}[intake]\nmax_bytes = 10\n"),
                "hub.toml:5:1: unknown field `max_bytes`",
            ),
        ];
        for (text, expected) in cases {
            let error = Config::parse(Path::new("hub.toml"), &text)
                .unwrap_err()
                .to_string();
            assert!(
                error.starts_with(expected),
                "{expected:?}\n  got {error:?}\n{text}"
            );
        }
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

    #[test]
    fn a_ca_file_is_relative_to_the_file_and_only_for_amqps() {
        let path = Path::new("/etc/transload/transload.toml");
        let amqp = |url: &str| {
            format!("bus = \"amqp\"\n{GOOD}[amqp]\nurl = \"{url}\"\nca_file = \"tls/ca.pem\"\n")
        };
        let config = Config::parse(path, &amqp("amqps://broker.internal")).unwrap();
        assert_eq!(
            config.amqp.unwrap().ca_file.unwrap(),
            Path::new("/etc/transload/tls/ca.pem")
        );
        let error = Config::parse(path, &amqp("amqp://broker.internal"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("ca_file") && error.contains("amqps://"),
            "{error}"
        );
        let with_client = |extra: &str| {
            format!("bus = \"amqp\"\n{GOOD}[amqp]\nurl = \"amqps://broker.internal\"\n{extra}")
        };
        let config = Config::parse(
            path,
            &with_client(
                "client_cert_file = \"tls/hub.pem\"\nclient_key_file = \"/keys/hub.key\"\n",
            ),
        )
        .unwrap()
        .amqp
        .unwrap();
        assert_eq!(
            (
                config.client_cert_file.unwrap(),
                config.client_key_file.unwrap()
            ),
            (
                PathBuf::from("/etc/transload/tls/hub.pem"),
                PathBuf::from("/keys/hub.key")
            )
        );
        let error = Config::parse(path, &with_client("client_cert_file = \"tls/hub.pem\"\n"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("go together"), "{error}");
    }

    #[test]
    fn a_pkcs12_identity_is_relative_to_the_file_and_replaces_the_pem_pair() {
        let path = Path::new("/etc/transload/transload.toml");
        let with = |url: &str, extra: &str| {
            format!("bus = \"amqp\"\n{GOOD}[amqp]\nurl = \"{url}\"\n{extra}")
        };
        let p12 = "client_identity_file = \"tls/hub.p12\"\nclient_identity_password_env = \"HUB_P12_PASSWORD\"\n";
        let config = Config::parse(path, &with("amqps://broker.internal", p12))
            .unwrap()
            .amqp
            .unwrap();
        assert_eq!(
            config.client_identity_file.unwrap(),
            Path::new("/etc/transload/tls/hub.p12")
        );
        assert_eq!(
            config.client_identity_password_env.as_deref(),
            Some("HUB_P12_PASSWORD")
        );
        let refused = |text: String| Config::parse(path, &text).unwrap_err().to_string();
        let error = refused(with("amqp://broker.internal", p12));
        assert!(
            error.contains("client_identity_file") && error.contains("amqps://"),
            "{error}"
        );
        let error = refused(with(
            "amqps://broker.internal",
            &format!("{p12}client_cert_file = \"a.pem\"\nclient_key_file = \"a.key\"\n"),
        ));
        assert!(error.contains("one or the other"), "{error}");
        let error = refused(with(
            "amqps://broker.internal",
            "client_identity_password_env = \"HUB_P12_PASSWORD\"\n",
        ));
        assert!(error.contains("not given"), "{error}");
    }
}
