//! Carrier selection: hard filters on every carrier of the master, then the eligible ones
//! ranked by score, routing-guide rank and id.

use jiff::Timestamp;
use transload_core::ids::PartnerId;

use crate::carrier::CarrierMaster;
use crate::decision::{Candidate, Outcome, SelectionDecision};
use crate::filters::admit;
use crate::history::CarrierHistory;
use crate::request::LoadRequest;
use crate::scoring::score;

/// Chooses the carriers to tender `load` to, at `now`: every carrier of `carriers` is
/// either excluded by the first hard filter it fails or scored; the eligible ones are
/// ranked by score (lower first), then routing-guide rank (lower first), then carrier id.
/// Pure: the same inputs give the same decision.
#[must_use]
pub fn select(
    load: &LoadRequest,
    carriers: &CarrierMaster,
    history: &CarrierHistory,
    now: Timestamp,
) -> SelectionDecision {
    let candidates: Vec<Candidate> = carriers
        .iter()
        .map(|carrier| {
            let outcome = match admit(load, carrier, history, now)
                .and_then(|admitted| score(carrier, admitted.lane, admitted.cost, history, now))
            {
                Ok(score) => Outcome::Eligible(Box::new(score)),
                Err(exclusion) => Outcome::Excluded(exclusion),
            };
            Candidate {
                carrier: carrier.id.clone(),
                scac: carrier.scac.clone(),
                outcome,
            }
        })
        .collect();
    let mut eligible: Vec<_> = candidates
        .iter()
        .filter_map(|candidate| {
            candidate
                .outcome
                .score()
                .map(|score| (score.score, score.routing_guide_rank, &candidate.carrier))
        })
        .collect();
    eligible.sort();
    let ranking: Vec<PartnerId> = eligible
        .into_iter()
        .map(|(_, _, carrier)| carrier.clone())
        .collect();
    tracing::debug!(
        load = %load.shipper_load_id,
        candidates = candidates.len(),
        eligible = ranking.len(),
        chosen = ranking.first().map(PartnerId::as_str),
        "carrier selection"
    );
    SelectionDecision {
        load: load.clone(),
        decided_at: now,
        candidates,
        ranking,
    }
}
