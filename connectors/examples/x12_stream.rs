//! Streams an X12 file through the reader with envelope and spec validation, in bounded
//! memory; prints the counts. Used to measure RSS on a large file:
//!
//! `/usr/bin/time -v target/release/examples/x12_stream big.edi`

use std::io::BufReader;

use transload_connectors::x12::spec_check;
use transload_connectors::x12::stream::X12Reader;

fn main() -> std::io::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "x12-204.edi".to_owned());
    let file = std::fs::File::open(&path)?;
    let mut reader = X12Reader::new(BufReader::with_capacity(256 * 1024, file));
    let (mut sets, mut segments, mut findings, mut spec_errors) = (0u64, 0u64, 0u64, 0u64);
    while let Some(set) = reader.next_set()? {
        sets += 1;
        segments += set.segments.len() as u64;
        findings += set.findings.len() as u64;
        let version = set.gs.map(|g| g.text(8)).unwrap_or_default();
        spec_errors +=
            spec_check::spec_errors(&version, &set.segments).map_or(0, |e| e.len() as u64);
    }
    findings += reader.take_findings().len() as u64;
    println!(
        "{sets} sets, {segments} segments, {findings} envelope findings, {spec_errors} spec errors"
    );
    Ok(())
}
