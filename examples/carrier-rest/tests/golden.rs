//! The mapping functions against golden fixtures, byte for byte (pretty JSON and a final
//! newline). `TRANSLOAD_BLESS=1 cargo test -p transload-example-carrier-rest` rewrites
//! the expected files after a deliberate change; review the diff.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use serde::Serialize;
use transload_core::event::{Event, EventPayload};
use transload_core::ids::{PartnerId, Scac};
use transload_core::model::Tender;
use transload_example_carrier_rest::api::{StatusWebhook, TenderReply};
use transload_example_carrier_rest::mapping;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// The canonical example of the schemas, the hub's own reference tender.
fn tender() -> Tender {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../schemas/events/examples/transload.tender.offered.json");
    let event: Event = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let EventPayload::TenderOffered(tender) = event.payload else {
        panic!("not a tender")
    };
    tender
}

fn assert_golden(name: &str, value: &impl Serialize) {
    let mut actual = serde_json::to_string_pretty(value).unwrap();
    actual.push('\n');
    let path = fixture(name);
    if std::env::var_os("TRANSLOAD_BLESS").is_some() {
        std::fs::write(&path, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (TRANSLOAD_BLESS=1 writes it)", path.display()));
    assert!(
        actual == expected,
        "{name} differs from the golden file:\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

#[test]
fn a_tender_becomes_the_carriers_request() {
    let request = mapping::tender_request(&tender()).unwrap();
    assert_golden("tender_request.json", &request);
}

#[test]
fn an_accepted_reply_becomes_tender_responded() {
    let reply: TenderReply =
        serde_json::from_slice(&std::fs::read(fixture("tender_reply_accepted.json")).unwrap())
            .unwrap();
    let response = mapping::tender_response(&tender(), &reply)
        .unwrap()
        .unwrap();
    assert_golden(
        "tender_responded.json",
        &EventPayload::TenderResponded(response),
    );
}

#[test]
fn a_pending_reply_is_no_event_and_an_unknown_status_an_error() {
    let tender = tender();
    let mut reply = TenderReply {
        tender_reference: tender.tender_id.clone(),
        status: "PENDING".to_owned(),
        reason: None,
        pro_number: None,
        confirmation: None,
        decided_at: None,
    };
    assert_eq!(mapping::tender_response(&tender, &reply).unwrap(), None);
    reply.status = "MAYBE".to_owned();
    let e = mapping::tender_response(&tender, &reply).unwrap_err();
    assert!(e.to_string().contains("MAYBE"), "{e}");
    reply.status = "ACCEPTED".to_owned();
    reply.tender_reference = "TND-OTHER".to_owned();
    assert!(mapping::tender_response(&tender, &reply).is_err());
}

#[test]
fn a_status_webhook_becomes_shipment_status() {
    let webhook: StatusWebhook =
        serde_json::from_slice(&std::fs::read(fixture("status_webhook_picked_up.json")).unwrap())
            .unwrap();
    let status = mapping::shipment_status(
        &PartnerId::new("rapidfreight").unwrap(),
        &Scac::new("RPDF").unwrap(),
        &webhook,
    )
    .unwrap();
    let payload = EventPayload::StatusReported(status);
    payload.check().unwrap();
    assert_golden("shipment_status.json", &payload);
}

#[test]
fn a_tender_without_an_address_is_refused_with_its_place() {
    let mut tender = tender();
    tender.shipment.stops[1].location.address = None;
    let e = mapping::tender_request(&tender).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("/shipment/stops/1/location/address"),
        "{e}"
    );
}
