//! What can go wrong sending a document, and whether trying later may help.

use std::time::Duration;

use thiserror::Error;

use super::headers::ExpandError;
use crate::partner::SecretError;

/// Why a [`super::HttpSender`] cannot be built from a partner's endpoint: the profile or
/// the environment is wrong, nothing was sent.
#[derive(Debug, Error)]
pub enum SenderConfigError {
    /// The URL does not parse or is not `http`/`https`.
    #[error("endpoint url `{url}`: {reason}")]
    Url {
        /// The URL as written.
        url: String,
        /// Why it is refused.
        reason: String,
    },
    /// A header value names an unset environment variable or is malformed.
    #[error("header `{header}`: {source}")]
    Expand {
        /// The header name.
        header: String,
        /// What is wrong with the value.
        source: ExpandError,
    },
    /// A header name or (expanded) value is not valid in HTTP.
    #[error("header `{0}` has an invalid name or value")]
    InvalidHeader(String),
    /// The signing secret cannot be resolved.
    #[error("signing secret: {0}")]
    Secret(#[from] SecretError),
    /// The rate limit allows no request at all.
    #[error("rate limit per_second must be at least 1")]
    RateLimit,
    /// The HTTP client could not be built (TLS setup).
    #[error("http client: {0}")]
    Client(String),
}

/// What went wrong with a document's delivery, with the number of attempts made.
#[derive(Debug, Error)]
#[error("{kind} (after {attempts} attempt(s))")]
pub struct SendError {
    /// What went wrong on the last attempt.
    pub kind: SendErrorKind,
    /// Requests made for this document by this call (0 when none was made).
    pub attempts: u32,
}

/// What went wrong on one attempt.
#[derive(Debug, Error)]
pub enum SendErrorKind {
    /// The circuit to the partner is open: nothing was sent. Transient.
    #[error("circuit open, next probe in {retry_in:?}")]
    CircuitOpen {
        /// How long until a probe may pass.
        retry_in: Duration,
    },
    /// No complete answer within the endpoint's timeout. Transient.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The connection could not be made. Transient.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The connection broke during the exchange. Transient.
    #[error("transport error: {0}")]
    Transport(String),
    /// The partner answered with a status other than 2xx. Transient for 408, 429 and
    /// 5xx; permanent otherwise (other 4xx, and 3xx since redirects are not followed).
    #[error("HTTP {status}: {body}")]
    Status {
        /// The status code.
        status: u16,
        /// The wait the partner asked for (`Retry-After`), if any.
        retry_after: Option<Duration>,
        /// The start of the response body, for the dead-letter reason.
        body: String,
    },
    /// The request could not be built from the document (an invalid header value).
    /// Permanent.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl SendErrorKind {
    /// Whether sending the same document later may succeed.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            SendErrorKind::CircuitOpen { .. }
            | SendErrorKind::Timeout(_)
            | SendErrorKind::Connect(_)
            | SendErrorKind::Transport(_) => true,
            SendErrorKind::Status { status, .. } => is_transient_status(*status),
            SendErrorKind::InvalidRequest(_) => false,
        }
    }

    /// Whether the failure says the partner is unwell (counts against the circuit).
    #[must_use]
    pub(crate) fn is_partner_failure(&self) -> bool {
        match self {
            SendErrorKind::Timeout(_) | SendErrorKind::Connect(_) | SendErrorKind::Transport(_) => {
                true
            }
            SendErrorKind::Status { status, .. } => *status == 408 || *status >= 500,
            SendErrorKind::CircuitOpen { .. } | SendErrorKind::InvalidRequest(_) => false,
        }
    }
}

impl SendError {
    /// Whether sending the same document later may succeed (retry it later, dead-letter
    /// it once the endpoint's `max_attempts` are used up); `false` means dead-letter it
    /// now.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        self.kind.is_transient()
    }

    /// The least wait before trying again, when the partner or the circuit said one.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match &self.kind {
            SendErrorKind::CircuitOpen { retry_in } => Some(*retry_in),
            SendErrorKind::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// 408 Request Timeout, 429 Too Many Requests and every 5xx may pass later.
#[must_use]
pub fn is_transient_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}
