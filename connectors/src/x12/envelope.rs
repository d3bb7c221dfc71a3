//! Envelope validation: ISA/IEA, GS/GE and ST/SE pairing, counts, control numbers and
//! duplicate control numbers (within the file and against the partner's history).
//!
//! [`EnvelopeValidator`] is a state machine fed one segment at a time, so it serves both the
//! in-memory parser and the streaming reader. For every segment it returns a [`Placement`]:
//! which interchange, group and transaction set the segment belongs to (by ordinal ids that
//! are unique in the file) and its [`Role`]; findings are attributed to the same ids.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::error::{ErrorKind, X12Error};
use super::segment::{Position, Segment, is_valid_tag};

/// Remembers the interchange control numbers received from each sender, to refuse a
/// resent interchange.
pub trait InterchangeHistory {
    /// Records `control` (ISA13) from `sender` (ISA05:ISA06) and says whether it had been
    /// received before.
    fn check_and_record(&mut self, sender: &str, control: &str) -> bool;
}

/// An [`InterchangeHistory`] in memory.
#[derive(Debug, Default, Clone)]
pub struct MemoryHistory {
    seen: HashMap<String, HashSet<String>>,
}

impl InterchangeHistory for MemoryHistory {
    fn check_and_record(&mut self, sender: &str, control: &str) -> bool {
        !self
            .seen
            .entry(sender.to_owned())
            .or_default()
            .insert(control.to_owned())
    }
}

/// What a segment is in the envelope structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// ISA.
    InterchangeHeader,
    /// IEA closing an open interchange.
    InterchangeTrailer,
    /// GS.
    GroupHeader,
    /// GE closing an open group.
    GroupTrailer,
    /// ST.
    SetHeader,
    /// A segment inside ST..SE.
    SetBody,
    /// SE closing an open transaction set.
    SetTrailer,
    /// Any other segment outside a transaction set (ISB, TA1, stray segments, or an
    /// envelope trailer without its header).
    Other,
}

/// Where a segment belongs: ordinal ids (0-based, unique in the file) of its interchange,
/// group and transaction set, and its role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Placement {
    /// The interchange (an implicit one holds segments outside any ISA).
    pub interchange: u32,
    /// The group, if in one (an implicit one holds an ST outside any GS).
    pub group: Option<u32>,
    /// The transaction set, if in one.
    pub set: Option<u32>,
    /// The segment's role.
    pub role: Role,
}

/// One finding, attributed to the envelope it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The error, with its position.
    #[serde(flatten)]
    pub error: X12Error,
    /// The interchange id, if any.
    pub interchange: Option<u32>,
    /// The group id, if any.
    pub group: Option<u32>,
    /// The transaction set id, if any.
    pub set: Option<u32>,
}

#[derive(Debug)]
struct OpenInterchange {
    id: u32,
    /// False for the implicit interchange around data without ISA.
    explicit: bool,
    control: String,
    groups: u64,
    group_controls: HashSet<Box<[u8]>>,
    at: Position,
}

#[derive(Debug)]
struct OpenGroup {
    id: u32,
    explicit: bool,
    control: String,
    sets: u64,
    set_controls: HashSet<Box<[u8]>>,
    at: Position,
}

#[derive(Debug)]
struct OpenSet {
    id: u32,
    control: String,
    segments: u64,
    at: Position,
}

/// The envelope state machine. Feed it every segment with [`EnvelopeValidator::push`] and
/// the tokenizer's findings with [`EnvelopeValidator::report`], then call
/// [`EnvelopeValidator::finish`].
#[derive(Default)]
pub struct EnvelopeValidator<'h> {
    history: Option<&'h mut dyn InterchangeHistory>,
    interchange: Option<OpenInterchange>,
    group: Option<OpenGroup>,
    set: Option<OpenSet>,
    next_interchange: u32,
    next_group: u32,
    next_set: u32,
    interchange_controls: HashSet<Box<[u8]>>,
    stray_run: bool,
    seen_segment: bool,
    findings: Vec<Finding>,
    max_findings: usize,
    dropped: u64,
}

impl std::fmt::Debug for EnvelopeValidator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvelopeValidator")
            .field("findings", &self.findings.len())
            .field("dropped", &self.dropped)
            .finish_non_exhaustive()
    }
}

fn trimmed(raw: Option<&[u8]>) -> String {
    String::from_utf8_lossy(raw.unwrap_or_default())
        .trim()
        .to_owned()
}

