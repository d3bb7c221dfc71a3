//! The carrier files: the quickstart's, and broken ones refused with their position.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};

use common::{day, dec, id, load, now, usd};
use transload_core::model::EquipmentType;
use transload_orchestrator::{
    AreaScope, CarrierFileError, CarrierHistory, Exclusion, Linehaul, load_dir, loader, select,
};

fn quickstart_carriers() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart/carriers")
}

const MINIMAL: &str = r#"id = "acme-freight"
scac = "ACMF"
name = "Acme Freight"
currency = "USD"
equipment = ["dry_van"]
tender_lead_time_hours = 24
response_time_hours = 2
allocation_pct = "50"

[quality]
on_time_pct = "95"
acceptance_pct = 90

[[lanes]]
id = "il-ga"
origin = { country = "US", region = "IL" }
destination = { country = "US", zip3 = "303" }
effective_from = 2026-01-01
transit_days = 2
capacity_per_day = 3
routing_guide_rank = 1

[[lanes.rates]]
effective_from = 2026-01-01
effective_to = 2026-06-30
linehaul = { flat = "1000.00" }
fuel_surcharge_pct = "25"
"#;

/// Parses `text`, expecting an error; returns (line, column, message).
fn refused(text: &str) -> (usize, usize, String) {
    match loader::parse(Path::new("carriers/acme.toml"), text) {
        Err(CarrierFileError::Invalid {
            path,
            line,
            column,
            message,
        }) => {
            assert_eq!(path, Path::new("carriers/acme.toml"));
            (line, column, message)
        }
        other => panic!("expected an invalid file, got {other:?}"),
    }
}

#[test]
fn the_minimal_file_loads_with_defaults() {
    let carrier = loader::parse(Path::new("acme.toml"), MINIMAL).unwrap();
    assert_eq!(carrier.id, id("acme-freight"));
    assert!(!carrier.hazmat);
    assert_eq!(carrier.max_pay, None);
    assert_eq!(carrier.quality.acceptance_pct, dec("90"));
    let lane = &carrier.lanes[0];
    assert_eq!(lane.destination.scope, AreaScope::Zip3("303".to_owned()));
    assert_eq!(lane.effective.to, None);
    assert_eq!(lane.rates[0].effective.to, Some(day("2026-06-30")));
    assert_eq!(lane.rates[0].linehaul, Linehaul::Flat(usd("1000")));
}

#[test]
fn the_quickstart_carriers_load() {
    let master = load_dir(&quickstart_carriers()).unwrap();
    let ids: Vec<_> = master.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["jb-hunt", "odfl", "schneider"]);
    let odfl = master.get(&id("odfl")).unwrap();
    assert_eq!(odfl.scac.as_str(), "ODFL");
    assert_eq!(
        odfl.equipment,
        [EquipmentType::DryVan, EquipmentType::Reefer]
    );
    assert!(odfl.hazmat);
    assert_eq!(odfl.max_pay, Some(usd("4500")));
    assert_eq!(odfl.lanes.len(), 2);
    let chicago_atlanta = &odfl.lanes[0];
    assert_eq!(
        chicago_atlanta.origin.scope,
        AreaScope::Region("IL".to_owned())
    );
    assert_eq!(chicago_atlanta.rates.len(), 2);
    assert_eq!(
        chicago_atlanta.rates[0].linehaul,
        Linehaul::PerMile {
            rate: usd("2.35"),
            minimum: Some(usd("850"))
        }
    );
    assert_eq!(chicago_atlanta.rates[0].fuel_surcharge_pct, dec("28.5"));
    assert_eq!(chicago_atlanta.rates[0].accessorials["LFT"], usd("75"));
    assert_eq!(chicago_atlanta.rates[1].effective.to, None);
}

#[test]
fn the_quickstart_routing_guide_ranks_a_chicago_atlanta_load() {
    let master = load_dir(&quickstart_carriers()).unwrap();
    let mut chicago_atlanta = load();
    chicago_atlanta.deliver_by = Some(day("2026-03-14"));
    let decision = select(&chicago_atlanta, &master, &CarrierHistory::new(), now());
    // jb-hunt: 1650 + 25 % fuel = 2062.50, × (2 − 0.945) × (1 − 35/1000) = 2099.779688
    // odfl: 720 mi × 2.35 = 1692.00 + 28.5 % = 2174.22, × 1.0625 × 0.96 = 2217.7044
    // schneider: 720 × 2.60 = 1872.00 + 26 % = 2358.72, × 1.115 × 0.975 = 2564.22348
    assert_eq!(
        decision.ranking,
        [id("jb-hunt"), id("odfl"), id("schneider")]
    );
    let score = |carrier: &str| {
        decision
            .candidate(&id(carrier))
            .unwrap()
            .outcome
            .score()
            .unwrap()
            .score
    };
    assert_eq!(score("jb-hunt"), dec("2099.779688"));
    assert_eq!(score("odfl"), dec("2217.7044"));
    assert_eq!(score("schneider"), dec("2564.22348"));

    // Hazmat: J.B. Hunt is not qualified; a day less to deliver rules Schneider out.
    let mut hazmat = chicago_atlanta.clone();
    hazmat.hazmat = true;
    hazmat.deliver_by = Some(day("2026-03-13"));
    let decision = select(&hazmat, &master, &CarrierHistory::new(), now());
    assert_eq!(decision.ranking, [id("odfl")]);
    let rule = |carrier: &str| {
        decision
            .candidate(&id(carrier))
            .unwrap()
            .outcome
            .exclusion()
            .unwrap()
            .rule()
    };
    assert_eq!(rule("jb-hunt"), "hazmat_not_qualified");
    assert!(matches!(
        decision
            .candidate(&id("schneider"))
            .unwrap()
            .outcome
            .exclusion(),
        Some(Exclusion::TransitTooLong {
            transit_days: 4,
            ..
        })
    ));
}

