//! Limits of the intake: the body size and the request rates (token buckets, one per API
//! key and one per signing partner, built when the hub starts).

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Body;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_LENGTH;
use futures_util::StreamExt as _;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::problem::IntakeError;
use crate::config::RateLimitConfig;

/// Who a rate limit applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Limited {
    /// Requests authenticated by this API key (by name).
    ApiKey(String),
    /// Requests of this partner authenticated by signature alone.
    Partner(String),
}

/// The token buckets.
#[derive(Debug, Default)]
pub struct RateLimits {
    buckets: HashMap<Limited, DefaultDirectRateLimiter>,
    clock: DefaultClock,
}

impl RateLimits {
    /// Adds the bucket of `who`.
    pub fn insert(&mut self, who: Limited, limit: RateLimitConfig) {
        let quota = Quota::per_second(limit.per_second).allow_burst(limit.burst());
        self.buckets.insert(who, RateLimiter::direct(quota));
    }

    /// Takes a token from `who`'s bucket (a sender without a bucket is not limited).
    ///
    /// # Errors
    /// [`IntakeError::RateLimited`] with the whole seconds until a token is back (at
    /// least 1).
    pub fn check(&self, who: &Limited) -> Result<(), IntakeError> {
        let Some(bucket) = self.buckets.get(who) else {
            return Ok(());
        };
        bucket.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            IntakeError::RateLimited {
                retry_after_secs: whole_seconds_up(wait).max(1),
            }
        })
    }
}

fn whole_seconds_up(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// Reads the body within `timeout`, refusing it as soon as it is known to exceed `max`
/// bytes (from `Content-Length`, before reading anything, or while reading).
///
/// # Errors
/// [`IntakeError::PayloadTooLarge`], [`IntakeError::BodyTimeout`], or
/// [`IntakeError::BodyUnreadable`] when the client stops sending.
pub async fn read_body_within(
    headers: &HeaderMap,
    body: Body,
    max: usize,
    timeout: Duration,
) -> Result<Vec<u8>, IntakeError> {
    tokio::time::timeout(timeout, read_body(headers, body, max))
        .await
        .map_err(|_| IntakeError::BodyTimeout {
            secs: timeout.as_secs(),
        })?
}

/// Reads the body, refusing it as soon as it is known to exceed `max` bytes (from
/// `Content-Length`, before reading anything, or while reading).
///
/// # Errors
/// [`IntakeError::PayloadTooLarge`], or [`IntakeError::BodyUnreadable`] when the client
/// stops sending.
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    max: usize,
) -> Result<Vec<u8>, IntakeError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > u64::try_from(max).unwrap_or(u64::MAX)) {
        return Err(IntakeError::PayloadTooLarge { limit: max });
    }
    let capacity = declared
        .and_then(|length| usize::try_from(length).ok())
        .unwrap_or(0)
        .min(max);
    let mut bytes = Vec::with_capacity(capacity);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| IntakeError::BodyUnreadable {
            reason: error.to_string(),
        })?;
        if bytes.len().saturating_add(chunk.len()) > max {
            return Err(IntakeError::PayloadTooLarge { limit: max });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    #[test]
    fn a_bucket_refuses_past_its_burst_and_says_when_to_retry() {
        let mut limits = RateLimits::default();
        let who = Limited::ApiKey("oms".to_owned());
        limits.insert(
            who.clone(),
            RateLimitConfig {
                per_second: NonZeroU32::MIN,
                burst: NonZeroU32::new(2),
            },
        );
        assert!(limits.check(&who).is_ok());
        assert!(limits.check(&who).is_ok());
        let Err(IntakeError::RateLimited { retry_after_secs }) = limits.check(&who) else {
            panic!("the third request in a burst of 2 is refused");
        };
        assert_eq!(retry_after_secs, 1);
        assert!(limits.check(&Limited::Partner("other".to_owned())).is_ok());
    }

    #[test]
    fn waits_round_up_to_whole_seconds() {
        assert_eq!(whole_seconds_up(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds_up(Duration::from_secs(2)), 2);
        assert_eq!(whole_seconds_up(Duration::from_millis(2001)), 3);
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            read_body(&headers, Body::from("12345"), 5).await.unwrap(),
            b"12345"
        );
        assert!(matches!(
            read_body(&headers, Body::from("123456"), 5).await,
            Err(IntakeError::PayloadTooLarge { limit: 5 })
        ));
        headers.insert(CONTENT_LENGTH, "1000000".parse().unwrap());
        assert!(matches!(
            read_body(&headers, Body::from("1"), 5).await,
            Err(IntakeError::PayloadTooLarge { .. })
        ));
    }
}
