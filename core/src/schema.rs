//! JSON Schemas of the canonical events, generated from the Rust types.
//!
//! The checked-in copies live in `schemas/events/`; `transload schemas export` rewrites
//! them and a test fails when they are stale.

use schemars::{JsonSchema, Schema, schema_for};

use crate::event::{Event, EventType};
use crate::model::{
    Ack, Invoice, Order, OrderCancellation, PickCompletion, Shipment, StatusEvent, Tender,
    TenderResponse,
};

/// One generated schema and the file name it is kept under.
#[derive(Debug, Clone)]
pub struct SchemaFile {
    /// File name inside `schemas/events/`.
    pub file_name: String,
    /// The schema.
    pub schema: Schema,
}

impl SchemaFile {
    /// The schema as the file should contain it: pretty JSON and a final newline.
    ///
    /// # Errors
    /// When the schema cannot be serialized, which a generated schema never fails.
    pub fn render(&self) -> Result<String, serde_json::Error> {
        let mut text = serde_json::to_string_pretty(&self.schema)?;
        text.push('\n');
        Ok(text)
    }
}

/// The schema of the whole envelope, then one schema per event type for its `data`.
#[must_use]
pub fn event_schemas() -> Vec<SchemaFile> {
    let mut files = vec![SchemaFile {
        file_name: "event.schema.json".to_owned(),
        schema: titled::<Event>("transload canonical event (CloudEvents 1.0 envelope)"),
    }];
    files.extend(EventType::ALL.into_iter().map(|kind| SchemaFile {
        file_name: format!("{}.schema.json", kind.as_str()),
        schema: data_schema(kind),
    }));
    files
}

/// The schema of the `data` of events of type `kind`.
#[must_use]
pub fn data_schema(kind: EventType) -> Schema {
    let title = format!("data of {kind}");
    match kind {
        EventType::OrderCreated | EventType::OrderChanged => titled::<Order>(&title),
        EventType::OrderCancelled => titled::<OrderCancellation>(&title),
        EventType::OrderPicked => titled::<PickCompletion>(&title),
        EventType::ShipmentPlanned => titled::<Shipment>(&title),
        EventType::TenderOffered => titled::<Tender>(&title),
        EventType::TenderResponded => titled::<TenderResponse>(&title),
        EventType::StatusReported => titled::<StatusEvent>(&title),
        EventType::InvoiceReceived => titled::<Invoice>(&title),
        EventType::AckReceived => titled::<Ack>(&title),
    }
}

fn titled<T: JsonSchema>(title: &str) -> Schema {
    let mut schema = schema_for!(T);
    schema.insert("title".to_owned(), title.into());
    schema
}
