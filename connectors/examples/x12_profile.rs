//! Runs one of the X12 benchmark workloads once over a file, for an instruction-count
//! profile (`valgrind --tool=callgrind`), which stays repeatable on a busy machine:
//!
//! ```sh
//! cargo run --release -p transload-connectors --example x12_generate -- /tmp/x12-5m.edi 5
//! cargo build --release -p transload-connectors --example x12_profile
//! valgrind --tool=callgrind target/release/examples/x12_profile spec /tmp/x12-5m.edi
//! ```
//!
//! Workloads, as in `benches/x12.rs`: `read` (only reads the file: subtract it), `naive`,
//! `envelope`, `stream`, `parse`, `spec`. An optional third argument runs the workload that
//! many times (for CPU time per byte with `/usr/bin/time`).

#![allow(
    clippy::print_stdout,
    reason = "a command-line driver prints its result"
)]

use std::hint::black_box;

use transload_connectors::x12::document;
use transload_connectors::x12::spec_check;
use transload_connectors::x12::stream::X12Reader;

fn run(mode: &str, data: &[u8]) -> Option<usize> {
    Some(match mode {
        "read" => data.len(),
        "naive" => data
            .split(|b| *b == b'~')
            .map(|seg| seg.split(|b| *b == b'*').collect::<Vec<_>>())
            .collect::<Vec<_>>()
            .len(),
        "envelope" => document::validate_envelopes(data).len(),
        "stream" => {
            let mut reader = X12Reader::new(data);
            let mut n = 0usize;
            while let Ok(Some(set)) = reader.next_set() {
                n += set.segments.len();
            }
            n
        }
        "parse" => document::parse(data).interchanges.len(),
        "spec" => {
            let doc = document::parse(data);
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
            errors
        }
        _ => return None,
    })
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "spec".to_owned());
    let path = args.next().unwrap_or_else(|| "x12-204.edi".to_owned());
    let times: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let data = std::fs::read(&path)?;
    for _ in 0..times {
        match run(&mode, black_box(&data)) {
            Some(n) => println!("{mode}: {} bytes, result {n}", data.len()),
            None => {
                eprintln!("unknown workload {mode:?}: read, naive, envelope, stream, parse, spec");
                break;
            }
        }
    }
    Ok(())
}
