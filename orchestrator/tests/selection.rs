//! Carrier selection on hand-made instances: each hard filter, pricing, the score and the
//! tie-breakers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{carrier, country, day, dec, flat_rate, id, lane, load, now, region, usd, zip3};
use rust_decimal::Decimal;
use transload_core::ids::CurrencyCode;
use transload_core::model::EquipmentType;
use transload_orchestrator::{
    Carrier, CarrierHistory, CarrierMaster, DateRange, Exclusion, Linehaul, LoadRequest,
    QualitySource, QualityStats, Score, SelectionDecision, select,
};

fn decide(
    carriers: Vec<Carrier>,
    load: &LoadRequest,
    history: &CarrierHistory,
) -> SelectionDecision {
    let master = CarrierMaster::new(carriers).unwrap();
    select(load, &master, history, now())
}

/// The exclusion of the only carrier `c`, or its score.
fn outcome_of(
    one: Carrier,
    load: &LoadRequest,
    history: &CarrierHistory,
) -> Result<Score, Exclusion> {
    let decision = decide(vec![one], load, history);
    assert_eq!(decision.candidates.len(), 1);
    let candidate = &decision.candidates[0];
    match (candidate.outcome.exclusion(), candidate.outcome.score()) {
        (Some(exclusion), None) => {
            assert!(decision.ranking.is_empty());
            Err(exclusion.clone())
        }
        (None, Some(score)) => {
            assert_eq!(decision.ranking, vec![candidate.carrier.clone()]);
            Ok(score.clone())
        }
        _ => panic!("a candidate is either excluded or scored"),
    }
}

fn excluded(one: Carrier, load: &LoadRequest) -> Exclusion {
    outcome_of(one, load, &CarrierHistory::new()).unwrap_err()
}

fn eligible(one: Carrier, load: &LoadRequest) -> Score {
    outcome_of(one, load, &CarrierHistory::new()).unwrap()
}

#[test]
fn the_base_instance_is_eligible_at_its_flat_rate() {
    let score = eligible(carrier("a"), &load());
    assert_eq!(score.lane, "l");
    assert_eq!(score.cost.total, usd("1000.00"));
    assert_eq!(score.quality_factor, Decimal::ONE);
    assert_eq!(score.score, dec("1000"));
    assert_eq!(score.respond_by.to_string(), "2026-03-08T14:00:00Z");
}

#[test]
fn equipment_the_carrier_lacks_excludes_it() {
    let mut reefer = load();
    reefer.equipment = EquipmentType::Reefer;
    assert_eq!(
        excluded(carrier("a"), &reefer),
        Exclusion::EquipmentNotOffered {
            required: EquipmentType::Reefer
        }
    );
    let mut both = carrier("a");
    both.equipment.push(EquipmentType::Reefer);
    eligible(both, &reefer);
}

#[test]
fn hazmat_needs_a_qualified_carrier() {
    let mut hazmat = load();
    hazmat.hazmat = true;
    assert_eq!(
        excluded(carrier("a"), &hazmat),
        Exclusion::HazmatNotQualified
    );
    let mut qualified = carrier("a");
    qualified.hazmat = true;
    eligible(qualified, &hazmat);
}

#[test]
fn a_carrier_rating_in_another_currency_is_excluded() {
    let mut cad = carrier("a");
    cad.currency = CurrencyCode::new("CAD").unwrap();
    assert_eq!(
        excluded(cad, &load()),
        Exclusion::CurrencyMismatch {
            load: CurrencyCode::new("USD").unwrap(),
            carrier: CurrencyCode::new("CAD").unwrap(),
        }
    );
}

#[test]
fn lead_time_is_measured_from_now_to_the_pickup_instant() {
    // now is 50 hours before pickup.
    let mut slow = carrier("a");
    slow.tender_lead_time_hours = 51;
    assert_eq!(
        excluded(slow.clone(), &load()),
        Exclusion::LeadTimeTooShort {
            lead_time_hours: 51,
            minutes_before_pickup: 3000
        }
    );
    slow.tender_lead_time_hours = 50;
    eligible(slow, &load());
}

