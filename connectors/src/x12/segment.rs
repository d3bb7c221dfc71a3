//! Segments: a zero-copy view of one segment of the input, with its position.

use serde::Serialize;

use super::access::SegmentAccess;
use super::delimiters::Delimiters;

/// Where something is in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Position {
    /// Byte offset from the start of the input (a UTF-8 BOM counts).
    pub offset: u64,
    /// Line number, 1-based.
    pub line: u64,
    /// Segment index in the file, 1-based (0 when not at a segment, e.g. end of file).
    pub segment_index: u64,
    /// Segment index in its transaction set, ST = 1 (0 when outside a set).
    pub set_index: u32,
}

/// True when `t` is 2 or 3 upper-case letters or digits, starting with a letter.
#[inline]
pub(crate) fn is_valid_tag(t: &[u8]) -> bool {
    match *t {
        [a, b] => a.is_ascii_uppercase() && (b.is_ascii_uppercase() || b.is_ascii_digit()),
        [a, b, c] => {
            a.is_ascii_uppercase()
                && (b.is_ascii_uppercase() || b.is_ascii_digit())
                && (c.is_ascii_uppercase() || c.is_ascii_digit())
        }
        _ => false,
    }
}

/// The elements of a segment, split at the element separator.
#[derive(Debug, Clone)]
struct Elements<'a> {
    /// What follows the last separator found; `None` once the last element was handed out.
    rest: Option<&'a [u8]>,
    separator: u8,
}

impl<'a> Iterator for Elements<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        match find_byte(rest, self.separator) {
            Some(i) => {
                self.rest = rest.get(i + 1..);
                rest.get(..i)
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// The offset of the first `b` in `s`. Elements are short but the segment behind them
/// usually is not: eight bytes are looked at at once while eight remain.
#[inline]
fn find_byte(s: &[u8], b: u8) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let pattern = ONES * u64::from(b);
    let mut at = 0usize;
    while let Some(word) = s.get(at..at + 8) {
        let Ok(word) = <[u8; 8]>::try_from(word) else {
            break;
        };
        let x = u64::from_le_bytes(word) ^ pattern;
        // High bit of each zero byte of `x`, exactly.
        let zero = !(((x & LOW7) + LOW7) | x | LOW7);
        if zero != 0 {
            return Some(at + (zero.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    s.get(at..)?.iter().position(|&c| c == b).map(|i| at + i)
}

/// One segment, borrowing the input: its bytes without the terminator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment<'a> {
    data: &'a [u8],
    delimiters: Delimiters,
    /// Where the segment starts.
    pub position: Position,
}

impl<'a> Segment<'a> {
    /// A segment over `data` (terminator excluded).
    pub fn new(data: &'a [u8], delimiters: Delimiters, position: Position) -> Self {
        Self {
            data,
            delimiters,
            position,
        }
    }

    /// The raw bytes of the segment, tag included, terminator excluded.
    pub fn raw(&self) -> &'a [u8] {
        self.data
    }

    /// The delimiters of the interchange the segment belongs to.
    pub fn delimiters(&self) -> Delimiters {
        self.delimiters
    }

    /// The tag, e.g. `b"N1"`.
    #[inline]
    pub fn tag(&self) -> &'a [u8] {
        let e = self.delimiters.element;
        // Tags are 2 or 3 bytes long: look there first.
        let len = match *self.data {
            [a, b, c, ..] if c == e && a != e && b != e => 2,
            [a, b, c, d, ..] if d == e && a != e && b != e && c != e => 3,
            _ => self
                .data
                .iter()
                .position(|b| *b == e)
                .unwrap_or(self.data.len()),
        };
        self.data.get(..len).unwrap_or_default()
    }

    /// True when the tag is 2 or 3 upper-case letters or digits, starting with a letter.
    pub fn has_valid_tag(&self) -> bool {
        is_valid_tag(self.tag())
    }

    /// The elements after the tag, as raw bytes (composites keep their separators).
    #[inline]
    pub fn elements(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let tag = self.tag().len();
        Elements {
            // After the tag's separator; `None` when there is none (no elements).
            rest: self.data.get(tag + 1..).filter(|_| tag < self.data.len()),
            separator: self.delimiters.element,
        }
    }

    /// Element at 1-based position `pos`, `None` past the last one.
    pub fn get(&self, pos: usize) -> Option<&'a [u8]> {
        if pos == 0 {
            return None;
        }
        // Segments are short: a plain scan beats SIMD search set-up here.
        let e = self.delimiters.element;
        let mut seen = 0usize;
        let mut start = None;
        for (i, &b) in self.data.iter().enumerate() {
            if b != e {
                continue;
            }
            if let Some(s) = start {
                return self.data.get(s..i);
            }
            seen += 1;
            if seen == pos {
                start = Some(i + 1);
            }
        }
        start.and_then(|s| self.data.get(s..))
    }

    /// Element at `pos` as trimmed UTF-8 text (lossy), empty when missing.
    pub fn text(&self, pos: usize) -> String {
        String::from_utf8_lossy(self.get(pos).unwrap_or_default())
            .trim()
            .to_owned()
    }

    /// Element at `pos` parsed as an unsigned number (surrounding spaces allowed).
    pub fn number(&self, pos: usize) -> Option<u64> {
        let raw = self.get(pos)?;
        let s = std::str::from_utf8(raw).ok()?.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    }

    /// Copies the segment out of the input.
    pub fn to_owned_segment(&self) -> OwnedSegment {
        OwnedSegment {
            data: self.data.to_vec(),
            delimiters: self.delimiters,
            position: self.position,
        }
    }
}

