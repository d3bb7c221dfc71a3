//! Corpus tests: round-trip of every envelope-valid file, the exact findings of every
//! broken one, and the streaming reader against the in-memory parser.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test helpers: a failed read or lookup is a failed test"
)]

use std::path::PathBuf;

use transload_connectors::x12::ack::{self, AckKind, EnvelopeOnly};
use transload_connectors::x12::control_numbers::MemoryControlNumbers;
use transload_connectors::x12::delimiters::Delimiters;
use transload_connectors::x12::document::{self, Document};
use transload_connectors::x12::spec::{self, StructureNode};
use transload_connectors::x12::stream::X12Reader;
use transload_connectors::x12::tree::{
    self, Element, Encoding, LoopNode, Node, SegmentNode, SetNode, X12Tree,
};
use transload_connectors::x12::writer::{self, WriteOptions};

fn corpus() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/corpus/x12"
    ))
}

/// (file, validity) of every corpus file, from SOURCES.tsv.
fn sources() -> Vec<(String, String)> {
    let tsv = std::fs::read_to_string(corpus().join("SOURCES.tsv"))
        .expect("corpus SOURCES.tsv beside the repository");
    let rows: Vec<_> = tsv
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<_> = l.split('\t').collect();
            (cols[0].to_owned(), cols[11].to_owned())
        })
        .collect();
    assert!(rows.len() >= 50, "corpus has {} files", rows.len());
    rows
}

fn read(file: &str) -> Vec<u8> {
    std::fs::read(corpus().join(file)).unwrap()
}

/// All segments of a tree in order, as nodes; ISA11/ISA16 blanked (they are delimiters).
fn segments(tree: &X12Tree) -> Vec<SegmentNode> {
    let mut out = Vec::new();
    for ix in &tree.interchanges {
        if let Some(isa) = &ix.isa {
            let mut isa = isa.clone();
            for i in [10, 15] {
                isa.elements[i] = Element::Simple(String::new());
            }
            out.push(isa);
        }
        out.extend(ix.segments.iter().cloned());
        for g in &ix.groups {
            out.extend(g.gs.iter().cloned());
            out.extend(g.segments.iter().cloned());
            for t in &g.transaction_sets {
                out.extend(t.flat_segments().into_iter().cloned());
            }
            out.extend(g.ge.iter().cloned());
        }
        out.extend(ix.iea.iter().cloned());
    }
    out
}

fn tree_of(data: &[u8]) -> (X12Tree, Document<'_>) {
    let doc = document::parse(data);
    (tree::to_tree(&doc, data), doc)
}

#[test]
fn valid_files_round_trip_through_json_and_back() {
    let exotic = Delimiters {
        element: b'|',
        component: b'}',
        segment: b'~',
        repetition: Some(b'{'),
    };
    let mut checked = 0;
    for (file, validity) in sources() {
        if !validity.starts_with("valid") {
            continue;
        }
        let data = read(&file);
        let (tree, doc) = tree_of(&data);
        assert!(doc.is_envelope_valid(), "{file}: {:?}", doc.findings);
        let original = segments(&tree);
        assert_eq!(original.len(), doc.segments().len(), "{file}");
        // Through JSON text.
        let json = serde_json::to_string_pretty(&tree).unwrap();
        let back: X12Tree = serde_json::from_str(&json).unwrap();
        assert_eq!(back, tree, "{file}");
        for options in [
            WriteOptions {
                delimiters: None,
                newline: false,
            },
            WriteOptions {
                delimiters: Some(exotic),
                newline: true,
            },
        ] {
            let written = writer::write_tree(&back, &options).unwrap();
            let (again, doc2) = tree_of(&written);
            assert!(doc2.is_envelope_valid(), "{file}: {:?}", doc2.findings);
            assert_eq!(segments(&again), original, "{file} with {options:?}");
        }
        checked += 1;
    }
    assert!(checked >= 25, "only {checked} valid files");
}

/// Checks that every loop instance in `nodes` is a loop the spec level `level` has, and that
/// it starts with its trigger or one of its `also_starts_with` segments; recurses. Returns
/// the number of loop instances.
fn check_loops(file: &str, level: &[StructureNode], nodes: &[Node]) -> usize {
    let mut loops = 0;
    for node in nodes {
        let Node::Loop(LoopNode { loop_id, segments }) = node else {
            continue;
        };
        let Some((body, also)) = level.iter().find_map(|n| match n {
            StructureNode::Loop {
                id,
                body,
                also_starts_with,
                ..
            } if id == loop_id => Some((body, also_starts_with)),
            _ => None,
        }) else {
            panic!("{file}: loop {loop_id} is not in the spec at this level");
        };
        let Some(StructureNode::Segment {
            segment: trigger, ..
        }) = body.first()
        else {
            panic!("{file}: loop {loop_id} has no trigger");
        };
        let first = first_tag(segments).unwrap_or_default();
        assert!(
            first == *trigger || also.contains(&first),
            "{file}: loop {loop_id} starts with {first}"
        );
        loops += 1 + check_loops(file, body, segments);
    }
    loops
}

