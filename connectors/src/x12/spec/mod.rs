//! Transaction-set specs (data in `schemas/x12/`) and validation against them.
//!
//! The specs are JSON files (format: `schemas/x12/README.md`) embedded at build time and
//! parsed once. [`spec_for`] finds the spec of a GS08 version and an ST01 set id;
//! [`TransactionSpec::validate`] checks one transaction set (ST..SE) read through
//! [`SegmentAccess`] and returns every finding as a [`SpecError`] whose code maps to the
//! 997 AK304/AK403 and 999 IK304/IK403 codes.
//!
//! ```
//! use transload_connectors::x12::spec::spec_for;
//! let spec = spec_for("004010VICS", "204").expect("embedded");
//! assert_eq!(spec.name, "Motor Carrier Load Tender");
//! ```

mod error;
mod model;
mod structure;
mod validate;
mod values;

use std::collections::BTreeMap;
use std::sync::LazyLock;

pub use error::{ElementPosition, SpecError, SpecErrorCode, SpecLoadError};
pub use model::{CodeList, ElementDef, Requirement, SegmentDef, StructureNode};
pub use structure::LoopObserver;

use crate::x12::access::SegmentAccess;
use model::{Compiled, RawSpec};

/// One transaction set of one X12 version: its segment dictionary and structure.
#[derive(Debug)]
pub struct TransactionSpec {
    /// X12 version/release, e.g. `"004010"`.
    pub version: String,
    /// Transaction set id (ST01), e.g. `"204"`.
    pub set_id: String,
    /// Functional identifier code (GS01), e.g. `"SM"`.
    pub functional_group: String,
    /// Name, e.g. `"Motor Carrier Load Tender"`.
    pub name: String,
    /// Free-text notes about the spec (sources, deviations from the standard).
    pub notes: Vec<String>,
    /// Segment dictionary: every segment the set uses, by tag.
    pub segments: BTreeMap<String, SegmentDef>,
    /// The structure: segments and loops in order.
    pub structure: Vec<StructureNode>,
    compiled: Compiled,
}

impl TransactionSpec {
    /// Parses and checks a spec in the JSON format of `schemas/x12/README.md`. `name` is
    /// used in error messages only.
    pub fn from_json(name: &str, json: &str) -> Result<Self, SpecLoadError> {
        let raw: RawSpec = serde_json::from_str(json).map_err(|source| SpecLoadError::Json {
            name: name.to_owned(),
            source,
        })?;
        let compiled = Compiled::build(name, &raw)?;
        Ok(Self {
            version: raw.version,
            set_id: raw.set_id,
            functional_group: raw.functional_group,
            name: raw.name,
            notes: raw.notes,
            segments: raw.segments,
            structure: raw.structure,
            compiled,
        })
    }

    /// Validates one transaction set; `segments` is ST..SE inclusive. Returns every
    /// finding, in segment order per kind; an empty vector means the set conforms.
    ///
    /// Walks the loop structure: a segment that starts a loop opens an instance of it; a
    /// segment that matches nothing at the current level closes loops until some level
    /// accepts it, or else is reported (and skipped). Each accepted segment's elements are
    /// checked for count, requirement, type, length, code values, composites, repetitions
    /// and syntax rules. No allocation happens per segment unless there is an error.
    pub fn validate<S: SegmentAccess>(&self, segments: &[S]) -> Vec<SpecError> {
        validate::validate(&self.compiled, segments)
    }

    /// [`validate`](Self::validate), telling `observer` which loop instance each segment
    /// goes into, as the validator's loop matcher decides it (the document tree nests loops
    /// with this). With [`LoopObserver::CHECK_ELEMENTS`] `false`, only structural findings
    /// are returned.
    pub fn validate_observed<S: SegmentAccess, O: LoopObserver>(
        &self,
        segments: &[S],
        observer: &mut O,
    ) -> Vec<SpecError> {
        validate::validate_observed(&self.compiled, segments, observer)
    }
}

macro_rules! embedded {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../../../schemas/x12/", $path)))),*]
    };
}

/// The spec files compiled into the binary, by path under `schemas/x12/`.
static EMBEDDED: &[(&str, &str)] = embedded![
    "004010/204.json",
    "004010/210.json",
    "004010/214.json",
    "004010/990.json",
    "004010/997.json",
    "005010/204.json",
    "005010/210.json",
    "005010/214.json",
    "005010/990.json",
    "005010/997.json",
    "005010/999.json",
];

static SPECS: LazyLock<Result<Vec<TransactionSpec>, SpecLoadError>> = LazyLock::new(|| {
    EMBEDDED
        .iter()
        .map(|(name, json)| TransactionSpec::from_json(name, json))
        .collect()
});

/// All embedded specs, or the first error if one of them does not load (a build defect,
/// caught by the test suite).
pub fn specs() -> Result<&'static [TransactionSpec], &'static SpecLoadError> {
    match &*SPECS {
        Ok(v) => Ok(v),
        Err(e) => Err(e),
    }
}

