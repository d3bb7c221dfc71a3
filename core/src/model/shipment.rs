//! Shipments (loads) and their stops.

use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ModelViolation;
use crate::ids::{OrderId, ProNumber, Scac, ShipperLoadId};
use crate::model::measure::{Volume, Weight};
use crate::model::money::Money;
use crate::model::party::{Location, Party, Reference};
use crate::model::time::TimeWindow;

/// Transport mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Full truckload.
    Truckload,
    /// Less than truckload.
    Ltl,
    /// Trailer or container on rail.
    Intermodal,
    /// Rail carload.
    Rail,
    /// Ocean.
    Ocean,
    /// Air.
    Air,
    /// Small parcel.
    Parcel,
}

/// A carrier, by its SCAC.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct CarrierRef {
    /// Its Standard Carrier Alpha Code.
    pub scac: Scac,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Kind of trailer or container (X12 40 codes in brackets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EquipmentType {
    /// Dry van (TF/TV).
    DryVan,
    /// Refrigerated trailer (RT).
    Reefer,
    /// Flatbed (FT).
    Flatbed,
    /// Step deck / drop deck.
    StepDeck,
    /// Intermodal container (CN).
    Container,
    /// Tank trailer (TN).
    Tanker,
    /// Straight truck / box truck.
    StraightTruck,
}

/// Temperature range for controlled freight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TemperatureRange {
    /// Lowest allowed, in degrees Celsius.
    pub min_celsius: Decimal,
    /// Highest allowed, in degrees Celsius.
    pub max_celsius: Decimal,
}

/// What equipment the load needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EquipmentRequirement {
    /// Kind of equipment.
    pub equipment_type: EquipmentType,
    /// Minimum length in feet (53, 48, 40…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length_feet: Option<u16>,
    /// Temperature control, for reefers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<TemperatureRange>,
    /// The partner's own equipment code, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_code: Option<String>,
}

/// A service beyond plain transport, which may carry an accessorial charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SpecialServiceKind {
    /// Liftgate at pickup or delivery.
    Liftgate,
    /// Delivery inside the building.
    InsideDelivery,
    /// Residential address.
    Residential,
    /// Appointment required.
    Appointment,
    /// Hazardous materials handling.
    Hazmat,
    /// Team drivers.
    TeamDrivers,
    /// Driver assists loading or unloading.
    DriverAssist,
    /// Temperature control.
    TemperatureControl,
    /// High-value / security service.
    HighValue,
    /// Any other service; see `raw_code`.
    Other,
}

/// A special service requested for the load.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct SpecialService {
    /// Canonical kind.
    pub kind: SpecialServiceKind,
    /// The partner's code (X12 AT5/LH/N7 special handling code), as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_code: Option<String>,
}

/// Whether a stop is where freight is picked up or delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StopRole {
    /// Freight is loaded here.
    Pickup,
    /// Freight is unloaded here.
    Delivery,
}

/// Whether all or part of the load is handled at a stop (X12 S501 CL/PL/CU/PU).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoadExtent {
    /// Complete load or unload.
    Full,
    /// Part load or unload.
    Partial,
}

/// State of a dock appointment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentStatus {
    /// Asked for, not yet confirmed.
    Requested,
    /// Confirmed by the facility.
    Confirmed,
}

/// A dock appointment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Appointment {
    /// The appointment's time.
    pub window: TimeWindow,
    /// The facility's confirmation number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<String>,
    /// Requested or confirmed.
    pub status: AppointmentStatus,
}

/// One stop of a load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Stop {
    /// Position in the route, from 1 (X12 S501).
    pub seq: u16,
    /// Pickup or delivery.
    pub role: StopRole,
    /// All or part of the load.
    pub extent: LoadExtent,
    /// Where.
    pub location: Location,
    /// When the stop may or must happen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<TimeWindow>,
    /// The dock appointment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment: Option<Appointment>,
    /// Orders picked up or delivered here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orders: Vec<OrderId>,
    /// Reference numbers of this stop (pickup number, delivery number).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
}

/// Totals of a load.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ShipmentTotals {
    /// Gross weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<Weight>,
    /// Volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<Volume>,
    /// Number of handling units (pallets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handling_units: Option<u32>,
    /// Number of pieces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pieces: Option<u32>,
    /// Declared value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_value: Option<Money>,
}

/// A shipment moving as one load: its stops, its orders, its carrier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Shipment {
    /// The shipper's load id: the correlation key of everything about this load.
    pub shipper_load_id: ShipperLoadId,
    /// The carrier, once assigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<CarrierRef>,
    /// The carrier's PRO number, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pro_number: Option<ProNumber>,
    /// Transport mode.
    pub mode: Mode,
    /// Equipment the load needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equipment: Option<EquipmentRequirement>,
    /// Special services requested.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub special_services: Vec<SpecialService>,
    /// The stops, in route order; at least one pickup and one delivery.
    pub stops: Vec<Stop>,
    /// The orders on this load.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orders: Vec<OrderId>,
    /// Parties: shipper, consignee, bill-to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parties: Vec<Party>,
    /// Reference numbers of the load (BOL, PO, customer reference).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    /// Totals.
    #[serde(default)]
    pub totals: ShipmentTotals,
}

impl Shipment {
    /// Whether the load carries dangerous goods.
    #[must_use]
    pub fn is_hazmat(&self) -> bool {
        self.special_services
            .iter()
            .any(|service| service.kind == SpecialServiceKind::Hazmat)
    }

    /// The stop with sequence number `seq`.
    #[must_use]
    pub fn stop(&self, seq: u16) -> Option<&Stop> {
        self.stops.iter().find(|stop| stop.seq == seq)
    }

    pub(crate) fn check(&self, path: &str) -> Result<(), ModelViolation> {
        let mut previous = 0;
        for (index, stop) in self.stops.iter().enumerate() {
            if stop.seq <= previous {
                return Err(ModelViolation::new(
                    format!("{path}/stops/{index}/seq"),
                    "stop sequence numbers start at 1 and increase",
                ));
            }
            previous = stop.seq;
            if let Some(window) = &stop.window {
                window.check(&format!("{path}/stops/{index}/window"))?;
            }
            if let Some(appointment) = &stop.appointment {
                appointment
                    .window
                    .check(&format!("{path}/stops/{index}/appointment/window"))?;
            }
        }
        let has = |role| self.stops.iter().any(|stop| stop.role == role);
        if !has(StopRole::Pickup) || !has(StopRole::Delivery) {
            return Err(ModelViolation::new(
                format!("{path}/stops"),
                "a load has at least one pickup and one delivery",
            ));
        }
        Ok(())
    }
}
