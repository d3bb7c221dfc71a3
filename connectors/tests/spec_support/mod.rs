//! Test-only X12 splitter for the spec tests (the real tokenizer lives elsewhere):
//! detects the delimiters from the ISA, strips a BOM and CR/LF, and groups ST..SE.

#![allow(dead_code, unreachable_pub)]
// Test helpers: failing loudly on a missing corpus file or a malformed ISA is the point.
#![allow(clippy::panic, clippy::expect_used, clippy::indexing_slicing)]

use transload_connectors::x12::access::SegmentAccess;

/// The shared corpus of public sample files.
pub const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/x12");

#[derive(Debug, Clone)]
pub struct Seg {
    pub tag: Vec<u8>,
    pub elements: Vec<Vec<u8>>,
    pub comp: u8,
    pub rep: Option<u8>,
}

impl SegmentAccess for Seg {
    fn tag(&self) -> &[u8] {
        &self.tag
    }
    fn element_count(&self) -> usize {
        self.elements.len()
    }
    fn element(&self, pos: usize) -> Option<&[u8]> {
        self.elements.get(pos.checked_sub(1)?).map(Vec::as_slice)
    }
    fn component_separator(&self) -> u8 {
        self.comp
    }
    fn repetition_separator(&self) -> Option<u8> {
        self.rep
    }
}

/// One transaction set: GS08 of its group (or the given default) and ST..SE.
#[derive(Debug, Clone)]
pub struct TxSet {
    pub version: String,
    pub set_id: String,
    pub segments: Vec<Seg>,
}

#[derive(Debug, Clone, Copy)]
struct Delims {
    element: u8,
    segment: u8,
    comp: u8,
    rep: Option<u8>,
}

/// Delimiters from the ISA at the start of `b`: the element separator is byte 3, ISA16
/// (component separator) follows the 16th element separator and the segment terminator
/// follows it (this also copes with ISAs that are not exactly 106 bytes).
fn isa_delims(b: &[u8]) -> Option<Delims> {
    let element = *b.get(3)?;
    let mut seps = 0;
    let mut isa11_at = 0;
    let mut i = 0;
    while i < b.len() {
        if b.get(i) == Some(&element) {
            seps += 1;
            if seps == 11 {
                isa11_at = i + 1;
            }
            if seps == 16 {
                let comp = *b.get(i + 1)?;
                let segment = *b.get(i + 2)?;
                let isa12 = b.get(isa11_at + 2..isa11_at + 7)?;
                let rep = (isa12 >= &b"00402"[..])
                    .then(|| b.get(isa11_at).copied())
                    .flatten();
                return Some(Delims {
                    element,
                    segment,
                    comp,
                    rep,
                });
            }
        }
        i += 1;
    }
    None
}

/// Splits `bytes` into transaction sets. Bare ST..SE files (no ISA) use `*`, `~` and `:`
/// and get `default_version`.
pub fn split(bytes: &[u8], default_version: &str) -> Vec<TxSet> {
    let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(0);
    let b = &b[start..];
    let d = if b.starts_with(b"ISA") {
        isa_delims(b).expect("ISA delimiters")
    } else {
        Delims {
            element: b[2],
            segment: if b.contains(&b'~') { b'~' } else { b'\n' },
            comp: b':',
            rep: None,
        }
    };
    let mut out = Vec::new();
    let mut version = default_version.to_owned();
    let mut current: Option<TxSet> = None;
    for raw in b.split(|&c| c == d.segment) {
        let trimmed: &[u8] = raw.trim_ascii();
        if trimmed.is_empty() {
            continue;
        }
        let mut parts = trimmed.split(|&c| c == d.element);
        let tag = parts.next().unwrap_or_default().to_vec();
        let elements: Vec<Vec<u8>> = parts.map(<[u8]>::to_vec).collect();
        let seg = Seg {
            tag,
            elements,
            comp: d.comp,
            rep: d.rep,
        };
        match seg.tag.as_slice() {
            b"GS" => {
                version = String::from_utf8_lossy(seg.element(8).unwrap_or_default()).into_owned();
            }
            b"ST" => {
                current = Some(TxSet {
                    version: version.clone(),
                    set_id: String::from_utf8_lossy(seg.element(1).unwrap_or_default())
                        .into_owned(),
                    segments: vec![seg],
                });
            }
            b"SE" => {
                if let Some(mut set) = current.take() {
                    set.segments.push(seg);
                    out.push(set);
                }
            }
            _ => {
                if let Some(set) = current.as_mut() {
                    set.segments.push(seg);
                }
            }
        }
    }
    out
}

/// Segments of a hand-written set: `~` terminated (newlines ignored), `*` elements, `:`
/// components, optional repetition separator.
pub fn segs(text: &str, rep: Option<u8>) -> Vec<Seg> {
    text.split('~')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut parts = s.split('*');
            let tag = parts.next().unwrap_or_default().as_bytes().to_vec();
            Seg {
                tag,
                elements: parts.map(|p| p.as_bytes().to_vec()).collect(),
                comp: b':',
                rep,
            }
        })
        .collect()
}

pub fn read(rel: &str) -> Vec<u8> {
    let path = format!("{CORPUS}/{rel}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}