#[test]
fn unknown_keys_are_refused_where_they_are() {
    let text = MINIMAL.replace("hours = 2\n", "hours = 2\ncolour = \"red\"\n");
    let (line, column, message) = refused(&text);
    assert_eq!((line, column), (8, 1), "{message}");
    assert!(message.contains("colour"), "{message}");
    let text = MINIMAL.replace("region = \"IL\"", "state = \"IL\"");
    let (line, _, message) = refused(&text);
    assert_eq!(line, 16, "{message}");
}

#[test]
fn float_amounts_are_refused_as_inexact() {
    let text = MINIMAL.replace(
        "allocation_pct = \"50\"",
        "allocation_pct = \"50\"\nmax_pay = 4500.5",
    );
    let (line, column, message) = refused(&text);
    assert_eq!((line, column), (9, 11), "{message}");
    assert!(message.contains("as a string"), "{message}");
}

#[test]
fn out_of_range_and_malformed_values_are_refused() {
    let (line, _, message) = refused(&MINIMAL.replace("\"95\"", "\"101\""));
    assert_eq!(line, 11);
    assert!(message.contains("outside 0 to 100"), "{message}");
    let (line, _, message) = refused(&MINIMAL.replace("\"1000.00\"", "\"-5\""));
    assert_eq!(line, 26, "{message}");
    let (line, column, message) = refused(&MINIMAL.replace("\"ACMF\"", "\"acmf\""));
    assert_eq!((line, column), (2, 8), "{message}");
    let (line, _, message) = refused(&MINIMAL.replace("\"dry_van\"", "\"hovercraft\""));
    assert_eq!(line, 5, "{message}");
    let (line, _, message) = refused(&MINIMAL.replace(
        "effective_from = 2026-01-01\ntransit",
        "effective_from = 2026-01-01T08:00:00\ntransit",
    ));
    assert_eq!(line, 18);
    assert!(message.contains("not a date"), "{message}");
    let (line, _, message) = refused(&MINIMAL.replace("zip3 = \"303\"", "zip3 = \"30\""));
    assert_eq!(line, 17);
    assert!(message.contains("three digits"), "{message}");
}

#[test]
fn an_area_is_a_region_or_a_zip3_not_both() {
    let text = MINIMAL.replace("region = \"IL\"", "region = \"IL\", zip3 = \"606\"");
    let (line, column, message) = refused(&text);
    assert_eq!((line, column), (16, 10), "{message}");
    assert!(message.contains("not both"), "{message}");
}

#[test]
fn dates_must_be_ordered_and_rates_must_not_overlap() {
    let text = MINIMAL.replace("effective_to = 2026-06-30", "effective_to = 2025-12-31");
    let (line, column, message) = refused(&text);
    assert_eq!((line, column), (25, 16), "{message}");
    assert!(message.contains("before effective_from"), "{message}");

    let overlapping = format!(
        "{MINIMAL}\n[[lanes.rates]]\neffective_from = 2026-06-30\nlinehaul = {{ per_mile = \"2\" }}\nfuel_surcharge_pct = 0\n"
    );
    let (line, _, message) = refused(&overlapping);
    assert_eq!(line, 29, "{message}");
    assert!(
        message.contains("overlap the rate from 2026-01-01"),
        "{message}"
    );
    let following = overlapping.replace(
        "effective_from = 2026-06-30\nlinehaul",
        "effective_from = 2026-07-01\nlinehaul",
    );
    let carrier = loader::parse(Path::new("acme.toml"), &following).unwrap();
    assert_eq!(carrier.lanes[0].rates.len(), 2);
}

#[test]
fn a_linehaul_is_flat_or_per_mile() {
    let text = MINIMAL.replace(
        "{ flat = \"1000.00\" }",
        "{ flat = \"1000.00\", per_mile = \"2\" }",
    );
    let (line, _, message) = refused(&text);
    assert_eq!(line, 26);
    assert!(message.contains("per_mile"), "{message}");
}

#[test]
fn lanes_are_unique_within_a_carrier() {
    let lane_start = MINIMAL.find("[[lanes]]").unwrap();
    let text = format!("{MINIMAL}\n{}", &MINIMAL[lane_start..]);
    let (line, _, message) = refused(&text);
    assert_eq!(line, 30, "{message}");
    assert!(message.contains("`il-ga` is declared twice"), "{message}");
}

#[test]
fn a_folder_with_two_files_for_one_carrier_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.toml"), MINIMAL).unwrap();
    std::fs::write(dir.path().join("README.md"), "not a carrier").unwrap();
    std::fs::write(dir.path().join(".draft.toml"), "broken = ").unwrap();
    assert_eq!(load_dir(dir.path()).unwrap().len(), 1);
    std::fs::write(dir.path().join("b.toml"), MINIMAL).unwrap();
    match load_dir(dir.path()) {
        Err(CarrierFileError::Duplicate { path, first, id }) => {
            assert_eq!(id.as_str(), "acme-freight");
            assert!(first.ends_with("a.toml") && path.ends_with("b.toml"));
        }
        other => panic!("expected a duplicate, got {other:?}"),
    }
    let missing = dir.path().join("nowhere");
    assert!(matches!(
        load_dir(&missing),
        Err(CarrierFileError::Read { path, .. }) if path == missing
    ));
}
