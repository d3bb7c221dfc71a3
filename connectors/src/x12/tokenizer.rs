//! The tokenizer: bytes to segments.
//!
//! [`Scanner`] is the incremental core shared by the in-memory [`Tokenizer`] and the
//! streaming reader: it finds one segment at a time in a buffer, asks for more data when a
//! segment is cut at the buffer's end, and keeps the delimiters, line and segment counters.
//! It tolerates a UTF-8 BOM, CR/LF and blanks between segments, several interchanges with
//! their own delimiters, bare `ST..SE` data without ISA, and trailing data after the last IEA
//! (reported as a warning).

use super::delimiters::{self, DelimiterError, Delimiters};
use super::error::{ErrorKind, X12Error};
use super::segment::{Position, Segment};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// How far ahead bare (ISA-less) data is looked at to find its terminator.
const BARE_LOOKAHEAD: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing read yet.
    Start,
    /// Inside an interchange or bare data: delimiters known.
    Segments,
    /// Just after an IEA: only another ISA may follow.
    AfterIea,
    /// Ignoring trailing data that started at (offset, line).
    Junk(u64, u64),
    /// Nothing more can be read.
    Done,
}

/// One result of [`Scanner::step`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// A segment at `buf[start..end]` (terminator excluded).
    Segment {
        start: usize,
        end: usize,
        delimiters: Delimiters,
        position: Position,
    },
    /// A finding (error or warning); scanning goes on. Boxed: findings are rare and a
    /// small step is cheap to move.
    Issue(Box<X12Error>),
    /// The buffer ends inside a segment: append data and call again.
    NeedMore,
    /// The input is exhausted.
    End,
}

/// The incremental tokenizer state.
#[derive(Debug, Clone)]
pub(crate) struct Scanner {
    delimiters: Option<Delimiters>,
    line: u64,
    next_index: u64,
    phase: Phase,
    pending: Option<Box<X12Error>>,
    seen_any: bool,
}

