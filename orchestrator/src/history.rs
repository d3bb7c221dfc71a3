//! What carrier selection needs to know about the past: loads already given to each
//! lane per day, loads awarded in the current allocation period, observed quality.

use std::collections::BTreeMap;

use jiff::civil::Date;
use transload_core::ids::PartnerId;

use crate::carrier::QualityStats;
use crate::policy::AllocationPeriod;

/// Counts and figures from earlier decisions and carrier performance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CarrierHistory {
    lane_loads: BTreeMap<(PartnerId, String, Date), u32>,
    awards: BTreeMap<PartnerId, u32>,
    performance: BTreeMap<PartnerId, QualityStats>,
}

impl CarrierHistory {
    /// An empty history.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the loads `carrier` already has on `lane` for pickup on `day`.
    pub fn set_lane_loads(&mut self, carrier: PartnerId, lane: &str, day: Date, loads: u32) {
        self.lane_loads
            .insert((carrier, lane.to_owned(), day), loads);
    }

    /// Counts one more load for `carrier` on `lane` on `day`.
    pub fn add_lane_load(&mut self, carrier: PartnerId, lane: &str, day: Date) {
        let count = self
            .lane_loads
            .entry((carrier, lane.to_owned(), day))
            .or_insert(0);
        *count = count.saturating_add(1);
    }

    /// Loads `carrier` already has on `lane` for pickup on `day`.
    #[must_use]
    pub fn lane_loads(&self, carrier: &PartnerId, lane: &str, day: Date) -> u32 {
        self.lane_loads
            .get(&(carrier.clone(), lane.to_owned(), day))
            .copied()
            .unwrap_or(0)
    }

    /// Sets the loads awarded to `carrier` in the current allocation period.
    pub fn set_awards(&mut self, carrier: PartnerId, loads: u32) {
        self.awards.insert(carrier, loads);
    }

    /// Loads awarded to `carrier` in the current allocation period.
    #[must_use]
    pub fn awards(&self, carrier: &PartnerId) -> u32 {
        self.awards.get(carrier).copied().unwrap_or(0)
    }

    /// Loads awarded to all carriers in the current allocation period.
    #[must_use]
    pub fn total_awards(&self) -> u64 {
        self.awards.values().map(|&loads| u64::from(loads)).sum()
    }

    /// Records the quality observed for `carrier`; it replaces the carrier file's baseline.
    pub fn set_performance(&mut self, carrier: PartnerId, stats: QualityStats) {
        self.performance.insert(carrier, stats);
    }

    /// The quality observed for `carrier`, if any.
    #[must_use]
    pub fn performance(&self, carrier: &PartnerId) -> Option<&QualityStats> {
        self.performance.get(carrier)
    }
}

/// Observations of one kind below which a carrier keeps the baseline of its file.
pub const MIN_OBSERVATIONS: u32 = 5;

/// Lane loads older than this many days before the day of an update are forgotten.
const LANE_DAYS_KEPT: i64 = 7;

/// The carrier history as stored: what the orchestrator's decisions reported
/// ([`CarrierFeedback`](crate::process::CarrierFeedback)), from which a [`CarrierHistory`] is built for selection.
///
/// - awards per carrier in the current allocation period (the allocation share: a new
///   period starts with none), and loads per carrier, lane and pickup day (the lane
///   capacity), kept for a week;
/// - tender answers per carrier: acceptance = accepted / answered (an expiry is a
///   refusal);
/// - deliveries per carrier: on time = on time / delivered.
///
/// A rate is used once it rests on [`MIN_OBSERVATIONS`] observations; until then the
/// carrier file's baseline stands for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HistoryLedger {
    /// Loads awarded per carrier in the allocation period that starts on
    /// [`HistoryLedger::awards_since`].
    #[serde(default)]
    pub awards: BTreeMap<PartnerId, u32>,
    /// The first day of the allocation period of [`HistoryLedger::awards`] (none: a
    /// ledger written before periods were kept, whose awards count in no period).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awards_since: Option<Date>,
    /// Loads per carrier, lane and pickup day.
    #[serde(default)]
    pub lane_loads: Vec<LaneLoad>,
    /// Tender answers per carrier.
    #[serde(default)]
    pub answers: BTreeMap<PartnerId, Tally>,
    /// Deliveries per carrier.
    #[serde(default)]
    pub deliveries: BTreeMap<PartnerId, Tally>,
}

