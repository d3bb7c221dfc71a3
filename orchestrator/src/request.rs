//! What carrier selection is asked to place: one load, reduced to what the filters and
//! the price need.

use std::collections::BTreeSet;

use jiff::Timestamp;
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use transload_core::ids::{CurrencyCode, ShipperLoadId};
use transload_core::model::EquipmentType;

use crate::carrier::Place;

/// A load looking for a carrier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadRequest {
    /// The load.
    pub shipper_load_id: ShipperLoadId,
    /// Where it is picked up.
    pub origin: Place,
    /// Where it is delivered.
    pub destination: Place,
    /// The equipment it needs.
    pub equipment: EquipmentType,
    /// Whether it carries hazardous materials.
    pub hazmat: bool,
    /// The pickup day, local to the origin: lanes, rates and capacity are counted by it.
    pub pickup_date: Date,
    /// The earliest pickup instant: the tender lead time is measured to it.
    pub pickup_at: Timestamp,
    /// The last acceptable delivery day, local to the destination, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver_by: Option<Date>,
    /// Rated distance in miles.
    pub miles: Decimal,
    /// Accessorial codes the load needs (`LFT`, `APPT`…); each must be rated.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub accessorials: BTreeSet<String>,
    /// The currency the shipper pays in; carriers rating in another one are excluded.
    pub currency: CurrencyCode,
}
