//! What carrier selection is asked to place: one load, reduced to what the filters and
//! the price need.

use std::collections::BTreeSet;

use jiff::Timestamp;
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use transload_core::ids::{CurrencyCode, ShipperLoadId};
use transload_core::model::{EquipmentType, Shipment, Stop, StopRole, TimeWindow, ZonedTime};

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

/// Why a shipment cannot be turned into a [`LoadRequest`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadRequestError {
    /// The shipment has no stop with this role.
    #[error("the load has no {0:?} stop")]
    NoStop(StopRole),
    /// The stop's location has no address, so no lane can be matched.
    #[error("stop {seq} has no address")]
    NoAddress {
        /// The stop's sequence number.
        seq: u16,
    },
    /// The shipment does not say what equipment it needs.
    #[error("the load does not say what equipment it needs")]
    NoEquipment,
    /// The first pickup has no window or appointment time.
    #[error("pickup stop {seq} has no time")]
    NoPickupTime {
        /// The stop's sequence number.
        seq: u16,
    },
    /// The pickup time's zone is unknown, so the lead time cannot be measured.
    #[error("pickup stop {seq}: the zone of {local} is unresolved")]
    UnresolvedPickupTime {
        /// The stop's sequence number.
        seq: u16,
        /// The local time as sent.
        local: String,
    },
}

impl LoadRequest {
    /// The request for `shipment`, with its rated distance and currency:
    ///
    /// - origin: the address of the first pickup stop; destination: that of the last
    ///   delivery stop;
    /// - pickup: the first pickup stop's appointment, else its window: the earliest
    ///   time, else the latest. Its local date is `pickup_date`, its instant `pickup_at`;
    /// - `deliver_by`: the local date of the latest time of the last delivery stop's
    ///   appointment, else its window, if any;
    /// - accessorials: the partner codes (`raw_code`) of the special services; a service
    ///   without a code is not priced, since contracts price codes, not kinds;
    /// - hazmat: whether a special service is hazmat.
    ///
    /// # Errors
    /// [`LoadRequestError`] when a stop, address, equipment or pickup time is missing.
    pub fn from_shipment(
        shipment: &Shipment,
        miles: Decimal,
        currency: CurrencyCode,
    ) -> Result<Self, LoadRequestError> {
        let pickup = shipment
            .stops
            .iter()
            .find(|stop| stop.role == StopRole::Pickup)
            .ok_or(LoadRequestError::NoStop(StopRole::Pickup))?;
        let delivery = shipment
            .stops
            .iter()
            .rev()
            .find(|stop| stop.role == StopRole::Delivery)
            .ok_or(LoadRequestError::NoStop(StopRole::Delivery))?;
        let equipment = shipment
            .equipment
            .as_ref()
            .ok_or(LoadRequestError::NoEquipment)?
            .equipment_type;
        let windows = |stop: &Stop| -> Vec<TimeWindow> {
            stop.appointment
                .iter()
                .map(|appointment| appointment.window.clone())
                .chain(stop.window.clone())
                .collect()
        };
        let pickup_time: ZonedTime = windows(pickup)
            .iter()
            .find_map(|window| window.earliest.as_ref().or(window.latest.as_ref()))
            .cloned()
            .ok_or(LoadRequestError::NoPickupTime { seq: pickup.seq })?;
        let pickup_at = pickup_time
            .utc
            .ok_or_else(|| LoadRequestError::UnresolvedPickupTime {
                seq: pickup.seq,
                local: pickup_time.local.to_string(),
            })?;
        let deliver_by = windows(delivery)
            .iter()
            .find_map(|window| window.latest.as_ref().map(|latest| latest.local.date()));
        let mut accessorials = BTreeSet::new();
        for service in &shipment.special_services {
            if let Some(code) = service.raw_code.as_deref().map(str::trim)
                && !code.is_empty()
            {
                accessorials.insert(code.to_owned());
            }
        }
        Ok(LoadRequest {
            shipper_load_id: shipment.shipper_load_id.clone(),
            origin: place(pickup)?,
            destination: place(delivery)?,
            equipment,
            hazmat: shipment.is_hazmat(),
            pickup_date: pickup_time.local.date(),
            pickup_at,
            deliver_by,
            miles,
            accessorials,
            currency,
        })
    }
}

fn place(stop: &Stop) -> Result<Place, LoadRequestError> {
    let address = stop
        .location
        .address
        .as_ref()
        .ok_or(LoadRequestError::NoAddress { seq: stop.seq })?;
    Ok(Place {
        country: address.country.clone(),
        region: address.region.clone(),
        postal_code: address.postal_code.clone(),
    })
}
