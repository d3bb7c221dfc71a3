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
