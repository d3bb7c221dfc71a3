//! The stored carrier history: what decisions report about carriers becomes the history
//! carrier selection reads (awards, lane capacity, acceptance and on-time rates).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{carrier, day, dec, id, load, now};
use rust_decimal::Decimal;
use transload_orchestrator::carrier::CarrierMaster;
use transload_orchestrator::decision::{Exclusion, QualitySource};
use transload_orchestrator::history::{HistoryLedger, MIN_OBSERVATIONS};
use transload_orchestrator::policy::AllocationPeriod;
use transload_orchestrator::process::CarrierFeedback;
use transload_orchestrator::select;

/// The default allocation period.
const MONTH: AllocationPeriod = AllocationPeriod::Month;

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
    ledger.apply(&awarded("a", "2026-03-10"), day("2026-03-08"), MONTH);
    assert!(
        select(
            &load(),
            &master,
            &ledger.history(&master, day("2026-03-08"), MONTH),
            now()
        )
        .chosen()
        .is_some()
    );
    // The lane takes two loads a day (common::lane): the second award fills it.
    ledger.apply(&awarded("a", "2026-03-10"), day("2026-03-08"), MONTH);
    let history = ledger.history(&master, day("2026-03-08"), MONTH);
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
    // A week later the day is forgotten, the awards of the month are not.
    ledger.apply(&awarded("a", "2026-03-20"), day("2026-03-18"), MONTH);
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
        ledger.apply(&answer(n % 2 == 0), day("2026-03-08"), MONTH);
    }
    let decision = select(
        &load(),
        &master,
        &ledger.history(&master, day("2026-03-08"), MONTH),
        now(),
    );
    let score = decision
        .candidate(&id("a"))
        .unwrap()
        .outcome
        .score()
        .unwrap()
        .clone();
    assert_eq!(score.quality_source, QualitySource::CarrierFile);

    // The fifth answer: 3 of 5 accepted = 60 %; on time stays the file's 100 %.
    ledger.apply(&answer(true), day("2026-03-08"), MONTH);
    let decision = select(
        &load(),
        &master,
        &ledger.history(&master, day("2026-03-08"), MONTH),
        now(),
    );
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
            MONTH,
        );
    }
    let history = ledger.history(&master, day("2026-03-08"), MONTH);
    assert_eq!(
        history.performance(&id("a")).unwrap().on_time_pct,
        dec("80.00")
    );
}

#[test]
fn the_ledger_survives_a_json_round_trip() {
    let mut ledger = HistoryLedger::default();
    ledger.apply(&awarded("a", "2026-03-10"), day("2026-03-08"), MONTH);
    ledger.apply(
        &CarrierFeedback::Answered {
            carrier: id("a"),
            accepted: false,
        },
        day("2026-03-08"),
        MONTH,
    );
    let json = serde_json::to_value(&ledger).unwrap();
    let back: HistoryLedger = serde_json::from_value(json).unwrap();
    assert_eq!(back, ledger);
}

#[test]
fn periods_start_on_their_first_day() {
    // 2026-03-08 is a Sunday.
    let sunday = day("2026-03-08");
    assert_eq!(AllocationPeriod::Week.start(sunday), day("2026-03-02"));
    assert_eq!(
        AllocationPeriod::Week.start(day("2026-03-09")),
        day("2026-03-09")
    );
    assert_eq!(AllocationPeriod::Month.start(sunday), day("2026-03-01"));
    assert_eq!(AllocationPeriod::Quarter.start(sunday), day("2026-01-01"));
    assert_eq!(
        AllocationPeriod::Quarter.start(day("2026-08-15")),
        day("2026-07-01")
    );
    assert_eq!(
        AllocationPeriod::Quarter.start(day("2026-12-31")),
        day("2026-10-01")
    );
    assert_eq!(AllocationPeriod::Year.start(sunday), day("2026-01-01"));
}

#[test]
fn awards_start_over_with_each_allocation_period() {
    let master = CarrierMaster::new([carrier("a"), carrier("b")]).unwrap();
    let mut ledger = HistoryLedger::default();
    for carrier in ["a", "a", "b"] {
        ledger.apply(&awarded(carrier, "2026-04-02"), day("2026-03-30"), MONTH);
    }
    let march = ledger.history(&master, day("2026-03-31"), MONTH);
    assert_eq!((march.awards(&id("a")), march.total_awards()), (2, 3));

    // On the first of April nobody has an award of the month yet, before any is made.
    let april = ledger.history(&master, day("2026-04-01"), MONTH);
    assert_eq!((april.awards(&id("a")), april.total_awards()), (0, 0));
    // The lanes' days are not periods: the loads for April 2 still fill the lane.
    assert_eq!(april.lane_loads(&id("a"), "l", day("2026-04-02")), 2);

    ledger.apply(&awarded("b", "2026-04-03"), day("2026-04-01"), MONTH);
    assert_eq!(ledger.awards_since, Some(day("2026-04-01")));
    let april = ledger.history(&master, day("2026-04-01"), MONTH);
    assert_eq!(
        (
            april.awards(&id("a")),
            april.awards(&id("b")),
            april.total_awards()
        ),
        (0, 1, 1)
    );

    // Weekly: the Monday after starts over.
    let week = AllocationPeriod::Week;
    let mut ledger = HistoryLedger::default();
    ledger.apply(&awarded("a", "2026-03-09"), day("2026-03-08"), week);
    assert_eq!(
        ledger
            .history(&master, day("2026-03-08"), week)
            .total_awards(),
        1
    );
    assert_eq!(
        ledger
            .history(&master, day("2026-03-09"), week)
            .total_awards(),
        0
    );
}

#[test]
fn a_ledger_without_a_period_counts_no_awards() {
    let master = CarrierMaster::new([carrier("a")]).unwrap();
    let ledger: HistoryLedger = serde_json::from_value(serde_json::json!({
        "awards": { "a": 5 }
    }))
    .unwrap();
    let history = ledger.history(&master, day("2026-03-08"), MONTH);
    assert_eq!(history.total_awards(), 0);
    let mut ledger = ledger;
    ledger.apply(&awarded("a", "2026-03-10"), day("2026-03-08"), MONTH);
    assert_eq!(ledger.awards[&id("a")], 1);
}
