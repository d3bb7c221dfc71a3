//! Webhook signatures as the Standard Webhooks specification defines them
//! (<https://www.standardwebhooks.com/>): HMAC-SHA256 over `id.timestamp.body`, sent as
//! `webhook-signature: v1,<base64>` beside `webhook-id` and `webhook-timestamp`.
//!
//! The same code signs what the hub sends (outbound webhooks) and verifies what it receives
//! (HTTP intake), so both sides agree byte for byte.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use thiserror::Error;

/// Header carrying the message id (also the dedupe key of a webhook).
pub const ID_HEADER: &str = "webhook-id";
/// Header carrying the send time, in seconds since the Unix epoch.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// Header carrying one or more space-separated `v1,<base64>` signatures.
pub const SIGNATURE_HEADER: &str = "webhook-signature";
/// How far the timestamp may be from now, either way, in seconds (5 minutes).
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

const SECRET_PREFIX: &str = "whsec_";

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignatureError {
    /// The secret is not `whsec_<base64>` (or plain base64) of at least 16 bytes.
    #[error("the webhook secret is not `whsec_` followed by base64 of at least 16 bytes")]
    BadSecret,
    /// A required header is absent.
    #[error("header `{0}` is missing")]
    MissingHeader(&'static str),
    /// The timestamp is not a number of seconds.
    #[error("header `webhook-timestamp` is not a Unix time in seconds")]
    BadTimestamp,
    /// The timestamp is too old or too far in the future (a replay, or a wrong clock).
    #[error("the webhook timestamp is {skew_secs} s away from now (tolerance {tolerance_secs} s)")]
    OutsideTolerance {
        /// Now minus the timestamp.
        skew_secs: i64,
        /// The tolerance applied.
        tolerance_secs: i64,
    },
    /// No `v1` signature matches.
    #[error("no webhook signature matches")]
    NoMatch,
}

/// A webhook signing secret.
#[derive(Clone)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

impl WebhookSecret {
    /// Parses `whsec_<base64>` (the prefix is optional).
    ///
    /// # Errors
    /// [`SignatureError::BadSecret`] when it is not base64 of at least 16 bytes.
    pub fn parse(text: &str) -> Result<Self, SignatureError> {
        let b64 = text
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .unwrap_or(text.trim());
        let key = STANDARD
            .decode(b64)
            .map_err(|_| SignatureError::BadSecret)?;
        if key.len() < 16 {
            return Err(SignatureError::BadSecret);
        }
        Ok(Self { key })
    }

    /// A secret from raw key bytes.
    #[must_use]
    pub fn from_bytes(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    /// The `whsec_…` text form.
    #[must_use]
    pub fn to_text(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `webhook-signature` header value for a message.
    #[must_use]
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self.mac(id, timestamp, body).finalize().into_bytes();
        format!("v1,{}", STANDARD.encode(tag))
    }

    /// Verifies a received message: the timestamp within `tolerance_secs` of `now` (Unix
    /// seconds) and one of the `v1` signatures matching, compared in constant time.
    ///
    /// # Errors
    /// Why the message is refused.
    pub fn verify(
        &self,
        headers: &SignedHeaders<'_>,
        body: &[u8],
        now: i64,
        tolerance_secs: i64,
    ) -> Result<(), SignatureError> {
        let id = headers.id.ok_or(SignatureError::MissingHeader(ID_HEADER))?;
        let ts_text = headers
            .timestamp
            .ok_or(SignatureError::MissingHeader(TIMESTAMP_HEADER))?;
        let signatures = headers
            .signature
            .ok_or(SignatureError::MissingHeader(SIGNATURE_HEADER))?;
        let timestamp: i64 = ts_text
            .trim()
            .parse()
            .map_err(|_| SignatureError::BadTimestamp)?;
        let skew_secs = now.saturating_sub(timestamp);
        if skew_secs.saturating_abs() > tolerance_secs {
            return Err(SignatureError::OutsideTolerance {
                skew_secs,
                tolerance_secs,
            });
        }
        let mac = self.mac(id, timestamp, body);
        let matched = signatures
            .split_ascii_whitespace()
            .filter_map(|s| s.strip_prefix("v1,"))
            .filter_map(|b64| STANDARD.decode(b64).ok())
            .any(|tag| mac.clone().verify_slice(&tag).is_ok());
        if matched {
            Ok(())
        } else {
            Err(SignatureError::NoMatch)
        }
    }
}

/// The three Standard Webhooks headers of a received message, as sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct SignedHeaders<'a> {
    /// `webhook-id`.
    pub id: Option<&'a str>,
    /// `webhook-timestamp`.
    pub timestamp: Option<&'a str>,
    /// `webhook-signature`.
    pub signature: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of the Standard Webhooks specification's reference implementations.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TS: i64 = 1_614_265_330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers<'a>(id: &'a str, ts: &'a str, sig: &'a str) -> SignedHeaders<'a> {
        SignedHeaders {
            id: Some(id),
            timestamp: Some(ts),
            signature: Some(sig),
        }
    }

    #[test]
    fn signs_like_the_reference_implementations() {
        let secret = WebhookSecret::parse(SPEC_SECRET).unwrap();
        assert_eq!(secret.sign(SPEC_ID, SPEC_TS, SPEC_BODY), SPEC_SIG);
        let ts = SPEC_TS.to_string();
        secret
            .verify(
                &headers(SPEC_ID, &ts, SPEC_SIG),
                SPEC_BODY,
                SPEC_TS + 10,
                300,
            )
            .unwrap();
    }

    #[test]
    fn accepts_any_matching_signature_of_several() {
        let secret = WebhookSecret::parse(SPEC_SECRET).unwrap();
        let ts = SPEC_TS.to_string();
        let sigs = format!("v1,AAAA v2,xyz {SPEC_SIG}");
        secret
            .verify(&headers(SPEC_ID, &ts, &sigs), SPEC_BODY, SPEC_TS, 300)
            .unwrap();
    }

    #[test]
    fn refuses_a_changed_body_id_or_timestamp() {
        let secret = WebhookSecret::parse(SPEC_SECRET).unwrap();
        let ts = SPEC_TS.to_string();
        let other_ts = (SPEC_TS + 1).to_string();
        let cases = [
            (
                headers(SPEC_ID, &ts, SPEC_SIG),
                &br#"{"test": 2432232315}"#[..],
            ),
            (headers("msg_other", &ts, SPEC_SIG), SPEC_BODY),
            (headers(SPEC_ID, &other_ts, SPEC_SIG), SPEC_BODY),
        ];
        for (h, body) in cases {
            assert_eq!(
                secret.verify(&h, body, SPEC_TS, 300),
                Err(SignatureError::NoMatch)
            );
        }
    }

    #[test]
    fn refuses_old_and_future_timestamps() {
        let secret = WebhookSecret::parse(SPEC_SECRET).unwrap();
        let ts = SPEC_TS.to_string();
        let h = headers(SPEC_ID, &ts, SPEC_SIG);
        assert_eq!(
            secret.verify(&h, SPEC_BODY, SPEC_TS + 301, 300),
            Err(SignatureError::OutsideTolerance {
                skew_secs: 301,
                tolerance_secs: 300
            })
        );
        assert!(matches!(
            secret.verify(&h, SPEC_BODY, SPEC_TS - 301, 300),
            Err(SignatureError::OutsideTolerance { .. })
        ));
    }

    #[test]
    fn refuses_missing_headers_and_bad_values() {
        let secret = WebhookSecret::parse(SPEC_SECRET).unwrap();
        let missing = SignedHeaders {
            id: Some(SPEC_ID),
            timestamp: None,
            signature: Some(SPEC_SIG),
        };
        assert_eq!(
            secret.verify(&missing, SPEC_BODY, SPEC_TS, 300),
            Err(SignatureError::MissingHeader(TIMESTAMP_HEADER))
        );
        assert_eq!(
            secret.verify(&headers(SPEC_ID, "soon", SPEC_SIG), SPEC_BODY, SPEC_TS, 300),
            Err(SignatureError::BadTimestamp)
        );
        let ts = SPEC_TS.to_string();
        assert_eq!(
            secret.verify(&headers(SPEC_ID, &ts, "v1,!!!"), SPEC_BODY, SPEC_TS, 300),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            WebhookSecret::parse("whsec_c2hvcnQ=").map(|_| ()),
            Err(SignatureError::BadSecret)
        );
    }

    #[test]
    fn secret_text_round_trips() {
        let secret = WebhookSecret::parse(SPEC_SECRET).unwrap();
        assert_eq!(secret.to_text(), SPEC_SECRET);
        assert_eq!(format!("{secret:?}"), "WebhookSecret(..)");
    }
}
