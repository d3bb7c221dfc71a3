//! The library's inbound X12 mappings on the shared corpus (read from ../shared/corpus):
//! the well-formed documents of their sets translate into valid events, the others fail
//! with a typed error (never a panic).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;

use transload_mappings::{Format, MapError, MappingSet, Partner, library_dir, read_x12};

fn corpus() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/corpus/x12"
    ))
}

/// Corpus files of the library's sets, with how many events they must give (None: the
/// document does not fit the canonical model and must be refused with an error).
const CASES: &[(&str, &str, Option<usize>)] = &[
    ("204", "jlosack__b2b-ai-mapping/204.edi", Some(2)),
    (
        "204",
        "apimeister__x12-types/test_204.rs__test_2.edi",
        Some(2),
    ),
    // SCAC "000X" is not a SCAC.
    ("204", "GT-Logistics__edi-x12/204.edi", None),
    // One stop only, with an unknown stop reason.
    ("204", "apimeister__x12-types/test_204.rs__test_3.edi", None),
    ("210", "EdiFabric__X12.NET/FreightInvoice.txt", Some(1)),
    (
        "210",
        "Inteligenz__X12Parser/CN_FreightInvoiceSample1.txt",
        Some(1),
    ),
    // Not a 210 body (no B3).
    ("210", "AlejoCode__nodejsEdiMapperToJSON/210.edi", None),
    (
        "214",
        "apimeister__x12-types/test_214.rs__parse_214_1.edi",
        Some(18),
    ),
    (
        "214",
        "apimeister__x12-types/test_214.rs__parse_214_2.edi",
        Some(2),
    ),
    ("214", "AlejoCode__nodejsEdiMapperToJSON/214.edi", None),
    ("990", "AlejoCode__nodejsEdiMapperToJSON/990.edi", None),
    ("997", "kputnam__stupidedi/004010_FA997_pass_1.edi", Some(1)),
    ("997", "GT-Logistics__edi-x12/997.edi", Some(1)),
    ("997", "EdiFabric__X12.NET/997.txt", Some(1)),
    ("997", "bots-edi__bots-plugins/testx12005.x12.base", Some(8)),
];

#[test]
fn library_mappings_on_the_corpus() {
    let set = MappingSet::load(&[library_dir()]).unwrap();
    let partner = Partner::new(
        serde_json::from_slice(
            &std::fs::read(library_dir().join("fixtures/partner-odfl.json")).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    for (set_id, file, expected) in CASES {
        let mapping = set
            .get_inbound(Format::X12, Some(("004010", set_id)))
            .unwrap();
        let bytes = std::fs::read(corpus().join(file)).unwrap();
        let mut events = 0;
        let mut error: Option<MapError> = None;
        for input in read_x12(&bytes).unwrap() {
            if input.x12_key().map(|(_, set)| set) != Some(*set_id) {
                continue;
            }
            match mapping.run_inbound(&input, &partner) {
                Ok(payloads) => events += payloads.len(),
                Err(failure) => error = Some(failure),
            }
        }
        match expected {
            Some(count) => {
                assert!(error.is_none(), "{file}: {}", error.unwrap());
                assert_eq!(events, *count, "{file}");
            }
            None => assert!(
                error.is_some(),
                "{file}: expected a refusal, got {events} events"
            ),
        }
    }
    // A refusal names the mapping and, for an invalid output, the field.
    let mapping = set.by_id("x12-004010-204-in").unwrap();
    let bytes = std::fs::read(corpus().join("GT-Logistics__edi-x12/204.edi")).unwrap();
    let error = mapping
        .run_inbound(&read_x12(&bytes).unwrap()[0], &Partner::empty())
        .unwrap_err();
    let MapError::Output { path, lineage, .. } = &error else {
        panic!("{error}")
    };
    assert_eq!(path, "/data/carrier/scac");
    assert!(
        lineage[0].sources.contains(&"B2/B202".to_owned()),
        "{error}"
    );
}
