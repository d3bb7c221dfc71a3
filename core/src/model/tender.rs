//! Load tenders (X12 204) and the carrier's answer (X12 990).

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ModelViolation;
use crate::ids::{ProNumber, ShipperLoadId};
use crate::model::money::Money;
use crate::model::party::Reference;
use crate::model::shipment::{CarrierRef, Shipment};

/// Why a tender is sent (X12 B2A01).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenderPurpose {
    /// A new tender (00).
    Original,
    /// The load is cancelled (01).
    Cancellation,
    /// The load changed (04).
    Change,
}

/// Who pays the freight (X12 B206).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentTerms {
    /// Shipper pays (PP).
    Prepaid,
    /// Consignee pays (CC).
    Collect,
    /// A third party pays (TP).
    ThirdParty,
}

/// A load offered to a carrier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Tender {
    /// Unique id of this tender (one load may be tendered to several carriers in turn).
    pub tender_id: String,
    /// Original, change or cancellation.
    pub purpose: TenderPurpose,
    /// The carrier offered the load.
    pub carrier: CarrierRef,
    /// The load.
    pub shipment: Shipment,
    /// Who pays.
    pub payment_terms: PaymentTerms,
    /// The rate offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offered_rate: Option<Money>,
    /// Answer by this instant or the tender expires (X12 G62*64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<crate::schema_types::TimestampSchema>")]
    pub respond_by: Option<Timestamp>,
}

impl Tender {
    pub(crate) fn check(&self, path: &str) -> Result<(), ModelViolation> {
        self.shipment.check(&format!("{path}/shipment"))
    }
}

/// The carrier's answer to a tender (X12 B104).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenderDecision {
    /// The carrier takes the load (A).
    Accepted,
    /// The carrier refuses the load (D).
    Declined,
}

/// A carrier's answer to a tender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TenderResponse {
    /// The load.
    pub shipper_load_id: ShipperLoadId,
    /// The tender answered, when the carrier echoed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tender_id: Option<String>,
    /// The answering carrier.
    pub carrier: CarrierRef,
    /// Accept or decline.
    pub decision: TenderDecision,
    /// The carrier's reason, for a decline (X12 K1 or B1 reason code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The carrier's code as sent (X12 B104).
    pub raw_code: String,
    /// When the carrier answered.
    #[schemars(with = "crate::schema_types::TimestampSchema")]
    pub responded_at: Timestamp,
    /// The carrier's PRO number for the load, when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pro_number: Option<ProNumber>,
    /// Other references the carrier sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
}
