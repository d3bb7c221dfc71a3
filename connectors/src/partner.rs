//! Partner profiles: one TOML file per trading partner (`partners/*.toml`), saying who the
//! partner is (tenant, X12 identities), what it sends and expects (formats, versions,
//! delimiters, acknowledgements), how to reach it (HTTP endpoint, file drop), how fast
//! (rate limits), its time zone and its code maps.
//!
//! ```toml
//! id = "odfl"
//! tenant = "acme"
//! name = "Old Dominion Freight Line"
//! time_zone = "America/New_York"
//!
//! [x12]
//! isa_qualifier = "02"
//! isa_id = "ODFL"
//! gs_id = "ODFL"
//! our_isa_qualifier = "ZZ"
//! our_isa_id = "ACMEHUB"
//! our_gs_id = "ACMEHUB"
//! version = "004010"
//! delimiters = { element = "*", sub_element = ">", segment = "~", repetition = "^", suffix = "\n" }
//!
//! [acks]
//! send_997 = true          # acknowledge what the partner sends
//! expect_997 = true        # the partner acknowledges what we send …
//! sla_minutes = 60         # … within this time
//! require_990_for = ["original", "cancel", "change"]
//!
//! [webhook]                # the partner signs what it posts (Standard Webhooks)
//! secret_env = "ODFL_WEBHOOK_SECRET"
//!
//! [endpoint]               # where outbound documents go
//! url = "https://edi.example.com/inbound"
//! timeout_ms = 10000
//! rate_limit = { per_second = 5, burst = 10 }
//!
//! [file_drop]
//! dir = "../drop/odfl"
//!
//! [[routes]]               # which mapping reads what the partner sends
//! format = "x12"
//! x12_set = "214"
//! mapping = "x12-004010-214-in"
//!
//! [code_maps.status]
//! X1 = "arrived_at_stop"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;
use transload_core::ids::{PartnerId, TenantId, ZoneName};
use transload_core::position::line_and_column;

use crate::webhook::{SignatureError, WebhookSecret};

/// The format of a partner's documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentFormat {
    /// ANSI ASC X12.
    X12,
    /// JSON.
    Json,
    /// XML.
    Xml,
}

impl DocumentFormat {
    /// The lowercase name (`x12`, `json`, `xml`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentFormat::X12 => "x12",
            DocumentFormat::Json => "json",
            DocumentFormat::Xml => "xml",
        }
    }
}

/// A partner profile as written in its file, checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerProfile {
    /// The partner's id, used in URLs and on every message.
    pub id: PartnerId,
    /// The tenant the partner belongs to.
    pub tenant: TenantId,
    /// A readable name.
    #[serde(default)]
    pub name: String,
    /// The partner's time zone (IANA), for local times without a zone.
    pub time_zone: ZoneName,
    /// The formats the partner sends (by default, those its routes name).
    #[serde(default)]
    pub formats: Vec<DocumentFormat>,
    /// X12 identities and syntax, when the partner speaks X12.
    #[serde(default)]
    pub x12: Option<X12Profile>,
    /// Acknowledgement expectations.
    #[serde(default)]
    pub acks: AckExpectations,
    /// How the partner signs webhooks it posts to us.
    #[serde(default)]
    pub webhook: Option<WebhookProfile>,
    /// Where outbound documents for the partner go over HTTP.
    #[serde(default)]
    pub endpoint: Option<HttpEndpoint>,
    /// A watched folder the partner's files arrive in.
    #[serde(default)]
    pub file_drop: Option<FileDropProfile>,
    /// Which mapping reads which inbound document.
    #[serde(default)]
    pub routes: Vec<InboundRoute>,
    /// Which mapping writes which outbound event type for this partner.
    #[serde(default)]
    pub outbound: Vec<OutboundRoute>,
    /// Code maps by name (`status`, `charges`, `references`…): partner code → canonical.
    #[serde(default)]
    pub code_maps: BTreeMap<String, BTreeMap<String, String>>,
}

