//! The writer: document tree to X12 bytes with chosen delimiters, and outgoing envelopes
//! built with control numbers from a [`ControlNumberStore`] and computed counts.

use super::control_numbers::{ControlKind, ControlNumberError, ControlNumberStore};
use super::delimiters::{DelimiterError, Delimiters};
use super::tree::{
    Element, Encoding, GroupNode, InterchangeNode, Repetition, SegmentNode, SetNode, X12Tree,
};

/// Why a tree cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A value contains one of the delimiters.
    #[error("segment {tag}: value {value:?} contains a delimiter")]
    DelimiterInData {
        /// The segment tag.
        tag: String,
        /// The value.
        value: String,
    },
    /// A latin1 tree holds a character above U+00FF.
    #[error("segment {tag}: {value:?} is not latin1")]
    NotLatin1 {
        /// The segment tag.
        tag: String,
        /// The value.
        value: String,
    },
    /// A repeated element without a repetition separator.
    #[error("segment {tag}: a repeated element needs a repetition separator")]
    NoRepetitionSeparator {
        /// The segment tag.
        tag: String,
    },
    /// The ISA does not have its 16 elements.
    #[error("the ISA must have 16 elements, it has {0}")]
    IsaElements(usize),
    /// Unusable delimiters.
    #[error(transparent)]
    Delimiters(#[from] DelimiterError),
    /// No control number could be allocated.
    #[error(transparent)]
    ControlNumber(#[from] ControlNumberError),
}

/// How to write.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOptions {
    /// Delimiters to use instead of each interchange's own.
    pub delimiters: Option<Delimiters>,
    /// Write a line feed after each segment terminator.
    pub newline: bool,
}

struct Out<'a> {
    buf: &'a mut Vec<u8>,
    d: Delimiters,
    encoding: Encoding,
    newline: bool,
}

impl Out<'_> {
    fn value(&mut self, tag: &str, v: &str) -> Result<(), WriteError> {
        let start = self.buf.len();
        match self.encoding {
            Encoding::Utf8 => self.buf.extend_from_slice(v.as_bytes()),
            Encoding::Latin1 => {
                for c in v.chars() {
                    let b = u8::try_from(u32::from(c)).map_err(|_| WriteError::NotLatin1 {
                        tag: tag.to_owned(),
                        value: v.to_owned(),
                    })?;
                    self.buf.push(b);
                }
            }
        }
        let d = self.d;
        if self
            .buf
            .get(start..)
            .unwrap_or_default()
            .iter()
            .any(|b| d.is_delimiter(*b))
        {
            return Err(WriteError::DelimiterInData {
                tag: tag.to_owned(),
                value: v.to_owned(),
            });
        }
        Ok(())
    }

    fn components(&mut self, tag: &str, parts: &[String]) -> Result<(), WriteError> {
        for (i, c) in parts.iter().enumerate() {
            if i > 0 {
                self.buf.push(self.d.component);
            }
            self.value(tag, c)?;
        }
        Ok(())
    }

    fn segment(&mut self, s: &SegmentNode) -> Result<(), WriteError> {
        self.value(&s.tag, &s.tag)?;
        for e in &s.elements {
            self.buf.push(self.d.element);
            match e {
                Element::Simple(v) => self.value(&s.tag, v)?,
                Element::Composite(parts) => self.components(&s.tag, parts)?,
                Element::Repeated { repeat } => {
                    let r = self
                        .d
                        .repetition
                        .ok_or_else(|| WriteError::NoRepetitionSeparator { tag: s.tag.clone() })?;
                    for (i, rep) in repeat.iter().enumerate() {
                        if i > 0 {
                            self.buf.push(r);
                        }
                        match rep {
                            Repetition::Simple(v) => self.value(&s.tag, v)?,
                            Repetition::Composite(parts) => self.components(&s.tag, parts)?,
                        }
                    }
                }
            }
        }
        self.end();
        Ok(())
    }

    fn end(&mut self) {
        self.buf.push(self.d.segment);
        if self.newline && self.d.segment != b'\n' {
            self.buf.push(b'\n');
        }
    }

    /// The ISA: raw elements, with ISA11 and ISA16 set to the delimiters written.
    fn isa(&mut self, s: &SegmentNode) -> Result<(), WriteError> {
        if s.elements.len() != 16 {
            return Err(WriteError::IsaElements(s.elements.len()));
        }
        self.buf.extend_from_slice(b"ISA");
        for (i, e) in s.elements.iter().enumerate() {
            self.buf.push(self.d.element);
            let v = match e {
                Element::Simple(v) => v.as_str(),
                _ => "",
            };
            match (i + 1, self.d.repetition) {
                (11, Some(r)) => self.buf.push(r),
                (16, _) => self.buf.push(self.d.component),
                _ => self.value("ISA", v)?,
            }
        }
        self.end();
        Ok(())
    }
}

