//! The transaction-set specs ([`crate::x12::spec`]) plugged into the acknowledgements:
//! [`SpecValidator`] turns each [`SpecError`] into the AK3/AK4 (IK3/IK4) input of
//! [`crate::x12::ack`].

use std::collections::BTreeMap;

use super::ack::{ElementIssue, SegmentIssue, SetValidator};
use super::segment::Segment;
use super::spec::{self, SpecError};

/// Validates sets against the embedded spec of their version (GS08) and ST01; sets without
/// a spec are not checked.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpecValidator;

/// The spec findings of one set (ST..SE), or `None` when there is no spec for it.
pub fn spec_errors(version: &str, segments: &[Segment<'_>]) -> Option<Vec<SpecError>> {
    let set_id = segments.first()?.text(1);
    let spec = spec::spec_for(version, &set_id)?;
    Some(spec.validate(segments))
}

impl SetValidator for SpecValidator {
    fn validate(&self, version: &str, segments: &[Segment<'_>]) -> Vec<SegmentIssue> {
        let Some(errors) = spec_errors(version, segments) else {
            return Vec::new();
        };
        let mut by_segment: BTreeMap<usize, SegmentIssue> = BTreeMap::new();
        for e in errors {
            let issue = by_segment
                .entry(e.segment_index)
                .or_insert_with(|| SegmentIssue {
                    position: u32::try_from(e.segment_index + 1).unwrap_or(u32::MAX),
                    tag: e.segment_tag.clone(),
                    loop_id: e
                        .loop_path
                        .rsplit('/')
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                    ak304: None,
                    ik304: None,
                    elements: Vec::new(),
                });
            if e.code.is_segment_level() {
                if issue.ak304.is_none() {
                    issue.ak304 = e.code.ak304().map(str::to_owned);
                    issue.ik304 = e.code.ik304().map(str::to_owned);
                }
                continue;
            }
            let Some(pos) = e.element else {
                continue;
            };
            // 004010 has no AK403 12/13: report too many repetitions/components as too
            // many data elements (3).
            let ak403 = e
                .code
                .ak403_for_version(version)
                .or_else(|| e.code.ak403().map(|_| "3"));
            let Some(ak403) = ak403 else {
                continue;
            };
            let value = segments
                .get(e.segment_index)
                .and_then(|s| s.get(usize::from(pos.element)))
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .filter(|v| !v.is_empty());
            issue.elements.push(ElementIssue {
                element: pos.element,
                component: pos.component,
                repetition: pos.repetition,
                data_element: pos.data_element,
                ak403: ak403.to_owned(),
                ik403: e.code.ik403().map(str::to_owned),
                value,
            });
        }
        by_segment.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x12::document::parse;

    #[test]
    fn spec_errors_become_segment_issues() {
        // N1 without its mandatory N101, and an unknown segment, in a 204.
        let data = b"ST*204*0001~B2**SCAC**123**PP~B2A*00~ZZZ*1~SE*4*0001~";
        let doc = parse(data);
        let set = &doc.interchanges[0].groups[0].sets[0];
        let issues = SpecValidator.validate("004010", &set.segments);
        assert!(!issues.is_empty());
        assert!(
            issues
                .iter()
                .any(|i| i.tag == "ZZZ" && i.position == 4 && i.ak304.is_some()),
            "{issues:?}"
        );
        assert!(SpecValidator.validate("009999", &set.segments).is_empty());
    }
}
