//! Writes an envelope-valid X12 file of repeated real 204s.
//!
//! `cargo run --release -p transload-connectors --example x12_generate -- OUT MEGABYTES`

use std::io::BufWriter;

#[path = "../benches/support/gen204.rs"]
mod gen204;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "x12-204.edi".to_owned());
    let mb: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1024);
    let mut out = BufWriter::new(std::fs::File::create(&path)?);
    let n = gen204::generate(&mut out, mb * 1024 * 1024)?;
    println!("wrote {n} bytes to {path}");
    Ok(())
}
