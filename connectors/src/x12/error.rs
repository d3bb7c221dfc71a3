//! Typed errors of the tokenizer and the envelope validator, with their stable codes and
//! the acknowledgement codes they map to (TA105, AK502/IK502, AK905).

use serde::Serialize;

use super::delimiters::DelimiterError;
use super::segment::Position;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Tolerated: the data is processed as if correct (e.g. a non-fixed-width ISA).
    Warning,
    /// The enclosing transaction set, group or interchange is in error.
    Error,
}

/// Which envelope level an error concerns: it decides where it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The file as a whole (nothing to acknowledge it with).
    File,
    /// An interchange (ISA/IEA): acknowledged with a TA1.
    Interchange,
    /// A functional group (GS/GE): AK9 of the 997/999.
    Group,
    /// A transaction set (ST/SE): AK5/IK5 of the 997/999.
    TransactionSet,
}

/// What is wrong. Every variant has a stable [`ErrorKind::code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ErrorKind {
    /// The input holds no segment at all.
    #[error("the input is empty")]
    EmptyInput,
    /// The input neither starts with an ISA nor with recognisable bare segments.
    #[error("the input does not start with an ISA segment")]
    MissingIsa,
    /// The ISA's delimiters cannot be determined or used.
    #[error("unusable ISA: {reason}")]
    InvalidIsa {
        /// Why.
        #[serde(serialize_with = "ser_display")]
        reason: DelimiterError,
    },
    /// The ISA is not 106 bytes long; its delimiters were still detected.
    #[error("the ISA segment is {len} bytes long instead of 106 (tolerated)")]
    IsaNotFixedWidth {
        /// Its length, terminator included.
        len: usize,
    },
    /// ISA13 is not a 9-digit number.
    #[error("invalid interchange control number ISA13 {value:?}")]
    InvalidInterchangeControlNumber {
        /// The value sent.
        value: String,
    },
    /// An interchange ends without IEA (end of file or another ISA).
    #[error("interchange {control} has no IEA trailer")]
    MissingIea {
        /// ISA13.
        control: String,
    },
    /// IEA02 differs from ISA13.
    #[error("IEA02 {trailer:?} does not match ISA13 {header:?}")]
    InterchangeControlMismatch {
        /// ISA13.
        header: String,
        /// IEA02.
        trailer: String,
    },
    /// IEA01 differs from the number of groups.
    #[error("IEA01 says {declared:?} functional groups, the interchange has {actual}")]
    GroupCountMismatch {
        /// IEA01 as sent.
        declared: String,
        /// Groups counted.
        actual: u64,
    },
    /// ISA13 occurs twice in the file.
    #[error("duplicate interchange control number {control} in the file")]
    DuplicateInterchange {
        /// ISA13.
        control: String,
    },
    /// ISA13 was already received from this sender before.
    #[error("interchange control number {control} was already received from {sender}")]
    InterchangeAlreadyReceived {
        /// ISA13.
        control: String,
        /// ISA05:ISA06.
        sender: String,
    },
    /// An IEA without an open interchange.
    #[error("IEA without ISA")]
    IeaWithoutIsa,
    /// A GS outside of any interchange.
    #[error("GS outside of an interchange")]
    GroupOutsideInterchange,
    /// A group ends without GE.
    #[error("functional group {control} has no GE trailer")]
    MissingGe {
        /// GS06.
        control: String,
    },
    /// A GE without an open group.
    #[error("GE without GS")]
    GeWithoutGs,
    /// GE02 differs from GS06.
    #[error("GE02 {trailer:?} does not match GS06 {header:?}")]
    GroupControlMismatch {
        /// GS06.
        header: String,
        /// GE02.
        trailer: String,
    },
    /// GE01 differs from the number of transaction sets.
    #[error("GE01 says {declared:?} transaction sets, the group has {actual}")]
    SetCountMismatch {
        /// GE01 as sent.
        declared: String,
        /// Sets counted.
        actual: u64,
    },
    /// GS06 is not a number of 1 to 9 digits.
    #[error("invalid group control number GS06 {value:?}")]
    InvalidGroupControlNumber {
        /// The value sent.
        value: String,
    },
    /// GS06 occurs twice in the interchange.
    #[error("duplicate group control number {control} in the interchange")]
    DuplicateGroup {
        /// GS06.
        control: String,
    },
    /// An ST inside an interchange but outside a group.
    #[error("ST outside of a functional group")]
    SetOutsideGroup,
    /// A transaction set ends without SE.
    #[error("transaction set {control} has no SE trailer")]
    MissingSe {
        /// ST02.
        control: String,
    },
    /// An SE without an open transaction set.
    #[error("SE without ST")]
    SeWithoutSt,
    /// SE02 differs from ST02.
    #[error("SE02 {trailer:?} does not match ST02 {header:?}")]
    SetControlMismatch {
        /// ST02.
        header: String,
        /// SE02.
        trailer: String,
    },
    /// SE01 differs from the number of segments ST..SE.
    #[error("SE01 says {declared:?} segments, the transaction set has {actual}")]
    SegmentCountMismatch {
        /// SE01 as sent.
        declared: String,
        /// Segments counted, ST and SE included.
        actual: u64,
    },
    /// ST01 is missing or not a 3-digit identifier.
    #[error("missing or invalid transaction set identifier ST01 {value:?}")]
    InvalidSetIdentifier {
        /// The value sent.
        value: String,
    },
    /// ST02 is missing or not 4 to 9 characters.
    #[error("missing or invalid transaction set control number ST02 {value:?}")]
    InvalidSetControlNumber {
        /// The value sent.
        value: String,
    },
    /// ST02 occurs twice in the group.
    #[error("duplicate transaction set control number {control} in the group")]
    DuplicateSet {
        /// ST02.
        control: String,
    },
    /// A segment whose tag is not 2-3 upper-case letters/digits.
    #[error("invalid segment tag {tag:?}")]
    InvalidSegmentTag {
        /// The tag as sent (lossy UTF-8, at most 16 bytes).
        tag: String,
    },
    /// A data segment outside of any transaction set (inside an interchange).
    #[error("segment {tag} outside of a transaction set")]
    SegmentOutsideSet {
        /// Its tag.
        tag: String,
    },
    /// The last segment has no terminator.
    #[error("the last segment has no segment terminator")]
    MissingTerminator,
    /// Data after the last IEA that is not another interchange.
    #[error("{bytes} bytes of trailing data after the last IEA (ignored)")]
    TrailingData {
        /// How many bytes were ignored.
        bytes: u64,
    },
    /// A transaction set larger than the streaming reader's limit.
    #[error("transaction set larger than the limit of {limit} bytes")]
    SetTooLarge {
        /// The limit.
        limit: usize,
    },
}

