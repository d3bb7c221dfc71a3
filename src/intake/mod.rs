//! The HTTP intake: partners post JSON, XML and X12 messages to
//! `POST /v1/partners/{partner}/messages`.
//!
//! A request is checked in this order, and the first refusal answers (as
//! `application/problem+json`, see [`problem`]): the partner exists (404); the content
//! type is one the intake reads (415); the credentials: an API key of the partner's tenant
//! (401 unknown, 403 another tenant's), required unless the partner signs; the API key's
//! rate limit (429); the body size (413) and the time to send it (408); the partner's webhook signature, when it has a
//! `[webhook]` table (401, "replay or clock skew" for a timestamp out of tolerance); the
//! signing partner's rate limit (429); the body's syntax (400, with positions); and last
//! the store, which recognises a replay by its dedupe key (409, with the id of the message
//! accepted first) or takes the message (202). Only then is anything written: the raw
//! message, its dedupe key and the message for the inbound stage, in one transaction
//! ([`crate::ingest::accept`]).
//!
//! The dedupe key is, for a signed message, its `webhook-id`; for an API-key sender, its
//! `Idempotency-Key` header; without either, the SHA-256 of the body. Each is scoped to
//! the partner.

pub mod auth;
pub mod limits;
pub mod problem;
pub mod syntax;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use thiserror::Error;
use transload_connectors::partner::{DocumentFormat, PartnerDirectory, PartnerProfile};
use transload_connectors::webhook::{ID_HEADER, WebhookSecret};
use transload_core::ids::{DedupeKey, PartnerId};
use transload_core::store::Store;
use uuid::Uuid;

use self::auth::{ApiKey, ApiKeyError, ApiKeys};
use self::limits::{Limited, RateLimits};
use self::problem::IntakeError;
use self::syntax::BodyFormat;
use crate::config::{ApiKeyConfig, IntakeConfig};
use crate::ingest::{Accepted, Incoming, content_dedupe_key};
use crate::metrics::{self, Outcome, StageMeters};

/// The route partners post messages to.
pub const MESSAGES_ROUTE: &str = "/v1/partners/{partner}/messages";
/// The route of one accepted message (its `Location`).
pub const MESSAGE_ROUTE: &str = "/v1/partners/{partner}/messages/{id}";
/// Every route of the intake, as `(method, path)`.
pub const ROUTES: &[(&str, &str)] = &[("POST", MESSAGES_ROUTE), ("GET", MESSAGE_ROUTE)];

/// Header naming the document kind, for routing (`pick_complete`).
pub const KIND_REQUEST_HEADER: &str = "transload-kind";
/// Header an API-key sender names its message with, to make a resend recognisable.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// Content types the intake reads, for the 415 answer.
const ACCEPTED_TYPES: &str = "application/json, application/xml, text/xml, application/edi-x12, application/x12, or text/plain starting with ISA";

/// Why the intake cannot start.
#[derive(Debug, Error)]
pub enum IntakeSetupError {
    /// An API key cannot be used.
    #[error(transparent)]
    ApiKey(#[from] ApiKeyError),
    /// A partner's webhook secret cannot be resolved.
    #[error("partner `{partner}`: webhook secret: {source}")]
    WebhookSecret {
        /// The partner.
        partner: String,
        /// Why.
        source: transload_connectors::partner::SecretError,
    },
}

/// What the intake's handlers share.
#[derive(Debug)]
pub struct IntakeState<S> {
    store: S,
    partners: PartnerDirectory,
    secrets: HashMap<PartnerId, WebhookSecret>,
    keys: ApiKeys,
    limits: RateLimits,
    max_body_bytes: usize,
    body_timeout: Duration,
    tolerance_secs: i64,
    relay: Option<Arc<tokio::sync::Notify>>,
    meters: std::sync::Mutex<StageMeters>,
}

impl<S: Store> IntakeState<S> {
    /// The intake of `partners`, storing into `store`, with the `[intake]` settings and
    /// the API keys of the configuration. Webhook secrets and `key_env` variables are
    /// read now.
    ///
    /// # Errors
    /// When a secret or key cannot be resolved.
    pub fn new(
        store: S,
        partners: PartnerDirectory,
        config: &IntakeConfig,
        api_keys: &[ApiKeyConfig],
    ) -> Result<Self, IntakeSetupError> {
        let keys = ApiKeys::from_config(api_keys)?;
        let mut secrets = HashMap::new();
        let mut limits = RateLimits::default();
        for profile in partners.iter() {
            let secret =
                profile
                    .webhook_secret()
                    .map_err(|source| IntakeSetupError::WebhookSecret {
                        partner: profile.id.to_string(),
                        source,
                    })?;
            if let Some(secret) = secret {
                secrets.insert(profile.id.clone(), secret);
                limits.insert(Limited::Partner(profile.id.to_string()), config.rate_limit);
            }
        }
        for key in keys.iter() {
            limits.insert(
                Limited::ApiKey(key.name.clone()),
                key.rate_limit.unwrap_or(config.rate_limit),
            );
        }
        Ok(IntakeState {
            store,
            partners,
            secrets,
            keys,
            limits,
            max_body_bytes: config.max_body_bytes,
            body_timeout: Duration::from_secs(u64::from(config.body_timeout_secs)),
            tolerance_secs: i64::from(config.webhook_tolerance_secs),
            relay: None,
            meters: std::sync::Mutex::new(StageMeters::new(metrics::INTAKE)),
        })
    }

