//! Streaming: read X12 from any [`std::io::Read`] one transaction set at a time, with
//! memory bounded by the largest transaction set plus one read chunk.
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! use transload_connectors::x12::stream::X12Reader;
//! let file = std::fs::File::open("big.edi")?;
//! let mut reader = X12Reader::new(file);
//! while let Some(set) = reader.next_set()? {
//!     println!("{} segments, {} findings", set.segments.len(), set.findings.len());
//! }
//! let rest = reader.take_findings(); // findings after the last set (e.g. a missing IEA)
//! # Ok(()) }
//! ```

use std::io::{self, Read};

use super::delimiters::Delimiters;
use super::envelope::{EnvelopeValidator, Finding, InterchangeHistory, Role};
use super::error::{ErrorKind, X12Error};
use super::segment::{OwnedSegment, Position, Segment};
use super::tokenizer::{Scanner, Step};

/// Bytes read at a time.
const CHUNK: usize = 64 * 1024;

/// Default limit on the size of one transaction set.
pub const DEFAULT_MAX_SET_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, Copy)]
struct Range {
    start: usize,
    end: usize,
    delimiters: Delimiters,
    position: Position,
    role: Role,
}

/// Where the reader's scan stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Advance {
    /// A set is complete (or ended without SE): hand it out.
    Set,
    /// The buffer is exhausted: read more.
    NeedData,
    /// The input is exhausted.
    Done,
}

/// One transaction set read from a stream, with its envelope context.
#[derive(Debug)]
pub struct StreamedSet<'r> {
    /// The ISA of the interchange the set is in (`None` for bare data).
    pub isa: Option<Segment<'r>>,
    /// The GS of the group the set is in (`None` outside a group).
    pub gs: Option<Segment<'r>>,
    /// ST..SE (SE absent when missing), borrowing the reader's buffer.
    pub segments: Vec<Segment<'r>>,
    /// Findings since the previous set: envelope errors before this set and in it.
    pub findings: Vec<Finding>,
}

/// Reads transaction sets one by one from `R`, validating envelopes on the way.
pub struct X12Reader<'h, R> {
    reader: R,
    buf: Vec<u8>,
    base: u64,
    pos: usize,
    eof: bool,
    done: bool,
    scanner: Scanner,
    validator: EnvelopeValidator<'h>,
    isa: Option<OwnedSegment>,
    gs: Option<OwnedSegment>,
    current: Vec<Range>,
    /// A segment seen after the current set ended without SE, handled on the next call.
    carry: Option<Range>,
    /// The current set outgrew the limit: skip its segments up to its SE.
    skipping: bool,
    max_set_bytes: usize,
    /// Read buffer (allocated once), copied into `buf` after each read.
    scratch: Vec<u8>,
}

impl<R> std::fmt::Debug for X12Reader<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("X12Reader")
            .field("offset", &(self.base + self.pos as u64))
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

impl<R> X12Reader<'static, R> {
    /// A reader over `reader`.
    pub fn new(reader: R) -> Self {
        Self::with_validator(reader, EnvelopeValidator::new())
    }
}

impl<'h, R> X12Reader<'h, R> {
    /// A reader that also checks ISA13 against the partner's `history`.
    pub fn with_history(reader: R, history: &'h mut dyn InterchangeHistory) -> Self {
        Self::with_validator(reader, EnvelopeValidator::with_history(history))
    }

    fn with_validator(reader: R, validator: EnvelopeValidator<'h>) -> Self {
        Self {
            reader,
            buf: Vec::with_capacity(CHUNK * 2),
            base: 0,
            pos: 0,
            eof: false,
            done: false,
            scanner: Scanner::default(),
            validator,
            isa: None,
            gs: None,
            current: Vec::new(),
            carry: None,
            skipping: false,
            max_set_bytes: DEFAULT_MAX_SET_BYTES,
            scratch: Vec::new(),
        }
    }

    /// Sets the largest transaction set accepted (bytes); larger ones are reported and skipped.
    #[must_use]
    pub fn max_set_bytes(mut self, limit: usize) -> Self {
        self.max_set_bytes = limit;
        self
    }

    /// Findings not yet handed out with a set (call after [`X12Reader::next_set`] returned
    /// `None` for those at the end of the input).
    pub fn take_findings(&mut self) -> Vec<Finding> {
        self.validator.take_findings()
    }

    /// Drops the set handed out last and handles a segment held over from it.
    fn begin(&mut self) {
        self.current.clear();
        if let Some(r) = self.carry.take() {
            self.apply(r);
        }
    }