/// A partner's X12 identities and syntax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct X12Profile {
    /// ISA05/ISA07 of the partner.
    pub isa_qualifier: String,
    /// ISA06/ISA08 of the partner (without padding).
    pub isa_id: String,
    /// GS02/GS03 of the partner.
    pub gs_id: String,
    /// Our ISA qualifier in the partner's eyes.
    pub our_isa_qualifier: String,
    /// Our ISA id in the partner's eyes.
    pub our_isa_id: String,
    /// Our GS id in the partner's eyes.
    pub our_gs_id: String,
    /// The version the partner speaks (GS08 without the release suffix), `004010`.
    #[serde(default = "default_x12_version")]
    pub version: String,
    /// The delimiters we write to the partner.
    #[serde(default)]
    pub delimiters: DelimiterProfile,
    /// ISA15: `P` production, `T` test.
    #[serde(default = "default_usage")]
    pub usage: String,
}

fn default_x12_version() -> String {
    "004010".to_owned()
}

fn default_usage() -> String {
    "P".to_owned()
}

/// Delimiters for writing X12 to a partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelimiterProfile {
    /// Element separator.
    #[serde(default = "default_element")]
    pub element: char,
    /// Component (sub-element) separator, ISA16.
    #[serde(default = "default_sub_element")]
    pub sub_element: char,
    /// Segment terminator.
    #[serde(default = "default_segment")]
    pub segment: char,
    /// Repetition separator (ISA11 from 00402 on).
    #[serde(default = "default_repetition")]
    pub repetition: char,
    /// Written after each terminator (`"\n"`, `"\r\n"` or empty).
    #[serde(default)]
    pub suffix: String,
}

fn default_element() -> char {
    '*'
}
fn default_sub_element() -> char {
    '>'
}
fn default_segment() -> char {
    '~'
}
fn default_repetition() -> char {
    '^'
}

impl Default for DelimiterProfile {
    fn default() -> Self {
        Self {
            element: default_element(),
            sub_element: default_sub_element(),
            segment: default_segment(),
            repetition: default_repetition(),
            suffix: String::new(),
        }
    }
}

/// What the partner and we acknowledge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckExpectations {
    /// We send a 997 for every functional group the partner sends.
    #[serde(default = "yes")]
    pub send_997: bool,
    /// We send a TA1 when the partner's ISA14 asks for one.
    #[serde(default = "yes")]
    pub send_ta1: bool,
    /// The partner acknowledges what we send with a 997.
    #[serde(default)]
    pub expect_997: bool,
    /// Minutes within which that 997 must arrive.
    #[serde(default = "default_sla")]
    pub sla_minutes: u32,
    /// Tender purposes (`original`, `cancel`, `change`) the partner must answer with a 990.
    #[serde(default)]
    pub require_990_for: Vec<String>,
}

fn yes() -> bool {
    true
}

fn default_sla() -> u32 {
    60
}

impl Default for AckExpectations {
    fn default() -> Self {
        Self {
            send_997: true,
            send_ta1: true,
            expect_997: false,
            sla_minutes: default_sla(),
            require_990_for: Vec::new(),
        }
    }
}

/// How a partner signs the webhooks it posts: the secret, inline or from the environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookProfile {
    /// `whsec_…` written in the file (fine for examples, not for production).
    #[serde(default)]
    pub secret: Option<String>,
    /// The environment variable holding the `whsec_…` secret.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// Seconds a timestamp may be off, either way (default 300).
    #[serde(default = "default_tolerance")]
    pub tolerance_secs: i64,
}

fn default_tolerance() -> i64 {
    crate::webhook::DEFAULT_TOLERANCE_SECS
}

/// Requests per second with a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: u32,
    /// Requests allowed at once above the sustained rate.
    #[serde(default = "default_burst")]
    pub burst: u32,
}

fn default_burst() -> u32 {
    1
}

/// An HTTP endpoint of the partner, for outbound documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpEndpoint {
    /// The URL documents are POSTed to.
    pub url: String,
    /// Timeout of one request, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// At most this many attempts per document before it is dead-lettered.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Rate limit towards the partner.
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    /// Extra headers (e.g. `Authorization`), values may be `${ENV_VAR}`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Sign requests as Standard Webhooks with this secret (inline or from the environment).
    #[serde(default)]
    pub signing: Option<WebhookProfile>,
}

fn default_timeout_ms() -> u64 {
    10_000
}

fn default_attempts() -> u32 {
    8
}

/// A watched folder for a partner's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDropProfile {
    /// The folder (relative to the profile file); `done/` and `failed/` are created in it.
    pub dir: PathBuf,
    /// The format of the files (default: detected — X12 when a file starts with ISA).
    #[serde(default)]
    pub format: Option<DocumentFormat>,
}