impl Default for Scanner {
    fn default() -> Self {
        Self {
            delimiters: None,
            line: 1,
            next_index: 1,
            phase: Phase::Start,
            pending: None,
            seen_any: false,
        }
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    if memchr::memchr(b'\n', bytes).is_none() {
        return 0;
    }
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

const ONES: u64 = 0x0101_0101_0101_0101;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// The high bit of every byte of `x` that is zero, exactly (no carry between bytes).
#[inline]
fn zero_bytes(x: u64) -> u64 {
    !(((x & LOW7) + LOW7) | x | LOW7)
}

/// The offset of the first `terminator` in `rest` and the number of line feeds up to and
/// including it, in one pass.
fn find_terminator(rest: &[u8], terminator: u8) -> (Option<usize>, u64) {
    if terminator == b'\n' {
        return match memchr::memchr(terminator, rest) {
            Some(i) => (Some(i), 1),
            None => (None, 0),
        };
    }
    // Most segments are short: eight bytes at a time (terminator and line feeds found
    // with word arithmetic) beats SIMD set-up for the first bytes.
    const SHORT: usize = 64;
    let term = ONES * u64::from(terminator);
    let lf = ONES * u64::from(b'\n');
    let mut newlines = 0u64;
    let head = rest.get(..SHORT).unwrap_or(rest);
    let mut words = head.chunks_exact(8);
    let mut at = 0usize;
    for word in &mut words {
        let Ok(word) = <[u8; 8]>::try_from(word) else {
            break;
        };
        let x = u64::from_le_bytes(word);
        let t = zero_bytes(x ^ term);
        let n = zero_bytes(x ^ lf);
        if t != 0 {
            let i = t.trailing_zeros() / 8;
            if n != 0 {
                let before = (1u64 << (i * 8)) - 1;
                newlines += u64::from((n & before).count_ones());
            }
            return (Some(at + i as usize), newlines);
        }
        if n != 0 {
            newlines += u64::from(n.count_ones());
        }
        at += 8;
    }
    for &b in words.remainder() {
        if b == terminator {
            return (Some(at), newlines);
        }
        newlines += u64::from(b == b'\n');
        at += 1;
    }
    let tail = rest.get(head.len()..).unwrap_or_default();
    for i in memchr::memchr2_iter(terminator, b'\n', tail) {
        if tail.get(i) == Some(&terminator) {
            return (Some(head.len() + i), newlines);
        }
        newlines += 1;
    }
    (None, newlines)
}

impl Scanner {
    /// Finds the next segment in `buf[*pos..]`; `base` is the input offset of `buf[0]`,
    /// `eof` says that no data follows `buf`.
    pub(crate) fn step(&mut self, buf: &[u8], pos: &mut usize, base: u64, eof: bool) -> Step {
        if let Some(issue) = self.pending.take() {
            return Step::Issue(issue);
        }
        // The steady state, decided first: inside an interchange, a segment that is
        // neither ISA nor IEA (both start with `I`) and ends within `buf`. Anything else
        // takes the general way below, from the same state.
        if self.phase == Phase::Segments
            && let Some(d) = self.delimiters
        {
            let rest = buf.get(*pos..).unwrap_or_default();
            let mut skip = 0usize;
            let mut lines = 0u64;
            for &b in rest {
                match b {
                    b'\n' => lines += 1,
                    b'\r' | b' ' | b'\t' => {}
                    _ => break,
                }
                skip += 1;
            }
            let body = rest.get(skip..).unwrap_or_default();
            if body.first().is_some_and(|&b| b != b'I')
                && let (Some(len), newlines) = find_terminator(body, d.segment)
            {
                self.line += lines;
                *pos += skip;
                let (start, offset) = (*pos, base + *pos as u64);
                return self.emit(start, len, len + 1, Some(newlines), body, d, offset, pos);
            }
        }
        loop {
            match self.phase {
                Phase::Done => return Step::End,
                Phase::Junk(offset, line) => {
                    *pos = buf.len();
                    if !eof {
                        return Step::NeedMore;
                    }
                    self.phase = Phase::Done;
                    let bytes = (base + buf.len() as u64).saturating_sub(offset);
                    let position = Position {
                        offset,
                        line,
                        segment_index: 0,
                        set_index: 0,
                    };
                    return Step::Issue(Box::new(X12Error::new(
                        ErrorKind::TrailingData { bytes },
                        position,
                    )));
                }
                _ => {}
            }
            // A BOM at the very start of the input.
            if base + *pos as u64 == 0 && self.phase == Phase::Start {
                let head = buf.get(..buf.len().min(3)).unwrap_or_default();
                if head.len() < 3 && BOM.starts_with(head) && !head.is_empty() && !eof {
                    return Step::NeedMore;
                }
                if head == BOM {
                    *pos += 3;
                }
            }
            // Blanks and line breaks between segments.
            let rest = buf.get(*pos..).unwrap_or_default();
            let mut skip = 0usize;
            for &b in rest {
                match b {
                    b'\n' => self.line += 1,
                    b'\r' | b' ' | b'\t' => {}
                    _ => break,
                }
                skip += 1;
            }
            *pos += skip;
            let rest = buf.get(*pos..).unwrap_or_default();
            let offset = base + *pos as u64;
            if rest.is_empty() {
                if !eof {
                    return Step::NeedMore;
                }
                self.phase = Phase::Done;
                if !self.seen_any {
                    return Step::Issue(Box::new(X12Error::new(
                        ErrorKind::EmptyInput,
                        self.position(offset, 0),
                    )));
                }
                return Step::End;
            }
            let is_isa =
                rest.starts_with(b"ISA") && rest.get(3).is_some_and(|b| !b.is_ascii_alphanumeric());
            if rest.len() < 4
                && !eof
                && b"ISA".starts_with(rest.get(..rest.len().min(3)).unwrap_or_default())
            {
                return Step::NeedMore;
            }
            if is_isa {
                return self.isa(rest, pos, offset, eof);
            }
            match self.phase {
                Phase::AfterIea => {
                    self.phase = Phase::Junk(offset, self.line);
                    continue;
                }
                Phase::Start => match delimiters::detect_bare(rest) {
                    Some(d) => {
                        self.delimiters = Some(d);
                        self.phase = Phase::Segments;
                    }
                    None if !eof && rest.len() < BARE_LOOKAHEAD => return Step::NeedMore,
                    None => {
                        self.phase = Phase::Done;
                        self.seen_any = true;
                        return Step::Issue(Box::new(X12Error::new(
                            ErrorKind::MissingIsa,
                            self.position(offset, 0),
                        )));
                    }
                },
                _ => {}
            }
            let Some(d) = self.delimiters else {
                self.phase = Phase::Done;
                return Step::End;
            };
            let (found, newlines) = find_terminator(rest, d.segment);
            let (len, consumed, newlines) = match found {
                Some(i) => (i, i + 1, newlines),
                None if !eof => return Step::NeedMore,
                None => {
                    self.pending = Some(Box::new(X12Error::new(
                        ErrorKind::MissingTerminator,
                        self.position(offset, self.next_index),
                    )));
                    (rest.len(), rest.len(), newlines)
                }
            };
            let content = rest.get(..len).unwrap_or_default();
            if content.starts_with(b"IEA") && content.get(3) == Some(&d.element) {
                self.phase = Phase::AfterIea;
            }
            let start = *pos;
            return self.emit(start, len, consumed, Some(newlines), rest, d, offset, pos);
        }
    }

    fn position(&self, offset: u64, segment_index: u64) -> Position {
        Position {
            offset,
            line: self.line,
            segment_index,
            set_index: 0,
        }
    }

    #[allow(clippy::too_many_arguments, reason = "internal helper on the hot path")]
    fn emit(
        &mut self,
        start: usize,
        len: usize,
        consumed: usize,
        newlines: Option<u64>,
        rest: &[u8],
        d: Delimiters,
        offset: u64,
        pos: &mut usize,
    ) -> Step {
        let position = self.position(offset, self.next_index);
        self.next_index += 1;
        self.seen_any = true;
        self.line +=
            newlines.unwrap_or_else(|| count_newlines(rest.get(..consumed).unwrap_or_default()));
        *pos = start + consumed;
        Step::Segment {
            start,
            end: start + len,
            delimiters: d,
            position,
        }
    }

    fn isa(&mut self, rest: &[u8], pos: &mut usize, offset: u64, eof: bool) -> Step {
        match delimiters::detect(rest) {
            Ok(layout) => {
                self.delimiters = Some(layout.delimiters);
                self.phase = Phase::Segments;
                if !layout.fixed_width {
                    self.pending = Some(Box::new(X12Error::new(
                        ErrorKind::IsaNotFixedWidth {
                            len: layout.len + 1,
                        },
                        self.position(offset, self.next_index),
                    )));
                }
                let consumed = (layout.len + 1).min(rest.len());
                let start = *pos;
                self.emit(
                    start,
                    layout.len,
                    consumed,
                    None,
                    rest,
                    layout.delimiters,
                    offset,
                    pos,
                )
            }
            Err(DelimiterError::Truncated) if !eof => Step::NeedMore,
            Err(reason) => {
                self.phase = Phase::Done;
                self.seen_any = true;
                let position = self.position(offset, self.next_index);
                Step::Issue(Box::new(X12Error::new(
                    ErrorKind::InvalidIsa { reason },
                    position,
                )))
            }
        }
    }
}

/// One item of the tokenizer: a segment or a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token<'a> {
    /// A segment.
    Segment(Segment<'a>),
    /// An error or warning found while tokenizing; tokenizing goes on after it.
    Issue(X12Error),
}

/// Tokenizes a whole input held in memory; segments borrow it.
#[derive(Debug, Clone)]
pub struct Tokenizer<'a> {
    data: &'a [u8],
    pos: usize,
    scanner: Scanner,
}

impl<'a> Tokenizer<'a> {
    /// A tokenizer over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            pos: 0,
            scanner: Scanner::default(),
        }
    }

    /// The next segment, or finding (boxed: smaller to move than a [`Token`]).
    #[inline]
    pub(crate) fn next_item(&mut self) -> Option<Result<Segment<'a>, Box<X12Error>>> {
        match self.scanner.step(self.data, &mut self.pos, 0, true) {
            Step::Segment {
                start,
                end,
                delimiters,
                position,
            } => Some(Ok(Segment::new(
                self.data.get(start..end).unwrap_or_default(),
                delimiters,
                position,
            ))),
            Step::Issue(e) => Some(Err(e)),
            Step::NeedMore | Step::End => None,
        }
    }
}

