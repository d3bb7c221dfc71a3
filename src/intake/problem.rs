//! Every refusal of the intake, as one error type that answers RFC 9457
//! `application/problem+json`: `type`, `title`, `status`, `detail`, `instance`, and
//! extension members (`errors` with positions, `raw_message_id`, `retry_after_secs`…).
//!
//! Handlers return `Result<_, IntakeError>` and use `?`; [`IntoResponse`] renders the
//! problem and logs it under the same `instance` id the client sees.

use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};
use thiserror::Error;
use uuid::Uuid;

/// The media type of every error answer.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// Where the problem types are named: `type` is this followed by the slug.
pub const PROBLEM_TYPE_BASE: &str = "https://transload.invalid/problems/";

/// One syntax error of a refused body, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyntaxIssue {
    /// What is wrong.
    pub message: String,
    /// A stable code (X12 errors: `X12-E0nn`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// Line, 1-based.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Column, 1-based (JSON, XML).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u64>,
    /// Byte offset from the start of the body, 0-based.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Segment index in the body, 1-based (X12).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment: Option<u64>,
}

/// Why the intake refused a request. Each variant is one problem type.
#[derive(Debug, Error)]
pub enum IntakeError {
    /// No partner of that id is configured.
    #[error("no partner `{partner}` is configured")]
    UnknownPartner {
        /// The id as requested.
        partner: String,
    },
    /// No raw message of that id for this partner (the status route).
    #[error("no message {id} from partner `{partner}`")]
    UnknownMessage {
        /// The partner.
        partner: String,
        /// The id as requested.
        id: String,
    },
    /// Neither an API key nor a signature was sent.
    #[error("{needed}")]
    MissingCredentials {
        /// What the partner needs.
        needed: &'static str,
    },
    /// The `Authorization` header is not `Bearer <key>`.
    #[error("the Authorization header must be `Bearer <API key>`")]
    MalformedAuthorization,
    /// The bearer token is no configured API key.
    #[error("the API key is not valid")]
    InvalidApiKey,
    /// A webhook header is missing (the partner must sign).
    #[error("partner `{partner}` signs its messages: header `{header}` is missing")]
    MissingSignatureHeader {
        /// The partner.
        partner: String,
        /// The header.
        header: &'static str,
    },
    /// `webhook-timestamp` is not a number of seconds.
    #[error("header `webhook-timestamp` is not a Unix time in seconds")]
    BadTimestamp,
    /// The timestamp is outside the tolerance: a replay, or a wrong clock.
    #[error(
        "the webhook timestamp is {skew_secs} s away from the hub's clock (tolerance {tolerance_secs} s): replay or clock skew"
    )]
    StaleTimestamp {
        /// Now minus the timestamp, in seconds.
        skew_secs: i64,
        /// The tolerance.
        tolerance_secs: i64,
    },
    /// No signature matches.
    #[error("no webhook signature matches the body with the partner's secret")]
    BadSignature,
    /// The API key belongs to another tenant than the partner.
    #[error("API key `{key}` may not post for partner `{partner}` (another tenant)")]
    WrongTenant {
        /// The key's name.
        key: String,
        /// The partner.
        partner: String,
    },
    /// The content type is missing or not one the intake reads.
    #[error("{detail}")]
    UnsupportedMediaType {
        /// What was sent and what is accepted.
        detail: String,
    },
    /// The body is larger than `[intake] max_body_bytes`.
    #[error("the body is larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The client took longer than `[intake] body_timeout_secs` to send the body.
    #[error("the body did not arrive within {secs} s")]
    BodyTimeout {
        /// The timeout.
        secs: u64,
    },
    /// The body could not be read (the client went away).
    #[error("the body could not be read: {reason}")]
    BodyUnreadable {
        /// Why.
        reason: String,
    },
    /// The body is not well-formed in its format.
    #[error("the body is not well-formed {format}")]
    Malformed {
        /// `JSON`, `XML` or `X12`.
        format: &'static str,
        /// The errors found, with positions.
        errors: Vec<SyntaxIssue>,
    },
    /// A request header has an unusable value.
    #[error("header `{header}`: {reason}")]
    InvalidHeader {
        /// The header.
        header: &'static str,
        /// Why.
        reason: String,
    },
    /// The same message (same dedupe key) was accepted before.
    #[error(
        "this message was accepted before, as raw message {raw_message_id}; nothing was stored"
    )]
    Duplicate {
        /// The raw message accepted the first time.
        raw_message_id: Uuid,
        /// What made it the same message (`webhook-id`, `Idempotency-Key`, `content`).
        by: &'static str,
    },
    /// Too many requests for this API key or partner.
    #[error("rate limit exceeded; retry in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until a request is allowed again.
        retry_after_secs: u64,
    },
    /// The route exists, not with this method.
    #[error("method {method} is not allowed here (see the Allow header)")]
    MethodNotAllowed {
        /// The method used.
        method: String,
    },
    /// The store cannot take the message now; nothing was accepted.
    #[error("the message could not be stored; nothing was accepted, send it again later")]
    StoreUnavailable,
}

