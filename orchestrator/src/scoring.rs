//! The score of an eligible carrier (lower is better): cost × quality factor × allocation
//! factor. The formula is in the crate documentation.

use jiff::{SignedDuration, Timestamp};
use rust_decimal::{Decimal, RoundingStrategy};

use crate::carrier::{Carrier, Lane, QualityStats};
use crate::decision::{Cost, Exclusion, QualitySource, Score};
use crate::history::CarrierHistory;

/// Decimal places of a score.
pub const SCORE_DECIMALS: u32 = 6;
/// Decimal places of an allocation share.
pub const SHARE_DECIMALS: u32 = 4;

/// `2 − (on_time_pct + acceptance_pct) / 200`: 1 for a perfect carrier, 2 for the worst.
#[must_use]
pub fn quality_factor(stats: &QualityStats) -> Decimal {
    Decimal::TWO - (stats.on_time_pct + stats.acceptance_pct) / Decimal::from(200)
}

/// The carrier's share of the period's awarded loads, in percent, rounded half-even to
/// [`SHARE_DECIMALS`]; 0 when nothing was awarded yet.
#[must_use]
pub fn allocation_share_pct(awards: u32, total_awards: u64) -> Decimal {
    if total_awards == 0 {
        return Decimal::ZERO;
    }
    (Decimal::from(awards) * Decimal::ONE_HUNDRED / Decimal::from(total_awards))
        .round_dp_with_strategy(SHARE_DECIMALS, RoundingStrategy::MidpointNearestEven)
}

/// `max(0, target − share)`.
#[must_use]
pub fn allocation_deficit_pct(target_pct: Decimal, share_pct: Decimal) -> Decimal {
    (target_pct - share_pct).max(Decimal::ZERO)
}

/// `1 − deficit / 1000`: a carrier 100 points below target gets 10 % off its score.
#[must_use]
pub fn allocation_factor(deficit_pct: Decimal) -> Decimal {
    Decimal::ONE - deficit_pct / Decimal::ONE_THOUSAND
}

/// Scores `carrier` on `lane` at `cost`, `now`.
///
/// # Errors
/// [`Exclusion::CostOverflow`] when the product leaves the decimal range.
pub fn score(
    carrier: &Carrier,
    lane: &Lane,
    cost: Cost,
    history: &CarrierHistory,
    now: Timestamp,
) -> Result<Score, Exclusion> {
    let (quality, quality_source) = match history.performance(&carrier.id) {
        Some(observed) => (*observed, QualitySource::History),
        None => (carrier.quality, QualitySource::CarrierFile),
    };
    let quality_factor = quality_factor(&quality);
    let share = allocation_share_pct(history.awards(&carrier.id), history.total_awards());
    let deficit = allocation_deficit_pct(carrier.allocation_pct, share);
    let allocation_factor = allocation_factor(deficit);
    let value = cost
        .total
        .amount
        .checked_mul(quality_factor)
        .and_then(|product| product.checked_mul(allocation_factor))
        .ok_or_else(|| Exclusion::CostOverflow {
            lane: lane.id.clone(),
        })?
        .round_dp_with_strategy(SCORE_DECIMALS, RoundingStrategy::MidpointNearestEven);
    let respond_by = now
        .checked_add(SignedDuration::from_hours(i64::from(
            carrier.response_time_hours,
        )))
        .unwrap_or(Timestamp::MAX);
    Ok(Score {
        lane: lane.id.clone(),
        routing_guide_rank: lane.routing_guide_rank,
        cost,
        quality,
        quality_source,
        quality_factor,
        allocation_target_pct: carrier.allocation_pct,
        allocation_share_pct: share,
        allocation_deficit_pct: deficit,
        allocation_factor,
        score: value,
        respond_by,
    })
}
