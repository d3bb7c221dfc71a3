//! Inbound documents as mapping programs see them.
//!
//! - X12: one input per transaction set, `{"envelope": {...}, "set": <SetNode>}` (see
//!   [`InboundInput::X12`]).
//! - JSON: the body.
//! - XML: the element rendering of [`crate::xml`].

use serde_json::{Value, json};
use thiserror::Error;
use transload_connectors::x12::document;
use transload_connectors::x12::tree::{self, SegmentNode};

use crate::definition::Format;
use crate::xml::{XmlError, xml_to_json};

/// Why an inbound document cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InputError {
    /// Not JSON.
    #[error("not JSON: {0}")]
    Json(String),
    /// Refused XML.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// No transaction set could be read.
    #[error("X12: {0}")]
    X12(String),
}

/// One input of an inbound mapping.
#[derive(Debug, Clone, PartialEq)]
pub enum InboundInput {
    /// One X12 transaction set with its envelope.
    X12 {
        /// `{"sender_qualifier", "sender_id", "receiver_qualifier", "receiver_id",
        /// "control_number", "date", "time", "usage", "gs": {"functional_id",
        /// "application_sender", "application_receiver", "control_number", "date",
        /// "time", "version"}, "st": {"set_id", "control_number"}}` (ISA values trimmed).
        envelope: Value,
        /// The transaction set as its JSON tree (ST..SE, loops nested where the spec
        /// gives them).
        set: Value,
    },
    /// A JSON document.
    Json(Value),
    /// An XML document as its JSON rendering.
    Xml(Value),
}

impl InboundInput {
    /// The value the program reads as `.`.
    #[must_use]
    pub fn program_input(&self) -> Value {
        match self {
            InboundInput::X12 { envelope, set } => json!({"envelope": envelope, "set": set}),
            InboundInput::Json(value) | InboundInput::Xml(value) => value.clone(),
        }
    }

    /// The format of the input.
    #[must_use]
    pub fn format(&self) -> Format {
        match self {
            InboundInput::X12 { .. } => Format::X12,
            InboundInput::Json(_) => Format::Json,
            InboundInput::Xml(_) => Format::Xml,
        }
    }

    /// For X12, the version (GS08, e.g. `004010`) and the set id (ST01).
    #[must_use]
    pub fn x12_key(&self) -> Option<(&str, &str)> {
        match self {
            InboundInput::X12 { envelope, .. } => Some((
                envelope
                    .pointer("/gs/version")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                envelope
                    .pointer("/st/set_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            )),
            _ => None,
        }
    }
}

/// Reads `bytes` as `format`: one input per X12 transaction set, one for JSON and XML.
///
/// # Errors
/// When the document cannot be read, or an X12 input has no transaction set.
pub fn read_inbound(format: Format, bytes: &[u8]) -> Result<Vec<InboundInput>, InputError> {
    match format {
        Format::Json => serde_json::from_slice(bytes)
            .map(|value| vec![InboundInput::Json(value)])
            .map_err(|error| InputError::Json(error.to_string())),
        Format::Xml => Ok(vec![InboundInput::Xml(xml_to_json(bytes)?)]),
        Format::X12 => read_x12(bytes),
    }
}

fn text(segment: Option<&SegmentNode>, position: usize) -> Value {
    segment
        .and_then(|segment| segment.text(position))
        .map_or(Value::Null, |value| Value::String(value.trim().to_owned()))
}

/// Reads every transaction set of an X12 document, with its envelope.
///
/// # Errors
/// When the document holds no transaction set.
pub fn read_x12(bytes: &[u8]) -> Result<Vec<InboundInput>, InputError> {
    read_x12_parsed(&document::parse(bytes), bytes)
}

/// [`read_x12`] on a document already parsed from `bytes` (a caller that validated it
/// first need not parse it again).
///
/// # Errors
/// When the document holds no transaction set.
pub fn read_x12_parsed(
    parsed: &document::Document<'_>,
    bytes: &[u8],
) -> Result<Vec<InboundInput>, InputError> {
    let whole = tree::to_tree(parsed, bytes);
    let mut inputs = Vec::new();
    for interchange in &whole.interchanges {
        let isa = interchange.isa.as_ref();
        for group in &interchange.groups {
            let gs = group.gs.as_ref();
            for set in &group.transaction_sets {
                let st = set.flat_segments().into_iter().find(|s| s.tag == "ST");
                let Some(st) = st else { continue };
                let envelope = json!({
                    "sender_qualifier": text(isa, 5),
                    "sender_id": text(isa, 6),
                    "receiver_qualifier": text(isa, 7),
                    "receiver_id": text(isa, 8),
                    "date": text(isa, 9),
                    "time": text(isa, 10),
                    "control_number": text(isa, 13),
                    "usage": text(isa, 15),
                    "gs": {
                        "functional_id": text(gs, 1),
                        "application_sender": text(gs, 2),
                        "application_receiver": text(gs, 3),
                        "date": text(gs, 4),
                        "time": text(gs, 5),
                        "control_number": text(gs, 6),
                        "version": text(gs, 8),
                    },
                    "st": {"set_id": text(Some(st), 1), "control_number": text(Some(st), 2)},
                });
                let set = serde_json::to_value(set)
                    .map_err(|error| InputError::X12(error.to_string()))?;
                inputs.push(InboundInput::X12 { envelope, set });
            }
        }
    }
    if inputs.is_empty() {
        let reason = parsed.errors().next().map_or_else(
            || "no transaction set found".to_owned(),
            |finding| format!("no transaction set found ({finding:?})"),
        );
        return Err(InputError::X12(reason));
    }
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x12_sets_come_with_their_envelope() {
        let data = b"ISA*00*          *00*          *02*ODFL           *ZZ*ACMEHUB        *261125*1345*U*00401*000000950*0*P*>~GS*QM*ODFL*ACMEHUB*20261125*1345*950*X*004010~ST*214*0001~B10*07212345678*LD-1*ODFL~SE*3*0001~ST*214*0002~B10*2*LD-2*ODFL~SE*3*0002~GE*2*950~IEA*1*000000950~";
        let inputs = read_x12(data).unwrap();
        assert_eq!(inputs.len(), 2);
        assert_eq!(inputs[1].x12_key(), Some(("004010", "214")));
        let input = inputs[0].program_input();
        assert_eq!(input["envelope"]["sender_id"], "ODFL");
        assert_eq!(input["envelope"]["st"]["control_number"], "0001");
        assert_eq!(input["envelope"]["gs"]["functional_id"], "QM");
        assert!(read_x12(b"garbage").is_err());
    }

    #[test]
    fn json_and_xml_are_read_whole() {
        assert_eq!(
            read_inbound(Format::Json, br#"{"a": 1}"#).unwrap(),
            vec![InboundInput::Json(json!({"a": 1}))]
        );
        assert!(read_inbound(Format::Json, b"{").is_err());
        assert!(read_inbound(Format::Xml, b"<!DOCTYPE a><a/>").is_err());
    }
}