impl IntakeError {
    /// The HTTP status of the answer.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::UnknownPartner { .. } | Self::UnknownMessage { .. } => StatusCode::NOT_FOUND,
            Self::MissingCredentials { .. }
            | Self::MalformedAuthorization
            | Self::InvalidApiKey
            | Self::MissingSignatureHeader { .. }
            | Self::BadTimestamp
            | Self::StaleTimestamp { .. }
            | Self::BadSignature => StatusCode::UNAUTHORIZED,
            Self::WrongTenant { .. } => StatusCode::FORBIDDEN,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyUnreadable { .. } | Self::Malformed { .. } | Self::InvalidHeader { .. } => {
                StatusCode::BAD_REQUEST
            }
            Self::Duplicate { .. } => StatusCode::CONFLICT,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The problem type's slug (the end of `type`) and its title.
    #[must_use]
    pub fn kind(&self) -> (&'static str, &'static str) {
        match self {
            Self::UnknownPartner { .. } => ("unknown-partner", "Unknown partner"),
            Self::UnknownMessage { .. } => ("unknown-message", "Unknown message"),
            Self::MissingCredentials { .. } => ("missing-credentials", "Missing credentials"),
            Self::MalformedAuthorization => {
                ("malformed-authorization", "Malformed Authorization header")
            }
            Self::InvalidApiKey => ("invalid-api-key", "Invalid API key"),
            Self::MissingSignatureHeader { .. } => {
                ("missing-signature", "Missing webhook signature")
            }
            Self::BadTimestamp => ("bad-timestamp", "Invalid webhook timestamp"),
            Self::StaleTimestamp { .. } => (
                "stale-timestamp",
                "Webhook timestamp out of tolerance (replay or clock skew)",
            ),
            Self::BadSignature => ("bad-signature", "Invalid webhook signature"),
            Self::WrongTenant { .. } => ("wrong-tenant", "API key of another tenant"),
            Self::UnsupportedMediaType { .. } => {
                ("unsupported-media-type", "Unsupported content type")
            }
            Self::PayloadTooLarge { .. } => ("payload-too-large", "Body too large"),
            Self::BodyUnreadable { .. } => ("body-unreadable", "Body could not be read"),
            Self::Malformed { .. } => ("malformed-body", "Malformed body"),
            Self::InvalidHeader { .. } => ("invalid-header", "Invalid header"),
            Self::Duplicate { .. } => ("duplicate-message", "Message already accepted"),
            Self::RateLimited { .. } => ("rate-limited", "Rate limit exceeded"),
            Self::MethodNotAllowed { .. } => ("method-not-allowed", "Method not allowed"),
            Self::BodyTimeout { .. } => ("body-timeout", "Body not received in time"),
            Self::StoreUnavailable => ("store-unavailable", "Store unavailable"),
        }
    }

    /// One error of every variant, for the OpenAPI document's test.
    #[must_use]
    pub fn examples() -> Vec<IntakeError> {
        vec![
            Self::UnknownPartner {
                partner: "nobody".to_owned(),
            },
            Self::UnknownMessage {
                partner: "acme-wms".to_owned(),
                id: "x".to_owned(),
            },
            Self::MissingCredentials {
                needed: "an API key",
            },
            Self::MalformedAuthorization,
            Self::InvalidApiKey,
            Self::MissingSignatureHeader {
                partner: "acme-wms".to_owned(),
                header: "webhook-signature",
            },
            Self::BadTimestamp,
            Self::StaleTimestamp {
                skew_secs: 301,
                tolerance_secs: 300,
            },
            Self::BadSignature,
            Self::WrongTenant {
                key: "globex-oms".to_owned(),
                partner: "acme-wms".to_owned(),
            },
            Self::UnsupportedMediaType {
                detail: "image/png".to_owned(),
            },
            Self::PayloadTooLarge { limit: 1 },
            Self::BodyUnreadable {
                reason: "reset".to_owned(),
            },
            Self::Malformed {
                format: "JSON",
                errors: Vec::new(),
            },
            Self::InvalidHeader {
                header: "transload-kind",
                reason: "empty".to_owned(),
            },
            Self::Duplicate {
                raw_message_id: Uuid::nil(),
                by: "content",
            },
            Self::RateLimited {
                retry_after_secs: 1,
            },
            Self::MethodNotAllowed {
                method: "PUT".to_owned(),
            },
            Self::BodyTimeout { secs: 60 },
            Self::StoreUnavailable,
        ]
    }

