//! Acknowledgements: TA1, 997 and 999 from the envelope findings and the transaction-set
//! validation results.
//!
//! [`results`] judges every interchange, group and set of a parsed [`Document`];
//! [`render`] turns one interchange's results into the outgoing interchange (a TA1 when
//! ISA14 asks for one or the interchange is rejected, and one 997 or 999 per functional
//! group). Acknowledgements are never acknowledged: groups with GS01 `FA` (997/999) get no
//! 997, and an interchange holding only TA1 segments gets no TA1.

use super::control_numbers::ControlNumberStore;
use super::delimiters::Delimiters;
use super::document::{Document, Group, Interchange, TransactionSet};
use super::envelope::Finding;
use super::error::{ErrorKind, Severity};
use super::segment::Segment;
use super::tree::{Element, InterchangeNode, SegmentNode};
use super::writer::{EnvelopeParams, OutgoingSet, WriteError, build_interchange};

/// A segment in error inside a transaction set (AK3 / IK3), with its element errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentIssue {
    /// Position in the set, ST = 1 (AK302).
    pub position: u32,
    /// The segment tag (AK301).
    pub tag: String,
    /// The innermost loop id (AK303), empty outside loops.
    pub loop_id: String,
    /// AK304 segment syntax error code, if the segment itself is in error.
    pub ak304: Option<String>,
    /// IK304 code for the 999, if different from `ak304`.
    pub ik304: Option<String>,
    /// Errors of its elements (AK4 / IK4).
    pub elements: Vec<ElementIssue>,
}

/// An element in error (AK4 / IK4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementIssue {
    /// Element position, 1-based (AK401-1).
    pub element: u16,
    /// Component position in a composite (AK401-2).
    pub component: Option<u16>,
    /// Repetition (IK401-3).
    pub repetition: Option<u16>,
    /// Data element reference number (AK402).
    pub data_element: Option<u16>,
    /// AK403 code.
    pub ak403: String,
    /// IK403 code for the 999, if different from `ak403`.
    pub ik403: Option<String>,
    /// A copy of the bad value (AK404).
    pub value: Option<String>,
}

/// Validates the content of transaction sets (the transaction-set specs plug in here).
pub trait SetValidator {
    /// Validates `segments` (ST..SE) of a set of `version` (GS08).
    fn validate(&self, version: &str, segments: &[Segment<'_>]) -> Vec<SegmentIssue>;
}

/// A [`SetValidator`] that checks nothing (envelope-only acknowledgement).
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvelopeOnly;

impl SetValidator for EnvelopeOnly {
    fn validate(&self, _version: &str, _segments: &[Segment<'_>]) -> Vec<SegmentIssue> {
        Vec::new()
    }
}

/// Which functional acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckKind {
    /// 997 functional acknowledgement (AK3/AK4/AK5).
    Fa997,
    /// 999 implementation acknowledgement (IK3/IK4/IK5).
    Ia999,
}

/// The verdict on one transaction set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetResult {
    /// ST01.
    pub set_id: String,
    /// ST02.
    pub control: String,
    /// ST03, if sent.
    pub implementation: Option<String>,
    /// AK502.. codes (at most 5 are sent).
    pub errors: Vec<&'static str>,
    /// Segments in error.
    pub segments: Vec<SegmentIssue>,
}

impl SetResult {
    /// AK501/IK501: `A` accepted or `R` rejected.
    pub fn code(&self) -> &'static str {
        if self.errors.is_empty() && self.segments.is_empty() {
            "A"
        } else {
            "R"
        }
    }
}

/// The verdict on one functional group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupResult {
    /// GS01.
    pub functional_id: String,
    /// GS06.
    pub control: String,
    /// GS08.
    pub version: String,
    /// GE01 as declared, if readable.
    pub declared_sets: Option<u64>,
    /// The sets.
    pub sets: Vec<SetResult>,
    /// AK905.. codes.
    pub errors: Vec<&'static str>,
}

impl GroupResult {
    /// Number of accepted sets (AK904).
    pub fn accepted(&self) -> usize {
        self.sets.iter().filter(|s| s.code() == "A").count()
    }

    /// AK901: `A`, `P` (partially accepted) or `R`.
    pub fn code(&self) -> &'static str {
        let accepted = self.accepted();
        if !self.errors.is_empty() || (accepted == 0 && !self.sets.is_empty()) {
            "R"
        } else if accepted < self.sets.len() {
            "P"
        } else {
            "A"
        }
    }

    /// True for a group of acknowledgements, which is never acknowledged.
    pub fn is_acknowledgement(&self) -> bool {
        self.functional_id == "FA"
            || (!self.sets.is_empty()
                && self
                    .sets
                    .iter()
                    .all(|s| matches!(s.set_id.as_str(), "997" | "999")))
    }
}

