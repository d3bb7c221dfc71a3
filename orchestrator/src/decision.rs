//! The decision record of a carrier selection: every candidate with the rule that
//! excluded it or its score, and the waterfall order. Serializable, for the audit log.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use transload_core::ids::{CurrencyCode, PartnerId, Scac};
use transload_core::model::{EquipmentType, Money};

use crate::carrier::QualityStats;
use crate::request::LoadRequest;

/// The outcome of carrier selection for one load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectionDecision {
    /// The load, as selection saw it.
    pub load: LoadRequest,
    /// The `now` the decision was taken at.
    pub decided_at: Timestamp,
    /// Every carrier of the master, in id order.
    pub candidates: Vec<Candidate>,
    /// The eligible carriers, best first: the order in which to tender.
    pub ranking: Vec<PartnerId>,
}

impl SelectionDecision {
    /// The carrier to tender to first, if any is eligible.
    #[must_use]
    pub fn chosen(&self) -> Option<&PartnerId> {
        self.ranking.first()
    }

    /// The record of carrier `id`.
    #[must_use]
    pub fn candidate(&self, id: &PartnerId) -> Option<&Candidate> {
        self.candidates
            .iter()
            .find(|candidate| &candidate.carrier == id)
    }
}

/// One carrier weighed for the load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// The carrier.
    pub carrier: PartnerId,
    /// Its SCAC.
    pub scac: Scac,
    /// Excluded, or eligible with its score.
    pub outcome: Outcome,
}

/// What became of a candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A hard filter excluded it: the first rule it failed, in the order of [`Exclusion`].
    Excluded(Exclusion),
    /// It passed every filter.
    Eligible(Box<Score>),
}

impl Outcome {
    /// The exclusion, when excluded.
    #[must_use]
    pub fn exclusion(&self) -> Option<&Exclusion> {
        match self {
            Outcome::Excluded(exclusion) => Some(exclusion),
            Outcome::Eligible(_) => None,
        }
    }

    /// The score, when eligible.
    #[must_use]
    pub fn score(&self) -> Option<&Score> {
        match self {
            Outcome::Excluded(_) => None,
            Outcome::Eligible(score) => Some(score),
        }
    }
}

/// The hard filter that excluded a carrier. Filters run in the order of the variants; a
/// carrier is reported under the first it fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum Exclusion {
    /// The carrier does not provide the equipment the load needs.
    EquipmentNotOffered {
        /// What the load needs.
        required: EquipmentType,
    },
    /// The load is hazmat and the carrier is not qualified.
    HazmatNotQualified,
    /// The carrier rates in another currency than the load is paid in.
    CurrencyMismatch {
        /// The load's currency.
        load: CurrencyCode,
        /// The carrier's.
        carrier: CurrencyCode,
    },
    /// There is less time before pickup than the carrier's tender lead time.
    LeadTimeTooShort {
        /// The carrier's minimum.
        lead_time_hours: u32,
        /// Whole minutes from now to the pickup (negative when it is past).
        minutes_before_pickup: i64,
    },
    /// No lane of the carrier goes from the load's origin to its destination.
    NoLane,
    /// Lanes go there, but none is in effect on the pickup date.
    LaneNotEffective {
        /// The lanes that go there.
        lanes: Vec<String>,
    },
    /// Lanes go there and are in effect, but none has a rate in effect on the pickup date.
    RateNotEffective {
        /// The lanes in effect.
        lanes: Vec<String>,
    },
    /// The lane already has its day's capacity of loads.
    CapacityUsedUp {
        /// The lane.
        lane: String,
        /// Its loads per day.
        capacity_per_day: u32,
        /// Loads it already has that day.
        loads: u32,
    },
    /// Pickup date plus transit days is after the last acceptable delivery day.
    TransitTooLong {
        /// The lane.
        lane: String,
        /// Its transit days.
        transit_days: u32,
        /// When the load would arrive.
        arrives: Date,
        /// When it must arrive at the latest.
        deliver_by: Date,
    },
    /// The load needs an accessorial the lane's rate does not price.
    AccessorialNotRated {
        /// The lane.
        lane: String,
        /// The accessorial code.
        code: String,
    },
    /// An amount of the price or score leaves the decimal range (absurd rates or miles).
    CostOverflow {
        /// The lane.
        lane: String,
    },
    /// The load would cost more than the carrier's max pay.
    AboveMaxPay {
        /// The lane.
        lane: String,
        /// The load's cost.
        cost: Money,
        /// The cap.
        max_pay: Money,
    },
}

impl Exclusion {
    /// The rule's stable name, as serialized (`hazmat_not_qualified`…).
    #[must_use]
    pub fn rule(&self) -> &'static str {
        match self {
            Exclusion::EquipmentNotOffered { .. } => "equipment_not_offered",
            Exclusion::HazmatNotQualified => "hazmat_not_qualified",
            Exclusion::CurrencyMismatch { .. } => "currency_mismatch",
            Exclusion::LeadTimeTooShort { .. } => "lead_time_too_short",
            Exclusion::NoLane => "no_lane",
            Exclusion::LaneNotEffective { .. } => "lane_not_effective",
            Exclusion::RateNotEffective { .. } => "rate_not_effective",
            Exclusion::CapacityUsedUp { .. } => "capacity_used_up",
            Exclusion::TransitTooLong { .. } => "transit_too_long",
            Exclusion::AccessorialNotRated { .. } => "accessorial_not_rated",
            Exclusion::CostOverflow { .. } => "cost_overflow",
            Exclusion::AboveMaxPay { .. } => "above_max_pay",
        }
    }
}

/// What a load costs with a carrier on a lane, each part rounded to cents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cost {
    /// Linehaul.
    pub linehaul: Money,
    /// Fuel surcharge.
    pub fuel_surcharge: Money,
    /// Accessorials the load needs, by code.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub accessorials: BTreeMap<String, Money>,
    /// The sum.
    pub total: Money,
}

/// Where the quality figures of a score come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualitySource {
    /// Observed performance in the history.
    History,
    /// The baseline in the carrier file.
    CarrierFile,
}

/// The score of an eligible carrier and every figure it was computed from; lower is
/// better. See the crate documentation for the formula.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    /// The lane priced.
    pub lane: String,
    /// The carrier's routing-guide rank on that lane (first tie-breaker).
    pub routing_guide_rank: u32,
    /// The cost.
    pub cost: Cost,
    /// The quality figures used.
    pub quality: QualityStats,
    /// Where they come from.
    pub quality_source: QualitySource,
    /// `2 − (on_time + acceptance) / 200`, from 1 (perfect) to 2.
    pub quality_factor: Decimal,
    /// The carrier's allocation target, percent.
    pub allocation_target_pct: Decimal,
    /// Its share of the period's awarded loads so far, percent (4 decimals).
    pub allocation_share_pct: Decimal,
    /// `max(0, target − share)`.
    pub allocation_deficit_pct: Decimal,
    /// `1 − deficit / 1000`: up to 10 % off for a carrier far below its target.
    pub allocation_factor: Decimal,
    /// `total × quality_factor × allocation_factor`, 6 decimals.
    pub score: Decimal,
    /// When the carrier must answer a tender sent now (now + response time).
    pub respond_by: Timestamp,
}
