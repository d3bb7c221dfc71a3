//! Every valid corpus file of 204/210/214/990/997/999 validates with zero spec errors;
//! the corpus files that are deliberately wrong give the expected findings.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod spec_support;

use spec_support::{read, split};
use transload_connectors::x12::spec::{ElementPosition, SpecError, SpecErrorCode, spec_for};

/// Validates every set of a corpus file; returns (set count, all errors).
#[allow(clippy::panic)]
fn validate_file(rel: &str, default_version: &str) -> (usize, Vec<(usize, SpecError)>) {
    let sets = split(&read(rel), default_version);
    let mut errors = Vec::new();
    for (i, set) in sets.iter().enumerate() {
        let spec = spec_for(&set.version, &set.set_id)
            .unwrap_or_else(|| panic!("{rel}: no spec for {} {}", set.version, set.set_id));
        errors.extend(spec.validate(&set.segments).into_iter().map(|e| (i, e)));
    }
    (sets.len(), errors)
}

/// (file, set id, version of bare files, expected number of sets)
const CLEAN: &[(&str, &str, usize)] = &[
    ("GT-Logistics__edi-x12/204.edi", "204", 1),
    ("jlosack__b2b-ai-mapping/204.edi", "204", 1),
    ("apimeister__x12-types/test_204.rs__test_2.edi", "204", 1),
    ("apimeister__x12-types/test_204.rs__test_3.edi", "204", 1),
    ("EdiFabric__X12.NET/FreightInvoice.txt", "210", 1),
    (
        "Inteligenz__X12Parser/CN_FreightInvoiceSample1.txt",
        "210",
        1,
    ),
    ("kputnam__stupidedi/004010_FA997_pass_1.edi", "997", 1),
    ("GT-Logistics__edi-x12/997.edi", "997", 1),
    ("EdiFabric__X12.NET/997.txt", "997", 1),
    ("bots-edi__bots-plugins/testx12005.x12.base", "997", 8),
    (
        "apimeister__x12-types/test_997.rs__test_997_1.edi",
        "997",
        1,
    ),
    ("xlate__staedi/simple997.edi", "997", 1),
    (
        "xlate__staedi/simple997-multiple-interchanges.edi",
        "997",
        3,
    ),
    ("xlate__staedi/optionalInterchangeServices.edi", "997", 1),
];

#[test]
fn valid_corpus_files_have_no_spec_errors() {
    let mut failures = Vec::new();
    for (rel, set_id, n) in CLEAN {
        let (count, errors) = validate_file(rel, "004010");
        assert_eq!(count, *n, "{rel}: number of {set_id} sets");
        for (set, e) in &errors {
            failures.push(format!("{rel} set {set}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "spec errors in valid files:\n{}",
        failures.join("\n")
    );
}

#[test]
fn corpus_versions_pick_the_right_specs() {
    let sets = split(&read("xlate__staedi/simple997.edi"), "");
    assert_eq!(sets[0].version, "005010X230");
    assert_eq!(
        spec_for(&sets[0].version, "997").map(|s| s.version.as_str()),
        Some("005010")
    );
    let sets = split(&read("GT-Logistics__edi-x12/204.edi"), "");
    assert_eq!(
        spec_for(&sets[0].version, "204").map(|s| s.version.as_str()),
        Some("004010")
    );
}

fn codes(
    errors: &[(usize, SpecError)],
) -> Vec<(usize, usize, SpecErrorCode, Option<ElementPosition>)> {
    errors
        .iter()
        .map(|(s, e)| (*s, e.segment_index, e.code, e.element))
        .collect()
}

fn at(element: u16, component: Option<u16>, data_element: Option<u16>) -> Option<ElementPosition> {
    Some(ElementPosition {
        element,
        component,
        repetition: None,
        data_element,
    })
}

/// staedi's deliberately invalid element values: AK101 too long, AK402 not numeric.
#[test]
fn staedi_invalid997_reports_its_bad_elements() {
    let (_, errors) = validate_file("xlate__staedi/invalid997.edi", "");
    assert_eq!(
        codes(&errors),
        vec![
            (
                0,
                1,
                SpecErrorCode::DataElementTooLong,
                at(1, None, Some(479))
            ),
            (
                0,
                4,
                SpecErrorCode::InvalidCharacterInDataElement,
                at(2, None, Some(725))
            ),
        ]
    );
}

/// staedi's delimiter test puts repetition and component separators into elements that
/// neither repeat nor are composites (AK302, AK304, AK404).
#[test]
fn staedi_extra_delimiters_are_reported() {
    let (_, errors) = validate_file("xlate__staedi/extraDelimiter997.edi", "");
    assert_eq!(
        codes(&errors),
        vec![
            (
                0,
                3,
                SpecErrorCode::InvalidCharacterInDataElement,
                at(2, None, Some(719))
            ),
            (
                0,
                3,
                SpecErrorCode::InvalidCharacterInDataElement,
                at(4, None, Some(720))
            ),
            (
                0,
                4,
                SpecErrorCode::InvalidCharacterInDataElement,
                at(4, None, Some(724))
            ),
        ]
    );
}

/// staedi's empty 997 (ST, SE only) lacks the mandatory AK1 and AK9.
#[test]
fn staedi_empty997_misses_ak1_and_ak9() {
    let (_, errors) = validate_file("xlate__staedi/empty997.edi", "");
    let found: Vec<_> = errors
        .iter()
        .map(|(_, e)| (e.segment_index, e.segment_tag.as_str(), e.code))
        .collect();
    assert_eq!(
        found,
        vec![
            (1, "AK1", SpecErrorCode::MandatorySegmentMissing),
            (1, "AK9", SpecErrorCode::MandatorySegmentMissing),
        ]
    );
}

/// The AlejoCode files are marked broken: a 214, 210 and 990 that carry 204 segments.
#[test]
fn alejocode_mislabelled_sets_are_rejected() {
    for rel in [
        "AlejoCode__nodejsEdiMapperToJSON/214.edi",
        "AlejoCode__nodejsEdiMapperToJSON/210.edi",
        "AlejoCode__nodejsEdiMapperToJSON/990.edi",
    ] {
        let (n, errors) = validate_file(rel, "");
        assert_eq!(n, 1, "{rel}");
        assert!(
            errors.iter().any(|(_, e)| e.code.is_segment_level()),
            "{rel}: expected segment-level errors, got {errors:?}"
        );
    }
}

/// x12-types' 214s are marked broken for envelope reasons only (IEA02, SE02, ISA width);
/// their sets are what real 214s look like: parse_214_1 is spec-clean, parse_214_2 only
/// has 3-character control numbers (ST02/SE02 are AN 4/9).
#[test]
fn x12_types_214s_validate() {
    let (n, errors) = validate_file("apimeister__x12-types/test_214.rs__parse_214_1.edi", "");
    assert_eq!((n, errors.len()), (1, 0), "{errors:?}");
    let (n, errors) = validate_file("apimeister__x12-types/test_214.rs__parse_214_2.edi", "");
    assert_eq!(n, 2);
    let found: Vec<_> = errors
        .iter()
        .map(|(set, e)| {
            (
                *set,
                e.segment_index,
                e.segment_tag.as_str(),
                e.code,
                e.element.map(|p| p.element),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            (0, 0, "ST", SpecErrorCode::DataElementTooShort, Some(2)),
            (1, 0, "ST", SpecErrorCode::DataElementTooShort, Some(2)),
            (1, 11, "SE", SpecErrorCode::DataElementTooShort, Some(2)),
        ]
    );
}