fn first_tag(nodes: &[Node]) -> Option<String> {
    match nodes.first()? {
        Node::Segment(s) => Some(s.tag.clone()),
        Node::Loop(l) => first_tag(&l.segments),
    }
}

/// `(GS08, set)` of every transaction set in a tree.
fn sets(tree: &X12Tree) -> Vec<(String, &SetNode)> {
    tree.interchanges
        .iter()
        .flat_map(|ix| ix.groups.iter())
        .flat_map(|g| {
            let version =
                g.gs.as_ref()
                    .and_then(|gs| gs.text(8))
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
            g.transaction_sets.iter().map(move |t| (version.clone(), t))
        })
        .collect()
}

#[test]
fn sets_with_a_spec_have_their_loops_nested_as_the_spec_gives_them() {
    let mut nested_sets = 0;
    let mut flat_sets = 0;
    for (file, _) in sources() {
        let data = read(&file);
        let (tree, _) = tree_of(&data);
        for (version, set) in sets(&tree) {
            let set_id = set.find("ST").and_then(|st| st.text(1)).unwrap_or_default();
            match spec::spec_for(&version, set_id) {
                Some(spec) => {
                    let loops = check_loops(&file, &spec.structure, &set.segments);
                    // A set that has a segment starting a top-level loop has loops.
                    let triggers: Vec<&String> = spec
                        .structure
                        .iter()
                        .filter_map(|n| match n {
                            StructureNode::Loop { body, .. } => match body.first() {
                                Some(StructureNode::Segment { segment, .. }) => Some(segment),
                                _ => None,
                            },
                            StructureNode::Segment { .. } => None,
                        })
                        .collect();
                    if set
                        .flat_segments()
                        .iter()
                        .any(|s| triggers.contains(&&s.tag))
                    {
                        assert!(loops > 0, "{file}: {set_id} has no loops");
                        nested_sets += 1;
                    }
                }
                None => {
                    assert!(
                        set.segments.iter().all(|n| matches!(n, Node::Segment(_))),
                        "{file}: {set_id} has no spec but loops"
                    );
                    flat_sets += 1;
                }
            }
        }
    }
    println!("{nested_sets} sets nested by their spec, {flat_sets} without a spec");
    assert!(nested_sets >= 15, "{nested_sets} sets with a spec");
    assert!(flat_sets >= 10, "{flat_sets} sets without a spec");
}

/// `(loop path, tag)` of every segment of the first set of `file`.
fn paths(file: &str) -> Vec<(String, String)> {
    let data = read(file);
    let (tree, _) = tree_of(&data);
    let (_, set) = sets(&tree).into_iter().next().unwrap();
    set.segments_with_paths()
        .map(|(p, s)| (p.to_string(), s.tag.clone()))
        .collect()
}

fn paths_of<'p>(paths: &'p [(String, String)], tag: &str) -> Vec<&'p str> {
    paths
        .iter()
        .filter(|(_, t)| t == tag)
        .map(|(p, _)| p.as_str())
        .collect()
}

