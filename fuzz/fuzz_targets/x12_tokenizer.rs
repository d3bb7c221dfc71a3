//! Tokenizer and envelope validator on arbitrary bytes, in memory and streamed in small
//! reads: no panic, and both see the same segments and findings.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use transload_connectors::x12::document;
use transload_connectors::x12::stream::X12Reader;
use transload_connectors::x12::tokenizer::{Token, Tokenizer};

/// Hands out at most 7 bytes per read, to cut segments and the ISA anywhere.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = out.len().min(self.0.len()).min(7);
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

fuzz_target!(|data: &[u8]| {
    let mut segments = 0usize;
    for token in Tokenizer::new(data) {
        if let Token::Segment(s) = token {
            assert!(s.raw().len() <= data.len());
            segments += 1;
        }
    }
    let doc = document::parse(data);
    assert_eq!(doc.segments().len(), segments);
    let mut reader = X12Reader::new(Trickle(data));
    let mut findings = Vec::new();
    while let Ok(Some(set)) = reader.next_set() {
        findings.extend(set.findings);
    }
    findings.extend(reader.take_findings());
    assert_eq!(findings, doc.findings);
});