    /// Scans what is buffered until a set is complete, more data is needed, or the end.
    fn advance(&mut self) -> Advance {
        loop {
            if self.done {
                return Advance::Done;
            }
            match self
                .scanner
                .step(&self.buf, &mut self.pos, self.base, self.eof)
            {
                Step::Segment {
                    start,
                    end,
                    delimiters,
                    position,
                } => {
                    let mut seg = Segment::new(
                        self.buf.get(start..end).unwrap_or_default(),
                        delimiters,
                        position,
                    );
                    let placement = self.validator.push(&mut seg);
                    let range = Range {
                        start,
                        end,
                        delimiters,
                        position: seg.position,
                        role: placement.role,
                    };
                    let ends_open_set = !self.current.is_empty()
                        && !matches!(placement.role, Role::SetBody | Role::SetTrailer);
                    if ends_open_set {
                        // The open set lacks its SE: hand it out, handle this segment next time.
                        self.carry = Some(range);
                        self.skipping = false;
                        return Advance::Set;
                    }
                    if self.apply(range) {
                        return Advance::Set;
                    }
                    self.check_size(position);
                }
                Step::Issue(e) => self.validator.report(*e),
                Step::NeedMore => return Advance::NeedData,
                Step::End => {
                    self.validator.finish();
                    self.done = true;
                    if !self.current.is_empty() {
                        return Advance::Set;
                    }
                }
            }
        }
    }

    /// Handles one placed segment; true when it completes a set.
    fn apply(&mut self, r: Range) -> bool {
        let owned = || {
            Segment::new(
                self.buf.get(r.start..r.end).unwrap_or_default(),
                r.delimiters,
                r.position,
            )
            .to_owned_segment()
        };
        match r.role {
            Role::InterchangeHeader => {
                self.isa = Some(owned());
                self.gs = None;
            }
            Role::GroupHeader => self.gs = Some(owned()),
            Role::GroupTrailer => self.gs = None,
            Role::SetHeader => {
                self.skipping = false;
                self.current.push(r);
            }
            Role::SetBody => {
                if !self.skipping {
                    self.current.push(r);
                }
            }
            Role::SetTrailer => {
                let was_skipping = std::mem::take(&mut self.skipping);
                if !was_skipping {
                    self.current.push(r);
                    return true;
                }
            }
            Role::InterchangeTrailer | Role::Other => {}
        }
        false
    }

    fn check_size(&mut self, at: Position) {
        let Some(first) = self.current.first() else {
            return;
        };
        if self.pos.saturating_sub(first.start) > self.max_set_bytes {
            self.current.clear();
            self.skipping = true;
            let limit = self.max_set_bytes;
            self.validator
                .report(X12Error::new(ErrorKind::SetTooLarge { limit }, at));
        }
    }

    fn emit(&mut self) -> StreamedSet<'_> {
        let buf = &self.buf;
        let segments = self
            .current
            .iter()
            .map(|r| {
                Segment::new(
                    buf.get(r.start..r.end).unwrap_or_default(),
                    r.delimiters,
                    r.position,
                )
            })
            .collect();
        StreamedSet {
            isa: self.isa.as_ref().map(OwnedSegment::as_segment),
            gs: self.gs.as_ref().map(OwnedSegment::as_segment),
            segments,
            findings: self.validator.take_findings(),
        }
    }

    /// Drops consumed bytes before a read.
    fn compact(&mut self) {
        let keep = self
            .current
            .first()
            .map(|r| r.start)
            .into_iter()
            .chain(self.carry.map(|r| r.start))
            .chain(std::iter::once(self.pos))
            .min()
            .unwrap_or(self.pos);
        if keep > 0 {
            self.buf.drain(..keep);
            self.base += keep as u64;
            self.pos -= keep;
            for r in &mut self.current {
                r.start -= keep;
                r.end -= keep;
            }
        }
        if self.scratch.is_empty() {
            self.scratch = vec![0; CHUNK];
        }
    }

    /// Appends the `n` bytes just read into the scratch buffer (0 = end of input).
    fn take_read(&mut self, n: usize) {
        let n = n.min(self.scratch.len());
        self.buf
            .extend_from_slice(self.scratch.get(..n).unwrap_or_default());
        if n == 0 {
            self.eof = true;
        }
    }
}

impl<R: Read> X12Reader<'_, R> {
    /// The next transaction set, or `None` at the end of the input.
    pub fn next_set(&mut self) -> io::Result<Option<StreamedSet<'_>>> {
        self.begin();
        loop {
            match self.advance() {
                Advance::Set => return Ok(Some(self.emit())),
                Advance::Done => return Ok(None),
                Advance::NeedData => {
                    self.compact();
                    let n = loop {
                        match self.reader.read(&mut self.scratch) {
                            Ok(n) => break n,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => return Err(e),
                        }
                    };
                    self.take_read(n);
                }
            }
        }
    }
}

