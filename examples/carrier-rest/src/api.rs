//! Rapid Freight's JSON, as the carrier defines it (`POST /v1/tenders`, and the status
//! webhook it posts back).

use serde::{Deserialize, Serialize};

/// `POST /v1/tenders`: a load offered to the carrier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenderRequest {
    /// Our tender id; the carrier echoes it.
    pub tender_reference: String,
    /// Our load id.
    pub shipment_reference: String,
    /// `NEW`, `UPDATE` or `CANCEL`.
    pub purpose: String,
    /// `FTL`, `LTL`, `INTERMODAL`…
    pub service_level: String,
    /// The trailer wanted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equipment: Option<Equipment>,
    /// `HAZMAT`, `LIFTGATE`…
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accessorials: Vec<String>,
    /// Pickups and deliveries, in order.
    pub stops: Vec<TenderStop>,
    /// What is carried.
    pub freight: Freight,
    /// The rate offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offered_rate: Option<Amount>,
    /// `PREPAID`, `COLLECT`, `THIRD_PARTY`.
    pub payment_terms: String,
    /// Answer before (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub respond_by: Option<String>,
    /// Shipment references (`BOL`…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<TypedValue>,
}

/// A trailer requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Equipment {
    /// `VAN`, `REEFER`, `FLATBED`, `STEP_DECK`, `CONTAINER`, `TANKER`, `BOX_TRUCK`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Length in feet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length_ft: Option<u16>,
}

/// One stop of a tender.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenderStop {
    /// 1, 2…
    pub sequence: u16,
    /// `PICKUP` or `DELIVERY`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Where.
    pub facility: Facility,
    /// Earliest arrival, local time with offset (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_start: Option<String>,
    /// Latest arrival, local time with offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_end: Option<String>,
    /// An appointment's confirmation number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment_number: Option<String>,
    /// Stop references (`PU` pickup number…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<TypedValue>,
}

/// A facility.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facility {
    /// The shipper's code for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Street lines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub street: Vec<String>,
    /// City.
    pub city: String,
    /// State or province.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// ISO country.
    pub country: String,
    /// IANA time zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// Freight totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Freight {
    /// Weight, as a decimal string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<Measure>,
    /// Pieces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pieces: Option<u32>,
    /// Pallets and other handling units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handling_units: Option<u32>,
    /// Declared value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_value: Option<Amount>,
}

/// A value with its unit (`LB`, `KG`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Measure {
    /// Decimal string.
    pub value: String,
    /// Unit.
    pub unit: String,
}

/// Money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amount {
    /// Decimal string.
    pub amount: String,
    /// ISO currency.
    pub currency: String,
}

/// A typed reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypedValue {
    /// The kind (`BOL`, `PU`…).
    #[serde(rename = "type")]
    pub kind: String,
    /// The value.
    pub value: String,
}

/// The carrier's answer to `POST /v1/tenders`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenderReply {
    /// Our tender id, echoed.
    pub tender_reference: String,
    /// `ACCEPTED`, `REJECTED` or `PENDING` (answer to come by webhook).
    pub status: String,
    /// Why, when rejected.
    #[serde(default)]
    pub reason: Option<String>,
    /// The carrier's PRO number, when accepted.
    #[serde(default)]
    pub pro_number: Option<String>,
    /// The carrier's confirmation number.
    #[serde(default)]
    pub confirmation: Option<String>,
    /// When the carrier decided (RFC 3339).
    #[serde(default)]
    pub decided_at: Option<String>,
}

/// The status webhook the carrier posts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusWebhook {
    /// The carrier's event id.
    pub event_id: String,
    /// `shipment.picked_up`, `shipment.delivered`…
    pub event: String,
    /// Our load id.
    pub shipment_reference: String,
    /// The carrier's PRO number.
    #[serde(default)]
    pub pro_number: Option<String>,
    /// When it happened (RFC 3339 with offset).
    pub occurred_at: String,
    /// Where.
    #[serde(default)]
    pub location: Option<WebhookLocation>,
    /// Which stop of the tender.
    #[serde(default)]
    pub stop_sequence: Option<u16>,
    /// A new estimate of arrival (RFC 3339 with offset).
    #[serde(default)]
    pub eta: Option<String>,
    /// The carrier's reason code for delays and exceptions.
    #[serde(default)]
    pub reason_code: Option<String>,
}

/// A webhook's location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookLocation {
    /// City.
    pub city: String,
    /// State or province.
    #[serde(default)]
    pub state: Option<String>,
    /// ISO country.
    pub country: String,
    /// IANA time zone.
    #[serde(default)]
    pub timezone: Option<String>,
}
