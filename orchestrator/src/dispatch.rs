//! Dispatch: a picked order becomes (part of) a load.
//!
//! A pick completion names its order and, usually, its wave. Orders of the same wave
//! picked at the same facility for the same destination travel together: the first pick
//! opens a load ([`LoadStatus::Building`](crate::load::LoadStatus::Building)) that takes
//! the wave's later picks until the wave's cutoff (`wave_cutoff_minutes` after the first
//! pick); at the cutoff carrier selection runs. A pick without a wave, or a cutoff of 0,
//! dispatches a load of its own at once.
//!
//! The load id is `W{wave}-{facility}-{destination}` (location ids, else postal codes),
//! or `L{order}` without a wave; an id longer than the 30 characters X12 allows for it
//! becomes `L` and 16 hex digits of its FNV-1a hash.
//!
//! The load has one pickup stop at the picking facility and one delivery stop at the
//! order's ship-to. Its pickup window is the order's, or `pickup_after_hours` after the
//! pick; its delivery window is the order's. Weight is the pick's, else the sum of the
//! order lines'. Hazardous lines make the load hazmat. Miles are the great-circle distance
//! between the stops times the policy's circuity, or the policy's default when a stop has
//! no coordinates.

use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use transload_core::ids::{ShipperLoadId, ZoneName};
use transload_core::model::{
    EquipmentRequirement, LoadExtent, Location, Mode, Order, PickCompletion, Shipment,
    ShipmentTotals, SpecialService, SpecialServiceKind, Stop, StopRole, TimeWindow, Weight,
    ZonedTime,
};

use crate::policy::DispatchPolicy;

/// Why a pick cannot become a load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DispatchError {
    /// The load id built from the wave is not a valid shipper load id.
    #[error("cannot name the load `{0}`")]
    LoadId(String),
    /// A computed time is out of range.
    #[error("time out of range: {0}")]
    Time(String),
    /// The order's ship-to is not where the load goes.
    #[error("order {order} goes to another destination than load {load}")]
    OtherDestination {
        /// The order.
        order: String,
        /// The load.
        load: String,
    },
}

/// The id of the load a pick of `order` joins: its wave's, when waves are consolidated
/// (`wave_cutoff_minutes` > 0), else one of its own.
///
/// # Errors
/// When the id would be empty or too long.
pub fn load_id_for(
    order: &Order,
    pick: &PickCompletion,
    policy: &DispatchPolicy,
) -> Result<ShipperLoadId, DispatchError> {
    let wave = pick
        .wave
        .as_deref()
        .map(str::trim)
        .filter(|wave| !wave.is_empty() && policy.wave_cutoff_minutes > 0);
    let id = match wave {
        Some(wave) => format!(
            "W{wave}-{}-{}",
            location_key(&pick.facility),
            location_key(&order.ship_to)
        ),
        _ => format!("L{}", order.order_id),
    };
    // X12 carries the load id in fields of at most 30 characters (B204, B102, B303).
    let id = if id.chars().count() > MAX_LOAD_ID {
        format!("L{:016X}", fnv1a(id.as_bytes()))
    } else {
        id
    };
    ShipperLoadId::new(id.clone()).map_err(|_| DispatchError::LoadId(id))
}

/// The longest load id that fits the X12 fields that carry it.
pub const MAX_LOAD_ID: usize = 30;

/// FNV-1a, 64 bits: a short, stable name for a long wave key.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The instant of the pick: as sent, else its local time read in the facility's zone.
fn picked_at(pick: &PickCompletion) -> Option<Timestamp> {
    pick.picked_at.utc.or_else(|| {
        let zone = pick.facility.time_zone.as_ref()?;
        let tz = jiff::tz::TimeZone::get(zone.as_str()).ok()?;
        tz.to_timestamp(pick.picked_at.local).ok()
    })
}

