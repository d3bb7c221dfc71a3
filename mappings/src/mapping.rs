//! A loaded, compiled mapping and running it.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::Value;
use transload_connectors::x12::tree::{Node, SegmentNode, SetNode};
use transload_core::event::{Event, EventPayload, EventType};

use crate::definition::{Direction, Format, TestCase, X12Key};
use crate::error::MapError;
use crate::input::InboundInput;
use crate::lineage::{SourceIndex, lineage};
use crate::partner::Partner;
use crate::program::Program;
use crate::xml::json_to_xml;

/// What a mapping file says about itself.
#[derive(Debug, Clone)]
pub(crate) struct MappingInfo {
    pub(crate) id: String,
    pub(crate) version: String,
    pub(crate) direction: Direction,
    pub(crate) format: Format,
    pub(crate) x12: Option<X12Key>,
    pub(crate) description: String,
    pub(crate) events: Vec<String>,
    pub(crate) path: PathBuf,
    pub(crate) stamp: String,
    pub(crate) tests: Vec<TestCase>,
}

/// A compiled mapping, ready to run. Cheap to share behind an `Arc`; running it does not
/// change it.
#[derive(Debug)]
pub struct Mapping {
    info: MappingInfo,
    program: Program,
}

/// What an outbound mapping produced.
#[derive(Debug, Clone, PartialEq)]
pub enum OutboundDocument {
    /// The body of one X12 transaction set, without ST and SE (the hub adds them and the
    /// envelopes; see `transload_connectors::x12::writer::build_interchange`).
    X12 {
        /// ST01, from the mapping's `x12.set`.
        set_id: String,
        /// The version, from the mapping's `x12.version` (GS08).
        version: String,
        /// The body segments, loops flattened.
        body: Vec<SegmentNode>,
    },
    /// A JSON document.
    Json(Value),
    /// An XML document, serialized.
    Xml(String),
}

impl OutboundDocument {
    /// The document as readable text: X12 segments one per line (`*` `>` `^` `~`), JSON
    /// pretty-printed, XML as written.
    #[must_use]
    pub fn to_text(&self) -> String {
        match self {
            OutboundDocument::X12 { body, .. } => body.iter().map(render_segment).collect(),
            OutboundDocument::Json(value) => {
                serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
            }
            OutboundDocument::Xml(text) => text.clone(),
        }
    }

    /// The document as JSON: the body segments for X12, the value for JSON, the element
    /// rendering for XML.
    #[must_use]
    pub fn to_json(&self) -> Value {
        match self {
            OutboundDocument::X12 { body, .. } => serde_json::to_value(body).unwrap_or_default(),
            OutboundDocument::Json(value) => value.clone(),
            OutboundDocument::Xml(text) => {
                crate::xml::xml_to_json(text.as_bytes()).unwrap_or(Value::Null)
            }
        }
    }
}

fn render_segment(segment: &SegmentNode) -> String {
    use transload_connectors::x12::tree::{Element, Repetition};
    let mut line = segment.tag.clone();
    for element in &segment.elements {
        line.push('*');
        match element {
            Element::Simple(text) => line.push_str(text),
            Element::Composite(parts) => line.push_str(&parts.join(">")),
            Element::Repeated { repeat } => {
                let reps: Vec<String> = repeat
                    .iter()
                    .map(|rep| match rep {
                        Repetition::Simple(text) => text.clone(),
                        Repetition::Composite(parts) => parts.join(">"),
                    })
                    .collect();
                line.push_str(&reps.join("^"));
            }
        }
    }
    line.push_str("~\n");
    line
}

/// The current instant as RFC 3339, for `$now`.
fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// A serde error path (`stops[0].seq`) as a JSON pointer under `prefix`.
fn pointer(prefix: &str, path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = prefix.to_owned();
    for segment in path {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("/{index}")),
            Segment::Map { key } => out.push_str(&format!("/{key}")),
            Segment::Enum { variant } => out.push_str(&format!("/{variant}")),
            Segment::Unknown => {}
        }
    }
    out
}

fn typed<T: DeserializeOwned>(data: &Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(data).map_err(|error| {
        let path = pointer("/data", error.path());
        (path, error.into_inner().to_string())
    })
}

