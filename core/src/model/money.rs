//! Money: an exact decimal amount and its currency.

use std::fmt;

use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::CurrencyCode;

/// An amount of money. Amounts are exact decimals, serialized as strings (`"1250.00"`)
/// so that no JSON reader turns them into floats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Money {
    /// The amount; negative for credits and discounts.
    pub amount: Decimal,
    /// The ISO 4217 currency.
    pub currency: CurrencyCode,
}

impl Money {
    /// `amount` in `currency`.
    #[must_use]
    pub fn new(amount: Decimal, currency: CurrencyCode) -> Self {
        Self { amount, currency }
    }

    /// The sum of two amounts, or `None` when their currencies differ.
    #[must_use]
    pub fn checked_add(&self, other: &Money) -> Option<Money> {
        (self.currency == other.currency).then(|| Money {
            amount: self.amount + other.amount,
            currency: self.currency.clone(),
        })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(amount: &str) -> Money {
        Money::new(amount.parse().unwrap(), CurrencyCode::new("USD").unwrap())
    }

    #[test]
    fn adds_only_in_one_currency() {
        assert_eq!(usd("0.10").checked_add(&usd("0.20")), Some(usd("0.30")));
        let euros = Money::new(Decimal::ONE, CurrencyCode::new("EUR").unwrap());
        assert_eq!(usd("1").checked_add(&euros), None);
    }

    #[test]
    fn serializes_amounts_as_exact_strings() {
        let json = serde_json::to_value(usd("1250.50")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"amount": "1250.50", "currency": "USD"})
        );
    }
}
