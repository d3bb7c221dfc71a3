//! `$partner`: the partner profile a mapping program reads, converted for jaq once
//! rather than for every message.

use jaq_json::Val;
use serde_json::Value;
use thiserror::Error;

use crate::program::to_val;

/// A partner profile as mapping programs see it (`$partner`): its JSON, and the same as
/// a jaq value. Build it once per profile and run any number of messages with it.
#[derive(Debug, Clone)]
pub struct Partner {
    json: Value,
    val: Val,
}

/// A profile whose JSON jaq cannot hold.
#[derive(Debug, Clone, Error)]
#[error("the partner profile cannot be passed to mapping programs: {0}")]
pub struct PartnerError(String);

impl Partner {
    /// The profile `json` (an object, as serialized from the partner's file).
    ///
    /// # Errors
    /// When a number in it cannot be read by jaq.
    pub fn new(json: Value) -> Result<Partner, PartnerError> {
        let val = to_val(&json).map_err(PartnerError)?;
        Ok(Partner { json, val })
    }

    /// No profile: `$partner` is `{}` (tests, `transload map` without `--partner`).
    #[must_use]
    pub fn empty() -> Partner {
        let json = Value::Object(serde_json::Map::new());
        let val = Val::obj(jaq_json::Map::default());
        Partner { json, val }
    }

    /// The profile as JSON.
    #[must_use]
    pub fn json(&self) -> &Value {
        &self.json
    }

    pub(crate) fn val(&self) -> &Val {
        &self.val
    }
}
