//! Syntax checks of a received body, by format: JSON, XML (well-formedness, no DTD or
//! entities) and X12 (envelopes). Only syntax: mapping happens later in the pipeline, and a
//! message that fails it is dead-lettered there with the reason.

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use transload_connectors::x12::document::validate_envelopes;
use transload_connectors::x12::error::Severity;

use super::problem::SyntaxIssue;

/// At most this many errors are reported for one body.
const MAX_ISSUES: usize = 20;

/// The format of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// JSON.
    Json,
    /// XML.
    Xml,
    /// ANSI ASC X12.
    X12,
}

impl BodyFormat {
    /// `json`, `xml` or `x12`, as raw messages and bus headers name it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            BodyFormat::Json => "json",
            BodyFormat::Xml => "xml",
            BodyFormat::X12 => "x12",
        }
    }

    /// `JSON`, `XML` or `X12`, for messages.
    #[must_use]
    pub fn display_name(self) -> &'static str {
        match self {
            BodyFormat::Json => "JSON",
            BodyFormat::Xml => "XML",
            BodyFormat::X12 => "X12",
        }
    }
}

/// Checks that `body` is well-formed `format`.
///
/// # Errors
/// The errors found, with their positions (at most 20).
pub fn check(format: BodyFormat, body: &[u8]) -> Result<(), Vec<SyntaxIssue>> {
    match format {
        BodyFormat::Json => check_json(body).map_err(|issue| vec![issue]),
        BodyFormat::Xml => check_xml(body).map_err(|issue| vec![issue]),
        BodyFormat::X12 => check_x12(body),
    }
}

/// Whether `body` starts like an X12 interchange (`ISA`, after a BOM or whitespace).
#[must_use]
pub fn looks_like_x12(body: &[u8]) -> bool {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    body.trim_ascii_start().starts_with(b"ISA")
}

fn issue(message: String) -> SyntaxIssue {
    SyntaxIssue {
        message,
        code: None,
        line: None,
        column: None,
        offset: None,
        segment: None,
    }
}

fn check_json(body: &[u8]) -> Result<(), SyntaxIssue> {
    // IgnoredAny walks the whole document without building it; serde_json limits the
    // nesting depth (128), so a deep body cannot exhaust the stack.
    serde_json::from_slice::<serde::de::IgnoredAny>(body)
        .map(|_| ())
        .map_err(|error| {
            let line = u64::try_from(error.line()).unwrap_or(u64::MAX);
            let column = u64::try_from(error.column()).unwrap_or(u64::MAX);
            let mut found = issue(error.to_string());
            if line > 0 {
                found.line = Some(line);
                found.column = Some(column);
            }
            found
        })
}

/// 1-based line and column of byte `offset` in `body` (columns count characters).
fn line_and_column(body: &[u8], offset: u64) -> (u64, u64) {
    let end = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(body.len());
    let before = body.get(..end).unwrap_or(body);
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |at| at + 1);
    let column = String::from_utf8_lossy(before.get(line_start..).unwrap_or_default())
        .chars()
        .count()
        + 1;
    (
        u64::try_from(line).unwrap_or(u64::MAX),
        u64::try_from(column).unwrap_or(u64::MAX),
    )
}

fn xml_issue(body: &[u8], offset: u64, message: String) -> SyntaxIssue {
    let (line, column) = line_and_column(body, offset);
    SyntaxIssue {
        line: Some(line),
        column: Some(column),
        offset: Some(offset),
        ..issue(message)
    }
}

/// Characters a reference may name without a DTD: the five predefined entities.
const PREDEFINED_ENTITIES: [&str; 5] = ["lt", "gt", "amp", "apos", "quot"];

