//! The carrier master: each carrier's identity, qualifications and contract (lanes, rates,
//! capacity, lead and response times, allocation target, max pay, baseline quality).
//!
//! The types here are the checked, in-memory form; [`crate::loader`] builds them from
//! one TOML file per carrier.

use std::collections::BTreeMap;

use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use transload_core::ids::{CountryCode, CurrencyCode, PartnerId, Scac};
use transload_core::model::{EquipmentType, Money};

/// A period of days, both ends inclusive; open-ended when `to` is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateRange {
    /// First day in effect.
    pub from: Date,
    /// Last day in effect; none means "until further notice".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Date>,
}

impl DateRange {
    /// Whether `day` falls inside the range.
    #[must_use]
    pub fn contains(&self, day: Date) -> bool {
        self.from <= day && self.to.is_none_or(|to| day <= to)
    }

    /// Whether the two ranges share at least one day.
    #[must_use]
    pub fn overlaps(&self, other: &DateRange) -> bool {
        let starts_before_other_ends = other.to.is_none_or(|to| self.from <= to);
        let other_starts_before_end = self.to.is_none_or(|to| other.from <= to);
        starts_before_other_ends && other_starts_before_end
    }
}

/// How much of a country a lane end covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "scope", content = "code")]
pub enum AreaScope {
    /// The whole country.
    Country,
    /// One state, province or region (`IL`, `ON`), as in postal addresses.
    Region(String),
    /// Postal codes starting with these three digits (US ZIP3).
    Zip3(String),
}

/// One end of a lane: a country, a region of it, or a ZIP3 prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Area {
    /// The country.
    pub country: CountryCode,
    /// Which part of it.
    #[serde(flatten)]
    pub scope: AreaScope,
}

impl Area {
    /// Whether `place` lies in this area. A region or ZIP3 area never matches a place that
    /// lacks a region or postal code.
    #[must_use]
    pub fn contains(&self, place: &Place) -> bool {
        if self.country != place.country {
            return false;
        }
        match &self.scope {
            AreaScope::Country => true,
            AreaScope::Region(region) => place
                .region
                .as_deref()
                .is_some_and(|candidate| candidate.trim().eq_ignore_ascii_case(region)),
            AreaScope::Zip3(prefix) => place
                .postal_code
                .as_deref()
                .is_some_and(|code| code.trim().starts_with(prefix.as_str())),
        }
    }

    /// How narrow the area is: 0 for a country, 1 for a region, 2 for a ZIP3.
    #[must_use]
    pub fn specificity(&self) -> u8 {
        match self.scope {
            AreaScope::Country => 0,
            AreaScope::Region(_) => 1,
            AreaScope::Zip3(_) => 2,
        }
    }
}

/// A place a load is picked up at or delivered to, as far as lanes care.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    /// Country.
    pub country: CountryCode,
    /// State, province or region code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
}

/// The linehaul part of a rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Linehaul {
    /// One price for the load.
    Flat(Money),
    /// A price per mile, with an optional minimum charge.
    PerMile {
        /// Price of one mile.
        rate: Money,
        /// The least the linehaul costs, whatever the distance.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        minimum: Option<Money>,
    },
}

/// The price of a lane for a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    /// When the rate applies (pickup date).
    pub effective: DateRange,
    /// Linehaul.
    pub linehaul: Linehaul,
    /// Fuel surcharge, in percent of the linehaul.
    pub fuel_surcharge_pct: Decimal,
    /// Accessorial charges by code (`LFT` liftgate, `APPT` appointment…).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub accessorials: BTreeMap<String, Money>,
}

/// A contracted origin–destination pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lane {
    /// Unique within the carrier; names the lane in decisions and in capacity counts.
    pub id: String,
    /// Where loads are picked up.
    pub origin: Area,
    /// Where loads are delivered.
    pub destination: Area,
    /// When the lane is contracted (pickup date).
    pub effective: DateRange,
    /// Calendar days from pickup to delivery.
    pub transit_days: u32,
    /// Loads the carrier takes on this lane per pickup day.
    pub capacity_per_day: u32,
    /// The carrier's place in the lane's routing guide; 1 is first.
    pub routing_guide_rank: u32,
    /// The lane's rates, no two in effect on the same day.
    pub rates: Vec<Rate>,
}

impl Lane {
    /// Whether the lane goes from `origin` to `destination`.
    #[must_use]
    pub fn serves(&self, origin: &Place, destination: &Place) -> bool {
        self.origin.contains(origin) && self.destination.contains(destination)
    }

    /// How narrow the lane is: the sum of its ends' specificities.
    #[must_use]
    pub fn specificity(&self) -> u8 {
        self.origin.specificity() + self.destination.specificity()
    }

    /// The rate in effect on `day`.
    #[must_use]
    pub fn rate_on(&self, day: Date) -> Option<&Rate> {
        self.rates.iter().find(|rate| rate.effective.contains(day))
    }
}

/// On-time and acceptance percentages (0–100) of a carrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualityStats {
    /// Share of loads picked up and delivered on time, in percent.
    pub on_time_pct: Decimal,
    /// Share of tenders accepted, in percent.
    pub acceptance_pct: Decimal,
}