#[test]
fn a_carrier_without_a_lane_there_is_excluded() {
    let mut elsewhere = carrier("a");
    elsewhere.lanes[0].destination = region("TX");
    assert_eq!(excluded(elsewhere, &load()), Exclusion::NoLane);
    let mut wrong_zip = carrier("a");
    wrong_zip.lanes[0].origin = zip3("607");
    assert_eq!(excluded(wrong_zip, &load()), Exclusion::NoLane);
}

#[test]
fn a_lane_must_be_in_effect_on_the_pickup_date() {
    let mut later = carrier("a");
    later.lanes[0].effective = DateRange {
        from: day("2026-03-11"),
        to: None,
    };
    assert_eq!(
        excluded(later, &load()),
        Exclusion::LaneNotEffective {
            lanes: vec!["l".to_owned()]
        }
    );
    let mut ended = carrier("a");
    ended.lanes[0].effective.to = Some(day("2026-03-09"));
    assert!(matches!(
        excluded(ended.clone(), &load()),
        Exclusion::LaneNotEffective { .. }
    ));
    ended.lanes[0].effective.to = Some(day("2026-03-10"));
    eligible(ended, &load());
}

#[test]
fn a_rate_must_be_in_effect_on_the_pickup_date() {
    let mut expired = carrier("a");
    expired.lanes[0].rates[0].effective.to = Some(day("2026-02-28"));
    assert_eq!(
        excluded(expired.clone(), &load()),
        Exclusion::RateNotEffective {
            lanes: vec!["l".to_owned()]
        }
    );
    let mut renewed = flat_rate("1200");
    renewed.effective.from = day("2026-03-01");
    expired.lanes[0].rates.push(renewed);
    assert_eq!(eligible(expired, &load()).cost.total, usd("1200"));
}

#[test]
fn a_lane_whose_day_is_full_excludes_the_carrier() {
    let mut history = CarrierHistory::new();
    history.set_lane_loads(id("a"), "l", day("2026-03-10"), 2);
    assert_eq!(
        outcome_of(carrier("a"), &load(), &history).unwrap_err(),
        Exclusion::CapacityUsedUp {
            lane: "l".to_owned(),
            capacity_per_day: 2,
            loads: 2
        }
    );
    // Another day's loads, or one load less, leave room.
    let mut other_day = CarrierHistory::new();
    other_day.set_lane_loads(id("a"), "l", day("2026-03-11"), 2);
    other_day.add_lane_load(id("a"), "l", day("2026-03-10"));
    assert!(outcome_of(carrier("a"), &load(), &other_day).is_ok());
    let mut none = carrier("a");
    none.lanes[0].capacity_per_day = 0;
    assert!(matches!(
        excluded(none, &load()),
        Exclusion::CapacityUsedUp { loads: 0, .. }
    ));
}

#[test]
fn transit_beyond_the_delivery_day_excludes_the_carrier() {
    // Pickup 03-10, deliver by 03-13: 3 transit days arrive on the day, 4 are late.
    let mut slow = carrier("a");
    slow.lanes[0].transit_days = 4;
    assert_eq!(
        excluded(slow.clone(), &load()),
        Exclusion::TransitTooLong {
            lane: "l".to_owned(),
            transit_days: 4,
            arrives: day("2026-03-14"),
            deliver_by: day("2026-03-13"),
        }
    );
    let mut open = load();
    open.deliver_by = None;
    eligible(slow.clone(), &open);
    slow.lanes[0].transit_days = 3;
    eligible(slow, &load());
}

#[test]
fn an_accessorial_the_rate_does_not_price_excludes_the_carrier() {
    let mut liftgate = load();
    liftgate.accessorials.insert("LFT".to_owned());
    assert_eq!(
        excluded(carrier("a"), &liftgate),
        Exclusion::AccessorialNotRated {
            lane: "l".to_owned(),
            code: "LFT".to_owned()
        }
    );
    let mut priced = carrier("a");
    priced.lanes[0].rates[0]
        .accessorials
        .insert("LFT".to_owned(), usd("75"));
    let score = eligible(priced, &liftgate);
    assert_eq!(score.cost.accessorials["LFT"], usd("75.00"));
    assert_eq!(score.cost.total, usd("1075.00"));
}

#[test]
fn a_cost_above_max_pay_excludes_the_carrier_and_equal_passes() {
    let mut capped = carrier("a");
    capped.max_pay = Some(usd("999.99"));
    assert_eq!(
        excluded(capped.clone(), &load()),
        Exclusion::AboveMaxPay {
            lane: "l".to_owned(),
            cost: usd("1000"),
            max_pay: usd("999.99"),
        }
    );
    capped.max_pay = Some(usd("1000.00"));
    eligible(capped, &load());
}

