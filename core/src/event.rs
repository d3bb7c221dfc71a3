//! The canonical event envelope, following the CloudEvents 1.0 attributes.
//!
//! Serialized, an [`Event`] is a valid CloudEvents JSON event: `specversion`, `id`,
//! `source`, `type`, `subject`, `time`, `datacontenttype` and `data`, plus the
//! extension attributes `tenant`, `correlationid`, `causationid`, `dedupekey`,
//! `schemaversion` and `mappingversion` (CloudEvents extension names are lowercase
//! letters and digits only).

use std::fmt;

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ModelViolation;
use crate::ids::{CorrelationId, DedupeKey, TenantId};
use crate::model::{
    Ack, Invoice, Order, OrderCancellation, PickCompletion, Shipment, StatusEvent, Tender,
    TenderResponse,
};

/// The version of the canonical payload schemas; bumped on a breaking change.
pub const SCHEMA_VERSION: u32 = 1;

/// An event's id: a UUIDv7, so ids sort by creation time.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct EventId(pub Uuid);

impl EventId {
    /// A new time-ordered id.
    #[must_use]
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for EventId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The CloudEvents specification version; only 1.0 exists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SpecVersion {
    /// CloudEvents 1.0.
    #[default]
    #[serde(rename = "1.0")]
    V1_0,
}

/// The media type of `data`; canonical payloads are always JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DataContentType {
    /// `application/json`.
    #[default]
    #[serde(rename = "application/json")]
    Json,
}

/// Every kind of canonical event, without its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    /// An order was created in the OMS/ERP.
    OrderCreated,
    /// An order was changed.
    OrderChanged,
    /// An order was cancelled.
    OrderCancelled,
    /// The WMS finished picking an order.
    OrderPicked,
    /// A load was planned (built by dispatch or received from a shipper).
    ShipmentPlanned,
    /// A load was offered to a carrier.
    TenderOffered,
    /// A carrier answered a tender.
    TenderResponded,
    /// A carrier reported a status.
    StatusReported,
    /// A carrier sent an invoice.
    InvoiceReceived,
    /// A partner acknowledged something the hub sent.
    AckReceived,
}

impl EventType {
    /// Every event type, in a stable order.
    pub const ALL: [EventType; 10] = [
        EventType::OrderCreated,
        EventType::OrderChanged,
        EventType::OrderCancelled,
        EventType::OrderPicked,
        EventType::ShipmentPlanned,
        EventType::TenderOffered,
        EventType::TenderResponded,
        EventType::StatusReported,
        EventType::InvoiceReceived,
        EventType::AckReceived,
    ];