impl<'a> Iterator for Tokenizer<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        self.next_item().map(|item| match item {
            Ok(s) => Token::Segment(s),
            Err(e) => Token::Issue(*e),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(data: &[u8]) -> Vec<(String, u64, u64)> {
        Tokenizer::new(data)
            .filter_map(|t| match t {
                Token::Segment(s) => Some((
                    String::from_utf8_lossy(s.tag()).into_owned(),
                    s.position.line,
                    s.position.offset,
                )),
                Token::Issue(_) => None,
            })
            .collect()
    }

    const DOC: &[u8] = b"\xEF\xBB\xBFISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240131*1100*U*00401*000011111*0*P*>~\r\nGS*SM*A*B*20240131*1100*1*X*004010~\r\nST*204*0001~\r\nSE*2*0001~\r\nGE*1*1~\r\nIEA*1*000011111~\r\n";

    #[test]
    fn bom_crlf_lines_offsets() {
        let t = tags(DOC);
        assert_eq!(t.len(), 6);
        assert_eq!(t[0], ("ISA".to_owned(), 1, 3));
        assert_eq!(t[1], ("GS".to_owned(), 2, 3 + 106 + 2));
        assert_eq!(t[5].0, "IEA");
        assert_eq!(t[5].1, 6);
    }

    #[test]
    fn trailing_junk_is_a_warning() {
        let mut data = DOC.to_vec();
        data.extend_from_slice(b"Q2*junk~");
        let issues: Vec<_> = Tokenizer::new(&data)
            .filter_map(|t| match t {
                Token::Issue(e) => Some(e),
                Token::Segment(_) => None,
            })
            .collect();
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].kind, ErrorKind::TrailingData { bytes: 8 });
        assert_eq!(issues[0].position.line, 7);
    }

    #[test]
    fn two_interchanges_with_different_delimiters() {
        let mut data = DOC.to_vec();
        let second = String::from_utf8_lossy(&DOC[3..])
            .replace('*', "|")
            .replace('~', "'");
        data.extend_from_slice(second.as_bytes());
        let segs: Vec<_> = Tokenizer::new(&data)
            .filter_map(|t| match t {
                Token::Segment(s) => Some(s),
                Token::Issue(_) => None,
            })
            .collect();
        assert_eq!(segs.len(), 12);
        assert_eq!(segs[7].tag(), b"GS");
        assert_eq!(segs[7].delimiters().element, b'|');
        assert_eq!(segs[7].get(1), Some(&b"SM"[..]));
        assert_eq!(segs[11].position.segment_index, 12);
    }

    #[test]
    fn empty_input() {
        let t: Vec<_> = Tokenizer::new(b"").collect();
        assert!(matches!(&t[..], [Token::Issue(e)] if e.kind == ErrorKind::EmptyInput));
    }
}