#[test]
fn load_tender_stops_status_details_and_invoice_lines_are_loops() {
    // 204: each S5 opens a 0300 stop loop; the stop's N1 is in 0310 inside it.
    let p = paths("GT-Logistics__edi-x12/204.edi");
    assert_eq!(paths_of(&p, "S5"), ["0300[1]", "0300[2]"]);
    assert_eq!(
        paths_of(&p, "N1"),
        [
            "0100[1]",
            "0100[2]",
            "0100[3]",
            "0300[1]/0310[1]",
            "0300[2]/0310[1]"
        ]
    );
    assert_eq!(
        paths_of(&p, "L5"),
        ["0300[1]/0350[1]/0360[1]", "0300[2]/0350[1]/0360[1]"]
    );
    assert_eq!(paths_of(&p, "L3"), [""]);
    let data = read("GT-Logistics__edi-x12/204.edi");
    let (tree, _) = tree_of(&data);
    let set = &tree.interchanges[0].groups[0].transaction_sets[0];
    assert_eq!(set.value("0300[2]/S5/S502"), Some("CU"));
    assert_eq!(
        set.value("0300[2]/0310/N1/N102"),
        Some("Springfield Power Company")
    );
    assert_eq!(set.value("0300[1]/0310/N4/N401"), Some("Newport"));

    // 214 (the envelope is broken, IEA02, but the set is whole): each LX opens a 0200
    // loop, the AT7s inside go into its 0205 loop, the L11 after them back into 0200.
    let p = paths("apimeister__x12-types/test_214.rs__parse_214_1.edi");
    assert_eq!(paths_of(&p, "LX"), ["0200[1]", "0200[2]", "0200[3]"]);
    let at7 = paths_of(&p, "AT7");
    assert_eq!(at7.len(), 18, "{at7:?}");
    assert!(
        at7.iter().take(6).all(|p| p.starts_with("0200[1]/0205[")),
        "{at7:?}"
    );
    assert_eq!(at7[6], "0200[2]/0205[1]");
    assert_eq!(paths_of(&p, "L11"), ["0200[1]", "0200[2]", "0200[3]"]);

    // 210: each LX opens a 0400 invoice line loop.
    for file in [
        "Inteligenz__X12Parser/CN_FreightInvoiceSample1.txt",
        "EdiFabric__X12.NET/FreightInvoice.txt",
    ] {
        let p = paths(file);
        let lx = paths_of(&p, "LX");
        assert!(!lx.is_empty(), "{file}");
        for (i, path) in lx.iter().enumerate() {
            assert_eq!(*path, format!("0400[{}]", i + 1), "{file}");
        }
        assert!(
            paths_of(&p, "L1").iter().all(|p| p.starts_with("0400[")),
            "{file}"
        );
    }
}

/// (code, segment index in file, line, byte offset, acknowledgement code of the kind).
type Expected = (&'static str, u64, u64, u64, &'static str);

