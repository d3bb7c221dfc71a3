//! Throughput of tokenize + validate on 204 load tenders.
//!
//! `large_204_interchange_validates_clean` always runs (a generated multi-megabyte
//! interchange must give no findings). The throughput checks need an optimized build:
//! `cargo test --release -p transload-connectors --test spec_perf -- --ignored --nocapture`.
//! Both measure CPU time of the test thread, so a busy machine does not skew them.
//!
//! - `validate_throughput`: the validator alone, over pre-split segments with O(1)
//!   element access (about 170 MB/s on the development machine).
//! - `tokenize_and_validate_throughput`: the target for the whole path, 150 MB/s. It does
//!   not pass yet (about 75 MB/s): `Segment::element` of the tokenizer scans from the
//!   start of the segment on every call, so reading all elements of a segment is
//!   quadratic; reading them alone runs at about 150-200 MB/s.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod spec_support;

use std::time::Instant;

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

/// CPU time of this thread (Linux: `/proc/thread-self/schedstat`, first field in ns), so
/// that a machine shared with other work does not skew the measurement; wall time
/// elsewhere.
fn cpu_seconds(start: Instant) -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or_else(|| start.elapsed().as_secs_f64(), |ns| ns as f64 / 1e9)
}

#[test]
#[ignore = "timing; run with --release -- --ignored"]
fn tokenize_and_validate_throughput() {
    if cfg!(debug_assertions) {
        panic!("run the throughput check with --release");
    }
    let data = big_204(2000, 20);
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let before = cpu_seconds(t);
        let (sets, errors) = run(&data);
        let secs = cpu_seconds(t) - before;
        assert_eq!((sets, errors.len()), (2000, 0));
        best = best.min(secs);
    }
    let mb_s = data.len() as f64 / best / 1e6;
    println!(
        "tokenize + validate: {} bytes in {best:.4} s = {mb_s:.0} MB/s",
        data.len()
    );
    assert!(mb_s >= 150.0, "{mb_s:.0} MB/s");
}

#[test]
#[ignore = "timing; run with --release -- --ignored"]
fn validate_throughput() {
    if cfg!(debug_assertions) {
        panic!("run the throughput check with --release");
    }
    let data = big_204(2000, 20);
    let sets = spec_support::split(&data, "004010");
    let spec = spec_for("004010", "204").expect("204 spec");
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let before = cpu_seconds(t);
        let errors: usize = sets.iter().map(|s| spec.validate(&s.segments).len()).sum();
        let secs = cpu_seconds(t) - before;
        assert_eq!((sets.len(), errors), (2000, 0));
        best = best.min(secs);
    }
    let mb_s = data.len() as f64 / best / 1e6;
    println!(
        "validate only: {} bytes in {best:.4} s of CPU time = {mb_s:.0} MB/s",
        data.len()
    );
    assert!(mb_s >= 100.0, "{mb_s:.0} MB/s");
}
