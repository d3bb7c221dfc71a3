//! Errors of the canonical model.

use thiserror::Error;

/// A value that does not fit its type (an identifier, a code, a currency).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid {kind} {value:?}: expected {expected}")]
pub struct InvalidValue {
    /// The type that refused the value.
    pub kind: &'static str,
    /// The value as given.
    pub value: String,
    /// What the type accepts.
    pub expected: &'static str,
}

/// A canonical object that is well-formed JSON but breaks a rule of the model.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{path}: {rule}")]
pub struct ModelViolation {
    /// Where in the object, as a JSON pointer (`/data/stops/1/window`).
    pub path: String,
    /// The rule broken, in words.
    pub rule: String,
}

impl ModelViolation {
    pub(crate) fn new(path: impl Into<String>, rule: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            rule: rule.into(),
        }
    }
}