#[rustfmt::skip]
const BROKEN: &[(&str, &[Expected])] = &[
    // broken: SE01=37 but 29 segs
    ("apimeister__x12-types/test_204.rs__test_parse_204.edi", &[
        ("X12-E023", 29, 29, 722, "AK502=4"),
    ]),
    // broken: SE01=9 but 16 segs
    ("AlejoCode__nodejsEdiMapperToJSON/214.edi", &[
        ("X12-W004", 1, 1, 0, "-"),
        ("X12-E023", 18, 18, 535, "AK502=4"),
    ]),
    // broken: IEA02 000002510 != ISA13 000003438
    ("apimeister__x12-types/test_214.rs__parse_214_1.edi", &[
        ("X12-E007", 31, 31, 834, "TA105=001"),
    ]),
    // broken: SE02 001 N/L != ST02 001
    ("apimeister__x12-types/test_214.rs__parse_214_2.edi", &[
        ("X12-E005", 1, 1, 0, "TA105=018"),
        ("X12-W004", 1, 1, 0, "-"),
        ("X12-E025", 3, 3, 108, "AK502=7"),
        ("X12-E022", 15, 15, 324, "AK502=3"),
        ("X12-E025", 16, 16, 339, "AK502=7"),
    ]),
    // broken: SE01=9 but 16 segs
    ("AlejoCode__nodejsEdiMapperToJSON/210.edi", &[
        ("X12-W004", 1, 1, 0, "-"),
        ("X12-E023", 18, 18, 535, "AK502=4"),
    ]),
    // broken: SE01=9 but 16 segs
    ("AlejoCode__nodejsEdiMapperToJSON/990.edi", &[
        ("X12-W004", 1, 1, 0, "-"),
        ("X12-E023", 18, 18, 535, "AK502=4"),
    ]),
    // broken: GE02 <TOO_LONG_AND_NOT_NUMERIC> != GS06 000005 [deliberate]
    ("xlate__staedi/invalid997_min.edi", &[
        ("X12-E015", 7, 7, 240, "AK905=4"),
    ]),
    // broken: GE01=2 but 1 ST
    ("EdiFabric__X12.NET/RailCarrierShipment.txt", &[
        ("X12-E016", 30, 30, 775, "AK905=5"),
    ]),
    // broken: duplicate GS06 000000001 in ISA
    ("EdiFabric__X12.NET/MixedTransactions.txt", &[
        ("X12-E018", 19, 19, 514, "AK905=19"),
    ]),
    // broken: empty file [deliberate]
    ("GT-Logistics__edi-x12/empty-edi.edi", &[
        ("X12-E001", 0, 1, 0, "-"),
    ]),
    // broken: ISA has 0 elements; bad segment tag '00*'; bad segment tag '*00*'; bad segment tag '*ZZ*SENDER'; bad segment tag '*ZZ*RECEIVER'; bad segment tag '*240131*1100'; missing IEA [deliberate]
    ("GT-Logistics__edi-x12/inconsistent-element-separator-isa-heading.edi", &[
        ("X12-E003", 1, 1, 0, "TA105=026"),
    ]),
    // broken: missing GE [deliberate]
    ("GT-Logistics__edi-x12/no-ge-trailer.edi", &[
        ("X12-E013", 2, 2, 107, "AK905=3"),
    ]),
    // broken: GE without GS; IEA01=2 but 1 GS [deliberate]
    ("GT-Logistics__edi-x12/no-gs-heading.edi", &[
        ("X12-E014", 4, 4, 185, "TA105=024"),
        ("X12-E008", 5, 5, 201, "TA105=021"),
    ]),
    // broken: missing IEA [deliberate]
    ("GT-Logistics__edi-x12/no-iea-trailer.edi", &[
        ("X12-E006", 1, 1, 0, "TA105=023"),
    ]),
    // broken: trailing data after last IEA [deliberate]
    ("GT-Logistics__edi-x12/no-isa-heading.edi", &[
        ("X12-W030", 0, 3, 124, "-"),
    ]),
    // broken: IEA01=1 but 0 GS [deliberate]
    ("GT-Logistics__edi-x12/no-matching-gs-count.edi", &[
        ("X12-E008", 2, 2, 107, "TA105=021"),
    ]),
    // broken: SE01=3 but 2 segs [deliberate]
    ("GT-Logistics__edi-x12/no-matching-segment-count.edi", &[
        ("X12-E023", 4, 4, 182, "AK502=4"),
    ]),
    // broken: GE01=1 but 0 ST [deliberate]
    ("GT-Logistics__edi-x12/no-matching-st-count.edi", &[
        ("X12-E016", 3, 3, 169, "AK905=5"),
    ]),
    // broken: SE without ST [deliberate]
    ("GT-Logistics__edi-x12/no-st-heading.edi", &[
        ("X12-E021", 5, 5, 193, "-"),
    ]),
    // broken: missing IEA [deliberate]
    ("GT-Logistics__edi-x12/release-not-exist.edi", &[
        ("X12-E006", 1, 1, 0, "TA105=023"),
    ]),
    // broken: GE without GS; IEA without ISA [deliberate]
    ("EdiFabric__X12.NET/CorruptIsa.txt", &[
        ("X12-E002", 1, 1, 3, "-"),
        ("X12-E012", 2, 2, 109, "TA105=024"),
        ("X12-E011", 19, 19, 512, "TA105=022"),
    ]),
    // broken: bad segment tag 'T'; SE without ST; GE01=2 but 1 ST [deliberate]
    ("EdiFabric__X12.NET/CorruptSt.txt", &[
        ("X12-E027", 3, 3, 168, "AK502=5"),
        ("X12-E021", 17, 17, 484, "-"),
        ("X12-E016", 33, 33, 825, "AK905=5"),
    ]),
    // broken: duplicate GS06 000000001 in ISA [deliberate]
    ("EdiFabric__X12.NET/DuplicateGroup.txt", &[
        ("X12-E018", 19, 19, 510, "AK905=19"),
    ]),
    // broken: duplicate ISA13 000000263 [deliberate]
    ("EdiFabric__X12.NET/DuplicateInterchange.txt", &[
        ("X12-E009", 20, 20, 527, "TA105=025"),
    ]),
    // broken: trailing data after last IEA; SE01=9 but 13 segs
    ("AlejoCode__nodejsEdiMapperToJSON/wrongMarkdown.edi", &[
        ("X12-W004", 1, 1, 0, "-"),
        ("X12-E023", 15, 15, 444, "AK502=4"),
        ("X12-W030", 0, 18, 480, "-"),
    ]),
];

fn ack_code(kind: &transload_connectors::x12::error::ErrorKind) -> String {
    kind.ta1_note()
        .map(|c| format!("TA105={c}"))
        .or_else(|| kind.ak5_code().map(|c| format!("AK502={c}")))
        .or_else(|| kind.ak9_code().map(|c| format!("AK905={c}")))
        .unwrap_or_else(|| "-".to_owned())
}

