//! What the validator reports, and the errors of loading a spec.

use std::fmt;

/// Where, inside a segment, an element-level error is.
///
/// Positions are 1-based, as in AK4/IK4: `element` is the position after the segment tag
/// (AK401-1 / IK401-1), `component` the position inside a composite (AK401-2),
/// `repetition` the repetition of a repeating element (IK401-3), and `data_element` the
/// data element reference number from the dictionary (AK402 / IK402).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ElementPosition {
    /// 1-based element position in the segment.
    pub element: u16,
    /// 1-based component position inside a composite, if the error is in a component.
    pub component: Option<u16>,
    /// 1-based repetition, if the element repeats (only from 005010 / ISA11 repetition
    /// separator on) and the error is in one repetition.
    pub repetition: Option<u16>,
    /// The data element reference number (e.g. 98 for N101), for AK402 / IK402.
    pub data_element: Option<u16>,
}

/// One finding of [`crate::x12::spec::TransactionSpec::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// Index of the segment in the slice passed to `validate` (0 = ST). For a missing
    /// segment, the index of the segment at which the absence was noticed (the position an
    /// AK302 reports).
    pub segment_index: usize,
    /// The tag of the segment in error; for a missing segment, the missing segment's tag.
    pub segment_tag: String,
    /// Loop ids from the outermost to the innermost open loop, joined with `/`
    /// (e.g. `"0300/0310"`); empty outside loops.
    pub loop_path: String,
    /// Set for element-level errors.
    pub element: Option<ElementPosition>,
    /// What is wrong.
    pub code: SpecErrorCode,
    /// A human-readable explanation.
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "segment {} ({})", self.segment_index, self.segment_tag)?;
        if !self.loop_path.is_empty() {
            write!(f, " in loop {}", self.loop_path)?;
        }
        if let Some(pos) = &self.element {
            write!(f, ", element {:02}", pos.element)?;
            if let Some(c) = pos.component {
                write!(f, "-{c}")?;
            }
            if let Some(r) = pos.repetition {
                write!(f, " repetition {r}")?;
            }
        }
        write!(f, ": {} ({:?})", self.message, self.code)
    }
}

/// The kinds of finding, aligned with the 997 AK304 / AK403 and 999 IK304 / IK403 codes.
///
/// Segment-level variants map to data element 720 (AK304) and 620 (IK304); element-level
/// variants map to data element 723 (AK403) and 621 (IK403).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SpecErrorCode {
    /// AK304/IK304 `1`: the tag is not a syntactically valid segment id.
    UnrecognizedSegmentId,
    /// AK304/IK304 `2`: the segment belongs to the set but cannot occur here (e.g. a loop
    /// member without its loop's first segment).
    UnexpectedSegment,
    /// AK304/IK304 `3`: a mandatory segment (or the first segment of a mandatory loop) is
    /// missing.
    MandatorySegmentMissing,
    /// AK304/IK304 `4`: a loop repeats more often than its maximum.
    LoopOccursOverMaximumTimes,
    /// AK304/IK304 `5`: a segment occurs more often than its maximum use.
    SegmentExceedsMaximumUse,
    /// AK304/IK304 `6`: the segment id is not used in this transaction set.
    SegmentNotInDefinedTransactionSet,
    /// AK304/IK304 `7`: the segment belongs to the set but comes after a position it must
    /// precede.
    SegmentNotInProperSequence,
    /// AK304/IK304 `8`: the segment has data element errors. The validator reports the
    /// element errors themselves; an acknowledgment writer emits this code on the AK3/IK3
    /// that precedes their AK4/IK4s.
    SegmentHasDataElementErrors,
    /// AK403/IK403 `1`.
    MandatoryDataElementMissing,
    /// AK403/IK403 `2`: a syntax rule (P, R, C, L) requires the element.
    ConditionalRequiredDataElementMissing,
    /// AK403/IK403 `3`.
    TooManyDataElements,
    /// AK403/IK403 `4`.
    DataElementTooShort,
    /// AK403/IK403 `5`.
    DataElementTooLong,
    /// AK403/IK403 `6`: e.g. a letter in a numeric element, or a delimiter inside a simple
    /// element.
    InvalidCharacterInDataElement,
    /// AK403/IK403 `7`.
    InvalidCodeValue,
    /// AK403/IK403 `8`.
    InvalidDate,
    /// AK403/IK403 `9`.
    InvalidTime,
    /// AK403/IK403 `10`: a syntax rule (E) allows only one of the elements.
    ExclusionConditionViolated,
    /// AK403/IK403 `12` (not in the 004010 code list of element 723).
    TooManyRepetitions,
    /// AK403/IK403 `13` (not in the 004010 code list of element 723).
    TooManyComponents,
}