/// The verdict on one interchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterchangeResult {
    /// ISA05, ISA06, ISA07, ISA08 (trimmed).
    pub sender: (String, String),
    /// The receiver's qualifier and id.
    pub receiver: (String, String),
    /// ISA09, ISA10.
    pub date_time: (String, String),
    /// ISA12.
    pub isa_version: String,
    /// ISA13.
    pub control: String,
    /// ISA14 = 1.
    pub ack_requested: bool,
    /// ISA15 = T.
    pub test: bool,
    /// TA105 note code (`000` when none).
    pub note: &'static str,
    /// The interchange holds only TA1 segments (an acknowledgement itself).
    pub is_acknowledgement: bool,
    /// The groups.
    pub groups: Vec<GroupResult>,
}

impl InterchangeResult {
    /// TA104: `A` or `R`.
    pub fn code(&self) -> &'static str {
        if self.note == "000" { "A" } else { "R" }
    }

    /// Whether a TA1 is due: asked for by ISA14, or the interchange is rejected; never for
    /// an interchange of TA1s.
    pub fn needs_ta1(&self) -> bool {
        !self.is_acknowledgement && (self.ack_requested || self.code() == "R")
    }
}

fn push_unique(v: &mut Vec<&'static str>, code: &'static str) {
    if !v.contains(&code) {
        v.push(code);
    }
}

fn set_result(
    set: &TransactionSet<'_>,
    version: &str,
    findings: &[&Finding],
    validator: &dyn SetValidator,
) -> SetResult {
    let mut errors = Vec::new();
    let mut segments = Vec::new();
    for f in findings
        .iter()
        .filter(|f| f.set == Some(set.id) && f.error.severity() == Severity::Error)
    {
        if let ErrorKind::InvalidSegmentTag { tag } = &f.error.kind {
            segments.push(SegmentIssue {
                position: f.error.position.set_index,
                tag: tag.clone(),
                loop_id: String::new(),
                ak304: Some("1".to_owned()),
                ik304: None,
                elements: Vec::new(),
            });
        }
        if let Some(code) = f.error.kind.ak5_code() {
            push_unique(&mut errors, code);
        }
    }
    segments.extend(validator.validate(version, &set.segments));
    if !segments.is_empty() {
        push_unique(&mut errors, "5");
    }
    let implementation = set
        .segments
        .first()
        .map(|s| s.text(3))
        .filter(|s| !s.is_empty());
    SetResult {
        set_id: set.set_id(),
        control: set.control(),
        implementation,
        errors,
        segments,
    }
}

fn group_result(g: &Group<'_>, findings: &[&Finding], validator: &dyn SetValidator) -> GroupResult {
    let version = g.version();
    let mut errors = Vec::new();
    for f in findings
        .iter()
        .filter(|f| f.group == Some(g.id) && f.set.is_none())
    {
        if let Some(code) = f.error.kind.ak9_code() {
            push_unique(&mut errors, code);
        }
    }
    GroupResult {
        functional_id: g.functional_id(),
        control: g.control(),
        version: version.clone(),
        declared_sets: g.ge.as_ref().and_then(|ge| ge.number(1)),
        sets: g
            .sets
            .iter()
            .map(|t| set_result(t, &version, findings, validator))
            .collect(),
        errors,
    }
}

fn interchange_result(
    ix: &Interchange<'_>,
    findings: &[&Finding],
    validator: &dyn SetValidator,
) -> Option<InterchangeResult> {
    let isa = ix.isa.as_ref()?;
    let note = findings
        .iter()
        .filter(|f| f.interchange == Some(ix.id))
        .find_map(|f| f.error.kind.ta1_note())
        .unwrap_or("000");
    Some(InterchangeResult {
        sender: (isa.text(5), isa.text(6)),
        receiver: (isa.text(7), isa.text(8)),
        date_time: (isa.text(9), isa.text(10)),
        isa_version: isa.text(12),
        control: isa.text(13),
        ack_requested: isa.text(14) == "1",
        test: isa.text(15) == "T",
        note,
        is_acknowledgement: ix.groups.is_empty() && ix.other.iter().any(|s| s.tag() == b"TA1"),
        groups: ix
            .groups
            .iter()
            .filter(|g| g.gs.is_some())
            .map(|g| group_result(g, findings, validator))
            .collect(),
    })
}

