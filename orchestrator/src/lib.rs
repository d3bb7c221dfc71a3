//! transload-orchestrator: decisions as pure functions of (state, event).
//!
//! This part holds the carrier master (one TOML file per carrier, see [`loader`]) and
//! carrier selection ([`select`]): a pure function of the load, the carrier master, the
//! carrier history and `now`, returning a [`SelectionDecision`] that lists every carrier
//! with the hard filter that excluded it or its score, and the eligible carriers in
//! tendering (waterfall) order.
//!
//! # Hard filters
//!
//! Run in this order; a carrier is reported under the first one it fails
//! ([`Exclusion`]):
//!
//! 1. `equipment_not_offered`: the load's equipment type is not in the carrier's list;
//! 2. `hazmat_not_qualified`: the load is hazmat and the carrier is not qualified;
//! 3. `currency_mismatch`: the carrier rates in another currency than the load's;
//! 4. `lead_time_too_short`: `pickup_at − now` is less than the tender lead time;
//! 5. `no_lane`: no lane goes from the origin to the destination (an area is a country,
//!    a region of it, or a ZIP3 prefix);
//! 6. `lane_not_effective`: lanes go there, none is in effect on the pickup date;
//! 7. `rate_not_effective`: lanes are in effect, none has a rate in effect that day.
//!    Otherwise the lane used is the most specific one in effect with a rate in effect
//!    (ZIP3 = 2, region = 1, country = 0, summed over origin and destination), the first
//!    in file order among equals;
//! 8. `capacity_used_up`: the lane already has `capacity_per_day` loads on the pickup day;
//! 9. `transit_too_long`: `pickup_date + transit_days` (calendar days) is after
//!    `deliver_by`;
//! 10. `accessorial_not_rated`: the load needs an accessorial code the rate does not price;
//! 11. `cost_overflow`: an amount leaves the decimal range (cannot happen with loaded
//!     files, whose amounts are at most 10⁹);
//! 12. `above_max_pay`: the total cost is above the carrier's max pay (equal passes).
//!
//! # Cost
//!
//! All in exact decimals ([`rust_decimal`]), money rounded to cents half away from zero:
//!
//! ```text
//! linehaul = flat                      or  round2(max(per_mile × miles, minimum))
//! fuel     = round2(linehaul × fuel_surcharge_pct / 100)
//! total    = linehaul + fuel + Σ round2(accessorial rate) over the load's accessorial codes
//! ```
//!
//! # Score (lower is better)
//!
//! ```text
//! quality_factor    = 2 − (on_time_pct + acceptance_pct) / 200           ∈ [1, 2]
//! share_pct         = round4(awards × 100 / total_awards), 0 when total_awards = 0
//! deficit_pct       = max(0, allocation_pct − share_pct)
//! allocation_factor = 1 − deficit_pct / 1000                              ∈ [0.9, 1]
//! score             = round6(total × quality_factor × allocation_factor)
//! ```
//!
//! `on_time_pct` and `acceptance_pct` are the carrier's observed figures in the
//! [`CarrierHistory`] when it has them, else the baseline of the carrier file; `awards`
//! are the loads awarded to the carrier in the current allocation period
//! ([`policy::AllocationPeriod`], a calendar month by default) and `total_awards` those
//! awarded to all carriers in it. `round4` and `round6` round half to even.
//! Percentages are expected from 0 to 100 (the loader enforces it for files; observed
//! figures put into the history by code are taken as given).
//!
//! # Ranking
//!
//! Eligible carriers sorted by `(score, routing_guide_rank, carrier id)`, all ascending:
//! the routing-guide rank of the lane used breaks ties of score, the carrier id ties of
//! both, so the order is total and deterministic.

pub mod carrier;
pub mod decision;
pub mod dispatch;
pub mod filters;
pub mod freight_audit;
pub mod history;
pub mod load;
pub mod loader;
pub mod policy;
pub mod pricing;
pub mod process;
pub mod request;
pub mod scoring;
pub mod selection;
pub mod tracking;

pub use carrier::{
    Area, AreaScope, Carrier, CarrierMaster, DateRange, DuplicateCarrier, Lane, Linehaul, Place,
    QualityStats, Rate,
};
pub use decision::{Candidate, Cost, Exclusion, Outcome, QualitySource, Score, SelectionDecision};
pub use history::CarrierHistory;
pub use loader::{CarrierFileError, load_dir, load_file};
pub use request::{LoadRequest, LoadRequestError};
pub use selection::select;
