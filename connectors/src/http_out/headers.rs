//! Header values of a partner profile: `${ENV_VAR}` expansion, and reading `Retry-After`.

use std::time::{Duration, SystemTime};

/// Why a header value cannot be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    /// `${NAME}` names a variable that is not set (or not UTF-8).
    #[error("environment variable `{0}` is not set")]
    MissingEnv(String),
    /// `${` without its `}`, or an empty name.
    #[error("malformed `${{…}}` in a header value")]
    Malformed,
}

/// Replaces every `${NAME}` in `value` by `lookup(NAME)`; other `$` are kept as they are.
///
/// # Errors
/// When a variable is unknown to `lookup` or a `${` is not closed.
pub fn expand_with(
    value: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        let (before, after) = rest.split_at(start);
        out.push_str(before);
        let after = after.get(2..).ok_or(ExpandError::Malformed)?;
        let end = after.find('}').ok_or(ExpandError::Malformed)?;
        let name = after.get(..end).ok_or(ExpandError::Malformed)?;
        if name.is_empty() {
            return Err(ExpandError::Malformed);
        }
        let found = lookup(name).ok_or_else(|| ExpandError::MissingEnv(name.to_owned()))?;
        out.push_str(&found);
        rest = after.get(end + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
}

/// Replaces every `${NAME}` in `value` by the environment variable `NAME`.
///
/// # Errors
/// See [`expand_with`].
pub fn expand_env(value: &str) -> Result<String, ExpandError> {
    expand_with(value, |name| std::env::var(name).ok())
}

/// The wait a `Retry-After` value asks for at `now`: delta-seconds (`120`) or an
/// HTTP-date (`Wed, 21 Oct 2026 07:28:00 GMT`; a date in the past means no wait).
/// `None` when the value is neither.
#[must_use]
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cr3t".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_variables_and_keeps_other_dollars() {
        assert_eq!(
            expand_with("Bearer ${TOKEN}", lookup).unwrap(),
            "Bearer s3cr3t"
        );
        assert_eq!(
            expand_with("${TOKEN}:${EMPTY}:${TOKEN}", lookup).unwrap(),
            "s3cr3t::s3cr3t"
        );
        assert_eq!(
            expand_with("cost $5 $TOKEN", lookup).unwrap(),
            "cost $5 $TOKEN"
        );
        assert_eq!(
            expand_with("${NOPE}", lookup),
            Err(ExpandError::MissingEnv("NOPE".to_owned()))
        );
        assert_eq!(expand_with("${TOKEN", lookup), Err(ExpandError::Malformed));
        assert_eq!(expand_with("${}", lookup), Err(ExpandError::Malformed));
    }

    #[test]
    fn reads_retry_after_as_seconds_or_http_date() {
        let now = httpdate::parse_http_date("Wed, 25 Nov 2026 06:00:00 GMT").unwrap();
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 25 Nov 2026 06:01:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_retry_after("Wed, 25 Nov 2026 05:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }
}