/// Judges every interchange of `doc` (interchanges without ISA cannot be acknowledged and
/// are left out).
pub fn results(doc: &Document<'_>, validator: &dyn SetValidator) -> Vec<InterchangeResult> {
    let findings: Vec<&Finding> = doc.findings.iter().collect();
    doc.interchanges
        .iter()
        .filter_map(|ix| interchange_result(ix, &findings, validator))
        .collect()
}

fn el(s: &str) -> Element {
    Element::Simple(s.to_owned())
}

fn seg(tag: &str, elements: Vec<Element>) -> SegmentNode {
    // Trailing empty elements are not sent.
    let mut elements = elements;
    while matches!(elements.last(), Some(Element::Simple(s)) if s.is_empty()) {
        elements.pop();
    }
    SegmentNode {
        tag: tag.to_owned(),
        elements,
    }
}

fn clean(value: &str, d: Delimiters) -> String {
    value
        .bytes()
        .filter(|b| !d.is_delimiter(*b) && b.is_ascii() && !b.is_ascii_control())
        .map(char::from)
        .take(99)
        .collect()
}

/// The body (between ST and SE) of the 997 or 999 for `group`.
pub fn functional_ack_body(group: &GroupResult, kind: AckKind, d: Delimiters) -> Vec<SegmentNode> {
    let mut body = Vec::new();
    let c = |v: &str| el(&clean(v, d));
    let mut ak1 = vec![c(&group.functional_id), c(&group.control)];
    if kind == AckKind::Ia999 {
        ak1.push(c(&group.version));
    }
    body.push(seg("AK1", ak1));
    let (t3, t4, t5) = match kind {
        AckKind::Fa997 => ("AK3", "AK4", "AK5"),
        AckKind::Ia999 => ("IK3", "IK4", "IK5"),
    };
    for set in &group.sets {
        let mut ak2 = vec![c(&set.set_id), c(&set.control)];
        if kind == AckKind::Ia999
            && let Some(imp) = &set.implementation
        {
            ak2.push(c(imp));
        }
        body.push(seg("AK2", ak2));
        for s in &set.segments {
            let code = match kind {
                AckKind::Fa997 => s.ak304.as_deref(),
                AckKind::Ia999 => s.ik304.as_deref().or(s.ak304.as_deref()),
            };
            let code = code.unwrap_or(if s.elements.is_empty() { "" } else { "8" });
            body.push(seg(
                t3,
                vec![
                    el(&clean(&s.tag, d)),
                    el(&s.position.to_string()),
                    el(&clean(&s.loop_id, d)),
                    el(code),
                ],
            ));
            for e in &s.elements {
                let mut pos = vec![e.element.to_string()];
                if let Some(c) = e.component {
                    pos.push(c.to_string());
                }
                if kind == AckKind::Ia999
                    && let Some(r) = e.repetition
                {
                    if e.component.is_none() {
                        pos.push(String::new());
                    }
                    pos.push(r.to_string());
                }
                let position = if pos.len() == 1 {
                    Element::Simple(pos.concat())
                } else {
                    Element::Composite(pos)
                };
                let code = match kind {
                    AckKind::Fa997 => e.ak403.as_str(),
                    AckKind::Ia999 => e.ik403.as_deref().unwrap_or(&e.ak403),
                };
                body.push(seg(
                    t4,
                    vec![
                        position,
                        el(&e.data_element.map(|n| n.to_string()).unwrap_or_default()),
                        el(code),
                        el(&e.value.as_deref().map(|v| clean(v, d)).unwrap_or_default()),
                    ],
                ));
            }
        }
        let mut ak5 = vec![el(set.code())];
        ak5.extend(set.errors.iter().take(5).map(|c| el(c)));
        body.push(seg(t5, ak5));
    }
    let received = group.sets.len();
    let included = group
        .declared_sets
        .map_or(received.to_string(), |n| n.to_string());
    let mut ak9 = vec![
        el(group.code()),
        el(&included),
        el(&received.to_string()),
        el(&group.accepted().to_string()),
    ];
    ak9.extend(group.errors.iter().take(5).map(|c| el(c)));
    body.push(seg("AK9", ak9));
    body
}

/// The TA1 segment for an interchange (values cleaned of the delimiters `d`).
pub fn ta1(result: &InterchangeResult, d: Delimiters) -> SegmentNode {
    let c = |v: &str| el(&clean(v, d));
    seg(
        "TA1",
        vec![
            c(&result.control),
            c(&result.date_time.0),
            c(&result.date_time.1),
            el(result.code()),
            el(result.note),
        ],
    )
}