/// Reads one output value as a canonical payload and checks it.
fn to_payload(value: &Value) -> Result<EventPayload, (String, String)> {
    let Some(object) = value.as_object() else {
        return Err((
            String::new(),
            format!("an output is an object {{\"type\", \"data\"}}, got {value}"),
        ));
    };
    let Some(name) = object.get("type").and_then(Value::as_str) else {
        return Err(("/type".to_owned(), "missing or not a string".to_owned()));
    };
    let Some(kind) = EventType::from_name(name) else {
        return Err(("/type".to_owned(), format!("unknown event type {name:?}")));
    };
    if let Some(extra) = object.keys().find(|key| *key != "type" && *key != "data") {
        return Err((
            format!("/{extra}"),
            "unknown field (a payload has `type` and `data`)".to_owned(),
        ));
    }
    let data = object.get("data").cloned().unwrap_or(Value::Null);
    let payload = match kind {
        EventType::OrderCreated => EventPayload::OrderCreated(typed(&data)?),
        EventType::OrderChanged => EventPayload::OrderChanged(typed(&data)?),
        EventType::OrderCancelled => EventPayload::OrderCancelled(typed(&data)?),
        EventType::OrderPicked => EventPayload::OrderPicked(typed(&data)?),
        EventType::ShipmentPlanned => EventPayload::ShipmentPlanned(typed(&data)?),
        EventType::TenderOffered => EventPayload::TenderOffered(typed(&data)?),
        EventType::TenderResponded => EventPayload::TenderResponded(typed(&data)?),
        EventType::StatusReported => EventPayload::StatusReported(typed(&data)?),
        EventType::InvoiceReceived => EventPayload::InvoiceReceived(typed(&data)?),
        EventType::AckReceived => EventPayload::AckReceived(typed(&data)?),
    };
    payload
        .check()
        .map_err(|violation| (violation.path, violation.rule))?;
    Ok(payload)
}

fn flatten(nodes: Vec<Node>, out: &mut Vec<SegmentNode>) {
    for node in nodes {
        match node {
            Node::Segment(segment) => out.push(segment),
            Node::Loop(inner) => flatten(inner.segments, out),
        }
    }
}

impl Mapping {
    pub(crate) fn new(info: MappingInfo, program: Program) -> Self {
        Self { info, program }
    }