fn write_set(out: &mut Out<'_>, set: &SetNode) -> Result<(), WriteError> {
    for s in set.flat_segments() {
        out.segment(s)?;
    }
    Ok(())
}

fn write_group(out: &mut Out<'_>, g: &GroupNode) -> Result<(), WriteError> {
    if let Some(gs) = &g.gs {
        out.segment(gs)?;
    }
    for s in &g.segments {
        out.segment(s)?;
    }
    for t in &g.transaction_sets {
        write_set(out, t)?;
    }
    if let Some(ge) = &g.ge {
        out.segment(ge)?;
    }
    Ok(())
}

/// Writes one interchange.
pub fn write_interchange(
    buf: &mut Vec<u8>,
    ix: &InterchangeNode,
    encoding: Encoding,
    options: &WriteOptions,
) -> Result<(), WriteError> {
    let mut d = options.delimiters.unwrap_or(ix.delimiters);
    if let Some(isa) = &ix.isa {
        // Before 00402, ISA11 is not a repetition separator: keep it as sent.
        if isa.text(12).is_none_or(|v| v < "00402") {
            d.repetition = None;
        }
        d.check()?;
    }
    let mut out = Out {
        buf,
        d,
        encoding,
        newline: options.newline,
    };
    if let Some(isa) = &ix.isa {
        out.isa(isa)?;
    }
    for s in &ix.segments {
        out.segment(s)?;
    }
    for g in &ix.groups {
        write_group(&mut out, g)?;
    }
    if let Some(iea) = &ix.iea {
        out.segment(iea)?;
    }
    Ok(())
}

/// Writes a whole tree as X12.
pub fn write_tree(tree: &X12Tree, options: &WriteOptions) -> Result<Vec<u8>, WriteError> {
    let mut buf = Vec::new();
    for ix in &tree.interchanges {
        write_interchange(&mut buf, ix, tree.encoding, options)?;
    }
    Ok(buf)
}

/// Identification of an outgoing interchange and its group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeParams {
    /// ISA05.
    pub sender_qualifier: String,
    /// ISA06 (padded to 15).
    pub sender_id: String,
    /// ISA07.
    pub receiver_qualifier: String,
    /// ISA08 (padded to 15).
    pub receiver_id: String,
    /// GS02.
    pub application_sender: String,
    /// GS03.
    pub application_receiver: String,
    /// GS01, e.g. `SM` for a 204, `FA` for a 997/999.
    pub functional_id: String,
    /// GS08, e.g. `004010`.
    pub version: String,
    /// ISA12, e.g. `00401`.
    pub isa_version: String,
    /// ISA14: ask for a TA1.
    pub ack_requested: bool,
    /// ISA15 `T` instead of `P`.
    pub test: bool,
    /// Date and time of the envelope as `(YYYYMMDD, HHMM)`.
    pub timestamp: (String, String),
}

/// One outgoing transaction set: its identifier and the segments between ST and SE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingSet {
    /// ST01, e.g. `997`.
    pub set_id: String,
    /// ST03 (implementation convention reference), e.g. `005010X231A1`.
    pub implementation: Option<String>,
    /// The body.
    pub body: Vec<SegmentNode>,
}

fn pad(s: &str, width: usize) -> String {
    format!("{s:<width$}")
}

/// Builds an interchange around `sets`, with ISA13, GS06 and ST02 from `store` for
/// `partner`, and SE01, GE01 and IEA01 computed.
pub fn build_interchange(
    params: &EnvelopeParams,
    delimiters: Delimiters,
    sets: &[OutgoingSet],
    store: &mut dyn ControlNumberStore,
    partner: &str,
) -> Result<InterchangeNode, WriteError> {
    delimiters.check()?;
    let isa13 = ControlKind::Interchange.format(store.next(partner, ControlKind::Interchange)?);
    let gs06 = ControlKind::Group.format(store.next(partner, ControlKind::Group)?);
    let (date, time) = &params.timestamp;
    let mut transaction_sets = Vec::with_capacity(sets.len());
    for set in sets {
        let st02 =
            ControlKind::TransactionSet.format(store.next(partner, ControlKind::TransactionSet)?);
        let mut st = vec![set.set_id.as_str(), st02.as_str()];
        if let Some(imp) = &set.implementation {
            st.push(imp);
        }
        let count = (set.body.len() + 2).to_string();
        let mut segments = Vec::with_capacity(set.body.len() + 2);
        segments.push(super::tree::Node::Segment(SegmentNode::simple("ST", &st)));
        segments.extend(set.body.iter().cloned().map(super::tree::Node::Segment));
        segments.push(super::tree::Node::Segment(SegmentNode::simple(
            "SE",
            &[&count, &st02],
        )));
        transaction_sets.push(SetNode { segments });
    }
    let repetition = delimiters
        .repetition
        .map(|r| char::from(r).to_string())
        .unwrap_or_else(|| "U".to_owned());
    let isa = SegmentNode::simple(
        "ISA",
        &[
            "00",
            &pad("", 10),
            "00",
            &pad("", 10),
            &pad(&params.sender_qualifier, 2),
            &pad(&params.sender_id, 15),
            &pad(&params.receiver_qualifier, 2),
            &pad(&params.receiver_id, 15),
            date.get(2..).unwrap_or_default(),
            time,
            &repetition,
            &params.isa_version,
            &isa13,
            if params.ack_requested { "1" } else { "0" },
            if params.test { "T" } else { "P" },
            &char::from(delimiters.component).to_string(),
        ],
    );
    let gs = SegmentNode::simple(
        "GS",
        &[
            &params.functional_id,
            &params.application_sender,
            &params.application_receiver,
            date,
            time,
            &gs06,
            "X",
            &params.version,
        ],
    );
    let ge = SegmentNode::simple("GE", &[&sets.len().to_string(), &gs06]);
    Ok(InterchangeNode {
        delimiters,
        isa: Some(isa),
        segments: Vec::new(),
        groups: vec![GroupNode {
            gs: Some(gs),
            segments: Vec::new(),
            transaction_sets,
            ge: Some(ge),
        }],
        iea: Some(SegmentNode::simple("IEA", &["1", &isa13])),
    })
}

