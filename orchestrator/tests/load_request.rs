//! A load request built from a canonical shipment.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{day, dec, load};
use serde_json::{Value, json};
use transload_core::ids::CurrencyCode;
use transload_core::model::{Shipment, StopRole};
use transload_orchestrator::{LoadRequest, LoadRequestError};

/// Chicago → Atlanta: pickup 08:00 Chicago time on 2026-03-10 (14:00 UTC), delivery by
/// 17:00 Atlanta time on 2026-03-13; liftgate with its partner code, hazmat without one.
fn shipment() -> Value {
    json!({
        "shipper_load_id": "LOAD-1",
        "mode": "truckload",
        "equipment": {"equipment_type": "dry_van"},
        "special_services": [
            {"kind": "liftgate", "raw_code": "LFT"},
            {"kind": "hazmat"}
        ],
        "stops": [
            {
                "seq": 1, "role": "pickup", "extent": "full",
                "location": {"address": {"city": "Chicago", "region": "IL", "postal_code": "60601", "country": "US"}},
                "window": {"earliest": {
                    "local": "2026-03-10T08:00:00", "zone": "America/Chicago",
                    "utc": "2026-03-10T14:00:00Z", "zone_source": "stop_location"
                }}
            },
            {
                "seq": 2, "role": "delivery", "extent": "full",
                "location": {"address": {"city": "Atlanta", "region": "GA", "postal_code": "30301", "country": "US"}},
                "window": {"latest": {
                    "local": "2026-03-13T17:00:00", "zone": "America/New_York",
                    "utc": "2026-03-13T21:00:00Z", "zone_source": "stop_location"
                }}
            }
        ]
    })
}

fn request(value: Value) -> Result<LoadRequest, LoadRequestError> {
    let shipment: Shipment = serde_json::from_value(value).unwrap();
    LoadRequest::from_shipment(&shipment, dec("720"), CurrencyCode::new("USD").unwrap())
}

#[test]
fn a_shipment_gives_the_request_selection_needs() {
    let mut expected = load();
    expected.hazmat = true;
    expected.accessorials.insert("LFT".to_owned());
    assert_eq!(request(shipment()).unwrap(), expected);
}

#[test]
fn an_appointment_comes_before_the_window() {
    let mut value = shipment();
    value["stops"][1]["appointment"] = json!({
        "status": "confirmed",
        "window": {"latest": {
            "local": "2026-03-12T10:00:00", "zone": "America/New_York",
            "utc": "2026-03-12T14:00:00Z", "zone_source": "explicit"
        }}
    });
    assert_eq!(request(value).unwrap().deliver_by, Some(day("2026-03-12")));
}

#[test]
fn missing_parts_are_named() {
    let mut value = shipment();
    value.as_object_mut().unwrap().remove("equipment");
    assert_eq!(request(value), Err(LoadRequestError::NoEquipment));

    let mut value = shipment();
    value["stops"][0]["location"] = json!({"name": "DC 7"});
    assert_eq!(request(value), Err(LoadRequestError::NoAddress { seq: 1 }));

    let mut value = shipment();
    value["stops"][0].as_object_mut().unwrap().remove("window");
    assert_eq!(
        request(value),
        Err(LoadRequestError::NoPickupTime { seq: 1 })
    );

    let mut value = shipment();
    value["stops"][0]["window"]["earliest"] =
        json!({"local": "2026-03-10T08:00:00", "zone_source": "unresolved"});
    assert_eq!(
        request(value),
        Err(LoadRequestError::UnresolvedPickupTime {
            seq: 1,
            local: "2026-03-10T08:00:00".to_owned()
        })
    );

    let mut value = shipment();
    value["stops"][1]["role"] = json!("pickup");
    assert_eq!(
        request(value),
        Err(LoadRequestError::NoStop(StopRole::Delivery))
    );
}
