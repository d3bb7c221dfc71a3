//! The parsed structure of an input held in memory: interchanges, groups, transaction sets,
//! each with their segments borrowing the input, and the envelope findings.

use super::delimiters::Delimiters;
use super::envelope::{EnvelopeValidator, Finding, InterchangeHistory, Placement, Role};
use super::error::Severity;
use super::segment::Segment;
use super::tokenizer::Tokenizer;

/// A parsed input.
#[derive(Debug, Clone, Default)]
pub struct Document<'a> {
    /// The interchanges in input order (an implicit one, without ISA, holds bare data).
    pub interchanges: Vec<Interchange<'a>>,
    /// Every envelope finding, errors and warnings, in input order.
    pub findings: Vec<Finding>,
}

/// One interchange (ISA..IEA).
#[derive(Debug, Clone)]
pub struct Interchange<'a> {
    /// Ordinal id in the file, as in [`Finding::interchange`].
    pub id: u32,
    /// Its delimiters.
    pub delimiters: Delimiters,
    /// The ISA, `None` for the implicit interchange around bare data.
    pub isa: Option<Segment<'a>>,
    /// Segments in the interchange outside any group (ISB, ISE, TA1, stray ones).
    pub other: Vec<Segment<'a>>,
    /// The groups.
    pub groups: Vec<Group<'a>>,
    /// The IEA, if present.
    pub iea: Option<Segment<'a>>,
}

/// One functional group (GS..GE).
#[derive(Debug, Clone)]
pub struct Group<'a> {
    /// Ordinal id in the file, as in [`Finding::group`].
    pub id: u32,
    /// The GS, `None` for the implicit group around an ST without GS.
    pub gs: Option<Segment<'a>>,
    /// Segments in the group outside any transaction set.
    pub other: Vec<Segment<'a>>,
    /// The transaction sets.
    pub sets: Vec<TransactionSet<'a>>,
    /// The GE, if present.
    pub ge: Option<Segment<'a>>,
}

/// One transaction set: its segments from ST to SE inclusive.
#[derive(Debug, Clone)]
pub struct TransactionSet<'a> {
    /// Ordinal id in the file, as in [`Finding::set`].
    pub id: u32,
    /// ST..SE (SE absent when missing).
    pub segments: Vec<Segment<'a>>,
}

impl TransactionSet<'_> {
    /// ST01, e.g. `204`.
    pub fn set_id(&self) -> String {
        self.segments.first().map(|s| s.text(1)).unwrap_or_default()
    }

    /// ST02.
    pub fn control(&self) -> String {
        self.segments.first().map(|s| s.text(2)).unwrap_or_default()
    }

    /// Whether the last segment is the SE.
    pub fn has_trailer(&self) -> bool {
        self.segments.last().is_some_and(|s| s.tag() == b"SE")
    }
}

impl Group<'_> {
    /// GS01, the functional identifier code (e.g. `SM`, `FA`).
    pub fn functional_id(&self) -> String {
        self.gs.as_ref().map(|s| s.text(1)).unwrap_or_default()
    }

    /// GS06.
    pub fn control(&self) -> String {
        self.gs.as_ref().map(|s| s.text(6)).unwrap_or_default()
    }

    /// GS08, the version (e.g. `004010`, `005010X214`).
    pub fn version(&self) -> String {
        self.gs.as_ref().map(|s| s.text(8)).unwrap_or_default()
    }
}

impl Document<'_> {
    /// True when no finding is an error (warnings allowed).
    pub fn is_envelope_valid(&self) -> bool {
        self.findings
            .iter()
            .all(|f| f.error.severity() == Severity::Warning)
    }

    /// The errors (not the warnings).
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.error.severity() == Severity::Error)
    }

    /// Every segment in input order.
    pub fn segments(&self) -> Vec<&Segment<'_>> {
        let mut all: Vec<&Segment<'_>> = Vec::new();
        for ix in &self.interchanges {
            all.extend(ix.isa.iter());
            all.extend(ix.other.iter());
            for g in &ix.groups {
                all.extend(g.gs.iter());
                all.extend(g.other.iter());
                for s in &g.sets {
                    all.extend(s.segments.iter());
                }
                all.extend(g.ge.iter());
            }
            all.extend(ix.iea.iter());
        }
        all.sort_by_key(|s| s.position.segment_index);
        all
    }
}

/// Parses `data`, checking the envelopes.
pub fn parse(data: &[u8]) -> Document<'_> {
    build(data, EnvelopeValidator::new())
}

/// Parses `data`, also checking ISA13 against the partner's `history`.
pub fn parse_with_history<'a>(
    data: &'a [u8],
    history: &mut dyn InterchangeHistory,
) -> Document<'a> {
    build(data, EnvelopeValidator::with_history(history))
}

/// Tokenizes and validates the envelopes of `data` without building the structure.
pub fn validate_envelopes(data: &[u8]) -> Vec<Finding> {
    let mut v = EnvelopeValidator::new();
    let mut tokens = Tokenizer::new(data);
    while let Some(item) = tokens.next_item() {
        match item {
            Ok(mut s) => {
                v.push(&mut s);
            }
            Err(e) => v.report(*e),
        }
    }
    v.finish();
    v.take_findings()
}

fn build<'a>(data: &'a [u8], mut v: EnvelopeValidator<'_>) -> Document<'a> {
    let mut doc = Document::default();
    let mut set_capacity = 0usize;
    let mut tokens = Tokenizer::new(data);
    while let Some(item) = tokens.next_item() {
        match item {
            Ok(mut s) => {
                let p = v.push(&mut s);
                place(&mut doc, s, p, &mut set_capacity);
            }
            Err(e) => v.report(*e),
        }
    }
    v.finish();
    doc.findings = v.take_findings();
    doc
}

/// Files `s` where `p` says; `set_capacity` is the segment count of the last set, the
/// first guess for the next one (sets of one file tend to be alike).
fn place<'a>(doc: &mut Document<'a>, s: Segment<'a>, p: Placement, set_capacity: &mut usize) {
    if doc
        .interchanges
        .last()
        .is_none_or(|ix| ix.id != p.interchange)
    {
        doc.interchanges.push(Interchange {
            id: p.interchange,
            delimiters: s.delimiters(),
            isa: None,
            other: Vec::new(),
            groups: Vec::new(),
            iea: None,
        });
    }
    let Some(ix) = doc.interchanges.last_mut() else {
        return;
    };
    let Some(gid) = p.group else {
        match p.role {
            Role::InterchangeHeader => ix.isa = Some(s),
            Role::InterchangeTrailer => ix.iea = Some(s),
            _ => ix.other.push(s),
        }
        return;
    };
    if ix.groups.last().is_none_or(|g| g.id != gid) {
        ix.groups.push(Group {
            id: gid,
            gs: None,
            other: Vec::new(),
            sets: Vec::new(),
            ge: None,
        });
    }
    let Some(group) = ix.groups.last_mut() else {
        return;
    };
    let Some(sid) = p.set else {
        match p.role {
            Role::GroupHeader => group.gs = Some(s),
            Role::GroupTrailer => group.ge = Some(s),
            _ => group.other.push(s),
        }
        return;
    };
    if group.sets.last().is_none_or(|t| t.id != sid) {
        if let Some(previous) = group.sets.last() {
            *set_capacity = previous.segments.len();
        }
        group.sets.push(TransactionSet {
            id: sid,
            segments: Vec::with_capacity(*set_capacity),
        });
    }
    if let Some(set) = group.sets.last_mut() {
        set.segments.push(s);
    }
}
