//! Shipment status events (X12 214, carrier APIs, GPS).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ModelViolation;
use crate::ids::{PartnerId, ProNumber, ShipperLoadId};
use crate::model::party::{Location, Reference};
use crate::model::shipment::CarrierRef;
use crate::model::time::ZonedTime;

/// What happened, in the hub's words (X12 AT701 codes in brackets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusType {
    /// A pickup or delivery appointment was set (AA, AB, X9).
    AppointmentSet,
    /// The truck arrived at the pickup (X3).
    ArrivedAtPickup,
    /// The freight was loaded and the truck left (AF).
    DepartedPickup,
    /// The load is on its way; a position report (X6).
    InTransit,
    /// New estimated time of arrival (AG).
    EtaUpdated,
    /// The truck arrived at a delivery stop (X1).
    ArrivedAtDelivery,
    /// The freight was delivered (D1).
    Delivered,
    /// The truck left a delivery stop (CD).
    DepartedDelivery,
    /// The load is late or held (SD).
    Delayed,
    /// Damage, refusal, or another problem needing attention (A9, A7…).
    Exception,
    /// A code the mapping knows but the model has no type for; see `raw_code`.
    Other,
}

/// How the status was observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusOrigin {
    /// An EDI message (X12 214).
    Edi,
    /// A carrier's or visibility provider's API.
    Api,
    /// Derived by the hub from GPS positions (geofence).
    Gps,
    /// Entered by a person.
    Manual,
}

/// One status event of a shipment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StatusEvent {
    /// The load.
    pub shipper_load_id: ShipperLoadId,
    /// The carrier's PRO number, when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pro_number: Option<ProNumber>,
    /// The reporting carrier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<CarrierRef>,
    /// Canonical status.
    pub status: StatusType,
    /// The partner's status code as sent (X12 AT701).
    pub raw_code: String,
    /// The partner's reason code as sent (X12 AT702; `NS` = normal status).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_reason: Option<String>,
    /// The stop it concerns (X12 214 LX / S5 sequence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_seq: Option<u16>,
    /// When it happened, with how its zone was resolved.
    pub occurred_at: ZonedTime,
    /// Estimated arrival, for ETA updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta: Option<ZonedTime>,
    /// Where it happened (X12 MS1/MS2, or coordinates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// How it was observed.
    pub origin: StatusOrigin,
    /// The partner that reported it.
    pub reported_by: PartnerId,
    /// Other references sent with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
}

impl StatusEvent {
    pub(crate) fn check(&self, path: &str) -> Result<(), ModelViolation> {
        self.occurred_at.check(&format!("{path}/occurred_at"))?;
        if let Some(eta) = &self.eta {
            eta.check(&format!("{path}/eta"))?;
        }
        if self.status == StatusType::EtaUpdated && self.eta.is_none() {
            return Err(ModelViolation::new(
                format!("{path}/eta"),
                "an eta_updated status carries the eta",
            ));
        }
        Ok(())
    }
}