    /// Records measurements of the intake.
    fn measure(&self, record: impl FnOnce(&mut StageMeters)) {
        // A panic elsewhere while holding the lock leaves the handles as they were.
        let mut meters = self
            .meters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        record(&mut meters);
    }

    /// Wakes `relay` (the outbox relay's [`waker`](crate::pipeline::OutboxRelay::waker))
    /// after each accepted message, so it is published at once rather than at the
    /// relay's next poll.
    #[must_use]
    pub fn with_relay_waker(mut self, relay: Arc<tokio::sync::Notify>) -> Self {
        self.relay = Some(relay);
        self
    }

    /// The partners the intake knows.
    #[must_use]
    pub fn partners(&self) -> &PartnerDirectory {
        &self.partners
    }
}

/// The intake's routes, to merge into the hub's router.
pub fn router<S: Store>(state: IntakeState<S>) -> Router {
    Router::new()
        .route(MESSAGES_ROUTE, post(post_message::<S>))
        .route(MESSAGE_ROUTE, get(get_message::<S>))
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(Arc::new(state))
}

/// 405 as a problem (axum adds the `Allow` header).
async fn method_not_allowed(method: Method) -> IntakeError {
    IntakeError::MethodNotAllowed {
        method: method.to_string(),
    }
}

/// The content type as declared: a format, or plain text to be sniffed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Declared {
    Format(BodyFormat),
    PlainText,
}

/// The media type of the request, without parameters, lowercased.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next().unwrap_or_default().trim();
    Some(essence.to_ascii_lowercase())
}

fn declared_format(headers: &HeaderMap) -> Result<Declared, IntakeError> {
    let media_type = media_type(headers);
    match media_type.as_deref() {
        Some("application/json") => Ok(Declared::Format(BodyFormat::Json)),
        Some("application/xml" | "text/xml") => Ok(Declared::Format(BodyFormat::Xml)),
        Some("application/edi-x12" | "application/x12") => Ok(Declared::Format(BodyFormat::X12)),
        Some("text/plain") => Ok(Declared::PlainText),
        Some(other) => Err(IntakeError::UnsupportedMediaType {
            detail: format!("content type `{other}` is not read here; send {ACCEPTED_TYPES}"),
        }),
        None => Err(IntakeError::UnsupportedMediaType {
            detail: format!("the request has no Content-Type; send {ACCEPTED_TYPES}"),
        }),
    }
}

fn document_format(format: BodyFormat) -> DocumentFormat {
    match format {
        BodyFormat::Json => DocumentFormat::Json,
        BodyFormat::Xml => DocumentFormat::Xml,
        BodyFormat::X12 => DocumentFormat::X12,
    }
}

/// A header's value as text, refusing one that is not visible ASCII or is too long.
fn token_header(
    headers: &HeaderMap,
    name: &'static str,
    max: usize,
) -> Result<Option<String>, IntakeError> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let invalid = |reason: &str| IntakeError::InvalidHeader {
        header: name,
        reason: reason.to_owned(),
    };
    let text = value
        .to_str()
        .map_err(|_| invalid("not visible ASCII"))?
        .trim();
    if text.is_empty() {
        return Err(invalid("empty"));
    }
    if text.len() > max {
        return Err(invalid(&format!("longer than {max} characters")));
    }
    if !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid("not visible ASCII without spaces"));
    }
    Ok(Some(text.to_owned()))
}

/// The declared document kind: a lowercase name (`pick_complete`).
fn document_kind(headers: &HeaderMap) -> Result<Option<String>, IntakeError> {
    let kind = token_header(headers, KIND_REQUEST_HEADER, 64)?;
    if let Some(kind) = &kind
        && !kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
    {
        return Err(IntakeError::InvalidHeader {
            header: KIND_REQUEST_HEADER,
            reason: "a document kind is lowercase letters, digits, `_`, `.` and `-`".to_owned(),
        });
    }
    Ok(kind)
}