    /// The unique id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.info.id
    }

    /// The version as written.
    #[must_use]
    pub fn version(&self) -> &str {
        &self.info.version
    }

    /// `id@version+<first 12 hex digits of the SHA-256 of the file bytes>`, stamped on
    /// every event the mapping produces (`mappingversion`).
    #[must_use]
    pub fn version_stamp(&self) -> &str {
        &self.info.stamp
    }

    /// Inbound or outbound.
    #[must_use]
    pub fn direction(&self) -> Direction {
        self.info.direction
    }

    /// The partner-side format.
    #[must_use]
    pub fn format(&self) -> Format {
        self.info.format
    }

    /// The X12 version and set, for X12 mappings.
    #[must_use]
    pub fn x12(&self) -> Option<&X12Key> {
        self.info.x12.as_ref()
    }

    /// The description.
    #[must_use]
    pub fn description(&self) -> &str {
        &self.info.description
    }

    /// The event types the mapping produces (inbound) or accepts (outbound), when declared.
    #[must_use]
    pub fn events(&self) -> &[String] {
        &self.info.events
    }

    /// Whether an outbound mapping accepts events of this type (every type, when it
    /// declares none).
    #[must_use]
    pub fn accepts(&self, event_type: &str) -> bool {
        self.info.events.is_empty() || self.info.events.iter().any(|e| e == event_type)
    }

    /// Whether this is an outbound JSON mapping whose program is `.`: its document is the
    /// event's own JSON, so a caller that holds the event as JSON bytes may send those
    /// instead of running it (what `json-event-out` does for REST carriers).
    #[must_use]
    pub fn sends_events_as_they_are(&self) -> bool {
        self.info.direction == Direction::Outbound
            && self.info.format == Format::Json
            && self.program.is_identity()
    }

    /// The file it was loaded from.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.info.path
    }

    /// The tests declared in the file.
    #[must_use]
    pub fn tests(&self) -> &[TestCase] {
        &self.info.tests
    }

    fn unsupported(&self, message: impl Into<String>) -> MapError {
        MapError::Unsupported {
            mapping: self.info.id.clone(),
            message: message.into(),
        }
    }

    /// Runs an inbound mapping on one input: the canonical payloads, each validated against
    /// the model (`EventPayload::check`).
    ///
    /// # Errors
    /// [`MapError`]: wrong direction or format, a jq error, or an output that is not a
    /// valid payload (with the field path and the lineage of the payload's fields).
    pub fn run_inbound(
        &self,
        input: &InboundInput,
        partner: &Partner,
    ) -> Result<Vec<EventPayload>, MapError> {
        self.run_inbound_at(input, partner, &now())
    }

    /// [`run_inbound`](Self::run_inbound) with `$now` given (RFC 3339).
    ///
    /// # Errors
    /// As [`run_inbound`](Self::run_inbound).
    pub fn run_inbound_at(
        &self,
        input: &InboundInput,
        partner: &Partner,
        now: &str,
    ) -> Result<Vec<EventPayload>, MapError> {
        if self.info.direction != Direction::Inbound {
            return Err(self.unsupported("an outbound mapping cannot read inbound documents"));
        }
        if input.format() != self.info.format {
            return Err(self.unsupported(format!(
                "this mapping reads {}, not {}",
                self.info.format.as_str(),
                input.format().as_str()
            )));
        }
        let program_input = input.program_input();
        let outputs = self
            .program
            .run(&program_input, partner, now)
            .map_err(|message| MapError::Runtime {
                mapping: self.info.id.clone(),
                message,
            })?;
        let items: Vec<Value> = outputs
            .into_iter()
            .flat_map(|value| match value {
                Value::Array(items) => items,
                Value::Null => Vec::new(),
                other => vec![other],
            })
            .collect();
        let mut payloads = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let checked = to_payload(item).and_then(|payload| {
                let name = payload.event_type().as_str();
                if self.info.events.is_empty() || self.info.events.iter().any(|e| e == name) {
                    Ok(payload)
                } else {
                    Err((
                        "/type".to_owned(),
                        format!(
                            "{name} is not among the mapping's events {:?}",
                            self.info.events
                        ),
                    ))
                }
            });
            match checked {
                Ok(payload) => payloads.push(payload),
                Err((path, reason)) => {
                    let mut sources = SourceIndex::default();
                    match input {
                        InboundInput::X12 { .. } => sources.add_x12(&program_input),
                        _ => sources.add_json(&program_input, ""),
                    }
                    sources.add_json(partner.json(), "$partner");
                    return Err(MapError::Output {
                        mapping: self.info.id.clone(),
                        index,
                        lineage: lineage(item, &sources, &path),
                        path,
                        reason,
                    });
                }
            }
        }
        Ok(payloads)
    }

    /// Runs an outbound mapping on a canonical event.
    ///
    /// # Errors
    /// [`MapError`]: wrong direction or event type, a jq error, no or several outputs, or
    /// an output that is not a document of the mapping's format.
    pub fn run_outbound(
        &self,
        event: &Event,
        partner: &Partner,
    ) -> Result<OutboundDocument, MapError> {
        self.run_outbound_at(event, partner, &now())
    }

    /// [`run_outbound`](Self::run_outbound) with `$now` given (RFC 3339).
    ///
    /// # Errors
    /// As [`run_outbound`](Self::run_outbound).
    pub fn run_outbound_at(
        &self,
        event: &Event,
        partner: &Partner,
        now: &str,
    ) -> Result<OutboundDocument, MapError> {
        if self.info.direction != Direction::Outbound {
            return Err(self.unsupported("an inbound mapping cannot write outbound documents"));
        }
        let name = event.event_type().as_str();
        if !self.accepts(name) {
            return Err(self.unsupported(format!(
                "this mapping writes {:?}, not {name}",
                self.info.events
            )));
        }
        let input = serde_json::to_value(event).map_err(|error| MapError::Input {
            mapping: self.info.id.clone(),
            message: error.to_string(),
        })?;
        let mut outputs = if self.program.is_identity() {
            vec![input]
        } else {
            self.program
                .run(&input, partner, now)
                .map_err(|message| MapError::Runtime {
                    mapping: self.info.id.clone(),
                    message,
                })?
        };
        let output_error = |path: &str, reason: String| MapError::Output {
            mapping: self.info.id.clone(),
            index: 0,
            path: path.to_owned(),
            reason,
            lineage: Vec::new(),
        };
        if outputs.len() != 1 {
            return Err(output_error(
                "",
                format!(
                    "an outbound program produces one document, this one produced {}",
                    outputs.len()
                ),
            ));
        }
        let output = outputs.pop().unwrap_or_default();
        match self.info.format {
            Format::Json => Ok(OutboundDocument::Json(output)),
            Format::Xml => json_to_xml(&output)
                .map(OutboundDocument::Xml)
                .map_err(|error| output_error(&error.path, error.message)),
            Format::X12 => {
                let set: SetNode = match output {
                    Value::Array(_) => {
                        serde_path_to_error::deserialize(&serde_json::json!({"segments": output}))
                    }
                    other => serde_path_to_error::deserialize(&other),
                }
                .map_err(|error| {
                    output_error(&pointer("", error.path()), error.into_inner().to_string())
                })?;
                let mut body = Vec::new();
                flatten(set.segments, &mut body);
                for (index, segment) in body.iter().enumerate() {
                    let valid_tag = (2..=3).contains(&segment.tag.len())
                        && segment
                            .tag
                            .bytes()
                            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
                    if !valid_tag {
                        return Err(output_error(
                            &format!("/segments/{index}/tag"),
                            format!("{:?} is not a segment tag", segment.tag),
                        ));
                    }
                    if matches!(
                        segment.tag.as_str(),
                        "ST" | "SE" | "GS" | "GE" | "ISA" | "IEA"
                    ) {
                        return Err(output_error(
                            &format!("/segments/{index}/tag"),
                            format!(
                                "{} is added by the hub: the program writes the body only",
                                segment.tag
                            ),
                        ));
                    }
                }
                let key = self.info.x12.clone().unwrap_or(X12Key {
                    version: String::new(),
                    set: String::new(),
                });
                Ok(OutboundDocument::X12 {
                    set_id: key.set,
                    version: key.version,
                    body,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payload_errors_name_the_field() {
        let (path, reason) = to_payload(&json!({"type": "transload.order.cancelled", "data": {"order_id": "SO-1", "cancelled_at": "yesterday"}})).unwrap_err();
        assert_eq!(path, "/data/cancelled_at");
        assert!(!reason.is_empty());
        let (path, _) = to_payload(&json!({"type": "transload.nope", "data": {}})).unwrap_err();
        assert_eq!(path, "/type");
        let (path, reason) = to_payload(&json!({"type": "transload.order.picked", "data": {
            "order_id": "SO-1", "facility": {}, "lines": [],
            "picked_at": {"local": "2026-11-25T07:31:00", "zone_source": "unresolved"}}}))
        .unwrap_err();
        assert_eq!(path, "/data/lines", "{reason}");
    }

    fn outbound(program: &str) -> Mapping {
        Mapping::new(
            MappingInfo {
                id: "t-out".to_owned(),
                version: "1".to_owned(),
                direction: Direction::Outbound,
                format: Format::X12,
                x12: Some(X12Key {
                    version: "004010".to_owned(),
                    set: "990".to_owned(),
                }),
                description: String::new(),
                events: Vec::new(),
                path: PathBuf::from("t.toml"),
                stamp: "t-out@1+000000000000".to_owned(),
                tests: Vec::new(),
            },
            Program::compile(program).unwrap(),
        )
    }

    fn event() -> Event {
        serde_json::from_str(include_str!(
            "../../schemas/events/examples/transload.tender.responded.json"
        ))
        .unwrap()
    }

    #[test]
    fn outbound_x12_bodies_are_flattened_and_checked() {
        let mapping = outbound(
            r#"{segments: [mkseg("B1"; [.data.carrier.scac]), {loop: "0100", segments: [mkseg("N9"; ["TN", "X"])]}]}"#,
        );
        let document = mapping.run_outbound(&event(), &Partner::empty()).unwrap();
        assert_eq!(document.to_text(), "B1*ODFL~\nN9*TN*X~\n");
        let OutboundDocument::X12 {
            set_id, version, ..
        } = &document
        else {
            panic!()
        };
        assert_eq!((set_id.as_str(), version.as_str()), ("990", "004010"));

        let error = outbound(r#"[mkseg("ST"; ["990", "0001"])]"#)
            .run_outbound(&event(), &Partner::empty())
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("/segments/0/tag: ST is added by the hub"),
            "{error}"
        );
        let error = outbound(r#"[{tag: "b 1"}]"#)
            .run_outbound(&event(), &Partner::empty())
            .unwrap_err();
        assert!(error.to_string().contains("not a segment tag"), "{error}");
        let error = outbound("empty")
            .run_outbound(&event(), &Partner::empty())
            .unwrap_err();
        assert!(error.to_string().contains("produced 0"), "{error}");
    }

    #[test]
    fn mappings_are_shareable_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Mapping>();
    }
}