    /// The problem document (without `instance`).
    #[must_use]
    pub fn problem(&self) -> Map<String, Value> {
        let (slug, title) = self.kind();
        let mut body = Map::new();
        body.insert(
            "type".to_owned(),
            json!(format!("{PROBLEM_TYPE_BASE}{slug}")),
        );
        body.insert("title".to_owned(), json!(title));
        body.insert("status".to_owned(), json!(self.status().as_u16()));
        body.insert("detail".to_owned(), json!(self.to_string()));
        match self {
            Self::Malformed { format, errors } => {
                body.insert("format".to_owned(), json!(format));
                body.insert("errors".to_owned(), json!(errors));
            }
            Self::Duplicate { raw_message_id, by } => {
                body.insert("raw_message_id".to_owned(), json!(raw_message_id));
                body.insert("duplicate_by".to_owned(), json!(by));
            }
            Self::RateLimited { retry_after_secs } => {
                body.insert("retry_after_secs".to_owned(), json!(retry_after_secs));
            }
            Self::StaleTimestamp {
                skew_secs,
                tolerance_secs,
            } => {
                body.insert("skew_secs".to_owned(), json!(skew_secs));
                body.insert("tolerance_secs".to_owned(), json!(tolerance_secs));
            }
            Self::PayloadTooLarge { limit } => {
                body.insert("max_body_bytes".to_owned(), json!(limit));
            }
            _ => {}
        }
        body
    }
}

impl IntoResponse for IntakeError {
    fn into_response(self) -> Response {
        let status = self.status();
        let instance = format!("urn:uuid:{}", Uuid::now_v7());
        let mut body = self.problem();
        body.insert("instance".to_owned(), json!(instance));
        if status.is_server_error() {
            tracing::error!(%instance, status = status.as_u16(), error = %self, "intake failed");
        } else {
            tracing::info!(%instance, status = status.as_u16(), problem = self.kind().0, detail = %self, "intake refused a request");
        }
        let bytes = serde_json::to_vec(&Value::Object(body)).unwrap_or_default();
        let mut response = (status, bytes).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_CONTENT_TYPE));
        match &self {
            Self::RateLimited { retry_after_secs } => {
                headers.insert(RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            Self::StoreUnavailable => {
                headers.insert(RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ if status == StatusCode::UNAUTHORIZED => {
                headers.insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"transload\""),
                );
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_is_a_distinct_problem_type() {
        let examples = IntakeError::examples();
        let mut slugs: Vec<_> = examples.iter().map(|e| e.kind().0).collect();
        slugs.sort_unstable();
        slugs.dedup();
        assert_eq!(slugs.len(), examples.len());
    }

    #[test]
    fn the_problem_carries_the_rfc_9457_members_and_extensions() {
        let problem = IntakeError::Malformed {
            format: "JSON",
            errors: vec![SyntaxIssue {
                message: "EOF while parsing".to_owned(),
                code: None,
                line: Some(1),
                column: Some(9),
                offset: None,
                segment: None,
            }],
        }
        .problem();
        assert_eq!(
            problem["type"],
            "https://transload.invalid/problems/malformed-body"
        );
        assert_eq!(problem["status"], 400);
        assert_eq!(problem["title"], "Malformed body");
        assert_eq!(problem["detail"], "the body is not well-formed JSON");
        assert_eq!(
            problem["errors"],
            json!([{"message": "EOF while parsing", "line": 1, "column": 9}])
        );
    }

    #[test]
    fn rate_limited_and_unauthorized_answers_carry_their_headers() {
        let response = IntakeError::RateLimited {
            retry_after_secs: 3,
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[RETRY_AFTER], "3");
        assert_eq!(response.headers()[CONTENT_TYPE], PROBLEM_CONTENT_TYPE);
        let response = IntakeError::BadSignature.into_response();
        assert!(response.headers().contains_key(WWW_AUTHENTICATE));
    }
}