fn partner_of<'s>(
    partners: &'s PartnerDirectory,
    path: Result<&str, ()>,
) -> Result<&'s PartnerProfile, IntakeError> {
    let requested = path.unwrap_or_default();
    PartnerId::new(requested)
        .ok()
        .and_then(|id| partners.get(&id))
        .ok_or_else(|| IntakeError::UnknownPartner {
            partner: requested.chars().take(64).collect(),
        })
}

/// `POST /v1/partners/{partner}/messages`.
async fn post_message<S: Store>(
    State(state): State<Arc<IntakeState<S>>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, IntakeError> {
    let path = path.as_ref().map(|p| p.0.as_str()).map_err(|_| ());
    let partner = partner_of(&state.partners, path)?;
    let declared = declared_format(&headers)?;

    // Credentials, before reading the body.
    let api_key = match auth::bearer_token(&headers)? {
        Some(token) => Some(state.keys.find(token).ok_or(IntakeError::InvalidApiKey)?),
        None => None,
    };
    if let Some(key) = api_key
        && key.tenant != partner.tenant
    {
        return Err(IntakeError::WrongTenant {
            key: key.name.clone(),
            partner: partner.id.to_string(),
        });
    }
    let secret = state.secrets.get(&partner.id);
    match (secret, api_key) {
        (None, None) => {
            return Err(IntakeError::MissingCredentials {
                needed: "an API key of the partner's tenant is required: `Authorization: Bearer <key>`",
            });
        }
        (Some(_), None) if !auth::has_signature_headers(&headers) => {
            return Err(IntakeError::MissingCredentials {
                needed: "the partner signs its messages: send the webhook-id, webhook-timestamp and webhook-signature headers",
            });
        }
        _ => {}
    }
    if let Some(key) = api_key {
        state.limits.check(&Limited::ApiKey(key.name.clone()))?;
    }

    let body =
        limits::read_body_within(&headers, body, state.max_body_bytes, state.body_timeout).await?;

    if let Some(secret) = secret {
        auth::verify_signature(
            secret,
            partner.id.as_str(),
            &headers,
            &body,
            state.tolerance_secs,
        )?;
        if api_key.is_none() {
            state
                .limits
                .check(&Limited::Partner(partner.id.to_string()))?;
        }
    }

    let format = match declared {
        Declared::Format(format) => format,
        Declared::PlainText if syntax::looks_like_x12(&body) => BodyFormat::X12,
        Declared::PlainText => {
            return Err(IntakeError::UnsupportedMediaType {
                detail: "a text/plain body must be X12 (start with ISA)".to_owned(),
            });
        }
    };
    if !partner.formats.is_empty() && !partner.formats.contains(&document_format(format)) {
        return Err(IntakeError::UnsupportedMediaType {
            detail: format!(
                "partner `{}` is not configured to send {}",
                partner.id,
                format.display_name()
            ),
        });
    }
    let kind = document_kind(&headers)?;
    let (dedupe_key, dedupe_by, mut metadata) =
        dedupe_key(partner, secret.is_some(), api_key, &headers, &body)?;
    syntax::check(format, &body).map_err(|errors| IntakeError::Malformed {
        format: format.display_name(),
        errors,
    })?;

    if let Some(content_type) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        metadata.insert("content-type".to_owned(), content_type.to_owned());
    }
    let size = body.len();
    let incoming = Incoming {
        tenant: partner.tenant.clone(),
        partner: partner.id.clone(),
        format: format.as_str(),
        kind,
        endpoint: "http",
        dedupe_key,
        metadata,
        body,
    };
    let started = Instant::now();
    let outcome = crate::ingest::accept(&state.store, incoming).await;
    let partner_label = Some(partner.id.as_str());
    match outcome {
        Ok(Accepted::New(id)) => {
            if let Some(relay) = &state.relay {
                relay.notify_one();
            }
            state.measure(|meters| {
                meters.latency(started.elapsed());
                meters.received(partner_label);
                meters.processed(partner_label, Outcome::Committed);
            });
            tracing::info!(partner = %partner.id, tenant = %partner.tenant, raw_message_id = %id, format = format.as_str(), bytes = size, "message accepted");
            Ok(accepted(&partner.id, id))
        }
        Ok(Accepted::Duplicate(id)) => {
            state.measure(|meters| meters.processed(partner_label, Outcome::Duplicate));
            Err(IntakeError::Duplicate {
                raw_message_id: id,
                by: dedupe_by,
            })
        }
        Err(error) => {
            tracing::error!(partner = %partner.id, %error, "the store refused a message");
            Err(IntakeError::StoreUnavailable)
        }
    }
}

