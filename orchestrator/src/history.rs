//! What carrier selection needs to know about the past: loads already given to each
//! lane per day, loads awarded in the current allocation period, observed quality.

use std::collections::BTreeMap;

use jiff::civil::Date;
use transload_core::ids::PartnerId;

use crate::carrier::QualityStats;

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
