//! Freight invoices (X12 210).

use jiff::civil::Date;
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ModelViolation;
use crate::ids::{ProNumber, ShipperLoadId};
use crate::model::measure::Weight;
use crate::model::money::Money;
use crate::model::party::{Party, Reference};
use crate::model::shipment::CarrierRef;

/// What a charge line is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChargeType {
    /// Transport from origin to destination (X12 L1 `400`).
    Linehaul,
    /// Fuel surcharge (`FUE`, `405`).
    FuelSurcharge,
    /// An accessorial service: detention, liftgate, lumper… (see `code`).
    Accessorial,
    /// A discount or allowance (negative amount).
    Discount,
    /// A tax.
    Tax,
    /// Anything else; see `code`.
    Other,
}

/// One charge of an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChargeLine {
    /// Canonical kind.
    pub charge_type: ChargeType,
    /// The charge code after the partner's code map (e.g. `DET` detention, `LFT`
    /// liftgate).
    pub code: String,
    /// The partner's code as sent (X12 L108).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_code: Option<String>,
    /// Description as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Rated quantity (miles, hours, hundredweight).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Decimal>,
    /// Rate per unit of quantity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Decimal>,
    /// The amount charged.
    pub amount: Money,
}

/// Whether an invoice is new or replaces an earlier one (X12 B308 correction indicator).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceKind {
    /// A first invoice.
    Original,
    /// A corrected invoice replacing an earlier one with the same number.
    Rebill,
    /// A cancellation of an earlier invoice.
    Cancellation,
}

/// A carrier's freight invoice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Invoice {
    /// The carrier's invoice number (X12 B302).
    pub invoice_number: String,
    /// Original, rebill or cancellation.
    pub kind: InvoiceKind,
    /// The correction code as sent (X12 B308), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_correction_code: Option<String>,
    /// The invoicing carrier.
    pub carrier: CarrierRef,
    /// The load invoiced, when the carrier sent it (X12 B303 or L11).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipper_load_id: Option<ShipperLoadId>,
    /// The carrier's PRO number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pro_number: Option<ProNumber>,
    /// Invoice date.
    #[schemars(with = "crate::schema_types::DateSchema")]
    pub invoice_date: Date,
    /// Date payment is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<crate::schema_types::DateSchema>")]
    pub due_date: Option<Date>,
    /// Parties: bill-to, shipper, consignee.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parties: Vec<Party>,
    /// Billed weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billed_weight: Option<Weight>,
    /// The charges.
    pub charges: Vec<ChargeLine>,
    /// Total amount due (X12 L305 / B307).
    pub total: Money,
    /// Other references (BOL, PO).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
}

impl Invoice {
    /// The sum of the charge lines, or `None` when they mix currencies.
    #[must_use]
    pub fn charges_total(&self) -> Option<Money> {
        self.charges.iter().try_fold(
            Money::new(Decimal::ZERO, self.total.currency.clone()),
            |sum, line| sum.checked_add(&line.amount),
        )
    }

    pub(crate) fn check(&self, path: &str) -> Result<(), ModelViolation> {
        if self.shipper_load_id.is_none() && self.pro_number.is_none() {
            return Err(ModelViolation::new(
                path,
                "an invoice names its load: shipper_load_id or pro_number",
            ));
        }
        if let Some(index) = self
            .charges
            .iter()
            .position(|line| line.amount.currency != self.total.currency)
        {
            return Err(ModelViolation::new(
                format!("{path}/charges/{index}/amount/currency"),
                format!(
                    "charges are in the invoice's currency {}",
                    self.total.currency
                ),
            ));
        }
        Ok(())
    }
}