fn ser_display<S: serde::Serializer, T: std::fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

impl ErrorKind {
    /// The stable code of this kind of error, e.g. `X12-E012`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::EmptyInput => "X12-E001",
            Self::MissingIsa => "X12-E002",
            Self::InvalidIsa { .. } => "X12-E003",
            Self::IsaNotFixedWidth { .. } => "X12-W004",
            Self::InvalidInterchangeControlNumber { .. } => "X12-E005",
            Self::MissingIea { .. } => "X12-E006",
            Self::InterchangeControlMismatch { .. } => "X12-E007",
            Self::GroupCountMismatch { .. } => "X12-E008",
            Self::DuplicateInterchange { .. } => "X12-E009",
            Self::InterchangeAlreadyReceived { .. } => "X12-E010",
            Self::IeaWithoutIsa => "X12-E011",
            Self::GroupOutsideInterchange => "X12-E012",
            Self::MissingGe { .. } => "X12-E013",
            Self::GeWithoutGs => "X12-E014",
            Self::GroupControlMismatch { .. } => "X12-E015",
            Self::SetCountMismatch { .. } => "X12-E016",
            Self::InvalidGroupControlNumber { .. } => "X12-E017",
            Self::DuplicateGroup { .. } => "X12-E018",
            Self::SetOutsideGroup => "X12-E019",
            Self::MissingSe { .. } => "X12-E020",
            Self::SeWithoutSt => "X12-E021",
            Self::SetControlMismatch { .. } => "X12-E022",
            Self::SegmentCountMismatch { .. } => "X12-E023",
            Self::InvalidSetIdentifier { .. } => "X12-E024",
            Self::InvalidSetControlNumber { .. } => "X12-E025",
            Self::DuplicateSet { .. } => "X12-E026",
            Self::InvalidSegmentTag { .. } => "X12-E027",
            Self::SegmentOutsideSet { .. } => "X12-E028",
            Self::MissingTerminator => "X12-W029",
            Self::TrailingData { .. } => "X12-W030",
            Self::SetTooLarge { .. } => "X12-E031",
        }
    }

    /// Whether the data can still be processed as if correct.
    pub fn severity(&self) -> Severity {
        match self {
            Self::IsaNotFixedWidth { .. } | Self::MissingTerminator | Self::TrailingData { .. } => {
                Severity::Warning
            }
            _ => Severity::Error,
        }
    }

    /// The envelope level the error is acknowledged at.
    pub fn scope(&self) -> Scope {
        match self {
            Self::EmptyInput | Self::MissingIsa | Self::TrailingData { .. } => Scope::File,
            Self::InvalidIsa { .. }
            | Self::IsaNotFixedWidth { .. }
            | Self::InvalidInterchangeControlNumber { .. }
            | Self::MissingIea { .. }
            | Self::InterchangeControlMismatch { .. }
            | Self::GroupCountMismatch { .. }
            | Self::DuplicateInterchange { .. }
            | Self::InterchangeAlreadyReceived { .. }
            | Self::IeaWithoutIsa
            | Self::GroupOutsideInterchange
            | Self::GeWithoutGs
            | Self::SetOutsideGroup
            | Self::MissingTerminator => Scope::Interchange,
            Self::MissingGe { .. }
            | Self::GroupControlMismatch { .. }
            | Self::SetCountMismatch { .. }
            | Self::InvalidGroupControlNumber { .. }
            | Self::DuplicateGroup { .. }
            | Self::SeWithoutSt
            | Self::SegmentOutsideSet { .. } => Scope::Group,
            Self::MissingSe { .. }
            | Self::SetControlMismatch { .. }
            | Self::SegmentCountMismatch { .. }
            | Self::InvalidSetIdentifier { .. }
            | Self::InvalidSetControlNumber { .. }
            | Self::DuplicateSet { .. }
            | Self::InvalidSegmentTag { .. }
            | Self::SetTooLarge { .. } => Scope::TransactionSet,
        }
    }

    /// TA105 interchange note code (element I18), for interchange-level errors.
    pub fn ta1_note(&self) -> Option<&'static str> {
        Some(match self {
            Self::InterchangeControlMismatch { .. } => "001",
            Self::InvalidIsa { reason } => match reason {
                DelimiterError::Segment(_) => "004",
                DelimiterError::Element(_) => "026",
                DelimiterError::Component(_) => "027",
                DelimiterError::Truncated => "023",
                DelimiterError::Malformed | DelimiterError::Repetition(_) => "022",
            },
            Self::InvalidInterchangeControlNumber { .. } => "018",
            Self::GroupCountMismatch { .. } => "021",
            Self::IeaWithoutIsa => "022",
            Self::MissingIea { .. } => "023",
            Self::GroupOutsideInterchange | Self::GeWithoutGs | Self::SetOutsideGroup => "024",
            Self::DuplicateInterchange { .. } | Self::InterchangeAlreadyReceived { .. } => "025",
            _ => return None,
        })
    }

    /// AK502 / IK502 transaction set syntax error code (element 718).
    pub fn ak5_code(&self) -> Option<&'static str> {
        Some(match self {
            Self::MissingSe { .. } => "2",
            Self::SetControlMismatch { .. } => "3",
            Self::SegmentCountMismatch { .. } => "4",
            Self::InvalidSegmentTag { .. } => "5",
            Self::InvalidSetIdentifier { .. } => "6",
            Self::InvalidSetControlNumber { .. } => "7",
            Self::SetOutsideGroup => "18",
            Self::DuplicateSet { .. } => "23",
            Self::SetTooLarge { .. } => "10",
            _ => return None,
        })
    }

    /// AK905 functional group syntax error code (element 716).
    pub fn ak9_code(&self) -> Option<&'static str> {
        Some(match self {
            Self::MissingGe { .. } => "3",
            Self::GroupControlMismatch { .. } => "4",
            Self::SetCountMismatch { .. } => "5",
            Self::InvalidGroupControlNumber { .. } => "6",
            Self::DuplicateGroup { .. } => "19",
            _ => return None,
        })
    }
}

/// One finding of the tokenizer or the envelope validator, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{code} {kind} (line {line}, byte {offset}, segment {segment})", code = kind.code(), line = position.line, offset = position.offset, segment = position.segment_index)]
pub struct X12Error {
    /// What is wrong.
    pub kind: ErrorKind,
    /// Where: the segment the error was found at.
    pub position: Position,
}

impl X12Error {
    /// An error of `kind` at `position`.
    pub fn new(kind: ErrorKind, position: Position) -> Self {
        Self { kind, position }
    }

    /// Shorthand for `self.kind.code()`.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// Shorthand for `self.kind.severity()`.
    pub fn severity(&self) -> Severity {
        self.kind.severity()
    }
}
