//! The stored carrier history: what decisions report about carriers becomes the history
//! carrier selection reads (awards, lane capacity, acceptance and on-time rates).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{carrier, day, dec, id, load, now};
use rust_decimal::Decimal;
use transload_orchestrator::carrier::CarrierMaster;
use transload_orchestrator::decision::{Exclusion, QualitySource};
use transload_orchestrator::history::{HistoryLedger, MIN_OBSERVATIONS};
use transload_orchestrator::process::CarrierFeedback;
use transload_orchestrator::select;

fn awarded(carrier: &str, on: &str) -> CarrierFeedback {
    CarrierFeedback::Awarded {
        carrier: id(carrier),
        lane: Some("l".to_owned()),
        pickup_date: Some(day(on)),
    }
}

#[test]
fn awards_fill_the_lane_of_their_day_and_count_for_allocation() {
    let master = CarrierMaster::new([carrier("a")]).unwrap();
    let mut ledger = HistoryLedger::default();
    ledger.apply(&awarded("a", "2026-03-10"), day("2026-03-08"));
    assert!(
        select(&load(), &master, &ledger.history(&master), now())
            .chosen()
            .is_some()
    );
    // The lane takes two loads a day (common::lane): the second award fills it.
    ledger.apply(&awarded("a", "2026-03-10"), day("2026-03-08"));
    let history = ledger.history(&master);
    assert_eq!(history.awards(&id("a")), 2);
    let decision = select(&load(), &master, &history, now());
    assert_eq!(
        decision.candidate(&id("a")).unwrap().outcome.exclusion(),
        Some(&Exclusion::CapacityUsedUp {
            lane: "l".to_owned(),
            capacity_per_day: 2,
            loads: 2
        })
    );
    // A week later the day is forgotten, the awards are not.
    ledger.apply(&awarded("a", "2026-03-20"), day("2026-03-18"));
    assert_eq!(ledger.lane_loads.len(), 1);
    assert_eq!(ledger.lane_loads[0].day, day("2026-03-20"));
    assert_eq!(ledger.awards[&id("a")], 3);
}

#[test]
fn observed_rates_replace_the_baseline_once_there_are_enough() {
    let master = CarrierMaster::new([carrier("a")]).unwrap();
    let mut ledger = HistoryLedger::default();
    let answer = |accepted| CarrierFeedback::Answered {
        carrier: id("a"),
        accepted,
    };
    for n in 0..MIN_OBSERVATIONS - 1 {
        ledger.apply(&answer(n % 2 == 0), day("2026-03-08"));
    }
    let decision = select(&load(), &master, &ledger.history(&master), now());
    let score = decision
        .candidate(&id("a"))
        .unwrap()
        .outcome
        .score()
        .unwrap()
        .clone();
    assert_eq!(score.quality_source, QualitySource::CarrierFile);

    // The fifth answer: 3 of 5 accepted = 60 %; on time stays the file's 100 %.
    ledger.apply(&answer(true), day("2026-03-08"));
    let decision = select(&load(), &master, &ledger.history(&master), now());
    let score = decision
        .candidate(&id("a"))
        .unwrap()
        .outcome
        .score()
        .unwrap()
        .clone();
    assert_eq!(score.quality_source, QualitySource::History);
    assert_eq!(score.quality.acceptance_pct, dec("60.00"));
    assert_eq!(score.quality.on_time_pct, Decimal::ONE_HUNDRED);

    for on_time in [true, true, false, true, true] {
        ledger.apply(
            &CarrierFeedback::Delivered {
                carrier: id("a"),
                on_time,
            },
            day("2026-03-08"),
        );
    }
    let history = ledger.history(&master);
    assert_eq!(
        history.performance(&id("a")).unwrap().on_time_pct,
        dec("80.00")
    );
}

#[test]
fn the_ledger_survives_a_json_round_trip() {
    let mut ledger = HistoryLedger::default();
    ledger.apply(&awarded("a", "2026-03-10"), day("2026-03-08"));
    ledger.apply(
        &CarrierFeedback::Answered {
            carrier: id("a"),
            accepted: false,
        },
        day("2026-03-08"),
    );
    let json = serde_json::to_value(&ledger).unwrap();
    let back: HistoryLedger = serde_json::from_value(json).unwrap();
    assert_eq!(back, ledger);
}