fn is_digits(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

impl<'h> EnvelopeValidator<'h> {
    /// A validator without history; keeps at most 10 000 findings (more are counted only).
    pub fn new() -> Self {
        Self {
            max_findings: 10_000,
            ..Self::default()
        }
    }

    /// A validator that also checks ISA13 against (and records it in) `history`.
    pub fn with_history(history: &'h mut dyn InterchangeHistory) -> Self {
        Self {
            history: Some(history),
            ..Self::new()
        }
    }

    /// The findings so far.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// Takes the findings so far out of the validator.
    pub fn take_findings(&mut self) -> Vec<Finding> {
        std::mem::take(&mut self.findings)
    }

    /// How many findings were dropped beyond the limit.
    pub fn dropped_findings(&self) -> u64 {
        self.dropped
    }

    /// Records a finding of the tokenizer, attributed to what is open now.
    pub fn report(&mut self, error: X12Error) {
        self.add(error.kind, error.position);
    }

    fn add(&mut self, kind: ErrorKind, position: Position) {
        if self.findings.len() >= self.max_findings.max(1) {
            self.dropped += 1;
            return;
        }
        tracing::debug!(
            code = kind.code(),
            line = position.line,
            offset = position.offset,
            "x12 finding: {kind}"
        );
        let finding = Finding {
            error: X12Error::new(kind, position),
            interchange: self.interchange.as_ref().map(|i| i.id),
            group: self.group.as_ref().map(|g| g.id),
            set: self.set.as_ref().map(|s| s.id),
        };
        self.findings.push(finding);
    }

    fn close_set_missing(&mut self) {
        if let Some(set) = &self.set {
            let (control, at) = (set.control.clone(), set.at);
            self.add(ErrorKind::MissingSe { control }, at);
            self.set = None;
        }
    }

    fn close_group_missing(&mut self) {
        self.close_set_missing();
        if let Some(group) = &self.group {
            if group.explicit {
                let (control, at) = (group.control.clone(), group.at);
                self.add(ErrorKind::MissingGe { control }, at);
            }
            self.group = None;
        }
    }

    fn close_interchange_missing(&mut self) {
        self.close_group_missing();
        if let Some(ix) = &self.interchange {
            if ix.explicit {
                let (control, at) = (ix.control.clone(), ix.at);
                self.add(ErrorKind::MissingIea { control }, at);
            }
            self.interchange = None;
        }
    }

    fn open_implicit_interchange(&mut self, at: Position) -> u32 {
        if let Some(ix) = &self.interchange {
            return ix.id;
        }
        let id = self.next_interchange;
        self.next_interchange += 1;
        self.interchange = Some(OpenInterchange {
            id,
            explicit: false,
            control: String::new(),
            groups: 0,
            group_controls: HashSet::new(),
            at,
        });
        id
    }

    fn placement(&self, role: Role) -> Placement {
        Placement {
            interchange: self
                .interchange
                .as_ref()
                .map_or(self.next_interchange.saturating_sub(1), |i| i.id),
            group: self.group.as_ref().map(|g| g.id),
            set: self.set.as_ref().map(|s| s.id),
            role,
        }
    }

    /// Feeds one segment; sets its `position.set_index` and says where it belongs.
    pub fn push(&mut self, segment: &mut Segment<'_>) -> Placement {
        let first = !self.seen_segment;
        self.seen_segment = true;
        let at = segment.position;
        // In a set, everything but an envelope header or trailer is body: the fast path.
        let tag = segment.tag();
        if let Some(set) = &mut self.set
            && !matches!(tag, b"ISA" | b"IEA" | b"GS" | b"GE" | b"ST" | b"SE")
        {
            set.segments += 1;
            segment.position.set_index = u32::try_from(set.segments).unwrap_or(u32::MAX);
            if !is_valid_tag(tag) {
                let tag = String::from_utf8_lossy(tag.get(..tag.len().min(16)).unwrap_or_default())
                    .into_owned();
                let pos = segment.position;
                self.add(ErrorKind::InvalidSegmentTag { tag }, pos);
            }
            return self.placement(Role::SetBody);
        }
        match tag {
            b"ISA" => self.isa(segment),
            b"IEA" => self.iea(segment),
            b"GS" => self.gs(segment),
            b"GE" => self.ge(segment),
            b"ST" => self.st(segment),
            b"SE" => self.se(segment),
            _ => {
                if self.interchange.is_none() && first {
                    self.add(ErrorKind::MissingIsa, at);
                    self.stray_run = true;
                }
                self.open_implicit_interchange(at);
                let allowed_in_interchange =
                    self.group.is_none() && matches!(tag, b"ISB" | b"ISE" | b"TA1" | b"TA3");
                if !allowed_in_interchange && !self.stray_run {
                    let tag =
                        String::from_utf8_lossy(tag.get(..tag.len().min(16)).unwrap_or_default())
                            .into_owned();
                    if segment.has_valid_tag() {
                        self.add(ErrorKind::SegmentOutsideSet { tag }, at);
                    } else {
                        self.add(ErrorKind::InvalidSegmentTag { tag }, at);
                    }
                }
                self.stray_run = !allowed_in_interchange;
                self.placement(Role::Other)
            }
        }
    }

    fn isa(&mut self, s: &Segment<'_>) -> Placement {
        self.stray_run = false;
        self.close_interchange_missing();
        let at = s.position;
        let id = self.next_interchange;
        self.next_interchange += 1;
        let control = trimmed(s.get(13));
        self.interchange = Some(OpenInterchange {
            id,
            explicit: true,
            control: control.clone(),
            groups: 0,
            group_controls: HashSet::new(),
            at,
        });
        if !is_digits(&control, 9, 9) {
            self.add(
                ErrorKind::InvalidInterchangeControlNumber {
                    value: control.clone(),
                },
                at,
            );
        }
        if !self.interchange_controls.insert(control.as_bytes().into()) {
            self.add(
                ErrorKind::DuplicateInterchange {
                    control: control.clone(),
                },
                at,
            );
        } else if let Some(history) = self.history.as_deref_mut() {
            let sender = format!("{}:{}", trimmed(s.get(5)), trimmed(s.get(6)));
            if history.check_and_record(&sender, &control) {
                self.add(
                    ErrorKind::InterchangeAlreadyReceived { control, sender },
                    at,
                );
            }
        }
        self.placement(Role::InterchangeHeader)
    }

    fn iea(&mut self, s: &Segment<'_>) -> Placement {
        self.stray_run = false;
        self.close_group_missing();
        let at = s.position;
        match &self.interchange {
            Some(ix) if ix.explicit => {
                let (header, groups) = (ix.control.clone(), ix.groups);
                let trailer = trimmed(s.get(2));
                if trailer != header {
                    self.add(
                        ErrorKind::InterchangeControlMismatch { header, trailer },
                        at,
                    );
                }
                if s.number(1) != Some(groups) {
                    let declared = trimmed(s.get(1));
                    self.add(
                        ErrorKind::GroupCountMismatch {
                            declared,
                            actual: groups,
                        },
                        at,
                    );
                }
                let p = self.placement(Role::InterchangeTrailer);
                self.interchange = None;
                p
            }
            _ => {
                self.open_implicit_interchange(at);
                self.add(ErrorKind::IeaWithoutIsa, at);
                self.placement(Role::Other)
            }
        }
    }

    fn gs(&mut self, s: &Segment<'_>) -> Placement {
        self.stray_run = false;
        self.close_group_missing();
        let at = s.position;
        if self.interchange.as_ref().is_none_or(|i| !i.explicit) {
            self.open_implicit_interchange(at);
            self.add(ErrorKind::GroupOutsideInterchange, at);
        }
        let id = self.next_group;
        self.next_group += 1;
        let control = trimmed(s.get(6));
        let mut duplicate = false;
        if let Some(ix) = &mut self.interchange {
            ix.groups += 1;
            duplicate = !ix.group_controls.insert(control.as_bytes().into());
        }
        self.group = Some(OpenGroup {
            id,
            explicit: true,
            control: control.clone(),
            sets: 0,
            set_controls: HashSet::new(),
            at,
        });
        if !is_digits(&control, 1, 9) {
            self.add(
                ErrorKind::InvalidGroupControlNumber {
                    value: control.clone(),
                },
                at,
            );
        }
        if duplicate {
            self.add(ErrorKind::DuplicateGroup { control }, at);
        }
        self.placement(Role::GroupHeader)
    }

    fn ge(&mut self, s: &Segment<'_>) -> Placement {
        self.stray_run = false;
        self.close_set_missing();
        let at = s.position;
        match &self.group {
            Some(g) if g.explicit => {
                let (header, sets) = (g.control.clone(), g.sets);
                let trailer = trimmed(s.get(2));
                if trailer != header {
                    self.add(ErrorKind::GroupControlMismatch { header, trailer }, at);
                }
                if s.number(1) != Some(sets) {
                    let declared = trimmed(s.get(1));
                    self.add(
                        ErrorKind::SetCountMismatch {
                            declared,
                            actual: sets,
                        },
                        at,
                    );
                }
                let p = self.placement(Role::GroupTrailer);
                self.group = None;
                p
            }
            _ => {
                self.open_implicit_interchange(at);
                self.add(ErrorKind::GeWithoutGs, at);
                self.placement(Role::Other)
            }
        }
    }

    fn st(&mut self, s: &mut Segment<'_>) -> Placement {
        self.stray_run = false;
        self.close_set_missing();
        let at = s.position;
        if self.group.is_none() {
            let explicit_ix = self.interchange.as_ref().is_some_and(|i| i.explicit);
            self.open_implicit_interchange(at);
            if explicit_ix {
                self.add(ErrorKind::SetOutsideGroup, at);
            }
            let id = self.next_group;
            self.next_group += 1;
            self.group = Some(OpenGroup {
                id,
                explicit: false,
                control: String::new(),
                sets: 0,
                set_controls: HashSet::new(),
                at,
            });
        }
        let id = self.next_set;
        self.next_set += 1;
        let control = trimmed(s.get(2));
        let mut duplicate = false;
        if let Some(g) = &mut self.group {
            g.sets += 1;
            // Bare data has no group to be unique in.
            duplicate = g.explicit && !g.set_controls.insert(control.as_bytes().into());
        }
        s.position.set_index = 1;
        self.set = Some(OpenSet {
            id,
            control: control.clone(),
            segments: 1,
            at: s.position,
        });
        let at = s.position;
        let ident = trimmed(s.get(1));
        if ident.len() != 3 || !ident.bytes().all(|b| b.is_ascii_alphanumeric()) {
            self.add(ErrorKind::InvalidSetIdentifier { value: ident }, at);
        }
        if !(4..=9).contains(&control.len()) {
            self.add(
                ErrorKind::InvalidSetControlNumber {
                    value: control.clone(),
                },
                at,
            );
        }
        if duplicate {
            self.add(ErrorKind::DuplicateSet { control }, at);
        }
        self.placement(Role::SetHeader)
    }

    fn se(&mut self, s: &mut Segment<'_>) -> Placement {
        self.stray_run = false;
        let Some(set) = &mut self.set else {
            let at = s.position;
            self.open_implicit_interchange(at);
            self.add(ErrorKind::SeWithoutSt, at);
            return self.placement(Role::Other);
        };
        set.segments += 1;
        s.position.set_index = u32::try_from(set.segments).unwrap_or(u32::MAX);
        let (header, count) = (set.control.clone(), set.segments);
        let at = s.position;
        let trailer = trimmed(s.get(2));
        if trailer != header {
            self.add(ErrorKind::SetControlMismatch { header, trailer }, at);
        }
        if s.number(1) != Some(count) {
            let declared = trimmed(s.get(1));
            self.add(
                ErrorKind::SegmentCountMismatch {
                    declared,
                    actual: count,
                },
                at,
            );
        }
        let p = self.placement(Role::SetTrailer);
        self.set = None;
        p
    }

    /// Ends the input: whatever is still open lacks its trailer.
    pub fn finish(&mut self) {
        self.close_interchange_missing();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x12::tokenizer::{Token, Tokenizer};

    fn run(data: &[u8], history: Option<&mut dyn InterchangeHistory>) -> Vec<Finding> {
        let mut v = match history {
            Some(h) => EnvelopeValidator::with_history(h),
            None => EnvelopeValidator::new(),
        };
        for t in Tokenizer::new(data) {
            match t {
                Token::Segment(mut s) => {
                    v.push(&mut s);
                }
                Token::Issue(e) => v.report(e),
            }
        }
        v.finish();
        v.take_findings()
    }

    const ISA: &str = "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240131*1100*U*00401*000011111*0*P*>~";

    fn doc(body: &str) -> Vec<u8> {
        format!("{ISA}\n{body}").into_bytes()
    }

    #[test]
    fn valid_interchange_has_no_findings() {
        let d = doc(
            "GS*SM*A*B*20240131*1100*7*X*004010~ST*204*0001~B2**SCAC~SE*3*0001~GE*1*7~IEA*1*000011111~",
        );
        assert_eq!(run(&d, None), vec![]);
    }

    #[test]
    fn counts_and_control_numbers() {
        let d = doc(
            "GS*SM*A*B*20240131*1100*7*X*004010~ST*204*0001~B2**SCAC~SE*4*0002~GE*2*8~IEA*2*000011112~",
        );
        let codes: Vec<_> = run(&d, None)
            .iter()
            .map(|f| {
                f.error
                    .kind
                    .ak5_code()
                    .or(f.error.kind.ak9_code())
                    .or(f.error.kind.ta1_note())
            })
            .collect();
        assert_eq!(
            codes,
            vec![
                Some("3"),
                Some("4"),
                Some("4"),
                Some("5"),
                Some("001"),
                Some("021")
            ]
        );
    }

    #[test]
    fn missing_trailers_and_duplicates() {
        let d = doc("GS*SM*A*B*20240131*1100*7*X*004010~ST*204*0001~ST*204*0001~SE*2*0001~");
        let kinds: Vec<_> = run(&d, None)
            .into_iter()
            .map(|f| (f.error.kind.code(), f.error.position.segment_index))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("X12-E020", 3),
                ("X12-E026", 4),
                ("X12-E013", 2),
                ("X12-E006", 1)
            ]
        );
    }

    #[test]
    fn history_refuses_a_resent_interchange() {
        let d = doc("IEA*0*000011111~");
        let mut h = MemoryHistory::default();
        assert_eq!(run(&d, Some(&mut h)), vec![]);
        let f = run(&d, Some(&mut h));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].error.kind.ta1_note(), Some("025"));
    }
}
