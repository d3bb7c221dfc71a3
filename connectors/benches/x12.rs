//! X12 engine throughput on ~50 MB of repeated real 204s (generated at bench time from the
//! shared corpus): tokenize + envelope validation, the streaming reader, full parse with
//! spec validation, and a naive split baseline.

#![allow(
    clippy::expect_used,
    reason = "benchmark setup: failing to read the sample ends the run"
)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use transload_connectors::x12::document;
use transload_connectors::x12::spec_check;
use transload_connectors::x12::stream::X12Reader;

#[path = "support/gen204.rs"]
mod gen204;

const SIZE: u64 = 50 * 1024 * 1024;

fn data() -> Vec<u8> {
    let mut out = Vec::with_capacity(usize::try_from(SIZE).unwrap_or(0) + 1024 * 1024);
    gen204::generate(&mut out, SIZE).expect("the sample 204 in the shared corpus");
    assert!(
        document::validate_envelopes(&out).is_empty(),
        "the generated file is envelope-valid"
    );
    out
}

/// The baseline: split on `~`, then on `*`, into vectors of slices.
fn naive(data: &[u8]) -> Vec<Vec<&[u8]>> {
    data.split(|b| *b == b'~')
        .map(|seg| seg.split(|b| *b == b'*').collect())
        .collect()
}

fn benches(c: &mut Criterion) {
    let data = data();
    let mut g = c.benchmark_group("x12_204_50MB");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    g.bench_function("naive_split_baseline", |b| {
        b.iter(|| black_box(naive(black_box(&data))).len());
    });
    g.bench_function("tokenize_envelope_validate", |b| {
        b.iter(|| black_box(document::validate_envelopes(black_box(&data))).len());
    });
    g.bench_function("stream_envelope_validate", |b| {
        b.iter(|| {
            let mut reader = X12Reader::new(black_box(&data[..]));
            let mut n = 0usize;
            while let Ok(Some(set)) = reader.next_set() {
                n += set.segments.len();
            }
            black_box(n)
        });
    });
    g.bench_function("parse_document", |b| {
        b.iter(|| {
            black_box(document::parse(black_box(&data)))
                .interchanges
                .len()
        });
    });
    g.bench_function("parse_validate_with_spec", |b| {
        b.iter(|| {
            let doc = document::parse(black_box(&data));
            let mut errors = doc.findings.len();
            for ix in &doc.interchanges {
                for grp in &ix.groups {
                    let version = grp.version();
                    for set in &grp.sets {
                        errors +=
                            spec_check::spec_errors(&version, &set.segments).map_or(0, |e| e.len());
                    }
                }
            }
            assert_eq!(errors, 0);
            black_box(errors)
        });
    });
    g.finish();
}

criterion_group!(x12, benches);
criterion_main!(x12);
