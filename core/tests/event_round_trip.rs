//! Every canonical event type survives JSON and back, matches its generated JSON Schema,
//! and refuses what the model forbids. The inputs are the documented examples in
//! `schemas/events/examples/`, one per event type.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::path::PathBuf;

use serde_json::{Value, json};
use transload_core::event::{Event, EventPayload, EventType};
use transload_core::ids::{DedupeKey, TenantId};
use transload_core::schema::{data_schema, event_schemas};

fn example(kind: EventType) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../schemas/events/examples")
        .join(format!("{}.json", kind.as_str()));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "every event type has an example: {}: {error}",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap()
}

fn envelope_validator() -> jsonschema::Validator {
    let envelope = event_schemas().remove(0);
    assert_eq!(envelope.file_name, "event.schema.json");
    jsonschema::validator_for(envelope.schema.as_value()).unwrap()
}

#[test]
fn every_example_round_trips_through_the_typed_model() {
    for kind in EventType::ALL {
        let original = example(kind);
        let event: Event = serde_json::from_value(original.clone())
            .unwrap_or_else(|error| panic!("{kind}: {error}"));
        assert_eq!(event.event_type(), kind);
        event
            .check()
            .unwrap_or_else(|violation| panic!("{kind}: {violation}"));
        let written = serde_json::to_value(&event).unwrap();
        assert_eq!(written, original, "{kind}: serialization changed the event");
        let again: Event = serde_json::from_value(written).unwrap();
        assert_eq!(again, event, "{kind}: second round trip differs");
    }
}

#[test]
fn every_example_matches_the_generated_schemas() {
    let envelope = envelope_validator();
    for kind in EventType::ALL {
        let event = example(kind);
        let errors: Vec<String> = envelope
            .iter_errors(&event)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{kind} envelope: {errors:?}");
        let data = jsonschema::validator_for(data_schema(kind).as_value()).unwrap();
        let errors: Vec<String> = data
            .iter_errors(&event["data"])
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{kind} data: {errors:?}");
    }
}

#[test]
fn events_built_in_code_round_trip() {
    for kind in EventType::ALL {
        let original: Event = serde_json::from_value(example(kind)).unwrap();
        let built = Event::new(
            TenantId::new("acme").unwrap(),
            "/partners/acme-oms",
            original.payload.clone(),
            DedupeKey::new(format!("test:{kind}")).unwrap(),
        )
        .caused_by(&original);
        assert_eq!(built.causation_id, Some(original.id));
        assert_eq!(built.correlation_id, original.correlation_id);
        assert!(built.id > original.id, "UUIDv7 ids sort by time");
        let json = serde_json::to_string(&built).unwrap();
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(back, built, "{kind}");
        assert!(envelope_validator().is_valid(&serde_json::from_str(&json).unwrap()));
    }
}

#[test]
fn subject_and_correlation_default_to_the_business_key() {
    let original: Event = serde_json::from_value(example(EventType::StatusReported)).unwrap();
    let event = Event::new(
        TenantId::new("acme").unwrap(),
        "/partners/odfl",
        original.payload,
        DedupeKey::new("odfl:x12:1:1").unwrap(),
    );
    assert_eq!(event.subject.as_deref(), Some("LD-2026-000417"));
    assert_eq!(event.correlation_id.as_str(), "LD-2026-000417");
    assert_eq!(event.causation_id, None);
}

#[test]
fn the_serialized_envelope_is_a_cloudevent() {
    let event: Event = serde_json::from_value(example(EventType::OrderPicked)).unwrap();
    let json = serde_json::to_value(&event).unwrap();
    for attribute in [
        "specversion",
        "id",
        "source",
        "type",
        "time",
        "datacontenttype",
        "data",
    ] {
        assert!(
            json.get(attribute).is_some(),
            "missing CloudEvents attribute {attribute}"
        );
    }
    assert_eq!(json["specversion"], "1.0");
    assert_eq!(json["type"], "transload.order.picked");
    // CloudEvents extension attribute names are lowercase letters and digits only.
    for name in json.as_object().unwrap().keys() {
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
            "{name}"
        );
    }
}

#[test]
fn unknown_event_types_and_mismatched_payloads_are_refused() {
    let mut event = example(EventType::OrderCreated);
    event["type"] = json!("transload.order.exploded");
    assert!(serde_json::from_value::<Event>(event.clone()).is_err());
    assert!(!envelope_validator().is_valid(&event));

    let mut event = example(EventType::OrderCreated);
    event["type"] = json!("transload.shipment.status");
    assert!(serde_json::from_value::<Event>(event.clone()).is_err());
    assert!(!envelope_validator().is_valid(&event));
}

#[test]
fn invalid_identifiers_and_codes_are_refused_by_both_serde_and_schema() {
    let cases: [(&str, Value); 4] = [
        ("/tenant", json!("ACME Corp")),
        ("/data/carrier/scac", json!("odfl")),
        ("/data/total/currency", json!("dollars")),
        ("/data/charges/0/amount/amount", json!("twelve")),
    ];
    let validator = envelope_validator();
    for (pointer, bad) in cases {
        let mut event = example(EventType::InvoiceReceived);
        *event.pointer_mut(pointer).unwrap() = bad;
        assert!(
            serde_json::from_value::<Event>(event.clone()).is_err(),
            "{pointer} accepted by serde"
        );
        if pointer != "/data/charges/0/amount/amount" {
            // rust_decimal's schema is a plain string; serde is the check for amounts.
            assert!(
                !validator.is_valid(&event),
                "{pointer} accepted by the schema"
            );
        }
    }
}

#[test]
fn model_rules_beyond_the_schema_are_checked() {
    let event: Event = serde_json::from_value(example(EventType::ShipmentPlanned)).unwrap();
    let EventPayload::ShipmentPlanned(mut shipment) = event.payload.clone() else {
        panic!("example is a shipment")
    };
    shipment.stops.reverse();
    let violation = EventPayload::ShipmentPlanned(shipment.clone())
        .check()
        .unwrap_err();
    assert_eq!(violation.path, "/data/stops/1/seq");

    shipment.stops.retain(|stop| stop.seq == 1);
    let violation = EventPayload::ShipmentPlanned(shipment).check().unwrap_err();
    assert_eq!(
        violation.rule,
        "a load has at least one pickup and one delivery"
    );

    let mut invoice = example(EventType::InvoiceReceived);
    invoice["data"]["charges"][1]["amount"]["currency"] = json!("CAD");
    let event: Event = serde_json::from_value(invoice).unwrap();
    assert_eq!(
        event.check().unwrap_err().path,
        "/data/charges/1/amount/currency"
    );

    let mut order = example(EventType::OrderCreated);
    order["data"]["lines"][1]["line_number"] = json!(1);
    let event: Event = serde_json::from_value(order).unwrap();
    assert_eq!(
        event.check().unwrap_err().rule,
        "line number 1 appears twice"
    );
}

#[test]
fn invoice_charges_add_up_to_the_total_in_the_example() {
    let event: Event = serde_json::from_value(example(EventType::InvoiceReceived)).unwrap();
    let EventPayload::InvoiceReceived(invoice) = event.payload else {
        panic!("an invoice")
    };
    assert_eq!(invoice.charges_total(), Some(invoice.total.clone()));
}
