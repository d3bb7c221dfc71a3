//! The shipped library's X12 is valid X12 by the hub's own engine: every inbound `.edi`
//! fixture, and every outbound X12 mapping's declared test output once enveloped, has no
//! envelope and no spec error (the hub would otherwise answer it with a 997 R).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use transload_connectors::x12::ack::{self, InterchangeResult};
use transload_connectors::x12::control_numbers::MemoryControlNumbers;
use transload_connectors::x12::delimiters::Delimiters;
use transload_connectors::x12::document;
use transload_connectors::x12::error::Severity;
use transload_connectors::x12::spec_check::{SpecValidator, spec_errors};
use transload_connectors::x12::tree::{Encoding, SegmentNode};
use transload_connectors::x12::writer::{
    EnvelopeParams, OutgoingSet, WriteOptions, build_interchange, write_interchange,
};
use transload_mappings::testing::{RunResult, TEST_NOW, read_json_file, run_file};
use transload_mappings::{Direction, Format, MappingSet, OutboundDocument, Partner, library_dir};

/// Every envelope error and spec error of `data`, as readable lines; also checks that
/// every set was checked against a spec and accepted.
fn problems(data: &[u8]) -> Vec<String> {
    let doc = document::parse(data);
    let mut found: Vec<String> = doc
        .findings
        .iter()
        .filter(|f| f.error.severity() == Severity::Error)
        .map(|f| format!("envelope: {}", f.error))
        .collect();
    let mut sets = 0;
    for interchange in &doc.interchanges {
        for group in &interchange.groups {
            let version = group.version();
            for set in &group.sets {
                sets += 1;
                match spec_errors(&version, &set.segments) {
                    None => found.push(format!("set {}: no spec for {version}", set.set_id())),
                    Some(errors) => found.extend(
                        errors
                            .iter()
                            .map(|e| format!("set {} {}: {e}", set.set_id(), set.control())),
                    ),
                }
            }
        }
    }
    if sets == 0 {
        found.push("no transaction set".to_owned());
    }
    let results: Vec<InterchangeResult> = ack::results(&doc, &SpecValidator);
    for result in &results {
        if result.code() != "A" {
            found.push(format!("TA1 note {}", result.note));
        }
        for group in &result.groups {
            if group.code() != "A" {
                let sets: Vec<_> = group.sets.iter().map(|s| (s.code(), &s.errors)).collect();
                found.push(format!(
                    "group {} {}: AK9 {}, AK905 {:?}, sets (AK5) {sets:?}",
                    group.functional_id,
                    group.control,
                    group.code(),
                    group.errors
                ));
            }
        }
    }
    found
}

#[test]
fn every_inbound_edi_fixture_is_valid_x12() {
    let dir = library_dir().join("fixtures");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension().is_some_and(|e| e == "edi")
                && !path
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .contains(".expected.")
        })
        .collect();
    files.sort();
    assert!(files.len() >= 5, "only {files:?}");
    let mut failures = Vec::new();
    for file in &files {
        let data = std::fs::read(file).unwrap();
        for problem in problems(&data) {
            failures.push(format!("{}: {problem}", file.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn functional_id(set_id: &str) -> &'static str {
    match set_id {
        "204" => "SM",
        "210" => "IM",
        "214" => "QM",
        "990" => "GF",
        "997" => "FA",
        other => panic!("no functional id for set {other}"),
    }
}

/// An outbound body wrapped in an interchange from ACMEHUB to ODFL, as bytes.
fn enveloped(set_id: String, version: String, body: Vec<SegmentNode>) -> Vec<u8> {
    let params = EnvelopeParams {
        sender_qualifier: "ZZ".to_owned(),
        sender_id: "ACMEHUB".to_owned(),
        receiver_qualifier: "02".to_owned(),
        receiver_id: "ODFL".to_owned(),
        application_sender: "ACMEHUB".to_owned(),
        application_receiver: "ODFL".to_owned(),
        functional_id: functional_id(&set_id).to_owned(),
        version,
        isa_version: "00401".to_owned(),
        ack_requested: false,
        test: false,
        timestamp: ("20261125".to_owned(), "1200".to_owned()),
    };
    let mut numbers = MemoryControlNumbers::default();
    let interchange = build_interchange(
        &params,
        Delimiters::default(),
        &[OutgoingSet {
            set_id,
            implementation: None,
            body,
        }],
        &mut numbers,
        "odfl",
    )
    .unwrap();
    let mut bytes = Vec::new();
    write_interchange(
        &mut bytes,
        &interchange,
        Encoding::Utf8,
        &WriteOptions {
            delimiters: None,
            newline: true,
        },
    )
    .unwrap();
    bytes
}

#[test]
fn every_outbound_x12_mapping_writes_valid_x12() {
    let set = MappingSet::load(&[library_dir()]).unwrap();
    let mut checked = 0;
    let mut failures = Vec::new();
    for mapping in set
        .iter()
        .filter(|m| m.direction() == Direction::Outbound && m.format() == Format::X12)
    {
        let base = mapping.path().parent().unwrap().to_path_buf();
        for case in mapping.tests().iter().filter(|c| !c.expect_error) {
            let partner = case.partner.as_ref().map_or_else(Partner::empty, |p| {
                Partner::new(read_json_file(&base.join(p)).unwrap()).unwrap()
            });
            let result = run_file(mapping, &base.join(&case.input), &partner, Some(TEST_NOW))
                .unwrap_or_else(|e| panic!("{} / {}: {e}", mapping.id(), case.name));
            let RunResult::Document(OutboundDocument::X12 {
                set_id,
                version,
                body,
            }) = result
            else {
                panic!("{} / {}: not an X12 document", mapping.id(), case.name);
            };
            let bytes = enveloped(set_id, version, body);
            checked += 1;
            for problem in problems(&bytes) {
                failures.push(format!(
                    "{} / {}: {problem}\n{}",
                    mapping.id(),
                    case.name,
                    String::from_utf8_lossy(&bytes)
                ));
            }
        }
    }
    assert!(checked >= 5, "only {checked} outbound X12 cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