#[test]
fn filters_report_the_first_rule_failed() {
    // Wrong equipment, not hazmat qualified and no lane: equipment comes first.
    let mut everything_wrong = carrier("a");
    everything_wrong.equipment = vec![EquipmentType::Flatbed];
    everything_wrong.lanes[0].destination = region("TX");
    let mut hazmat = load();
    hazmat.hazmat = true;
    assert_eq!(
        excluded(everything_wrong.clone(), &hazmat).rule(),
        "equipment_not_offered"
    );
    everything_wrong.equipment = vec![EquipmentType::DryVan];
    assert_eq!(
        excluded(everything_wrong.clone(), &hazmat).rule(),
        "hazmat_not_qualified"
    );
    everything_wrong.hazmat = true;
    assert_eq!(excluded(everything_wrong, &hazmat).rule(), "no_lane");
}

#[test]
fn per_mile_linehaul_with_minimum_fuel_and_accessorials_is_priced_to_the_cent() {
    let mut priced = carrier("a");
    let rate = &mut priced.lanes[0].rates[0];
    rate.linehaul = Linehaul::PerMile {
        rate: usd("2.35"),
        minimum: Some(usd("850.00")),
    };
    rate.fuel_surcharge_pct = dec("28.5");
    rate.accessorials.insert("LFT".to_owned(), usd("75.00"));
    rate.accessorials.insert("APPT".to_owned(), usd("25.005"));
    let mut needs = load();
    needs.accessorials.insert("LFT".to_owned());
    needs.accessorials.insert("APPT".to_owned());
    // 720 × 2.35 = 1692.00; fuel 1692 × 28.5 % = 482.22; 75.00 + 25.01 (half up).
    let score = eligible(priced.clone(), &needs);
    assert_eq!(score.cost.linehaul, usd("1692.00"));
    assert_eq!(score.cost.fuel_surcharge, usd("482.22"));
    assert_eq!(score.cost.accessorials["APPT"], usd("25.01"));
    assert_eq!(score.cost.total, usd("2274.23"));
    // 100 miles × 2.35 = 235 is under the minimum: 850, fuel 242.25.
    needs.miles = dec("100");
    let short = eligible(priced, &needs);
    assert_eq!(short.cost.linehaul, usd("850"));
    assert_eq!(short.cost.fuel_surcharge, usd("242.25"));
}

#[test]
fn the_most_specific_lane_is_used_then_the_first_in_file_order() {
    let mut two = carrier("a");
    let mut broad = lane("broad");
    broad.origin = country();
    broad.destination = country();
    let mut narrow = lane("narrow");
    narrow.origin = zip3("606");
    narrow.rates = vec![flat_rate("1300")];
    two.lanes = vec![broad.clone(), narrow];
    assert_eq!(eligible(two.clone(), &load()).lane, "narrow");
    // Equal specificity: the first one.
    let mut state = lane("state");
    state.rates = vec![flat_rate("900")];
    two.lanes = vec![lane("first"), state];
    assert_eq!(eligible(two.clone(), &load()).lane, "first");
    // A narrower lane without a rate that day gives way to a broader one that has one.
    let mut unrated = lane("unrated");
    unrated.origin = zip3("606");
    unrated.rates[0].effective.from = day("2026-04-01");
    two.lanes = vec![unrated, broad];
    assert_eq!(eligible(two, &load()).lane, "broad");
}

#[test]
fn quality_makes_a_cheaper_unreliable_carrier_lose() {
    let mut cheap = carrier("cheap");
    cheap.lanes[0].rates = vec![flat_rate("1000")];
    cheap.quality = QualityStats {
        on_time_pct: dec("50"),
        acceptance_pct: dec("50"),
    };
    let mut reliable = carrier("reliable");
    reliable.lanes[0].rates = vec![flat_rate("1400")];
    reliable.lanes[0].routing_guide_rank = 2;
    let decision = decide(vec![cheap, reliable], &load(), &CarrierHistory::new());
    assert_eq!(decision.ranking, vec![id("reliable"), id("cheap")]);
    let cheap_score = decision
        .candidate(&id("cheap"))
        .unwrap()
        .outcome
        .score()
        .unwrap();
    assert_eq!(cheap_score.quality_factor, dec("1.5"));
    assert_eq!(cheap_score.score, dec("1500"));
}

