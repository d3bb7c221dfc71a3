//! A large generated 204 interchange (2,000 sets of 20 stops) tokenizes and validates
//! clean against the 004010 spec.
//!
//! Its throughput is measured by the criterion bench, not here:
//! `cargo bench -p transload-connectors --bench x12` (`parse_validate_with_spec`), with
//! the figures in BENCHMARKS.md.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod spec_support;

use spec_support::read;
use transload_connectors::x12::access::SegmentAccess;
use transload_connectors::x12::segment::Segment;
use transload_connectors::x12::spec::{SpecError, SpecErrorCode, spec_for};
use transload_connectors::x12::tokenizer::{Token, Tokenizer};

/// An interchange of `sets` copies of GT-Logistics' 204 (ST..SE), each with its two stop
/// loops (S5 1 and S5 99) repeated `stops` times.
fn big_204(sets: usize, stops: usize) -> Vec<u8> {
    let text = String::from_utf8(read("GT-Logistics__edi-x12/204.edi")).expect("utf-8");
    let text = text.replace('\n', "");
    let st = text.find("ST*204").expect("ST");
    let s5 = text.find("S5*1*").expect("S5");
    let l3 = text.find("L3*").expect("L3");
    let se = text.find("SE*").expect("SE");
    let ge = text.find("GE*").expect("GE");
    let (head, stop, tail) = (&text[st..s5], &text[s5..l3], &text[l3..se]);
    let mut out = String::with_capacity(sets * (stops * stop.len() + 2048));
    out.push_str(&text[..st]);
    for n in 0..sets {
        out.push_str(&head.replacen("ST*204*1000", &format!("ST*204*{:04}", n % 10_000), 1));
        for _ in 0..stops {
            out.push_str(stop);
        }
        out.push_str(tail);
        out.push_str(&format!("SE*0*{:04}~", n % 10_000));
    }
    out.push_str(&text[ge..]);
    out.into_bytes()
}

/// Tokenizes `data` and validates every set; returns (sets, findings).
fn run(data: &[u8]) -> (usize, Vec<SpecError>) {
    let spec = spec_for("004010", "204").expect("204 spec");
    let mut set: Vec<Segment<'_>> = Vec::with_capacity(4096);
    let mut in_set = false;
    let mut sets = 0;
    let mut errors = Vec::new();
    for token in Tokenizer::new(data) {
        let Token::Segment(seg) = token else { continue };
        match SegmentAccess::tag(&seg) {
            b"ST" => {
                set.clear();
                set.push(seg);
                in_set = true;
            }
            b"SE" if in_set => {
                set.push(seg);
                errors.extend(spec.validate(&set));
                sets += 1;
                in_set = false;
            }
            _ if in_set => set.push(seg),
            _ => {}
        }
    }
    (sets, errors)
}

#[test]
fn large_204_interchange_validates_clean() {
    let data = big_204(200, 20);
    assert!(data.len() > 1_000_000, "{}", data.len());
    let (sets, errors) = run(&data);
    assert_eq!(sets, 200);
    assert_eq!(errors, vec![], "generated 204s should be clean");
    // And a stop loop over its maximum (999) is caught in a big set, once.
    let (_, errors) = run(&big_204(1, 500));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        (errors[0].code, errors[0].loop_path.as_str()),
        (SpecErrorCode::LoopOccursOverMaximumTimes, "0300")
    );
}