/// The current UTC date and time as `(YYYYMMDD, HHMM)`.
pub fn utc_now() -> (String, String) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        format!("{year:04}{month:02}{day:02}"),
        format!("{:02}{:02}", rem / 3600, (rem % 3600) / 60),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x12::control_numbers::MemoryControlNumbers;
    use crate::x12::document::parse;
    use crate::x12::tree::to_tree;

    fn params() -> EnvelopeParams {
        EnvelopeParams {
            sender_qualifier: "ZZ".into(),
            sender_id: "HUB".into(),
            receiver_qualifier: "ZZ".into(),
            receiver_id: "CARRIER".into(),
            application_sender: "HUB".into(),
            application_receiver: "CARRIER".into(),
            functional_id: "SM".into(),
            version: "004010".into(),
            isa_version: "00401".into(),
            ack_requested: false,
            test: true,
            timestamp: ("20260102".into(), "0304".into()),
        }
    }

    #[test]
    fn built_envelopes_are_valid_and_numbered_from_the_store() {
        let mut store = MemoryControlNumbers::default();
        let set = OutgoingSet {
            set_id: "204".into(),
            implementation: None,
            body: vec![SegmentNode::simple("B2", &["", "SCAC", "", "123"])],
        };
        let mut out = Vec::new();
        for _ in 0..2 {
            let ix = build_interchange(
                &params(),
                Delimiters::default(),
                &[set.clone(), set.clone()],
                &mut store,
                "CARRIER",
            )
            .unwrap();
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
        let doc = parse(&out);
        assert_eq!(doc.findings, vec![]);
        assert_eq!(doc.interchanges.len(), 2);
        let isa = doc.interchanges[1].isa.unwrap();
        assert_eq!(isa.raw().len(), 105);
        assert_eq!(isa.text(13), "000000002");
        assert_eq!(doc.interchanges[1].groups[0].sets[1].control(), "0004");
    }

    #[test]
    fn rewrites_with_other_delimiters_and_refuses_delimiters_in_data() {
        let data = b"ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240131*1100*^*00501*000011111*0*P*:~GS*SM*A*B*20240131*1100*1*X*005010~ST*204*0001~REF*A:B*X^Y:Z~SE*3*0001~GE*1*1~IEA*1*000011111~";
        let tree = to_tree(&parse(data), data);
        let d = Delimiters {
            element: b'|',
            component: b'>',
            segment: b'\'',
            repetition: Some(b'!'),
        };
        let out = write_tree(
            &tree,
            &WriteOptions {
                delimiters: Some(d),
                newline: false,
            },
        )
        .unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.contains("REF|A>B|X!Y>Z'"), "{text}");
        assert!(text.starts_with("ISA|00|"));
        assert_eq!(
            to_tree(&parse(&out), &out).interchanges[0].groups,
            tree.interchanges[0].groups
        );
        let bad = Delimiters { element: b'A', ..d };
        assert!(
            write_tree(
                &tree,
                &WriteOptions {
                    delimiters: Some(bad),
                    newline: false
                }
            )
            .is_err()
        );
        let mut clash = tree.clone();
        clash.interchanges[0].groups[0].transaction_sets[0].segments[1] =
            crate::x12::tree::Node::Segment(SegmentNode::simple("N1", &["SH", "A*B"]));
        let err = write_tree(&clash, &WriteOptions::default()).unwrap_err();
        assert!(matches!(err, WriteError::DelimiterInData { ref value, .. } if value == "A*B"));
    }

    #[test]
    fn utc_now_is_well_formed() {
        let (d, t) = utc_now();
        assert_eq!((d.len(), t.len()), (8, 4));
        assert!(d.starts_with("20"));
    }
}
