//! Cost of running the shipped mappings on their own fixtures (one core, criterion):
//!
//! - `x12_214_in`: the 214 of `fixtures/214-two-stops.edi` (three AT7s) to three status
//!   events, with `serde_json` parsing of the partner as the baseline it is compared to
//!   in BENCHMARKS.md (`parse_partner_baseline`);
//! - `read_x12_214`: reading the same 214 into the program's input (tokenizer, tree);
//! - `wms_pick_in`: a WMS pick-complete JSON webhook to a canonical event.
//!
//! Run with `cargo bench -p transload-mappings --bench mapping`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use transload_mappings::{Format, Partner, library_dir, load_file, read_inbound};

const NOW: &str = "2026-11-25T12:00:00Z";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(library_dir().join("fixtures").join(name)).unwrap()
}

fn bench_mappings(c: &mut Criterion) {
    let library = library_dir();
    let partner_bytes = fixture("partner-odfl.json");
    let partner = Partner::new(serde_json::from_slice(&partner_bytes).unwrap()).unwrap();
    let edi = fixture("214-two-stops.edi");
    let map_214 = load_file(&library.join("x12-004010-214-in.toml")).unwrap();
    let inputs = read_inbound(Format::X12, &edi).unwrap();
    assert_eq!(
        map_214
            .run_inbound_at(&inputs[0], &partner, NOW)
            .unwrap()
            .len(),
        3
    );

    c.bench_function("x12_214_in", |b| {
        b.iter(|| {
            map_214
                .run_inbound_at(black_box(&inputs[0]), &partner, NOW)
                .unwrap()
        });
    });
    c.bench_function("read_x12_214", |b| {
        b.iter(|| read_inbound(Format::X12, black_box(&edi)).unwrap());
    });
    c.bench_function("parse_partner_baseline", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&partner_bytes)).unwrap());
    });

    let pick_map = load_file(&library.join("wms-pick-complete-in.toml")).unwrap();
    let pick_tests = pick_map.tests().to_vec();
    if let Some(test) = pick_tests.first() {
        let input = read_inbound(
            Format::Json,
            &std::fs::read(library.join(&test.input)).unwrap(),
        )
        .unwrap();
        let partner = test.partner.as_ref().map_or_else(Partner::empty, |file| {
            Partner::new(
                serde_json::from_slice(&std::fs::read(library.join(file)).unwrap()).unwrap(),
            )
            .unwrap()
        });
        c.bench_function("wms_pick_in", |b| {
            b.iter(|| {
                pick_map
                    .run_inbound_at(black_box(&input[0]), &partner, NOW)
                    .unwrap()
            });
        });
    }
}

criterion_group!(benches, bench_mappings);
criterion_main!(benches);
