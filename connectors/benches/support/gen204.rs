//! Generates an envelope-valid X12 file of repeated real 204s (the GT-Logistics sample in
//! the shared corpus), with unique ISA13/GS06/ST02 and correct counts. Shared by the
//! benchmark and the `x12_generate` example.

use std::io::{self, Write};

/// The sample 204, relative to the connectors crate.
const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/corpus/x12/GT-Logistics__edi-x12/204.edi"
);

/// Sets per group (one group per interchange).
const SETS_PER_GROUP: usize = 100;

/// The segments strictly between ST and SE of the sample, with the ISA (elements 1-12)
/// prefix and the GS (elements 1-5) prefix, as text with `*` and `~`.
fn parts() -> io::Result<(String, String, Vec<String>)> {
    let text = std::fs::read_to_string(SAMPLE)?;
    let segs: Vec<&str> = text
        .split('~')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let find = |tag: &str| {
        segs.iter()
            .find(|s| s.starts_with(tag))
            .copied()
            .unwrap_or_default()
    };
    let isa = find("ISA*");
    let isa_prefix: String = isa.split('*').take(13).collect::<Vec<_>>().join("*");
    let gs = find("GS*");
    let gs_prefix: String = gs.split('*').take(6).collect::<Vec<_>>().join("*");
    let body = segs
        .iter()
        .skip_while(|s| !s.starts_with("ST*"))
        .skip(1)
        .take_while(|s| !s.starts_with("SE*"))
        .map(|s| (*s).to_owned())
        .collect();
    Ok((isa_prefix, gs_prefix, body))
}

/// Writes at least `bytes` bytes of interchanges to `out`; returns the number written.
pub(crate) fn generate(out: &mut impl Write, bytes: u64) -> io::Result<u64> {
    let (isa_prefix, gs_prefix, body) = parts()?;
    let mut written = 0u64;
    let mut ix = 0u64;
    let mut st = 0u64;
    let mut chunk = String::with_capacity(256 * 1024);
    while written < bytes {
        ix += 1;
        chunk.clear();
        chunk.push_str(&format!("{isa_prefix}*{ix:09}*0*P*`~\n"));
        chunk.push_str(&format!("{gs_prefix}*{ix}*X*004010~\n"));
        for _ in 0..SETS_PER_GROUP {
            st += 1;
            let control = format!("{:04}", st % 10_000);
            chunk.push_str(&format!("ST*204*{control}~\n"));
            for s in &body {
                chunk.push_str(s);
                chunk.push_str("~\n");
            }
            chunk.push_str(&format!("SE*{}*{control}~\n", body.len() + 2));
        }
        chunk.push_str(&format!("GE*{SETS_PER_GROUP}*{ix}~\n"));
        chunk.push_str(&format!("IEA*1*{ix:09}~\n"));
        out.write_all(chunk.as_bytes())?;
        written += chunk.len() as u64;
    }
    Ok(written)
}
