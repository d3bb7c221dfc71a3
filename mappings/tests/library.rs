//! Every mapping of the shipped library passes its declared tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use transload_mappings::testing::run_declared_tests;
use transload_mappings::{MappingSet, library_dir};

#[test]
fn every_library_mapping_passes_its_declared_tests() {
    let set = match MappingSet::load(&[library_dir()]) {
        Ok(set) => set,
        Err(errors) => panic!(
            "the library does not load:\n{}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    };
    assert!(set.len() >= 13, "only {} mappings", set.len());
    let mut failures = Vec::new();
    let mut passed = 0;
    for mapping in set.iter() {
        assert!(
            !mapping.tests().is_empty(),
            "{} declares no test",
            mapping.id()
        );
        for outcome in run_declared_tests(mapping) {
            if outcome.passed {
                passed += 1;
            } else {
                failures.push(format!(
                    "{} / {}:\n{}",
                    outcome.mapping, outcome.name, outcome.detail
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(passed >= set.len());
}

#[test]
fn only_the_json_pass_through_sends_events_as_they_are() {
    let set = MappingSet::load(&[library_dir()]).unwrap();
    let pass_through: Vec<&str> = set
        .iter()
        .filter(|mapping| mapping.sends_events_as_they_are())
        .map(|mapping| mapping.id())
        .collect();
    assert_eq!(pass_through, ["json-event-out"]);
    let mapping = set.by_id("json-event-out").unwrap();
    assert!(mapping.accepts("transload.tender.offered"));
    assert!(!mapping.accepts("transload.order.picked"));
}
