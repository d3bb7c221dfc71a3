//! The hard filters of carrier selection, in the order they run. A carrier that passes
//! them all is admitted with the lane, the rate and the cost it would move the load at.

use std::cmp::Reverse;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};

use crate::carrier::{Carrier, Lane, Rate};
use crate::decision::{Cost, Exclusion};
use crate::history::CarrierHistory;
use crate::pricing::price;
use crate::request::LoadRequest;

/// A carrier that passed every hard filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted<'a> {
    /// The lane the load would move on.
    pub lane: &'a Lane,
    /// The rate in effect on the pickup date.
    pub rate: &'a Rate,
    /// The load's cost.
    pub cost: Cost,
}

/// The lane a load would move on with `carrier`: among the lanes that go from the load's
/// origin to its destination, are in effect on the pickup date and have a rate in effect
/// then, the most specific (ZIP3 over region over country, summed over both ends); the
/// first in file order among equally specific ones.
///
/// # Errors
/// [`Exclusion::NoLane`], [`Exclusion::LaneNotEffective`] or
/// [`Exclusion::RateNotEffective`] when there is no such lane.
pub fn lane_for<'a>(
    carrier: &'a Carrier,
    load: &LoadRequest,
) -> Result<(&'a Lane, &'a Rate), Exclusion> {
    let day = load.pickup_date;
    let serving: Vec<&Lane> = carrier
        .lanes
        .iter()
        .filter(|lane| lane.serves(&load.origin, &load.destination))
        .collect();
    if serving.is_empty() {
        return Err(Exclusion::NoLane);
    }
    let effective: Vec<&Lane> = serving
        .iter()
        .copied()
        .filter(|lane| lane.effective.contains(day))
        .collect();
    if effective.is_empty() {
        return Err(Exclusion::LaneNotEffective {
            lanes: ids(&serving),
        });
    }
    effective
        .iter()
        .filter_map(|lane| lane.rate_on(day).map(|rate| (*lane, rate)))
        .min_by_key(|(lane, _)| Reverse(lane.specificity()))
        .ok_or_else(|| Exclusion::RateNotEffective {
            lanes: ids(&effective),
        })
}

fn ids(lanes: &[&Lane]) -> Vec<String> {
    lanes.iter().map(|lane| lane.id.clone()).collect()
}

/// The day a load picked up on `pickup` arrives after `transit_days`.
#[must_use]
pub fn arrival(pickup: Date, transit_days: u32) -> Date {
    pickup
        .checked_add(SignedDuration::from_hours(i64::from(transit_days) * 24))
        .unwrap_or(Date::MAX)
}

/// Runs the hard filters on `carrier` for `load` at `now`, in this order: equipment,
/// hazmat, currency, tender lead time, lane, lane in effect, rate in effect, capacity that
/// day, transit against the delivery day, accessorials rated, max pay.
///
/// # Errors
/// The first filter the carrier fails.
pub fn admit<'a>(
    load: &LoadRequest,
    carrier: &'a Carrier,
    history: &CarrierHistory,
    now: Timestamp,
) -> Result<Admitted<'a>, Exclusion> {
    if !carrier.equipment.contains(&load.equipment) {
        return Err(Exclusion::EquipmentNotOffered {
            required: load.equipment,
        });
    }
    if load.hazmat && !carrier.hazmat {
        return Err(Exclusion::HazmatNotQualified);
    }
    if carrier.currency != load.currency {
        return Err(Exclusion::CurrencyMismatch {
            load: load.currency.clone(),
            carrier: carrier.currency.clone(),
        });
    }
    let before_pickup = now.duration_until(load.pickup_at);
    let lead_time = SignedDuration::from_hours(i64::from(carrier.tender_lead_time_hours));
    if before_pickup < lead_time {
        return Err(Exclusion::LeadTimeTooShort {
            lead_time_hours: carrier.tender_lead_time_hours,
            minutes_before_pickup: before_pickup.as_secs() / 60,
        });
    }
    let (lane, rate) = lane_for(carrier, load)?;
    let loads = history.lane_loads(&carrier.id, &lane.id, load.pickup_date);
    if loads >= lane.capacity_per_day {
        return Err(Exclusion::CapacityUsedUp {
            lane: lane.id.clone(),
            capacity_per_day: lane.capacity_per_day,
            loads,
        });
    }
    if let Some(deliver_by) = load.deliver_by {
        let arrives = arrival(load.pickup_date, lane.transit_days);
        if arrives > deliver_by {
            return Err(Exclusion::TransitTooLong {
                lane: lane.id.clone(),
                transit_days: lane.transit_days,
                arrives,
                deliver_by,
            });
        }
    }
    let cost = price(lane, rate, load, &carrier.currency)?;
    if let Some(max_pay) = &carrier.max_pay
        && cost.total.amount > max_pay.amount
    {
        return Err(Exclusion::AboveMaxPay {
            lane: lane.id.clone(),
            cost: cost.total,
            max_pay: max_pay.clone(),
        });
    }
    Ok(Admitted { lane, rate, cost })
}
