//! [`HttpSender`]: POSTs documents to one partner endpoint.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use backon::{ExponentialBuilder, Retryable as _};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER, USER_AGENT};
use transload_core::ids::PartnerId;

use super::circuit::{CircuitBreaker, CircuitConfig, CircuitState};
use super::error::{SendError, SendErrorKind, SenderConfigError};
use super::headers::{expand_env, parse_retry_after};
use crate::partner::HttpEndpoint;
use crate::webhook::{self, WebhookSecret};

/// Header carrying the document's idempotency key, the same on every attempt.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// At most this much of an error response body is kept in the error.
const ERROR_BODY_LIMIT: usize = 2048;

/// How a sender retries and when its circuit opens; the endpoint gives the rest.
#[derive(Debug, Clone)]
pub struct SenderOptions {
    /// Wait before the second attempt (grows exponentially, with jitter).
    pub first_delay: Duration,
    /// Longest wait between two attempts.
    pub max_delay: Duration,
    /// Longest `Retry-After` waited for in process; a partner asking for more ends the
    /// call with a transient error carrying the wait, for the bus to retry later.
    pub max_retry_after: Duration,
    /// The circuit breaker.
    pub circuit: CircuitConfig,
    /// The `User-Agent` sent.
    pub user_agent: String,
}

impl Default for SenderOptions {
    fn default() -> Self {
        Self {
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
            circuit: CircuitConfig::default(),
            user_agent: format!("transload/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// One document to send.
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    /// Identifies the document to the partner across every attempt and redelivery (sent
    /// as `Idempotency-Key` and, when signing, as `webhook-id`). Derive it from what the
    /// document is (e.g. the outbound bus message id), never per attempt.
    pub idempotency_key: String,
    /// The media type of `body`.
    pub content_type: String,
    /// The document.
    pub body: Vec<u8>,
    /// Headers of this document only (the endpoint's own come first).
    pub headers: Vec<(String, String)>,
}

impl OutboundRequest {
    /// A JSON document.
    #[must_use]
    pub fn json(idempotency_key: impl Into<String>, body: Vec<u8>) -> Self {
        Self {
            idempotency_key: idempotency_key.into(),
            content_type: "application/json".to_owned(),
            body,
            headers: Vec::new(),
        }
    }
}

/// The partner's answer to a delivered document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The 2xx status.
    pub status: u16,
    /// The response's `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The response body (a synchronous answer some partners give).
    pub body: Vec<u8>,
    /// Requests made, this one included.
    pub attempts: u32,
}

/// Sends documents to one partner endpoint: a timeout per request, retries with
/// exponential backoff and jitter that honour `Retry-After`, the partner's rate limit, a
/// circuit breaker, a stable `Idempotency-Key`, optional Standard Webhooks signing, and
/// the endpoint's headers with `${ENV}` expanded.
///
/// A call makes up to the endpoint's `max_attempts` requests in process. It gives up
/// early on a permanent error (4xx other than 408/429), on an open circuit, and when the
/// partner asks to wait longer than [`SenderOptions::max_retry_after`]; the error then
/// says whether a later try may succeed ([`SendError::is_transient`]).
///
/// Clones share the rate limiter and the circuit.
#[derive(Clone)]
pub struct HttpSender {
    partner: PartnerId,
    url: reqwest::Url,
    timeout: Duration,
    max_attempts: u32,
    headers: HeaderMap,
    signing: Option<WebhookSecret>,
    limiter: Option<Arc<DefaultDirectRateLimiter>>,
    circuit: CircuitBreaker,
    client: reqwest::Client,
    options: SenderOptions,
}

impl std::fmt::Debug for HttpSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSender")
            .field("partner", &self.partner)
            .field("url", &self.url.as_str())
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("signed", &self.signing.is_some())
            .field("rate_limited", &self.limiter.is_some())
            .field("circuit", &self.circuit.state())
            .finish_non_exhaustive()
    }
}

/// rustls needs a process-wide crypto provider; ring builds without cmake.
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may install one at the same time; either is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

impl HttpSender {
    /// A sender to `endpoint` of `partner`. Header values are expanded and the signing
    /// secret resolved now, so a configuration error shows at start-up.
    ///
    /// # Errors
    /// See [`SenderConfigError`].
    pub fn new(
        partner: PartnerId,
        endpoint: &HttpEndpoint,
        options: SenderOptions,
    ) -> Result<Self, SenderConfigError> {
        let url = reqwest::Url::parse(&endpoint.url).map_err(|e| SenderConfigError::Url {
            url: endpoint.url.clone(),
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(SenderConfigError::Url {
                url: endpoint.url.clone(),
                reason: "the scheme must be http or https".to_owned(),
            });
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &endpoint.headers {
            let expanded = expand_env(value).map_err(|source| SenderConfigError::Expand {
                header: name.clone(),
                source,
            })?;
            let header_name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| SenderConfigError::InvalidHeader(name.clone()))?;
            let mut header_value = HeaderValue::from_str(&expanded)
                .map_err(|_| SenderConfigError::InvalidHeader(name.clone()))?;
            header_value.set_sensitive(true);
            headers.append(header_name, header_value);
        }
        let signing = endpoint
            .signing
            .as_ref()
            .map(crate::partner::WebhookProfile::resolve)
            .transpose()?;
        let limiter = endpoint
            .rate_limit
            .map(|limit| {
                let per_second =
                    NonZeroU32::new(limit.per_second).ok_or(SenderConfigError::RateLimit)?;
                let burst = NonZeroU32::new(limit.burst).unwrap_or(NonZeroU32::MIN);
                Ok::<_, SenderConfigError>(Arc::new(RateLimiter::direct(
                    Quota::per_second(per_second).allow_burst(burst),
                )))
            })
            .transpose()?;
        ensure_crypto_provider();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_millis(endpoint.timeout_ms))
            .build()
            .map_err(|e| SenderConfigError::Client(e.to_string()))?;
        Ok(Self {
            partner,
            url,
            timeout: Duration::from_millis(endpoint.timeout_ms),
            max_attempts: endpoint.max_attempts.max(1),
            headers,
            signing,
            limiter,
            circuit: CircuitBreaker::new(options.circuit),
            client,
            options,
        })
    }