    /// The CloudEvents `type` attribute.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::OrderCreated => "transload.order.created",
            EventType::OrderChanged => "transload.order.changed",
            EventType::OrderCancelled => "transload.order.cancelled",
            EventType::OrderPicked => "transload.order.picked",
            EventType::ShipmentPlanned => "transload.shipment.planned",
            EventType::TenderOffered => "transload.tender.offered",
            EventType::TenderResponded => "transload.tender.responded",
            EventType::StatusReported => "transload.shipment.status",
            EventType::InvoiceReceived => "transload.invoice.received",
            EventType::AckReceived => "transload.ack.received",
        }
    }

    /// The event type with CloudEvents `type` `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<EventType> {
        EventType::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The typed payload of an event; serialized as the CloudEvents `type` and `data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", content = "data")]
pub enum EventPayload {
    /// An order was created.
    #[serde(rename = "transload.order.created")]
    OrderCreated(Order),
    /// An order was changed; the payload is the whole order as it is now.
    #[serde(rename = "transload.order.changed")]
    OrderChanged(Order),
    /// An order was cancelled.
    #[serde(rename = "transload.order.cancelled")]
    OrderCancelled(OrderCancellation),
    /// The WMS finished picking an order.
    #[serde(rename = "transload.order.picked")]
    OrderPicked(PickCompletion),
    /// A load was planned.
    #[serde(rename = "transload.shipment.planned")]
    ShipmentPlanned(Shipment),
    /// A load was offered to a carrier.
    #[serde(rename = "transload.tender.offered")]
    TenderOffered(Tender),
    /// A carrier answered a tender.
    #[serde(rename = "transload.tender.responded")]
    TenderResponded(TenderResponse),
    /// A carrier reported a status.
    #[serde(rename = "transload.shipment.status")]
    StatusReported(StatusEvent),
    /// A carrier sent an invoice.
    #[serde(rename = "transload.invoice.received")]
    InvoiceReceived(Invoice),
    /// A partner acknowledged something the hub sent.
    #[serde(rename = "transload.ack.received")]
    AckReceived(Ack),
}

impl EventPayload {
    /// The kind of this payload.
    #[must_use]
    pub fn event_type(&self) -> EventType {
        match self {
            EventPayload::OrderCreated(_) => EventType::OrderCreated,
            EventPayload::OrderChanged(_) => EventType::OrderChanged,
            EventPayload::OrderCancelled(_) => EventType::OrderCancelled,
            EventPayload::OrderPicked(_) => EventType::OrderPicked,
            EventPayload::ShipmentPlanned(_) => EventType::ShipmentPlanned,
            EventPayload::TenderOffered(_) => EventType::TenderOffered,
            EventPayload::TenderResponded(_) => EventType::TenderResponded,
            EventPayload::StatusReported(_) => EventType::StatusReported,
            EventPayload::InvoiceReceived(_) => EventType::InvoiceReceived,
            EventPayload::AckReceived(_) => EventType::AckReceived,
        }
    }

    /// The business object the event is about: an order number, a shipper load id, an
    /// invoice number or an acknowledged control number.
    #[must_use]
    pub fn subject(&self) -> Option<&str> {
        match self {
            EventPayload::OrderCreated(order) | EventPayload::OrderChanged(order) => {
                Some(order.order_id.as_str())
            }
            EventPayload::OrderCancelled(cancel) => Some(cancel.order_id.as_str()),
            EventPayload::OrderPicked(pick) => Some(pick.order_id.as_str()),
            EventPayload::ShipmentPlanned(shipment) => Some(shipment.shipper_load_id.as_str()),
            EventPayload::TenderOffered(tender) => Some(tender.shipment.shipper_load_id.as_str()),
            EventPayload::TenderResponded(response) => Some(response.shipper_load_id.as_str()),
            EventPayload::StatusReported(status) => Some(status.shipper_load_id.as_str()),
            EventPayload::InvoiceReceived(invoice) => invoice
                .shipper_load_id
                .as_ref()
                .map(crate::ids::ShipperLoadId::as_str)
                .or_else(|| {
                    invoice
                        .pro_number
                        .as_ref()
                        .map(crate::ids::ProNumber::as_str)
                }),
            EventPayload::AckReceived(ack) => ack
                .transaction_control_number
                .as_deref()
                .or(ack.group_control_number.as_deref())
                .or(ack.interchange_control_number.as_deref()),
        }
    }

    /// Checks the rules of the model that JSON Schema cannot express.
    ///
    /// # Errors
    /// The first [`ModelViolation`] found, with its JSON pointer under `/data`.
    pub fn check(&self) -> Result<(), ModelViolation> {
        const PATH: &str = "/data";
        match self {
            EventPayload::OrderCreated(order) | EventPayload::OrderChanged(order) => {
                order.check(PATH)
            }
            EventPayload::OrderPicked(pick) => pick.check(PATH),
            EventPayload::ShipmentPlanned(shipment) => shipment.check(PATH),
            EventPayload::TenderOffered(tender) => tender.check(PATH),
            EventPayload::StatusReported(status) => status.check(PATH),
            EventPayload::InvoiceReceived(invoice) => invoice.check(PATH),
            EventPayload::OrderCancelled(_)
            | EventPayload::TenderResponded(_)
            | EventPayload::AckReceived(_) => Ok(()),
        }
    }
}

/// A canonical event: what happened, to whom, from where, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Event {
    /// CloudEvents version.
    #[serde(rename = "specversion")]
    pub spec_version: SpecVersion,
    /// Unique id of this event.
    pub id: EventId,
    /// Where the event comes from, a URI reference: `/partners/{partner}` for translated
    /// input, `/orchestrator` for decisions.
    pub source: String,
    /// `type` and `data`.
    #[serde(flatten)]
    pub payload: EventPayload,
    /// The business object concerned (order number, shipper load id…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// When the event happened or was received.
    #[schemars(with = "crate::schema_types::TimestampSchema")]
    pub time: Timestamp,
    /// The media type of `data`.
    #[serde(rename = "datacontenttype")]
    pub data_content_type: DataContentType,
    /// The tenant the event belongs to.
    pub tenant: TenantId,
    /// Ties together every event about one business object.
    #[serde(rename = "correlationid")]
    pub correlation_id: CorrelationId,
    /// The event that caused this one.
    #[serde(
        rename = "causationid",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub causation_id: Option<EventId>,
    /// The key by which a duplicate of the input is recognised.
    #[serde(rename = "dedupekey")]
    pub dedupe_key: DedupeKey,
    /// Version of the payload schema ([`SCHEMA_VERSION`]).
    #[serde(rename = "schemaversion")]
    pub schema_version: u32,
    /// Version of the mapping that produced the event, for translated input.
    #[serde(
        rename = "mappingversion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub mapping_version: Option<String>,
}

impl Event {
    /// A new event with a fresh id, the current time, and the payload's subject as
    /// subject and correlation id.
    #[must_use]
    pub fn new(
        tenant: TenantId,
        source: impl Into<String>,
        payload: EventPayload,
        dedupe_key: DedupeKey,
    ) -> Self {
        let id = EventId::new();
        let correlation_id = payload
            .subject()
            .and_then(|subject| CorrelationId::new(subject).ok())
            .unwrap_or_else(|| CorrelationId::from_event(id));
        let subject = payload.subject().map(str::to_owned);
        Self {
            spec_version: SpecVersion::V1_0,
            id,
            source: source.into(),
            subject,
            time: Timestamp::now(),
            data_content_type: DataContentType::Json,
            tenant,
            correlation_id,
            causation_id: None,
            dedupe_key,
            schema_version: SCHEMA_VERSION,
            mapping_version: None,
            payload,
        }
    }

    /// Marks this event as caused by `cause`: same correlation, `cause` as causation.
    #[must_use]
    pub fn caused_by(mut self, cause: &Event) -> Self {
        self.causation_id = Some(cause.id);
        self.correlation_id = cause.correlation_id.clone();
        self
    }

    /// The kind of event.
    #[must_use]
    pub fn event_type(&self) -> EventType {
        self.payload.event_type()
    }

    /// Checks the envelope and the payload against the rules of the model.
    ///
    /// # Errors
    /// The first [`ModelViolation`] found.
    pub fn check(&self) -> Result<(), ModelViolation> {
        if self.source.trim().is_empty() {
            return Err(ModelViolation::new("/source", "source must not be empty"));
        }
        if self.schema_version != SCHEMA_VERSION {
            return Err(ModelViolation::new(
                "/schemaversion",
                format!(
                    "schema version {} is not the supported {SCHEMA_VERSION}",
                    self.schema_version
                ),
            ));
        }
        self.payload.check()
    }
}
