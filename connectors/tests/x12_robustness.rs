//! No input makes the engine panic: every corpus file cut at every byte offset, and with
//! seeded random byte flips, goes through the parser, the tree, the writer, the
//! acknowledgements and the streaming reader.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test helpers: a failed read or lookup is a failed test"
)]

use std::path::PathBuf;

use transload_connectors::x12::ack::{self, AckKind, EnvelopeOnly};
use transload_connectors::x12::control_numbers::MemoryControlNumbers;
use transload_connectors::x12::delimiters::Delimiters;
use transload_connectors::x12::document;
use transload_connectors::x12::stream::X12Reader;
use transload_connectors::x12::tree;
use transload_connectors::x12::writer::{self, WriteOptions};

fn corpus_files() -> Vec<(String, Vec<u8>)> {
    let root = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/corpus/x12"
    ));
    let tsv = std::fs::read_to_string(root.join("SOURCES.tsv")).unwrap();
    let files: Vec<_> = tsv
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .filter(|f| !f.is_empty())
        .map(|f| (f.to_owned(), std::fs::read(root.join(f)).unwrap()))
        .collect();
    assert!(files.len() >= 50);
    files
}

/// Everything the engine does with an input. Returns the number of segments seen, so the
/// work cannot be optimised away and the caller can check something.
fn exercise(data: &[u8], full: bool) -> usize {
    if !full {
        // Tokenizer and envelope validator only.
        return document::validate_envelopes(data).len();
    }
    let doc = document::parse(data);
    let n = doc.segments().len();
    let t = tree::to_tree(&doc, data);
    let json = serde_json::to_string(&t).unwrap();
    let back: tree::X12Tree = serde_json::from_str(&json).unwrap();
    // Writing may refuse (e.g. a delimiter inside a value) but never panics.
    let _ = writer::write_tree(&back, &WriteOptions::default());
    let mut store = MemoryControlNumbers::default();
    for r in ack::results(&doc, &EnvelopeOnly) {
        for kind in [AckKind::Fa997, AckKind::Ia999] {
            let _ = ack::render(
                &r,
                kind,
                Delimiters::default(),
                &mut store,
                ("20260101".into(), "0000".into()),
            );
        }
    }
    let mut reader = X12Reader::new(data);
    let mut streamed = 0;
    while let Ok(Some(set)) = reader.next_set() {
        streamed += set.segments.len();
    }
    assert!(streamed <= n);
    n
}

#[test]
fn every_truncation_of_every_corpus_file() {
    let mut total = 0usize;
    for (file, data) in corpus_files() {
        let full_segments = document::parse(&data).segments().len();
        // Every offset; in the one file over 16 KiB (42 KiB) every offset of its first 8 KiB
        // and last 1 KiB and every 7th in between, to keep the debug-build test short.
        let cuts = (0..=data.len()).filter(|&c| {
            data.len() <= 16 * 1024 || c < 8192 || c + 1024 > data.len() || c % 7 == 0
        });
        for cut in cuts {
            // The full pipeline on every 16th cut and near the end; tokenizer and envelope
            // validator on all.
            let full = cut % 16 == 0 || cut + 16 >= data.len();
            let n = exercise(&data[..cut], full);
            if full {
                assert!(
                    n <= full_segments,
                    "{file} cut at {cut}: {n} segments > {full_segments}"
                );
            }
            total += 1;
        }
    }
    assert!(total > 45_000, "{total} inputs");
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap()
    }
}

#[test]
fn seeded_random_byte_flips_in_every_corpus_file() {
    const INTERESTING: &[u8] = b"*~:^>|'\r\n ISAGSTEI0123456789\x00\xFF\xEF\xBB\xBF";
    let mut rng = Rng(0x5EED_0000_0000_0001);
    let mut runs = 0;
    for (_, data) in corpus_files() {
        // 200 mutants of each file (20 of the one over 16 KiB).
        let mutants = if data.len() > 16 * 1024 { 20 } else { 200 };
        for _ in 0..mutants {
            let mut mutated = data.clone();
            for _ in 0..=rng.below(4) {
                if mutated.is_empty() {
                    break;
                }
                let at = rng.below(mutated.len());
                match rng.below(4) {
                    0 => mutated[at] ^= 1 << rng.below(8),
                    1 => mutated[at] = INTERESTING[rng.below(INTERESTING.len())],
                    2 => {
                        mutated.remove(at);
                    }
                    _ => mutated.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
                }
            }
            exercise(&mutated, true);
            runs += 1;
        }
    }
    assert!(runs >= 200 * (corpus_files().len() - 1));
}