    /// The partner this sender delivers to.
    #[must_use]
    pub fn partner(&self) -> &PartnerId {
        &self.partner
    }

    /// Requests made per [`HttpSender::send`] at most (the endpoint's `max_attempts`).
    #[must_use]
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The state of the circuit now.
    #[must_use]
    pub fn circuit_state(&self) -> CircuitState {
        self.circuit.state()
    }

    /// Sends `request`, retrying transient failures in process (see [`HttpSender`]).
    ///
    /// # Errors
    /// The last attempt's failure, with the number of attempts; see
    /// [`SendError::is_transient`].
    pub async fn send(&self, request: &OutboundRequest) -> Result<Delivered, SendError> {
        let attempts = AtomicU32::new(0);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.options.first_delay)
            .with_max_delay(self.options.max_delay)
            .with_jitter()
            .with_max_times(usize::try_from(self.max_attempts.saturating_sub(1)).unwrap_or(0));
        let max_retry_after = self.options.max_retry_after;
        let result = (|| async {
            let response = self.attempt(request).await;
            if !matches!(response, Err(SendErrorKind::CircuitOpen { .. })) {
                attempts.fetch_add(1, Ordering::Relaxed);
            }
            response
        })
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|kind: &SendErrorKind| {
            kind.is_transient() && !matches!(kind, SendErrorKind::CircuitOpen { .. })
        })
        .adjust(|kind, next| {
            let next = next?;
            match kind {
                SendErrorKind::Status {
                    retry_after: Some(wait),
                    ..
                } => (*wait <= max_retry_after).then_some(*wait),
                _ => Some(next),
            }
        })
        .notify(|kind, wait| {
            tracing::info!(partner = %self.partner, error = %kind, ?wait, "delivery attempt failed; retrying");
        })
        .await;
        let attempts = attempts.load(Ordering::Relaxed);
        result
            .map(|mut delivered| {
                delivered.attempts = attempts;
                delivered
            })
            .map_err(|kind| SendError { kind, attempts })
    }

    /// One request: the circuit, the rate limit, the request, the circuit's verdict.
    async fn attempt(&self, request: &OutboundRequest) -> Result<Delivered, SendErrorKind> {
        let permit = self
            .circuit
            .acquire()
            .map_err(|refused| SendErrorKind::CircuitOpen {
                retry_in: refused.retry_in,
            })?;
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
        let outcome = self.exchange(request).await;
        match &outcome {
            Err(kind) if kind.is_partner_failure() => permit.failure(),
            _ => permit.success(),
        }
        outcome
    }

    fn build_headers(&self, request: &OutboundRequest) -> Result<HeaderMap, SendErrorKind> {
        let invalid = |name: &str| SendErrorKind::InvalidRequest(format!("header `{name}`"));
        let mut headers = self.headers.clone();
        let value = |name: &str, text: &str| HeaderValue::from_str(text).map_err(|_| invalid(name));
        headers.insert(CONTENT_TYPE, value("content-type", &request.content_type)?);
        headers.insert(USER_AGENT, value("user-agent", &self.options.user_agent)?);
        headers.insert(
            IDEMPOTENCY_KEY_HEADER,
            value(IDEMPOTENCY_KEY_HEADER, &request.idempotency_key)?,
        );
        if let Some(secret) = &self.signing {
            let timestamp = jiff::Timestamp::now().as_second();
            let signature = secret.sign(&request.idempotency_key, timestamp, &request.body);
            headers.insert(
                webhook::ID_HEADER,
                value(webhook::ID_HEADER, &request.idempotency_key)?,
            );
            headers.insert(
                webhook::TIMESTAMP_HEADER,
                value(webhook::TIMESTAMP_HEADER, &timestamp.to_string())?,
            );
            headers.insert(
                webhook::SIGNATURE_HEADER,
                value(webhook::SIGNATURE_HEADER, &signature)?,
            );
        }
        for (name, text) in &request.headers {
            let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid(name))?;
            headers.append(header_name, value(name, text)?);
        }
        Ok(headers)
    }

    async fn exchange(&self, request: &OutboundRequest) -> Result<Delivered, SendErrorKind> {
        let headers = self.build_headers(request)?;
        let response = self
            .client
            .post(self.url.clone())
            .headers(headers)
            .timeout(self.timeout)
            .body(request.body.clone())
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let body = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(&e))?;
        if (200..300).contains(&status) {
            return Ok(Delivered {
                status,
                content_type,
                body: body.to_vec(),
                attempts: 0,
            });
        }
        let shown = body.get(..ERROR_BODY_LIMIT).unwrap_or(&body);
        Err(SendErrorKind::Status {
            status,
            retry_after,
            body: String::from_utf8_lossy(shown).into_owned(),
        })
    }

    fn transport_error(&self, error: &reqwest::Error) -> SendErrorKind {
        if error.is_timeout() {
            SendErrorKind::Timeout(self.timeout)
        } else if error.is_connect() {
            SendErrorKind::Connect(error_chain(error))
        } else if error.is_builder() {
            SendErrorKind::InvalidRequest(error_chain(error))
        } else {
            SendErrorKind::Transport(error_chain(error))
        }
    }
}

/// An error and its sources, `: `-separated.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