/// A short key of a location: its id, else its postal code, else its name.
fn location_key(location: &Location) -> String {
    location
        .id
        .clone()
        .or_else(|| {
            location
                .address
                .as_ref()
                .and_then(|address| address.postal_code.clone())
        })
        .or_else(|| location.name.clone())
        .unwrap_or_else(|| "x".to_owned())
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// A new load for the first picked order of a wave. A pick time without zone is read in
/// the facility's zone, else `now` stands for it.
///
/// # Errors
/// See [`DispatchError`].
pub fn new_load(
    id: ShipperLoadId,
    order: &Order,
    pick: &PickCompletion,
    policy: &DispatchPolicy,
    now: Timestamp,
) -> Result<Shipment, DispatchError> {
    let picked_at = picked_at(pick).unwrap_or(now);
    let pickup_window = match &order.pickup_window {
        Some(window) => window.clone(),
        None => {
            let at = picked_at
                .checked_add(SignedDuration::from_hours(i64::from(
                    policy.pickup_after_hours,
                )))
                .map_err(|e| DispatchError::Time(e.to_string()))?;
            let earliest = ZonedTime::from_utc(at).map_err(|e| DispatchError::Time(e.rule))?;
            TimeWindow {
                earliest: Some(in_zone_of(earliest, &pick.facility)),
                latest: None,
            }
        }
    };
    let mut special_services = Vec::new();
    if order.is_hazmat() {
        special_services.push(SpecialService {
            kind: SpecialServiceKind::Hazmat,
            raw_code: None,
        });
    }
    Ok(Shipment {
        shipper_load_id: id,
        carrier: None,
        pro_number: None,
        mode: order.requested_mode.unwrap_or(Mode::Truckload),
        equipment: Some(EquipmentRequirement {
            equipment_type: policy.equipment,
            length_feet: None,
            temperature: None,
            raw_code: None,
        }),
        special_services,
        stops: vec![
            Stop {
                seq: 1,
                role: StopRole::Pickup,
                extent: LoadExtent::Full,
                location: pick.facility.clone(),
                window: Some(pickup_window),
                appointment: None,
                orders: vec![order.order_id.clone()],
                references: Vec::new(),
            },
            Stop {
                seq: 2,
                role: StopRole::Delivery,
                extent: LoadExtent::Full,
                location: order.ship_to.clone(),
                window: order.delivery_window.clone(),
                appointment: None,
                orders: vec![order.order_id.clone()],
                references: Vec::new(),
            },
        ],
        orders: vec![order.order_id.clone()],
        parties: order.parties.clone(),
        references: order.references.clone(),
        totals: ShipmentTotals {
            weight: pick_weight(order, pick),
            volume: None,
            handling_units: u32::try_from(pick.handling_units.len())
                .ok()
                .filter(|count| *count > 0),
            pieces: None,
            declared_value: order.declared_value.clone(),
        },
    })
}

/// Adds a picked order to a load still building.
///
/// # Errors
/// When the order goes elsewhere than the load.
pub fn extend_load(
    shipment: &mut Shipment,
    order: &Order,
    pick: &PickCompletion,
) -> Result<(), DispatchError> {
    if shipment.orders.contains(&order.order_id) {
        return Ok(());
    }
    let other_destination = || DispatchError::OtherDestination {
        order: order.order_id.to_string(),
        load: shipment.shipper_load_id.to_string(),
    };
    let delivery = shipment
        .stops
        .iter()
        .rev()
        .find(|stop| stop.role == StopRole::Delivery)
        .ok_or_else(other_destination)?;
    if location_key(&delivery.location) != location_key(&order.ship_to) {
        return Err(other_destination());
    }
    for stop in &mut shipment.stops {
        stop.orders.push(order.order_id.clone());
    }
    shipment.orders.push(order.order_id.clone());
    if order.is_hazmat() && !shipment.is_hazmat() {
        shipment.special_services.push(SpecialService {
            kind: SpecialServiceKind::Hazmat,
            raw_code: None,
        });
    }
    shipment.totals.weight = match (shipment.totals.weight, pick_weight(order, pick)) {
        (Some(total), Some(more)) => Some(Weight::kg(total.in_kg() + more.in_kg())),
        (total, more) => total.or(more),
    };
    Ok(())
}

fn pick_weight(order: &Order, pick: &PickCompletion) -> Option<Weight> {
    pick.total_weight.or_else(|| {
        order
            .lines
            .iter()
            .map(|line| line.weight.map(|weight| weight.in_kg()))
            .sum::<Option<Decimal>>()
            .map(Weight::kg)
    })
}

fn in_zone_of(time: ZonedTime, location: &Location) -> ZonedTime {
    let Some(zone_name) = location.time_zone.clone() else {
        return time;
    };
    let (Some(utc), Ok(zone)) = (time.utc, jiff::tz::TimeZone::get(zone_name.as_str())) else {
        return time;
    };
    ZonedTime::resolve(
        zone.to_datetime(utc),
        zone_name,
        &zone,
        transload_core::model::ZoneSource::StopLocation,
    )
    .unwrap_or(time)
}

/// Road miles between the load's first pickup and last delivery.
#[must_use]
pub fn miles(shipment: &Shipment, policy: &DispatchPolicy) -> Decimal {
    let pickup = shipment
        .stops
        .iter()
        .find(|stop| stop.role == StopRole::Pickup);
    let delivery = shipment
        .stops
        .iter()
        .rev()
        .find(|stop| stop.role == StopRole::Delivery);
    let (Some(from), Some(to)) = (
        pickup.and_then(|stop| stop.location.geo),
        delivery.and_then(|stop| stop.location.geo),
    ) else {
        return policy.default_miles;
    };
    let great_circle = crate::tracking::haversine_m(from, to) / METRES_PER_MILE;
    Decimal::from_f64(great_circle)
        .map(|miles| (miles * policy.circuity).round())
        .filter(|miles| *miles > Decimal::ZERO)
        .unwrap_or(policy.default_miles)
}

/// Metres in a statute mile.
const METRES_PER_MILE: f64 = 1609.344;

/// The zone of the load's first pickup, for reading local times.
#[must_use]
pub fn pickup_zone(shipment: &Shipment) -> Option<ZoneName> {
    shipment
        .stops
        .iter()
        .find(|stop| stop.role == StopRole::Pickup)
        .and_then(|stop| stop.location.time_zone.clone())
}