#[cfg(feature = "async")]
impl<R: tokio::io::AsyncRead + Unpin> X12Reader<'_, R> {
    /// The next transaction set, or `None` at the end of the input, reading from a tokio
    /// [`tokio::io::AsyncRead`].
    pub async fn next_set_async(&mut self) -> io::Result<Option<StreamedSet<'_>>> {
        use tokio::io::AsyncReadExt as _;
        self.begin();
        loop {
            match self.advance() {
                Advance::Set => return Ok(Some(self.emit())),
                Advance::Done => return Ok(None),
                Advance::NeedData => {
                    self.compact();
                    let n = self.reader.read(&mut self.scratch).await?;
                    self.take_read(n);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x12::document;

    /// A reader handing out `n` bytes at a time, to cut segments everywhere.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(out.len()).min(self.0.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    const DOC: &[u8] = b"\xEF\xBB\xBFISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240131*1100*U*00401*000011111*0*P*>~\r\nGS*SM*A*B*20240131*1100*1*X*004010~\r\nST*204*0001~\r\nB2**X~\r\nSE*3*0001~\r\nST*204*0002~\r\nSE*3*0002~\r\nGE*2*1~\r\nIEA*1*000011111~\r\n";

    #[test]
    fn streams_sets_like_the_in_memory_parser() {
        let expected = document::parse(DOC);
        for chunk in [1, 2, 3, 7, 100, 10_000] {
            let mut reader = X12Reader::new(Trickle(DOC, chunk));
            let mut sets = Vec::new();
            let mut findings = Vec::new();
            while let Some(set) = reader.next_set().unwrap() {
                assert_eq!(set.gs.map(|g| g.text(6)), Some("1".to_owned()));
                assert!(set.isa.is_some());
                sets.push(
                    set.segments
                        .iter()
                        .map(|s| (s.raw().to_vec(), s.position))
                        .collect::<Vec<_>>(),
                );
                findings.extend(set.findings);
            }
            findings.extend(reader.take_findings());
            let mem: Vec<Vec<_>> = expected.interchanges[0].groups[0]
                .sets
                .iter()
                .map(|t| {
                    t.segments
                        .iter()
                        .map(|s| (s.raw().to_vec(), s.position))
                        .collect()
                })
                .collect();
            assert_eq!(sets, mem, "chunk {chunk}");
            assert_eq!(findings, expected.findings, "chunk {chunk}");
            assert_eq!(findings.len(), 1); // SE01 of the second set
        }
    }

    #[test]
    fn missing_se_hands_out_the_partial_set() {
        let data = b"ST*204*0001~B2**X~ST*204*0002~SE*2*0002~";
        let mut reader = X12Reader::new(&data[..]);
        let first = reader.next_set().unwrap().unwrap();
        assert_eq!(first.segments.len(), 2);
        assert_eq!(first.findings[0].error.kind.ak5_code(), Some("2"));
        let second = reader.next_set().unwrap().unwrap();
        assert_eq!(second.segments.len(), 2);
        assert!(reader.next_set().unwrap().is_none());
    }

    #[test]
    fn oversized_set_is_skipped_and_reported() {
        let data =
            b"ST*204*0001~B2**XXXXXXXXXXXXXXXXXXXXXXXX~B2**X~SE*4*0001~ST*204*0002~SE*2*0002~";
        let mut reader = X12Reader::new(&data[..]).max_set_bytes(20);
        let only = reader.next_set().unwrap().unwrap();
        assert_eq!(only.segments[0].text(2), "0002");
        assert!(
            only.findings
                .iter()
                .any(|f| f.error.kind == ErrorKind::SetTooLarge { limit: 20 })
        );
        assert!(reader.next_set().unwrap().is_none());
    }

    #[cfg(feature = "async")]
    #[tokio::test]
    async fn async_reader_yields_the_same_sets() {
        let mut sync = X12Reader::new(DOC);
        let mut expected = Vec::new();
        while let Some(set) = sync.next_set().unwrap() {
            expected.push(
                set.segments
                    .iter()
                    .map(|s| s.raw().to_vec())
                    .collect::<Vec<_>>(),
            );
        }
        let (client, mut server) = tokio::io::duplex(5);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt as _;
            server.write_all(DOC).await.unwrap();
        });
        let mut reader = X12Reader::new(client);
        let mut got = Vec::new();
        while let Some(set) = reader.next_set_async().await.unwrap() {
            got.push(
                set.segments
                    .iter()
                    .map(|s| s.raw().to_vec())
                    .collect::<Vec<_>>(),
            );
        }
        writer.await.unwrap();
        assert_eq!(got, expected);
        assert_eq!(got.len(), 2);
    }
}