/// Which mapping reads an inbound document of the partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundRoute {
    /// The document format.
    pub format: DocumentFormat,
    /// For X12: the transaction set (ST01), e.g. `214`.
    #[serde(default)]
    pub x12_set: Option<String>,
    /// For JSON/XML: the value the document's kind must have (see `kind_header`), e.g.
    /// `pick_complete`; without it the route takes every document of the format.
    #[serde(default)]
    pub kind: Option<String>,
    /// The mapping id.
    pub mapping: String,
}

/// Which mapping writes an outbound event for the partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundRoute {
    /// The canonical event type (`transload.tender.offered`).
    pub event: String,
    /// The mapping id.
    pub mapping: String,
}

/// A profile that cannot be used, with the place to fix it.
#[derive(Debug, Error)]
pub enum ProfileError {
    /// The file cannot be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid profile; `line`/`column` are 1-based when known.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Line of the problem.
        line: usize,
        /// Column of the problem.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// Two files declare the same partner id.
    #[error("{}: partner `{id}` is already declared in {}", path.display(), first.display())]
    Duplicate {
        /// The second file.
        path: PathBuf,
        /// The first file.
        first: PathBuf,
        /// The id.
        id: String,
    },
}

impl PartnerProfile {
    /// Parses and checks a profile; `path` names it in errors and anchors relative paths.
    ///
    /// # Errors
    /// [`ProfileError::Invalid`] with the line and column of the problem.
    pub fn parse(path: &Path, text: &str) -> Result<PartnerProfile, ProfileError> {
        let invalid = |offset: Option<usize>, message: String| {
            let (line, column) = offset.map_or((1, 1), |at| line_and_column(text, at));
            ProfileError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                message,
            }
        };
        let mut profile: PartnerProfile = toml::from_str(text)
            .map_err(|e| invalid(e.span().map(|s| s.start), e.message().to_owned()))?;
        let at = |key: &str| text.find(key);
        if jiff::tz::TimeZone::get(profile.time_zone.as_str()).is_err() {
            return Err(invalid(
                at("time_zone"),
                format!("unknown time zone `{}`", profile.time_zone),
            ));
        }
        if let Some(webhook) = &profile.webhook {
            webhook
                .check()
                .map_err(|m| invalid(at("[webhook]"), format!("[webhook]: {m}")))?;
        }
        if let Some(signing) = profile.endpoint.as_ref().and_then(|e| e.signing.as_ref()) {
            signing
                .check()
                .map_err(|m| invalid(at("signing"), format!("[endpoint.signing]: {m}")))?;
        }
        for route in &profile.routes {
            if route.format == DocumentFormat::X12 && route.x12_set.is_none() {
                return Err(invalid(
                    at(&route.mapping),
                    format!("route to `{}`: an x12 route needs x12_set", route.mapping),
                ));
            }
        }
        if profile
            .routes
            .iter()
            .any(|r| r.format == DocumentFormat::X12)
            && profile.x12.is_none()
        {
            return Err(invalid(
                at("[[routes]]"),
                "x12 routes need an [x12] table with the partner's identities".to_owned(),
            ));
        }
        if let Some(drop) = &mut profile.file_drop {
            let base = path.parent().unwrap_or_else(|| Path::new("."));
            drop.dir = base.join(&drop.dir);
        }
        if profile.formats.is_empty() {
            profile.formats = profile.routes.iter().map(|r| r.format).collect();
            profile.formats.sort();
            profile.formats.dedup();
        }
        Ok(profile)
    }

    /// Reads and checks the profile in `path`.
    ///
    /// # Errors
    /// See [`ProfileError`].
    pub fn load(path: &Path) -> Result<PartnerProfile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// The route for an inbound document, if any.
    #[must_use]
    pub fn route(
        &self,
        format: DocumentFormat,
        x12_set: Option<&str>,
        kind: Option<&str>,
    ) -> Option<&InboundRoute> {
        self.routes.iter().find(|r| {
            r.format == format
                && (r.x12_set.is_none() || r.x12_set.as_deref() == x12_set)
                && (r.kind.is_none() || r.kind.as_deref() == kind)
        })
    }

    /// The webhook secret the partner signs with, resolved from the file or environment.
    ///
    /// # Errors
    /// When the environment variable is unset or the secret is malformed.
    pub fn webhook_secret(&self) -> Result<Option<WebhookSecret>, SecretError> {
        self.webhook
            .as_ref()
            .map(WebhookProfile::resolve)
            .transpose()
    }
}