impl SpecErrorCode {
    /// Whether this is a segment-level finding (AK3/IK3) rather than an element-level one
    /// (AK4/IK4).
    pub fn is_segment_level(&self) -> bool {
        matches!(
            self,
            Self::UnrecognizedSegmentId
                | Self::UnexpectedSegment
                | Self::MandatorySegmentMissing
                | Self::LoopOccursOverMaximumTimes
                | Self::SegmentExceedsMaximumUse
                | Self::SegmentNotInDefinedTransactionSet
                | Self::SegmentNotInProperSequence
                | Self::SegmentHasDataElementErrors
        )
    }

    /// The 997 AK304 code (data element 720), for segment-level variants.
    pub fn ak304(&self) -> Option<&'static str> {
        Some(match self {
            Self::UnrecognizedSegmentId => "1",
            Self::UnexpectedSegment => "2",
            Self::MandatorySegmentMissing => "3",
            Self::LoopOccursOverMaximumTimes => "4",
            Self::SegmentExceedsMaximumUse => "5",
            Self::SegmentNotInDefinedTransactionSet => "6",
            Self::SegmentNotInProperSequence => "7",
            Self::SegmentHasDataElementErrors => "8",
            _ => return None,
        })
    }

    /// The 999 IK304 code (data element 620). The standard codes 1-8 are the same as
    /// AK304; the implementation codes I4/I6/I7/I8/I9 concern implementation guides, which
    /// these specs do not model, so no variant maps to them.
    pub fn ik304(&self) -> Option<&'static str> {
        self.ak304()
    }

    /// The AK403 / IK403 code (data element 723 / 621), for element-level variants.
    ///
    /// Codes `12` and `13` exist from 004020-ish on (they are in the 005010 list of element
    /// 723, not in the 004010 one); use [`Self::ak403_for_version`] when writing a 004010
    /// 997.
    pub fn ak403(&self) -> Option<&'static str> {
        Some(match self {
            Self::MandatoryDataElementMissing => "1",
            Self::ConditionalRequiredDataElementMissing => "2",
            Self::TooManyDataElements => "3",
            Self::DataElementTooShort => "4",
            Self::DataElementTooLong => "5",
            Self::InvalidCharacterInDataElement => "6",
            Self::InvalidCodeValue => "7",
            Self::InvalidDate => "8",
            Self::InvalidTime => "9",
            Self::ExclusionConditionViolated => "10",
            Self::TooManyRepetitions => "12",
            Self::TooManyComponents => "13",
            _ => return None,
        })
    }

    /// [`Self::ak403`] restricted to the code list of element 723 in `version` (a GS08
    /// value): for 004010 and earlier, `12` and `13` do not exist and `None` is returned.
    pub fn ak403_for_version(&self, version: &str) -> Option<&'static str> {
        let code = self.ak403()?;
        let release = version.get(..6).unwrap_or(version);
        if matches!(code, "12" | "13") && release <= "004010" {
            return None;
        }
        Some(code)
    }

    /// The 999 IK403 code (data element 621). The standard codes are those of AK403 in
    /// 005010; the implementation codes I6/I9/I10/I11/I12/I13 concern implementation
    /// guides, which these specs do not model.
    pub fn ik403(&self) -> Option<&'static str> {
        self.ak403()
    }
}

/// Why a spec file could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecLoadError {
    /// The file is not valid JSON of the spec format.
    #[error("spec {name}: {source}")]
    Json {
        /// File name of the spec.
        name: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The file parses but is not a consistent spec.
    #[error("spec {name}: {problem}")]
    Invalid {
        /// File name of the spec.
        name: String,
        /// What is wrong.
        problem: String,
    },
}