#[test]
fn broken_files_report_the_expected_errors_at_the_expected_positions() {
    let broken: Vec<_> = sources()
        .into_iter()
        .filter(|(_, v)| !v.starts_with("valid"))
        .collect();
    assert_eq!(
        broken.len(),
        BROKEN.len(),
        "every broken corpus file is in the table"
    );
    for (file, expected) in BROKEN {
        assert!(
            broken.iter().any(|(f, _)| f == file),
            "{file} is not a broken corpus file"
        );
        let data = read(file);
        let doc = document::parse(&data);
        let got: Vec<_> = doc
            .findings
            .iter()
            .map(|f| {
                let p = f.error.position;
                (
                    f.error.code(),
                    p.segment_index,
                    p.line,
                    p.offset,
                    ack_code(&f.error.kind),
                )
            })
            .collect();
        let want: Vec<_> = expected
            .iter()
            .map(|(c, s, l, o, a)| (*c, *s, *l, *o, (*a).to_owned()))
            .collect();
        assert_eq!(got, want, "{file}");
        assert!(!doc.findings.is_empty(), "{file}");
    }
}

fn render_acks(data: &[u8], kind: AckKind) -> String {
    let doc = document::parse(data);
    let mut store = MemoryControlNumbers::default();
    let mut out = Vec::new();
    for r in ack::results(&doc, &EnvelopeOnly) {
        if let Some(ix) = ack::render(
            &r,
            kind,
            Delimiters::default(),
            &mut store,
            ("20260101".into(), "1200".into()),
        )
        .unwrap()
        {
            writer::write_interchange(
                &mut out,
                &ix,
                Encoding::Utf8,
                &WriteOptions {
                    delimiters: None,
                    newline: true,
                },
            )
            .unwrap();
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn broken_files_get_the_expected_acknowledgement_segments() {
    let cases: &[(&str, &[&str])] = &[
        (
            "GT-Logistics__edi-x12/no-matching-segment-count.edi",
            &["AK5*R*4~", "AK9*R*1*1*0~"],
        ),
        (
            "apimeister__x12-types/test_214.rs__parse_214_1.edi",
            &["TA1*000003438*", "*R*001~"],
        ),
        ("apimeister__x12-types/test_204.rs__test_parse_204.edi", &[]),
        (
            "EdiFabric__X12.NET/RailCarrierShipment.txt",
            &["AK5*A~", "AK9*R*2*1*1*5~"],
        ),
        (
            "EdiFabric__X12.NET/DuplicateGroup.txt",
            &["AK9*A*1*1*1~", "AK9*R*1*1*1*19~"],
        ),
        ("EdiFabric__X12.NET/DuplicateInterchange.txt", &["*R*025~"]),
        (
            "GT-Logistics__edi-x12/no-ge-trailer.edi",
            &["AK9*R*0*0*0*3~"],
        ),
        ("GT-Logistics__edi-x12/no-iea-trailer.edi", &["*R*023~"]),
        (
            "GT-Logistics__edi-x12/no-matching-gs-count.edi",
            &["*R*021~"],
        ),
        ("xlate__staedi/invalid997_min.edi", &[]),
    ];
    for (file, fragments) in cases {
        let out = render_acks(&read(file), AckKind::Fa997);
        if fragments.is_empty() {
            // Bare data (no ISA) and acknowledgements are not acknowledged.
            assert_eq!(out, "", "{file}");
        }
        for f in *fragments {
            assert!(out.contains(f), "{file}: {f:?} not in\n{out}");
        }
        // What we send is itself envelope-valid.
        if !out.is_empty() {
            assert!(
                document::parse(out.as_bytes()).is_envelope_valid(),
                "{file}:\n{out}"
            );
        }
    }
}

#[test]
fn the_streaming_reader_agrees_with_the_in_memory_parser_on_every_file() {
    for (file, _) in sources() {
        let data = read(&file);
        let doc = document::parse(&data);
        let mem: Vec<Vec<u8>> = doc
            .interchanges
            .iter()
            .flat_map(|ix| ix.groups.iter())
            .flat_map(|g| g.sets.iter())
            .map(|t| {
                t.segments
                    .iter()
                    .flat_map(|s| s.raw().iter().copied().chain([0]))
                    .collect()
            })
            .collect();
        let mut reader = X12Reader::new(&data[..]);
        let mut streamed = Vec::new();
        let mut findings = Vec::new();
        while let Some(set) = reader.next_set().unwrap() {
            streamed.push(
                set.segments
                    .iter()
                    .flat_map(|s| s.raw().iter().copied().chain([0]))
                    .collect::<Vec<u8>>(),
            );
            findings.extend(set.findings);
        }
        findings.extend(reader.take_findings());
        assert_eq!(streamed, mem, "{file}");
        assert_eq!(findings, doc.findings, "{file}");
    }
}