/// Builds the outgoing acknowledgement interchange for one received interchange, or `None`
/// when nothing is due. Control numbers come from `store` under the partner key
/// `ISA05:ISA06` of the received interchange.
pub fn render(
    result: &InterchangeResult,
    kind: AckKind,
    delimiters: Delimiters,
    store: &mut dyn ControlNumberStore,
    timestamp: (String, String),
) -> Result<Option<InterchangeNode>, WriteError> {
    let (set_id, implementation) = match kind {
        AckKind::Fa997 => ("997", None),
        AckKind::Ia999 => ("999", Some("005010X231A1".to_owned())),
    };
    let sets: Vec<OutgoingSet> = if result.code() == "R" {
        Vec::new()
    } else {
        result
            .groups
            .iter()
            .filter(|g| !g.is_acknowledgement())
            .map(|g| OutgoingSet {
                set_id: set_id.to_owned(),
                implementation: implementation.clone(),
                body: functional_ack_body(g, kind, delimiters),
            })
            .collect()
    };
    let needs_ta1 = result.needs_ta1();
    if sets.is_empty() && !needs_ta1 {
        return Ok(None);
    }
    let version = match kind {
        AckKind::Fa997 => result.groups.first().map_or("004010".to_owned(), |g| {
            let v: String = g.version.chars().take(6).collect();
            if v.len() == 6 { v } else { "004010".to_owned() }
        }),
        AckKind::Ia999 => "005010X231A1".to_owned(),
    };
    // Values copied from the input must not contain the delimiters of the output, and
    // must fit the fixed-width ISA.
    let fit =
        |v: &str, width: usize| -> String { clean(v, delimiters).chars().take(width).collect() };
    let params = EnvelopeParams {
        sender_qualifier: fit(&result.receiver.0, 2),
        sender_id: fit(&result.receiver.1, 15),
        receiver_qualifier: fit(&result.sender.0, 2),
        receiver_id: fit(&result.sender.1, 15),
        application_sender: fit(&result.receiver.1, 15),
        application_receiver: fit(&result.sender.1, 15),
        functional_id: "FA".to_owned(),
        version: fit(&version, 12),
        isa_version: if result.isa_version.len() == 5
            && result.isa_version.bytes().all(|b| b.is_ascii_digit())
        {
            result.isa_version.clone()
        } else {
            "00401".to_owned()
        },
        ack_requested: false,
        test: result.test,
        timestamp,
    };
    let d = if params.isa_version.as_str() >= "00402" {
        delimiters
    } else {
        Delimiters {
            repetition: None,
            ..delimiters
        }
    };
    let partner = format!("{}:{}", result.sender.0, result.sender.1);
    let mut ix = build_interchange(&params, d, &sets, store, &partner)?;
    if needs_ta1 {
        ix.segments.push(ta1(result, d));
    }
    if sets.is_empty() {
        ix.groups.clear();
        ix.iea = Some(SegmentNode::simple(
            "IEA",
            &[
                "0",
                ix.isa.as_ref().and_then(|i| i.text(13)).unwrap_or_default(),
            ],
        ));
    }
    Ok(Some(ix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x12::control_numbers::MemoryControlNumbers;
    use crate::x12::document::parse;
    use crate::x12::tree::Encoding;
    use crate::x12::writer::{WriteOptions, write_interchange};

    const ISA: &str = "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240131*1100*U*00401*000011111*1*P*>~";

    fn ack(data: &str, kind: AckKind, validator: &dyn SetValidator) -> String {
        let doc = parse(data.as_bytes());
        let results = results(&doc, validator);
        let mut store = MemoryControlNumbers::default();
        let mut out = Vec::new();
        for r in &results {
            if let Some(ix) = render(
                r,
                kind,
                Delimiters::default(),
                &mut store,
                ("20260101".into(), "1200".into()),
            )
            .unwrap()
            {
                write_interchange(
                    &mut out,
                    &ix,
                    Encoding::Utf8,
                    &WriteOptions {
                        delimiters: None,
                        newline: true,
                    },
                )
                .unwrap();
            }
        }
        String::from_utf8(out).unwrap()
    }

    fn body(out: &str) -> Vec<&str> {
        out.lines()
            .filter(|l| {
                !l.starts_with("ISA")
                    && !l.starts_with("GS")
                    && !l.starts_with("GE")
                    && !l.starts_with("IEA")
                    && !l.starts_with("ST")
                    && !l.starts_with("SE")
            })
            .collect()
    }

    #[test]
    fn accepted_group_with_ta1_requested() {
        let out = ack(
            &format!(
                "{ISA}GS*SM*A*B*20240131*1100*7*X*004010~ST*204*0001~B2**X~SE*3*0001~GE*1*7~IEA*1*000011111~"
            ),
            AckKind::Fa997,
            &EnvelopeOnly,
        );
        assert_eq!(
            body(&out),
            vec![
                "TA1*000011111*240131*1100*A*000~",
                "AK1*SM*7~",
                "AK2*204*0001~",
                "AK5*A~",
                "AK9*A*1*1*1~"
            ]
        );
        assert!(
            out.contains("ISA*00*          *00*          *ZZ*RECEIVER       *ZZ*SENDER         *")
        );
        // The acknowledgement itself is envelope-valid.
        assert_eq!(parse(out.as_bytes()).findings, vec![]);
    }

    #[test]
    fn envelope_errors_map_to_ak5_and_ak9_codes() {
        let out = ack(
            &format!(
                "{ISA}GS*SM*A*B*20240131*1100*7*X*004010~ST*204*0001~B2**X~SE*9*0002~ST*204*0003~SE*2*0003~GE*3*7~IEA*1*000011111~"
            ),
            AckKind::Fa997,
            &EnvelopeOnly,
        );
        assert_eq!(
            body(&out),
            vec![
                "TA1*000011111*240131*1100*A*000~",
                "AK1*SM*7~",
                "AK2*204*0001~",
                "AK5*R*3*4~",
                "AK2*204*0003~",
                "AK5*A~",
                "AK9*R*3*2*1*5~"
            ]
        );
    }

    struct OneError;

    impl SetValidator for OneError {
        fn validate(&self, _version: &str, _segments: &[Segment<'_>]) -> Vec<SegmentIssue> {
            vec![SegmentIssue {
                position: 2,
                tag: "B2".into(),
                loop_id: String::new(),
                ak304: None,
                ik304: None,
                elements: vec![ElementIssue {
                    element: 2,
                    component: None,
                    repetition: None,
                    data_element: Some(140),
                    ak403: "1".into(),
                    ik403: None,
                    value: None,
                }],
            }]
        }
    }

    #[test]
    fn spec_errors_become_ak3_ak4_and_ik3_ik4() {
        let data = format!(
            "{ISA}GS*SM*A*B*20240131*1100*7*X*004010~ST*204*0001~B2**X~SE*3*0001~GE*1*7~IEA*1*000011111~"
        );
        let out = ack(&data, AckKind::Fa997, &OneError);
        assert_eq!(
            body(&out)[3..],
            ["AK3*B2*2**8~", "AK4*2*140*1~", "AK5*R*5~", "AK9*R*1*1*0~"]
        );
        let out = ack(&data, AckKind::Ia999, &OneError);
        assert!(out.contains("ST*999*0001*005010X231A1~"), "{out}");
        assert_eq!(
            body(&out)[1..],
            [
                "AK1*SM*7*004010~",
                "AK2*204*0001~",
                "IK3*B2*2**8~",
                "IK4*2*140*1~",
                "IK5*R*5~",
                "AK9*R*1*1*0~"
            ]
        );
    }

    #[test]
    fn interchange_rejection_gets_a_ta1_only_and_acks_are_not_acked() {
        let out = ack(
            &format!("{ISA}GS*SM*A*B*20240131*1100*7*X*004010~GE*0*7~IEA*1*000011112~"),
            AckKind::Fa997,
            &EnvelopeOnly,
        );
        assert_eq!(body(&out), vec!["TA1*000011111*240131*1100*R*001~"]);
        let isa0 = ISA.replace("*1*P*", "*0*P*");
        let out = ack(
            &format!(
                "{isa0}GS*FA*A*B*20240131*1100*7*X*004010~ST*997*0001~AK1*SM*1~AK9*A*1*1*1~SE*4*0001~GE*1*7~IEA*1*000011111~"
            ),
            AckKind::Fa997,
            &EnvelopeOnly,
        );
        assert_eq!(out, "");
        let out = ack(
            &format!("{ISA}TA1*000000001*240131*1100*A*000~IEA*0*000011111~"),
            AckKind::Fa997,
            &EnvelopeOnly,
        );
        assert_eq!(out, "");
    }

    #[test]
    fn values_with_output_delimiters_are_cleaned() {
        // Found by fuzzing: ISA09 holding the output's segment terminator.
        let data = "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *2401~31*1100*U*00000*000011111*0*P*`~\nIEA*1*000011111~\n";
        let out = ack(data, AckKind::Fa997, &EnvelopeOnly);
        assert!(out.contains("TA1*000011111*240131*1100*R*021~"), "{out}");
        assert!(parse(out.as_bytes()).is_envelope_valid(), "{out}");
    }
}