fn check_xml(body: &[u8]) -> Result<(), SyntaxIssue> {
    let text = std::str::from_utf8(body).map_err(|error| {
        let offset = u64::try_from(error.valid_up_to()).unwrap_or(u64::MAX);
        xml_issue(body, offset, "the body is not UTF-8".to_owned())
    })?;
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.check_comments = true;
    let mut depth: usize = 0;
    let mut roots: usize = 0;
    loop {
        let event_start = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|error| xml_issue(body, reader.error_position(), error.to_string()))?;
        let at = |message: String| xml_issue(body, event_start, message);
        match event {
            Event::Start(element) => {
                if depth == 0 {
                    roots += 1;
                }
                check_attributes(&element).map_err(at)?;
                depth += 1;
            }
            Event::Empty(element) => {
                if depth == 0 {
                    roots += 1;
                }
                check_attributes(&element).map_err(at)?;
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Text(content) => {
                if depth == 0 && !content.bytes().all(|b| b.is_ascii_whitespace()) {
                    return Err(at("text outside the root element".to_owned()));
                }
            }
            Event::CData(_) if depth == 0 => {
                return Err(at("CDATA outside the root element".to_owned()));
            }
            Event::GeneralRef(reference) => {
                if depth == 0 {
                    return Err(at("a reference outside the root element".to_owned()));
                }
                if reference.is_char_ref() {
                    match reference.resolve_char_ref() {
                        Ok(Some(_)) => {}
                        Ok(None) | Err(_) => {
                            return Err(at("an invalid character reference".to_owned()));
                        }
                    }
                } else {
                    let name: &str = &reference;
                    if !PREDEFINED_ENTITIES.contains(&name) {
                        return Err(at(format!(
                            "entity `&{name};` is not allowed (only the predefined XML entities are)"
                        )));
                    }
                }
            }
            Event::DocType(_) => {
                return Err(at(
                    "a DOCTYPE is not allowed (no DTDs, no entities)".to_owned()
                ));
            }
            Event::Eof => break,
            Event::CData(_) | Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
        if roots > 1 {
            return Err(at("a second root element".to_owned()));
        }
    }
    let end = reader.buffer_position();
    if depth > 0 {
        return Err(xml_issue(
            body,
            end,
            format!("the document ends with {depth} element(s) still open"),
        ));
    }
    if roots == 0 {
        return Err(xml_issue(body, end, "no root element".to_owned()));
    }
    Ok(())
}

fn check_attributes(element: &BytesStart<'_>) -> Result<(), String> {
    for attribute in element.attributes().with_checks(true) {
        let attribute = attribute.map_err(|error| error.to_string())?;
        quick_xml::escape::unescape(&attribute.value)
            .map_err(|error| format!("attribute `{}`: {error}", attribute.key.as_ref()))?;
    }
    Ok(())
}

fn check_x12(body: &[u8]) -> Result<(), Vec<SyntaxIssue>> {
    let mut issues: Vec<SyntaxIssue> = validate_envelopes(body)
        .into_iter()
        .filter(|finding| finding.error.severity() == Severity::Error)
        .take(MAX_ISSUES)
        .map(|finding| {
            let position = finding.error.position;
            SyntaxIssue {
                message: finding.error.kind.to_string(),
                code: Some(finding.error.code()),
                line: Some(position.line),
                column: None,
                offset: Some(position.offset),
                segment: (position.segment_index > 0).then_some(position.segment_index),
            }
        })
        .collect();
    if issues.is_empty() && !looks_like_x12(body) {
        issues.push(SyntaxIssue {
            message: "the body does not start with an ISA segment".to_owned(),
            code: Some("X12-E002"),
            line: Some(1),
            column: None,
            offset: Some(0),
            segment: None,
        });
    }
    if issues.is_empty() {
        Ok(())
    } else {
        Err(issues)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_carry_line_and_column() {
        assert!(check(BodyFormat::Json, br#"{"a": [1, 2]}"#).is_ok());
        let errors = check(BodyFormat::Json, b"{\n  \"a\": [1, 2}\n").unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, Some(2));
        assert_eq!(errors[0].column, Some(13), "the `}}` closing a list");
        let deep = "[".repeat(100_000);
        assert!(check(BodyFormat::Json, deep.as_bytes()).is_err());
    }

    #[test]
    fn xml_must_be_well_formed_with_one_root() {
        assert!(
            check(
                BodyFormat::Xml,
                b"<?xml version=\"1.0\"?>\n<a x=\"1\"><b>&amp;&#65;</b><![CDATA[<]]></a>\n"
            )
            .is_ok()
        );
        let cases: [(&[u8], &str, u64); 8] = [
            (b"<a>\n  <b></c>\n</a>", "", 2),
            (b"<a><b></b>", "still open", 1),
            (b"<a/><b/>", "second root", 1),
            (b"text<a/>", "outside the root", 1),
            (b"<a x=\"1\" x=\"2\"/>", "", 1),
            (
                b"<!DOCTYPE a [<!ENTITY e \"x\">]>\n<a>&e;</a>",
                "DOCTYPE",
                1,
            ),
            (b"<a>&e;</a>", "entity `&e;`", 1),
            (b"", "no root", 1),
        ];
        for (body, expected, line) in cases {
            let errors = check(BodyFormat::Xml, body).unwrap_err();
            assert!(
                errors[0].message.contains(expected),
                "{:?}: {errors:?}",
                String::from_utf8_lossy(body)
            );
            assert_eq!(errors[0].line, Some(line), "{errors:?}");
            assert!(errors[0].offset.is_some());
        }
        let errors = check(BodyFormat::Xml, b"<a>\xff</a>").unwrap_err();
        assert_eq!(errors[0].offset, Some(3));
    }

    const X12: &[u8] = b"ISA*00*          *00*          *02*ODFL           *ZZ*ACMEHUB        *260101*1200*U*00401*000000001*0*P*>~GS*QM*ODFL*ACMEHUB*20260101*1200*1*X*004010~ST*214*0001~B10*PRO1*LOAD1*ODFL~SE*3*0001~GE*1*1~IEA*1*000000001~";

    #[test]
    fn x12_envelope_errors_carry_code_segment_and_offset() {
        assert!(check(BodyFormat::X12, X12).is_ok());
        let broken = String::from_utf8_lossy(X12).replace("SE*3*0001", "SE*9*0001");
        let errors = check(BodyFormat::X12, broken.as_bytes()).unwrap_err();
        assert!(errors[0].code.unwrap().starts_with("X12-E"), "{errors:?}");
        assert_eq!(errors[0].segment, Some(5), "{errors:?}");
        assert!(errors[0].offset.unwrap() > 106, "{errors:?}");
        let errors = check(BodyFormat::X12, b"ST*214*0001~SE*1*0001~").unwrap_err();
        assert!(errors.iter().any(|e| e.code.is_some()), "{errors:?}");
        assert!(check(BodyFormat::X12, b"").is_err());
        assert!(looks_like_x12(b"\xEF\xBB\xBF\r\nISA*00"));
        assert!(!looks_like_x12(b"{\"ISA\":1}"));
    }
}