/// Loads of one carrier on one lane for one pickup day.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LaneLoad {
    /// The carrier.
    pub carrier: PartnerId,
    /// The lane.
    pub lane: String,
    /// The pickup day.
    pub day: Date,
    /// Loads awarded.
    pub loads: u32,
}

/// How many of how many.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tally {
    /// The good ones (accepted, on time).
    pub yes: u32,
    /// All.
    pub total: u32,
}

impl Tally {
    fn add(&mut self, yes: bool) {
        self.total = self.total.saturating_add(1);
        if yes {
            self.yes = self.yes.saturating_add(1);
        }
    }

    /// The share of good ones in percent, two decimals, once there are enough.
    #[must_use]
    pub fn percent(&self) -> Option<rust_decimal::Decimal> {
        if self.total < MIN_OBSERVATIONS {
            return None;
        }
        let share = rust_decimal::Decimal::from(self.yes) * rust_decimal::Decimal::ONE_HUNDRED
            / rust_decimal::Decimal::from(self.total);
        Some(share.round_dp(2))
    }
}

impl HistoryLedger {
    /// Takes in one fact; `today` prunes lane loads older than a week, and starts the
    /// awards over when it is in a later allocation `period` than they are.
    pub fn apply(
        &mut self,
        feedback: &crate::process::CarrierFeedback,
        today: Date,
        period: AllocationPeriod,
    ) {
        use crate::process::CarrierFeedback;
        let current = period.start(today);
        if self.awards_since.is_none_or(|since| since < current) {
            self.awards.clear();
            self.awards_since = Some(current);
        }
        match feedback {
            CarrierFeedback::Awarded {
                carrier,
                lane,
                pickup_date,
            } => {
                let awards = self.awards.entry(carrier.clone()).or_insert(0);
                *awards = awards.saturating_add(1);
                if let (Some(lane), Some(day)) = (lane, pickup_date) {
                    match self
                        .lane_loads
                        .iter_mut()
                        .find(|l| &l.carrier == carrier && &l.lane == lane && l.day == *day)
                    {
                        Some(entry) => entry.loads = entry.loads.saturating_add(1),
                        None => self.lane_loads.push(LaneLoad {
                            carrier: carrier.clone(),
                            lane: lane.clone(),
                            day: *day,
                            loads: 1,
                        }),
                    }
                }
            }
            CarrierFeedback::Answered { carrier, accepted } => {
                self.answers
                    .entry(carrier.clone())
                    .or_default()
                    .add(*accepted);
            }
            CarrierFeedback::Delivered { carrier, on_time } => {
                self.deliveries
                    .entry(carrier.clone())
                    .or_default()
                    .add(*on_time);
            }
        }
        if let Ok(oldest) = today.checked_sub(jiff::Span::new().days(LANE_DAYS_KEPT)) {
            self.lane_loads.retain(|entry| entry.day >= oldest);
        }
    }

    /// The history selection reads on `today`, with the baselines of `carriers` where
    /// the ledger has too few observations; awards only when they are of the allocation
    /// `period` of `today` (else no carrier has any yet).
    #[must_use]
    pub fn history(
        &self,
        carriers: &crate::carrier::CarrierMaster,
        today: Date,
        period: AllocationPeriod,
    ) -> CarrierHistory {
        let mut history = CarrierHistory::new();
        if self
            .awards_since
            .is_some_and(|since| since >= period.start(today))
        {
            for (carrier, awards) in &self.awards {
                history.set_awards(carrier.clone(), *awards);
            }
        }
        for entry in &self.lane_loads {
            history.set_lane_loads(entry.carrier.clone(), &entry.lane, entry.day, entry.loads);
        }
        for carrier in carriers.iter() {
            let acceptance = self.answers.get(&carrier.id).and_then(Tally::percent);
            let on_time = self.deliveries.get(&carrier.id).and_then(Tally::percent);
            if acceptance.is_some() || on_time.is_some() {
                history.set_performance(
                    carrier.id.clone(),
                    QualityStats {
                        on_time_pct: on_time.unwrap_or(carrier.quality.on_time_pct),
                        acceptance_pct: acceptance.unwrap_or(carrier.quality.acceptance_pct),
                    },
                );
            }
        }
        history
    }
}
