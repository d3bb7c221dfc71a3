//! Identifier newtypes: validated where a wrong value would do harm (tenants, partners,
//! carrier codes), free text where partners legitimately send anything (order numbers).

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::error::InvalidValue;

/// Defines a string newtype that is checked on construction and on deserialization.
macro_rules! checked_string {
    (
        $(#[$meta:meta])*
        $name:ident, pattern = $pattern:literal, max = $max:literal, check = $check:expr
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Checks `value` and wraps it.
            ///
            /// # Errors
            /// [`InvalidValue`] when the value does not match the type's pattern.
            pub fn new(value: impl Into<String>) -> Result<Self, InvalidValue> {
                let value = value.into();
                let check: fn(&str) -> bool = $check;
                if value.is_empty() || value.len() > $max || !check(&value) {
                    return Err(InvalidValue {
                        kind: stringify!($name),
                        value,
                        expected: $pattern,
                    });
                }
                Ok(Self(value))
            }

            /// The value as a string slice.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidValue;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "string",
                    "pattern": $pattern,
                    "maxLength": $max,
                })
            }
        }
    };
}

impl CorrelationId {
    /// The correlation id made of an event id, for an event about no business object.
    #[must_use]
    pub fn from_event(id: crate::event::EventId) -> Self {
        // A hyphenated UUID is 36 printable characters: always a valid correlation id.
        Self(id.to_string())
    }
}

fn is_slug(value: &str) -> bool {
    value.bytes().enumerate().all(|(index, byte)| {
        byte.is_ascii_lowercase()
            || byte.is_ascii_digit()
            || (index > 0 && (byte == b'-' || byte == b'_'))
    })
}

fn is_printable(value: &str) -> bool {
    !value.chars().any(char::is_control) && value.trim() == value
}

checked_string!(
    /// A tenant: the organisation a message belongs to. Lowercase slug.
    TenantId, pattern = "^[a-z0-9][a-z0-9_-]*$", max = 64, check = is_slug
);

checked_string!(
    /// A trading partner as configured in `partners/*.toml`. Lowercase slug.
    PartnerId, pattern = "^[a-z0-9][a-z0-9_-]*$", max = 64, check = is_slug
);

checked_string!(
    /// Standard Carrier Alpha Code: two to four uppercase letters.
    Scac, pattern = "^[A-Z]{2,4}$", max = 4,
    check = |value| value.len() >= 2 && value.bytes().all(|byte| byte.is_ascii_uppercase())
);

checked_string!(
    /// An order number as the OMS/ERP assigns it.
    OrderId, pattern = "^\\S(.*\\S)?$", max = 80, check = is_printable
);

checked_string!(
    /// The shipper's load id: the key that correlates a load's tender, statuses and
    /// invoices across partners (X12 B204, L11*..., B310).
    ShipperLoadId, pattern = "^\\S(.*\\S)?$", max = 80, check = is_printable
);

checked_string!(
    /// A carrier's PRO (progressive) number.
    ProNumber, pattern = "^\\S(.*\\S)?$", max = 80, check = is_printable
);

checked_string!(
    /// The key by which a duplicate input is recognised (e.g. partner + ISA13 + ST02, or a
    /// webhook id).
    DedupeKey, pattern = "^\\S(.*\\S)?$", max = 512, check = is_printable
);

checked_string!(
    /// Ties together every event about one business object (usually the shipper load id
    /// or the order id).
    CorrelationId, pattern = "^\\S(.*\\S)?$", max = 256, check = is_printable
);

checked_string!(
    /// An IANA time-zone name (`America/Chicago`) or a fixed UTC offset (`-05:00`).
    ZoneName, pattern = "^([A-Za-z_]+(/[A-Za-z0-9_+-]+)*|[+-][0-9]{2}:[0-9]{2})$", max = 64,
    check = |value| value.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"/_+-:".contains(&byte))
);

checked_string!(
    /// ISO 4217 currency code: three uppercase letters.
    CurrencyCode, pattern = "^[A-Z]{3}$", max = 3,
    check = |value| value.len() == 3 && value.bytes().all(|byte| byte.is_ascii_uppercase())
);

impl PartnerId {
    /// The hub itself, as the reporter of what it derives (a delay it detected).
    #[must_use]
    pub fn hub() -> Self {
        Self("transload".to_owned())
    }
}

impl CurrencyCode {
    /// US dollars.
    #[must_use]
    pub fn usd() -> Self {
        Self("USD".to_owned())
    }
}

checked_string!(
    /// ISO 3166-1 alpha-2 country code.
    CountryCode, pattern = "^[A-Z]{2}$", max = 2,
    check = |value| value.len() == 2 && value.bytes().all(|byte| byte.is_ascii_uppercase())
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_accept_lowercase_and_reject_the_rest() {
        assert!(TenantId::new("acme-3pl_1").is_ok());
        assert!(TenantId::new("Acme").is_err());
        assert!(TenantId::new("-acme").is_err());
        assert!(TenantId::new("").is_err());
        assert!(PartnerId::new("a".repeat(65)).is_err());
    }

    #[test]
    fn scac_is_two_to_four_uppercase_letters() {
        assert!(Scac::new("ODFL").is_ok());
        assert!(Scac::new("UP").is_ok());
        assert!(Scac::new("U").is_err());
        assert!(Scac::new("odfl").is_err());
        assert!(Scac::new("ODFL1").is_err());
    }

    #[test]
    fn free_text_ids_reject_padding_and_control_characters() {
        assert!(OrderId::new("SO-1001 A").is_ok());
        assert!(OrderId::new(" SO-1001").is_err());
        assert!(OrderId::new("SO\n1001").is_err());
    }

    #[test]
    fn deserialization_applies_the_same_check() {
        let error = serde_json::from_str::<CurrencyCode>("\"usd\"").unwrap_err();
        assert!(error.to_string().contains("CurrencyCode"), "{error}");
        let code: CurrencyCode = serde_json::from_str("\"USD\"").unwrap();
        assert_eq!(code.as_str(), "USD");
    }
}