/// A secret that cannot be resolved.
#[derive(Debug, Error)]
pub enum SecretError {
    /// The environment variable is not set.
    #[error("environment variable `{0}` is not set")]
    MissingEnv(String),
    /// The secret is malformed.
    #[error(transparent)]
    Malformed(#[from] SignatureError),
}

impl WebhookProfile {
    fn check(&self) -> Result<(), String> {
        match (&self.secret, &self.secret_env) {
            (Some(_), Some(_)) => Err("give either secret or secret_env, not both".to_owned()),
            (None, None) => Err("needs secret or secret_env".to_owned()),
            (Some(secret), None) => WebhookSecret::parse(secret)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            (None, Some(_)) => Ok(()),
        }
    }

    /// The secret, from the file or its environment variable.
    ///
    /// # Errors
    /// When the variable is unset or the secret malformed.
    pub fn resolve(&self) -> Result<WebhookSecret, SecretError> {
        let text = match (&self.secret, &self.secret_env) {
            (Some(secret), _) => secret.clone(),
            (None, Some(var)) => {
                std::env::var(var).map_err(|_| SecretError::MissingEnv(var.clone()))?
            }
            (None, None) => return Err(SecretError::MissingEnv(String::new())),
        };
        Ok(WebhookSecret::parse(&text)?)
    }
}

/// Every partner profile of a directory (`*.toml`), keyed by partner id.
#[derive(Debug, Clone, Default)]
pub struct PartnerDirectory {
    profiles: BTreeMap<PartnerId, (PathBuf, PartnerProfile)>,
}

impl PartnerDirectory {
    /// Loads every `*.toml` in `dir` (not recursive). All problems are reported, not just
    /// the first.
    ///
    /// # Errors
    /// Every file that cannot be used.
    pub fn load(dir: &Path) -> Result<PartnerDirectory, Vec<ProfileError>> {
        let entries = std::fs::read_dir(dir).map_err(|source| {
            vec![ProfileError::Read {
                path: dir.to_path_buf(),
                source,
            }]
        })?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        let mut errors = Vec::new();
        let mut out = PartnerDirectory::default();
        for path in paths {
            match PartnerProfile::load(&path) {
                Ok(profile) => {
                    if let Some((first, _)) = out.profiles.get(&profile.id) {
                        errors.push(ProfileError::Duplicate {
                            first: first.clone(),
                            id: profile.id.to_string(),
                            path,
                        });
                    } else {
                        out.profiles.insert(profile.id.clone(), (path, profile));
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// A directory of the given profiles (tests, embedding).
    #[must_use]
    pub fn from_profiles(profiles: impl IntoIterator<Item = PartnerProfile>) -> Self {
        Self {
            profiles: profiles
                .into_iter()
                .map(|p| (p.id.clone(), (PathBuf::new(), p)))
                .collect(),
        }
    }

    /// The profile of `id`.
    #[must_use]
    pub fn get(&self, id: &PartnerId) -> Option<&PartnerProfile> {
        self.profiles.get(id).map(|(_, p)| p)
    }

    /// The file the profile of `id` was read from (empty for profiles given in code).
    #[must_use]
    pub fn path(&self, id: &PartnerId) -> Option<&Path> {
        self.profiles.get(id).map(|(path, _)| path.as_path())
    }

    /// The profile of the partner with these X12 sender ids (ISA05/ISA06), if any.
    #[must_use]
    pub fn by_isa_sender(&self, qualifier: &str, id: &str) -> Option<&PartnerProfile> {
        self.iter().find(|p| {
            p.x12
                .as_ref()
                .is_some_and(|x| x.isa_qualifier == qualifier.trim() && x.isa_id == id.trim())
        })
    }

    /// Every profile, by id.
    pub fn iter(&self) -> impl Iterator<Item = &PartnerProfile> {
        self.profiles.values().map(|(_, p)| p)
    }

    /// How many profiles.
    #[must_use]
    pub fn len(&self) -> usize {
        self.profiles.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.profiles.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ODFL: &str = r#"
id = "odfl"
tenant = "acme"
name = "Old Dominion"
time_zone = "America/New_York"

[x12]
isa_qualifier = "02"
isa_id = "ODFL"
gs_id = "ODFL"
our_isa_qualifier = "ZZ"
our_isa_id = "ACMEHUB"
our_gs_id = "ACMEHUB"

[webhook]
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

[file_drop]
dir = "drop/odfl"

[[routes]]
format = "x12"
x12_set = "214"
mapping = "x12-004010-214-in"

[[routes]]
format = "json"
kind = "pick_complete"
mapping = "wms-pick-complete-in"

[code_maps.status]
X1 = "arrived_at_stop"
"#;

    #[test]
    fn parses_a_full_profile_with_defaults() {
        let p = PartnerProfile::parse(Path::new("/etc/partners/odfl.toml"), ODFL).unwrap();
        assert_eq!(p.id.as_str(), "odfl");
        assert_eq!(p.tenant.as_str(), "acme");
        let x12 = p.x12.as_ref().unwrap();
        assert_eq!(x12.version, "004010");
        assert_eq!(x12.delimiters.element, '*');
        assert!(p.acks.send_997);
        assert_eq!(p.formats, vec![DocumentFormat::X12, DocumentFormat::Json]);
        assert_eq!(
            p.file_drop.as_ref().unwrap().dir,
            Path::new("/etc/partners/drop/odfl")
        );
        assert_eq!(
            p.route(DocumentFormat::X12, Some("214"), None)
                .unwrap()
                .mapping,
            "x12-004010-214-in"
        );
        assert!(p.route(DocumentFormat::X12, Some("210"), None).is_none());
        assert!(
            p.route(DocumentFormat::Json, None, Some("pick_complete"))
                .is_some()
        );
        assert!(p.route(DocumentFormat::Json, None, Some("order")).is_none());
        assert!(p.webhook_secret().unwrap().is_some());
        assert_eq!(p.code_maps["status"]["X1"], "arrived_at_stop");
    }

    #[test]
    fn errors_carry_line_and_column() {
        let text = ODFL.replace("tenant = \"acme\"", "tenant = \"ACME CORP\"");
        let e = PartnerProfile::parse(Path::new("odfl.toml"), &text).unwrap_err();
        let ProfileError::Invalid { line, .. } = &e else {
            panic!("{e}")
        };
        assert_eq!(*line, 3, "{e}");
        let text = format!("colour = \"blue\"\n{ODFL}");
        let e = PartnerProfile::parse(Path::new("odfl.toml"), &text).unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
    }

    #[test]
    fn checks_zone_secret_and_x12_routes() {
        let bad_zone = ODFL.replace("America/New_York", "Mars/Olympus");
        let e = PartnerProfile::parse(Path::new("p.toml"), &bad_zone).unwrap_err();
        assert!(
            e.to_string().starts_with("p.toml:5:1: unknown time zone"),
            "{e}"
        );

        let bad_secret = ODFL.replace("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_c2hvcnQ=");
        let e = PartnerProfile::parse(Path::new("p.toml"), &bad_secret).unwrap_err();
        assert!(e.to_string().contains("[webhook]"), "{e}");

        let no_set = ODFL.replace("x12_set = \"214\"\n", "");
        let e = PartnerProfile::parse(Path::new("p.toml"), &no_set).unwrap_err();
        assert!(e.to_string().contains("needs x12_set"), "{e}");
    }

    #[test]
    fn secret_from_the_environment_must_be_set() {
        let text = ODFL.replace(
            "secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"",
            "secret_env = \"TRANSLOAD_TEST_SURELY_UNSET_SECRET\"",
        );
        let p = PartnerProfile::parse(Path::new("p.toml"), &text).unwrap();
        assert!(matches!(
            p.webhook_secret(),
            Err(SecretError::MissingEnv(_))
        ));
    }

    #[test]
    fn a_directory_reports_every_bad_file_and_duplicates() {
        let dir = std::env::temp_dir().join(format!("transload-partners-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.toml"), ODFL).unwrap();
        std::fs::write(dir.join("b.toml"), ODFL).unwrap();
        std::fs::write(dir.join("c.toml"), "id = 3\n").unwrap();
        std::fs::write(dir.join("notes.txt"), "ignored").unwrap();
        let errors = PartnerDirectory::load(&dir).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(matches!(errors[0], ProfileError::Duplicate { .. }));
        assert!(errors[1].to_string().contains("c.toml:1:"), "{}", errors[1]);
        std::fs::remove_file(dir.join("b.toml")).unwrap();
        std::fs::remove_file(dir.join("c.toml")).unwrap();
        let partners = PartnerDirectory::load(&dir).unwrap();
        assert_eq!(partners.len(), 1);
        assert!(partners.by_isa_sender("02", "ODFL   ").is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