/// The spec of transaction set `set_id` (ST01) in `version` (GS08: only the first six
/// characters count, so `"004010VICS"` and `"005010X214"` find the 004010 and 005010
/// specs). `None` when there is no such spec, or when the embedded specs fail to load (then
/// the error is logged).
pub fn spec_for(version: &str, set_id: &str) -> Option<&'static TransactionSpec> {
    let release = version.get(..6)?;
    match specs() {
        Ok(all) => all
            .iter()
            .find(|s| s.version == release && s.set_id == set_id),
        Err(e) => {
            tracing::error!(error = %e, "embedded X12 transaction-set specs failed to load");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn used(nodes: &[StructureNode], out: &mut Vec<String>) {
        for n in nodes {
            match n {
                StructureNode::Segment { segment, .. } => out.push(segment.clone()),
                StructureNode::Loop { body, .. } => used(body, out),
            }
        }
    }

    #[test]
    fn every_embedded_spec_loads() {
        for (name, json) in EMBEDDED {
            if let Err(e) = TransactionSpec::from_json(name, json) {
                panic!("{e}");
            }
        }
        let all = specs().map_err(ToString::to_string);
        assert_eq!(all.as_ref().map(|a| a.len()), Ok(EMBEDDED.len()));
    }

    #[test]
    fn embedded_specs_are_consistent_with_their_paths() {
        let Ok(all) = specs() else {
            panic!("specs do not load");
        };
        for ((path, _), spec) in EMBEDDED.iter().zip(all) {
            assert_eq!(*path, format!("{}/{}.json", spec.version, spec.set_id));
            // Every dictionary segment is used somewhere in the structure.
            let mut tags = Vec::new();
            used(&spec.structure, &mut tags);
            for tag in spec.segments.keys() {
                assert!(tags.contains(tag), "{path}: {tag} is never used");
            }
        }
        assert!(spec_for("004010", "999").is_none());
    }

    #[test]
    fn broken_specs_are_rejected() {
        let base = r#"{"version":"004010","set_id":"990","functional_group":"GF","name":"t",
            "segments":{"ST":{"name":"h","elements":[{"ref":"ST01","de":143,"name":"n","req":"M","type":"ID","min":3,"max":3}]},
                        "SE":{"name":"t","elements":[]}},
            "structure":[{"segment":"ST","req":"M","max_use":1},STRUCT{"segment":"SE","req":"M","max_use":1}]}"#;
        let ok = base.replace("STRUCT", "");
        assert!(TransactionSpec::from_json("ok", &ok).is_ok());
        for (what, text) in [
            (
                "unknown segment",
                base.replace("STRUCT", r#"{"segment":"B1","req":"M","max_use":1},"#),
            ),
            (
                "loop without segment",
                base.replace("STRUCT", r#"{"loop":"1","req":"O","repeat":1,"body":[]},"#),
            ),
            ("bad type", ok.replace(r#""type":"ID""#, r#""type":"N12""#)),
            (
                "bad length",
                ok.replace(r#""min":3,"max":3"#, r#""min":3,"max":2"#),
            ),
            ("not json", "{".to_owned()),
            (
                "unknown field",
                ok.replace(r#""name":"t","#, r#""name":"t","extra":1,"#),
            ),
        ] {
            assert!(
                TransactionSpec::from_json(what, &text).is_err(),
                "{what} accepted"
            );
        }
    }

    #[test]
    fn error_codes_map_to_ak3_ak4_ik3_ik4() {
        use SpecErrorCode as C;
        let segment = [
            (C::UnrecognizedSegmentId, "1"),
            (C::UnexpectedSegment, "2"),
            (C::MandatorySegmentMissing, "3"),
            (C::LoopOccursOverMaximumTimes, "4"),
            (C::SegmentExceedsMaximumUse, "5"),
            (C::SegmentNotInDefinedTransactionSet, "6"),
            (C::SegmentNotInProperSequence, "7"),
            (C::SegmentHasDataElementErrors, "8"),
        ];
        for (c, code) in segment {
            assert!(c.is_segment_level());
            assert_eq!(
                (c.ak304(), c.ik304(), c.ak403(), c.ik403()),
                (Some(code), Some(code), None, None)
            );
        }
        let element = [
            (C::MandatoryDataElementMissing, "1"),
            (C::ConditionalRequiredDataElementMissing, "2"),
            (C::TooManyDataElements, "3"),
            (C::DataElementTooShort, "4"),
            (C::DataElementTooLong, "5"),
            (C::InvalidCharacterInDataElement, "6"),
            (C::InvalidCodeValue, "7"),
            (C::InvalidDate, "8"),
            (C::InvalidTime, "9"),
            (C::ExclusionConditionViolated, "10"),
            (C::TooManyRepetitions, "12"),
            (C::TooManyComponents, "13"),
        ];
        for (c, code) in element {
            assert!(!c.is_segment_level());
            assert_eq!(
                (c.ak403(), c.ik403(), c.ak304(), c.ik304()),
                (Some(code), Some(code), None, None)
            );
        }
        assert_eq!(C::TooManyComponents.ak403_for_version("004010"), None);
        assert_eq!(
            C::TooManyComponents.ak403_for_version("005010X231A1"),
            Some("13")
        );
        assert_eq!(C::InvalidTime.ak403_for_version("004010VICS"), Some("9"));
    }
}