impl SegmentAccess for Segment<'_> {
    fn tag(&self) -> &[u8] {
        Segment::tag(self)
    }

    fn element_count(&self) -> usize {
        let e = self.delimiters.element;
        self.data.iter().filter(|b| **b == e).count()
    }

    fn element(&self, pos: usize) -> Option<&[u8]> {
        self.get(pos)
    }

    fn elements(&self) -> impl Iterator<Item = &[u8]> {
        Segment::elements(self)
    }

    fn component_separator(&self) -> u8 {
        self.delimiters.component
    }

    fn repetition_separator(&self) -> Option<u8> {
        self.delimiters.repetition
    }
}

/// A segment copied out of the input (envelope headers kept across a stream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedSegment {
    data: Vec<u8>,
    delimiters: Delimiters,
    /// Where the segment started in the input.
    pub position: Position,
}

impl OwnedSegment {
    /// A borrowed view of this segment.
    pub fn as_segment(&self) -> Segment<'_> {
        Segment::new(&self.data, self.delimiters, self.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_are_one_based() {
        let s = Segment::new(
            b"N1*SH*ACME**92",
            Delimiters::default(),
            Position::default(),
        );
        assert_eq!(s.tag(), b"N1");
        assert_eq!(s.get(0), None);
        assert_eq!(s.get(1), Some(&b"SH"[..]));
        assert_eq!(s.get(3), Some(&b""[..]));
        assert_eq!(s.get(4), Some(&b"92"[..]));
        assert_eq!(s.get(5), None);
        assert_eq!(SegmentAccess::element_count(&s), 4);
        assert_eq!(
            s.elements().collect::<Vec<_>>(),
            vec![&b"SH"[..], b"ACME", b"", b"92"]
        );
        // The same split as the standard library's, whatever the lengths.
        for data in [
            &b"N1"[..],
            b"N1*",
            b"N1**",
            b"*",
            b"",
            b"N1*SH*ACME CORPORATION INTERNATIONAL*92*1234567890123*",
            b"NTE**Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
            b"N7**000000*********TV****05000*******XXXX",
            b"ABCDEFGHIJKLMNOP*Q",
        ] {
            let s = Segment::new(data, Delimiters::default(), Position::default());
            let expected: Vec<&[u8]> = data.split(|b| *b == b'*').skip(1).collect();
            assert_eq!(s.elements().collect::<Vec<_>>(), expected, "{data:?}");
            assert_eq!(SegmentAccess::element_count(&s), expected.len());
        }
        assert!(s.has_valid_tag());
        assert!(!Segment::new(b"*00*", Delimiters::default(), Position::default()).has_valid_tag());
    }
}
