//! Builders shared by the orchestrator's tests.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use rust_decimal::Decimal;
use transload_core::ids::{CountryCode, CurrencyCode, PartnerId, Scac, ShipperLoadId};
use transload_core::model::{EquipmentType, Money};
use transload_orchestrator::{
    Area, AreaScope, Carrier, DateRange, Lane, Linehaul, LoadRequest, Place, QualityStats, Rate,
};

pub fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

pub fn usd(amount: &str) -> Money {
    Money::new(dec(amount), CurrencyCode::new("USD").unwrap())
}

pub fn day(text: &str) -> Date {
    text.parse().unwrap()
}

pub fn instant(text: &str) -> Timestamp {
    text.parse().unwrap()
}

pub fn id(text: &str) -> PartnerId {
    PartnerId::new(text).unwrap()
}

pub fn us() -> CountryCode {
    CountryCode::new("US").unwrap()
}

pub fn region(code: &str) -> Area {
    Area {
        country: us(),
        scope: AreaScope::Region(code.to_owned()),
    }
}

pub fn zip3(code: &str) -> Area {
    Area {
        country: us(),
        scope: AreaScope::Zip3(code.to_owned()),
    }
}

pub fn country() -> Area {
    Area {
        country: us(),
        scope: AreaScope::Country,
    }
}

pub fn flat_rate(amount: &str) -> Rate {
    Rate {
        effective: DateRange {
            from: day("2026-01-01"),
            to: None,
        },
        linehaul: Linehaul::Flat(usd(amount)),
        fuel_surcharge_pct: Decimal::ZERO,
        accessorials: BTreeMap::new(),
    }
}

/// A lane IL → GA from 2026-01-01, 2 transit days, 2 loads a day, rank 1, flat 1000.
pub fn lane(lane_id: &str) -> Lane {
    Lane {
        id: lane_id.to_owned(),
        origin: region("IL"),
        destination: region("GA"),
        effective: DateRange {
            from: day("2026-01-01"),
            to: None,
        },
        transit_days: 2,
        capacity_per_day: 2,
        routing_guide_rank: 1,
        rates: vec![flat_rate("1000")],
    }
}

/// A dry-van carrier, not hazmat, USD, 24 h lead time, perfect quality, no allocation
/// target, no max pay, with lane `l` of [`lane`].
pub fn carrier(carrier_id: &str) -> Carrier {
    Carrier {
        id: id(carrier_id),
        scac: Scac::new("ABCD").unwrap(),
        name: carrier_id.to_owned(),
        currency: CurrencyCode::new("USD").unwrap(),
        equipment: vec![EquipmentType::DryVan],
        hazmat: false,
        tender_lead_time_hours: 24,
        response_time_hours: 2,
        allocation_pct: Decimal::ZERO,
        max_pay: None,
        quality: QualityStats {
            on_time_pct: Decimal::ONE_HUNDRED,
            acceptance_pct: Decimal::ONE_HUNDRED,
        },
        lanes: vec![lane("l")],
    }
}

/// 2026-03-08T12:00:00Z: 50 hours before the pickup of [`load`].
pub fn now() -> Timestamp {
    instant("2026-03-08T12:00:00Z")
}

/// A dry-van load Chicago (IL 60601) → Atlanta (GA 30301), pickup 2026-03-10 14:00 UTC,
/// deliver by 2026-03-13, 720 miles, no accessorials, in USD.
pub fn load() -> LoadRequest {
    LoadRequest {
        shipper_load_id: ShipperLoadId::new("LOAD-1").unwrap(),
        origin: Place {
            country: us(),
            region: Some("IL".to_owned()),
            postal_code: Some("60601".to_owned()),
        },
        destination: Place {
            country: us(),
            region: Some("GA".to_owned()),
            postal_code: Some("30301".to_owned()),
        },
        equipment: EquipmentType::DryVan,
        hazmat: false,
        pickup_date: day("2026-03-10"),
        pickup_at: instant("2026-03-10T14:00:00Z"),
        deliver_by: Some(day("2026-03-13")),
        miles: dec("720"),
        accessorials: Default::default(),
        currency: CurrencyCode::new("USD").unwrap(),
    }
}