/// The dedupe key of the message, what it came from, and the metadata to keep with it.
fn dedupe_key(
    partner: &PartnerProfile,
    signed: bool,
    api_key: Option<&ApiKey>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(DedupeKey, &'static str, BTreeMap<String, String>), IntakeError> {
    let mut metadata = BTreeMap::new();
    let auth = match (signed, api_key) {
        (true, Some(key)) => format!("signature+api-key:{}", key.name),
        (true, None) => "signature".to_owned(),
        (false, Some(key)) => format!("api-key:{}", key.name),
        (false, None) => "none".to_owned(),
    };
    metadata.insert("auth".to_owned(), auth);
    let (key, by, header) = if signed {
        let id = token_header(headers, ID_HEADER, 256)?.ok_or(IntakeError::InvalidHeader {
            header: ID_HEADER,
            reason: "missing".to_owned(),
        })?;
        metadata.insert("webhook-id".to_owned(), id.clone());
        (
            format!("{}:webhook-id:{id}", partner.id),
            ID_HEADER,
            ID_HEADER,
        )
    } else if let Some(key) = token_header(headers, IDEMPOTENCY_KEY_HEADER, 256)? {
        metadata.insert("idempotency-key".to_owned(), key.clone());
        (
            format!("{}:idempotency-key:{key}", partner.id),
            "Idempotency-Key",
            IDEMPOTENCY_KEY_HEADER,
        )
    } else {
        let content = content_dedupe_key(body).ok_or(IntakeError::StoreUnavailable)?;
        (
            format!("{}:{}", partner.id, content.as_str()),
            "content",
            IDEMPOTENCY_KEY_HEADER,
        )
    };
    let key = DedupeKey::new(key).map_err(|_| IntakeError::InvalidHeader {
        header,
        reason: "not usable as a dedupe key".to_owned(),
    })?;
    Ok((key, by, metadata))
}

fn message_location(partner: &PartnerId, id: Uuid) -> String {
    format!("/v1/partners/{partner}/messages/{id}")
}

/// 202 with the raw message id and where to look it up.
fn accepted(partner: &PartnerId, id: Uuid) -> Response {
    let location = message_location(partner, id);
    let body = json!({
        "id": id,
        "status": "accepted",
        "partner": partner,
        "links": { "self": location },
    });
    let mut response = (StatusCode::ACCEPTED, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// `GET /v1/partners/{partner}/messages/{id}`: an accepted message, for an API key of the
/// partner's tenant.
async fn get_message<S: Store>(
    State(state): State<Arc<IntakeState<S>>>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, IntakeError> {
    let (partner_path, id_path) = match &path {
        Ok(Path((partner, id))) => (Ok(partner.as_str()), id.as_str()),
        Err(_) => (Err(()), ""),
    };
    let partner = partner_of(&state.partners, partner_path)?;
    let token = auth::bearer_token(&headers)?.ok_or(IntakeError::MissingCredentials {
        needed: "an API key of the partner's tenant is required: `Authorization: Bearer <key>`",
    })?;
    let key = state.keys.find(token).ok_or(IntakeError::InvalidApiKey)?;
    if key.tenant != partner.tenant {
        return Err(IntakeError::WrongTenant {
            key: key.name.clone(),
            partner: partner.id.to_string(),
        });
    }
    state.limits.check(&Limited::ApiKey(key.name.clone()))?;
    let unknown = || IntakeError::UnknownMessage {
        partner: partner.id.to_string(),
        id: id_path.chars().take(64).collect(),
    };
    let id = Uuid::parse_str(id_path).map_err(|_| unknown())?;
    let raw = state.store.raw_message(id).await.map_err(|error| {
        tracing::error!(%error, "the store cannot read a raw message");
        IntakeError::StoreUnavailable
    })?;
    let raw = raw
        .filter(|raw| raw.partner == partner.id && raw.tenant == partner.tenant)
        .ok_or_else(unknown)?;
    let body = json!({
        "id": raw.id,
        "status": "accepted",
        "partner": raw.partner,
        "format": raw.format,
        "received_at": raw.received_at.to_string(),
        "bytes": raw.body.len(),
        "metadata": raw.metadata,
        "links": { "self": message_location(&raw.partner, raw.id) },
    });
    Ok(axum::Json(body).into_response())
}