#[test]
fn observed_quality_in_the_history_replaces_the_file_baseline() {
    let mut history = CarrierHistory::new();
    history.set_performance(
        id("a"),
        QualityStats {
            on_time_pct: dec("90"),
            acceptance_pct: dec("80"),
        },
    );
    let score = outcome_of(carrier("a"), &load(), &history).unwrap();
    assert_eq!(score.quality_source, QualitySource::History);
    assert_eq!(score.quality_factor, dec("1.15"));
    assert_eq!(score.score, dec("1150"));
    assert_eq!(
        eligible(carrier("a"), &load()).quality_source,
        QualitySource::CarrierFile
    );
}

#[test]
fn a_carrier_below_its_allocation_target_gets_a_bonus() {
    let mut behind = carrier("behind");
    behind.allocation_pct = dec("50");
    behind.lanes[0].routing_guide_rank = 2;
    let mut ahead = carrier("ahead");
    ahead.allocation_pct = dec("50");
    let mut history = CarrierHistory::new();
    history.set_awards(id("ahead"), 2);
    history.set_awards(id("other"), 1);
    let decision = decide(vec![behind, ahead], &load(), &history);
    assert_eq!(decision.ranking, vec![id("behind"), id("ahead")]);
    let behind = decision
        .candidate(&id("behind"))
        .unwrap()
        .outcome
        .score()
        .unwrap();
    assert_eq!(behind.allocation_share_pct, Decimal::ZERO);
    assert_eq!(behind.allocation_deficit_pct, dec("50"));
    assert_eq!(behind.allocation_factor, dec("0.95"));
    assert_eq!(behind.score, dec("950"));
    let ahead = decision
        .candidate(&id("ahead"))
        .unwrap()
        .outcome
        .score()
        .unwrap();
    // 2 of 3 awards: 66.6667 % (4 decimals), above target: no bonus.
    assert_eq!(ahead.allocation_share_pct, dec("66.6667"));
    assert_eq!(ahead.allocation_deficit_pct, Decimal::ZERO);
    assert_eq!(ahead.score, dec("1000"));
}

#[test]
fn equal_scores_are_ranked_by_routing_guide_rank_then_carrier_id() {
    let mut second = carrier("a-second");
    second.lanes[0].routing_guide_rank = 2;
    let first_b = carrier("b-first");
    let first_c = carrier("c-first");
    let decision = decide(
        vec![first_c, second, first_b],
        &load(),
        &CarrierHistory::new(),
    );
    assert_eq!(
        decision.ranking,
        vec![id("b-first"), id("c-first"), id("a-second")]
    );
    assert_eq!(decision.chosen(), Some(&id("b-first")));
    // Candidates are listed in id order whatever the ranking.
    let listed: Vec<_> = decision
        .candidates
        .iter()
        .map(|c| c.carrier.as_str())
        .collect();
    assert_eq!(listed, ["a-second", "b-first", "c-first"]);
}

#[test]
fn the_decision_record_round_trips_through_json() {
    let mut hazmat_only = carrier("excluded");
    hazmat_only.equipment = vec![EquipmentType::Tanker];
    let decision = decide(
        vec![carrier("chosen"), hazmat_only],
        &load(),
        &CarrierHistory::new(),
    );
    let json = serde_json::to_value(&decision).unwrap();
    assert_eq!(
        json["candidates"][1]["outcome"]["excluded"],
        serde_json::json!({"rule": "equipment_not_offered", "required": "dry_van"})
    );
    assert_eq!(
        json["candidates"][0]["outcome"]["eligible"]["cost"]["total"],
        serde_json::json!({"amount": "1000.00", "currency": "USD"})
    );
    assert_eq!(json["ranking"], serde_json::json!(["chosen"]));
    let back: SelectionDecision = serde_json::from_value(json).unwrap();
    assert_eq!(back, decision);
}

#[test]
fn no_carrier_at_all_gives_an_empty_decision() {
    let decision = decide(Vec::new(), &load(), &CarrierHistory::new());
    assert!(decision.candidates.is_empty());
    assert_eq!(decision.chosen(), None);
}
