//! Who is posting: per-tenant API keys (`Authorization: Bearer <key>`) and, for partners
//! with a `[webhook]` table, Standard Webhooks signatures.
//!
//! Only the SHA-256 of each key is kept; a presented key is hashed and compared with every
//! configured hash in constant time.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use thiserror::Error;
use transload_connectors::webhook::{
    ID_HEADER, SIGNATURE_HEADER, SignatureError, SignedHeaders, TIMESTAMP_HEADER, WebhookSecret,
};
use transload_core::ids::TenantId;

use super::problem::IntakeError;
use crate::config::{ApiKeyConfig, ApiKeySource, RateLimitConfig};

/// A configured API key (its hash, never the key).
#[derive(Debug, Clone)]
pub struct ApiKey {
    /// Its name, for logs and rate limits.
    pub name: String,
    /// The tenant it belongs to.
    pub tenant: TenantId,
    /// Its own rate limit, if any.
    pub rate_limit: Option<RateLimitConfig>,
    sha256: [u8; 32],
}

/// An API key that cannot be used.
#[derive(Debug, Error)]
pub enum ApiKeyError {
    /// `key_env` names an unset (or empty) variable.
    #[error("API key `{name}`: environment variable `{var}` is not set")]
    MissingEnv {
        /// The key's name.
        name: String,
        /// The variable.
        var: String,
    },
    /// `key_sha256` is not 64 hex digits.
    #[error("API key `{name}`: key_sha256 is not 64 hex digits")]
    BadHash {
        /// The key's name.
        name: String,
    },
}

/// Every configured API key.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    keys: Vec<ApiKey>,
}

/// The SHA-256 of `key`.
fn digest(key: &[u8]) -> [u8; 32] {
    Sha256::digest(key).into()
}

fn decode_hex(hex: &str) -> Option<[u8; 32]> {
    let mut out = [0_u8; 32];
    if hex.len() != 64 {
        return None;
    }
    for (byte, pair) in out.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        let text = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

impl ApiKeys {
    /// The keys of the configuration, reading `key_env` variables now.
    ///
    /// # Errors
    /// The first key whose variable is unset or whose hash is malformed.
    pub fn from_config(configs: &[ApiKeyConfig]) -> Result<ApiKeys, ApiKeyError> {
        let mut keys = Vec::with_capacity(configs.len());
        for config in configs {
            let sha256 = match &config.source {
                ApiKeySource::Sha256(hex) => {
                    decode_hex(hex).ok_or_else(|| ApiKeyError::BadHash {
                        name: config.name.clone(),
                    })?
                }
                ApiKeySource::Env(var) => match std::env::var(var) {
                    Ok(key) if !key.is_empty() => digest(key.as_bytes()),
                    _ => {
                        return Err(ApiKeyError::MissingEnv {
                            name: config.name.clone(),
                            var: var.clone(),
                        });
                    }
                },
            };
            keys.push(ApiKey {
                name: config.name.clone(),
                tenant: config.tenant.clone(),
                rate_limit: config.rate_limit,
                sha256,
            });
        }
        Ok(ApiKeys { keys })
    }

    /// The key `presented` is, if any. Every configured hash is compared, in constant
    /// time, whatever matches.
    #[must_use]
    pub fn find(&self, presented: &str) -> Option<&ApiKey> {
        let hash = digest(presented.as_bytes());
        let mut found = None;
        for key in &self.keys {
            if bool::from(key.sha256.ct_eq(&hash)) {
                found = Some(key);
            }
        }
        found
    }

    /// Every key.
    pub fn iter(&self) -> impl Iterator<Item = &ApiKey> {
        self.keys.iter()
    }
}

/// The bearer token of the request, if it sent an `Authorization` header.
///
/// # Errors
/// [`IntakeError::MalformedAuthorization`] when the header is not `Bearer <token>`.
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, IntakeError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| IntakeError::MalformedAuthorization)?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or(IntakeError::MalformedAuthorization)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(IntakeError::MalformedAuthorization);
    }
    Ok(Some(token))
}

/// The Standard Webhooks headers as sent (a header that is not text counts as absent).
#[must_use]
pub fn signed_headers(headers: &HeaderMap) -> SignedHeaders<'_> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    SignedHeaders {
        id: text(ID_HEADER),
        timestamp: text(TIMESTAMP_HEADER),
        signature: text(SIGNATURE_HEADER),
    }
}

/// Whether the request carries any of the Standard Webhooks headers.
#[must_use]
pub fn has_signature_headers(headers: &HeaderMap) -> bool {
    [ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER]
        .iter()
        .any(|name| headers.contains_key(*name))
}

/// Verifies the partner's signature over `body`.
///
/// # Errors
/// The 401 problem for a missing header, a bad timestamp, one out of tolerance, or no
/// matching signature.
pub fn verify_signature(
    secret: &WebhookSecret,
    partner: &str,
    headers: &HeaderMap,
    body: &[u8],
    tolerance_secs: i64,
) -> Result<(), IntakeError> {
    let now = jiff::Timestamp::now().as_second();
    secret
        .verify(&signed_headers(headers), body, now, tolerance_secs)
        .map_err(|error| match error {
            SignatureError::MissingHeader(header) => IntakeError::MissingSignatureHeader {
                partner: partner.to_owned(),
                header,
            },
            SignatureError::BadTimestamp => IntakeError::BadTimestamp,
            SignatureError::OutsideTolerance {
                skew_secs,
                tolerance_secs,
            } => IntakeError::StaleTimestamp {
                skew_secs,
                tolerance_secs,
            },
            SignatureError::NoMatch | SignatureError::BadSecret => IntakeError::BadSignature,
        })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn config(name: &str, source: ApiKeySource) -> ApiKeyConfig {
        ApiKeyConfig {
            name: name.to_owned(),
            tenant: TenantId::new("acme").unwrap(),
            source,
            rate_limit: None,
        }
    }

    #[test]
    fn keys_are_found_by_their_hash_only() {
        // SHA-256 of "test".
        let hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let keys = ApiKeys::from_config(&[
            config("a", ApiKeySource::Sha256(hash.to_owned())),
            config("b", ApiKeySource::Env("PATH".to_owned())),
        ])
        .unwrap();
        assert_eq!(keys.find("test").unwrap().name, "a");
        assert_eq!(
            keys.find(&std::env::var("PATH").unwrap()).unwrap().name,
            "b"
        );
        assert!(keys.find("tes").is_none());
        assert!(keys.find(hash).is_none(), "the hash itself is no key");
        let missing = ApiKeys::from_config(&[config(
            "c",
            ApiKeySource::Env("TRANSLOAD_SURELY_UNSET_KEY".to_owned()),
        )]);
        assert!(matches!(missing, Err(ApiKeyError::MissingEnv { .. })));
    }

    #[test]
    fn only_bearer_authorization_is_read() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer_token(&headers).unwrap(), None);
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer  k1 "));
        assert_eq!(bearer_token(&headers).unwrap(), Some("k1"));
        for bad in ["Basic dXNlcjpwdw==", "Bearer", "Bearer  ", "k1"] {
            headers.insert(AUTHORIZATION, HeaderValue::from_static(bad));
            assert!(bearer_token(&headers).is_err(), "{bad}");
        }
    }
}