/// A carrier and its contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carrier {
    /// Its partner id (the carrier's partner file has the same id).
    pub id: PartnerId,
    /// Its Standard Carrier Alpha Code.
    pub scac: Scac,
    /// Its name.
    pub name: String,
    /// The currency of all its rates and of `max_pay`.
    pub currency: CurrencyCode,
    /// Equipment it provides, without repeats.
    pub equipment: Vec<EquipmentType>,
    /// Whether it may carry hazardous materials.
    pub hazmat: bool,
    /// Minimum hours between tendering and pickup.
    pub tender_lead_time_hours: u32,
    /// Hours it has to answer a tender (the 204's G62*64 respond-by).
    pub response_time_hours: u32,
    /// Target share of the loads it should get, in percent.
    pub allocation_pct: Decimal,
    /// The most one load may cost with this carrier, when capped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pay: Option<Money>,
    /// Baseline quality, used until the history has figures of its own.
    pub quality: QualityStats,
    /// Contracted lanes, in file order.
    pub lanes: Vec<Lane>,
}

/// A carrier id declared twice in a [`CarrierMaster`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("carrier `{0}` is declared twice")]
pub struct DuplicateCarrier(pub PartnerId);

/// Every carrier, by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CarrierMaster {
    carriers: BTreeMap<PartnerId, Carrier>,
}

impl CarrierMaster {
    /// A master of `carriers`.
    ///
    /// # Errors
    /// [`DuplicateCarrier`] with the first id that appears twice.
    pub fn new(carriers: impl IntoIterator<Item = Carrier>) -> Result<Self, DuplicateCarrier> {
        let mut master = Self::default();
        for carrier in carriers {
            master.insert(carrier)?;
        }
        Ok(master)
    }

    /// Adds `carrier`.
    ///
    /// # Errors
    /// [`DuplicateCarrier`] when a carrier with that id is already present.
    pub fn insert(&mut self, carrier: Carrier) -> Result<(), DuplicateCarrier> {
        if self.carriers.contains_key(&carrier.id) {
            return Err(DuplicateCarrier(carrier.id));
        }
        self.carriers.insert(carrier.id.clone(), carrier);
        Ok(())
    }

    /// The carrier with id `id`.
    #[must_use]
    pub fn get(&self, id: &PartnerId) -> Option<&Carrier> {
        self.carriers.get(id)
    }

    /// Every carrier, in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Carrier> {
        self.carriers.values()
    }

    /// Number of carriers.
    #[must_use]
    pub fn len(&self) -> usize {
        self.carriers.len()
    }

    /// Whether there are no carriers.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.carriers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> Date {
        text.parse().unwrap()
    }

    fn range(from: &str, to: Option<&str>) -> DateRange {
        DateRange {
            from: day(from),
            to: to.map(day),
        }
    }

    #[test]
    fn date_ranges_include_both_ends_and_may_be_open() {
        let march = range("2026-03-01", Some("2026-03-31"));
        assert!(march.contains(day("2026-03-01")));
        assert!(march.contains(day("2026-03-31")));
        assert!(!march.contains(day("2026-04-01")));
        assert!(!march.contains(day("2026-02-28")));
        assert!(range("2026-03-01", None).contains(day("2099-01-01")));
    }

    #[test]
    fn date_ranges_overlap_when_they_share_a_day() {
        let march = range("2026-03-01", Some("2026-03-31"));
        assert!(march.overlaps(&range("2026-03-31", Some("2026-04-30"))));
        assert!(!march.overlaps(&range("2026-04-01", None)));
        assert!(range("2026-04-01", None).overlaps(&range("2026-01-01", None)));
        assert!(!range("2026-04-01", None).overlaps(&range("2026-01-01", Some("2026-03-31"))));
        assert!(march.overlaps(&range("2026-03-10", Some("2026-03-11"))));
    }

    #[test]
    fn areas_match_country_region_or_zip3() {
        let us = CountryCode::new("US").unwrap();
        let chicago = Place {
            country: us.clone(),
            region: Some("il".to_owned()),
            postal_code: Some(" 60601".to_owned()),
        };
        let area = |scope| Area {
            country: us.clone(),
            scope,
        };
        assert!(area(AreaScope::Country).contains(&chicago));
        assert!(area(AreaScope::Region("IL".to_owned())).contains(&chicago));
        assert!(!area(AreaScope::Region("GA".to_owned())).contains(&chicago));
        assert!(area(AreaScope::Zip3("606".to_owned())).contains(&chicago));
        assert!(!area(AreaScope::Zip3("607".to_owned())).contains(&chicago));
        let canada = Area {
            country: CountryCode::new("CA").unwrap(),
            scope: AreaScope::Country,
        };
        assert!(!canada.contains(&chicago));
        let nowhere = Place {
            country: us.clone(),
            region: None,
            postal_code: None,
        };
        assert!(!area(AreaScope::Zip3("606".to_owned())).contains(&nowhere));
        assert!(area(AreaScope::Country).contains(&nowhere));
    }
}
