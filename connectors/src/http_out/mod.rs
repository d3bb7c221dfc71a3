//! Outbound HTTP: delivering documents to a partner's endpoint (`[endpoint]` of its
//! profile).
//!
//! One [`HttpSender`] per partner endpoint owns what belongs to that partner: its rate
//! limit (`governor`), its circuit breaker ([`circuit`]), its headers (`${ENV}` expanded
//! once) and its signing secret. [`HttpSender::send`] POSTs one document:
//!
//! - every attempt carries the same `Idempotency-Key` (the caller's key for the
//!   document), and, when the endpoint has `signing`, the Standard Webhooks headers
//!   (`webhook-id` = the idempotency key, `webhook-timestamp` of the attempt,
//!   `webhook-signature`), signed anew per attempt so a late retry is not stale;
//! - transient failures (timeouts, refused connections, 408, 429, 5xx) are retried with
//!   exponential backoff with jitter, capped, up to the endpoint's `max_attempts`; a
//!   `Retry-After` (seconds or HTTP-date) replaces the backoff's wait;
//! - other 4xx (and 3xx: redirects are not followed for documents) are permanent and not
//!   retried;
//! - timeouts, connection failures, 408 and 5xx count against the circuit; after
//!   `failure_threshold` in a row it opens and calls fail at once with
//!   [`SendErrorKind::CircuitOpen`] until one probe, after the cooldown, succeeds.
//!
//! The deliver stage maps a [`SendError`] to its retry policy: transient → retry the
//! message later (at least [`SendError::retry_after`]), dead-letter when the attempts
//! are used up; permanent → dead-letter at once with the error as the reason.
//!
//! TLS is rustls with the ring provider (no cmake/aws-lc build), installed as the
//! process default if none is.

pub mod circuit;
mod error;
pub mod headers;
mod sender;

pub use circuit::{CircuitBreaker, CircuitConfig, CircuitState};
pub use error::{SendError, SendErrorKind, SenderConfigError, is_transient_status};
pub use sender::{Delivered, HttpSender, IDEMPOTENCY_KEY_HEADER, OutboundRequest, SenderOptions};
