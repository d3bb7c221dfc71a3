//! The connector against a local axum server acting as the carrier.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use transload_connectors::connector::{
    Connector, ConnectorError, ConnectorSet, idempotency_key, response_events,
};
use transload_connectors::http_out::{HttpSender, SenderOptions};
use transload_connectors::partner::HttpEndpoint;
use transload_core::event::{Event, EventPayload, EventType};
use transload_core::ids::{PartnerId, Scac};
use transload_core::model::{StatusType, TenderDecision};
use transload_example_carrier_rest::RapidFreightConnector;
use transload_example_carrier_rest::api::TenderRequest;

#[derive(Clone, Default)]
struct Carrier {
    received: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    reply: Arc<Mutex<(u16, String)>>,
}

async fn tenders(
    State(carrier): State<Carrier>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    carrier.received.lock().unwrap().push((headers, body));
    let (status, body) = carrier.reply.lock().unwrap().clone();
    (StatusCode::from_u16(status).unwrap(), body)
}

fn manifest(path: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

async fn start() -> (RapidFreightConnector, Carrier) {
    let carrier = Carrier::default();
    *carrier.reply.lock().unwrap() = (
        200,
        String::from_utf8(manifest("fixtures/tender_reply_accepted.json")).unwrap(),
    );
    let app = Router::new()
        .route("/v1/tenders", post(tenders))
        .with_state(carrier.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let endpoint = HttpEndpoint {
        url: format!("http://{addr}/v1/tenders"),
        timeout_ms: 2_000,
        max_attempts: 2,
        rate_limit: None,
        headers: BTreeMap::new(),
        signing: None,
    };
    let sender = HttpSender::new(
        PartnerId::new("rapidfreight").unwrap(),
        &endpoint,
        SenderOptions::default(),
    )
    .unwrap();
    (
        RapidFreightConnector::new(sender, Scac::new("RPDF").unwrap()),
        carrier,
    )
}

fn tender_event() -> Event {
    serde_json::from_slice(&manifest(
        "../../schemas/events/examples/transload.tender.offered.json",
    ))
    .unwrap()
}

#[tokio::test]
async fn a_tender_is_posted_and_the_synchronous_acceptance_comes_back_as_an_event() {
    let (connector, carrier) = start().await;
    let mut set = ConnectorSet::new();
    set.insert(Arc::new(connector));
    let partner = PartnerId::new("rapidfreight").unwrap();
    let connector = set
        .for_delivery(&partner, EventType::TenderOffered)
        .unwrap()
        .clone();
    let event = tender_event();
    let payloads = connector.deliver(&event).await.unwrap();

    let received = carrier.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let (headers, body) = &received[0];
    assert_eq!(
        headers["idempotency-key"].to_str().unwrap(),
        idempotency_key(&event)
    );
    assert_eq!(headers["content-type"], "application/json");
    // What was sent is the golden request.
    let sent: TenderRequest = serde_json::from_slice(body).unwrap();
    let golden: TenderRequest =
        serde_json::from_slice(&manifest("fixtures/tender_request.json")).unwrap();
    assert_eq!(sent, golden);

    assert_eq!(payloads.len(), 1);
    let EventPayload::TenderResponded(response) = &payloads[0] else {
        panic!("{payloads:?}")
    };
    assert_eq!(response.decision, TenderDecision::Accepted);
    assert_eq!(
        response.pro_number.as_ref().unwrap().as_str(),
        "07212345678"
    );
    let events = response_events(connector.as_ref(), &event, payloads).unwrap();
    assert_eq!(events[0].causation_id, Some(event.id));
    assert_eq!(events[0].correlation_id.as_str(), "LD-2026-000417");
    assert_eq!(events[0].source, "/partners/rapidfreight");
}

#[tokio::test]
async fn a_refusal_by_the_carrier_is_permanent_and_pending_gives_no_event() {
    let (connector, carrier) = start().await;
    let event = tender_event();
    *carrier.reply.lock().unwrap() = (422, r#"{"error":"unknown facility"}"#.to_owned());
    let e = connector.deliver(&event).await.unwrap_err();
    assert!(matches!(e, ConnectorError::Send(_)), "{e}");
    assert!(!e.is_transient(), "{e}");
    assert!(e.to_string().contains("unknown facility"), "{e}");

    *carrier.reply.lock().unwrap() = (
        200,
        r#"{"tender_reference":"TND-000417-1","status":"PENDING"}"#.to_owned(),
    );
    assert!(connector.deliver(&event).await.unwrap().is_empty());

    *carrier.reply.lock().unwrap() = (200, "<html>oops</html>".to_owned());
    let e = connector.deliver(&event).await.unwrap_err();
    assert!(matches!(e, ConnectorError::Response(_)), "{e}");
    assert!(!e.is_transient());

    *carrier.reply.lock().unwrap() = (503, String::new());
    let e = connector.deliver(&event).await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert_eq!(
        carrier.received.lock().unwrap().len(),
        5,
        "422, 200, 200, 503 twice"
    );
}

#[tokio::test]
async fn other_events_are_unsupported_and_webhooks_become_statuses() {
    let (connector, carrier) = start().await;
    let status: Event = serde_json::from_slice(&manifest(
        "../../schemas/events/examples/transload.shipment.status.json",
    ))
    .unwrap();
    assert!(!connector.delivers(EventType::StatusReported));
    let e = connector.deliver(&status).await.unwrap_err();
    assert!(matches!(e, ConnectorError::Unsupported { .. }), "{e}");
    assert!(carrier.received.lock().unwrap().is_empty());

    let payloads = connector
        .receive(&manifest("fixtures/status_webhook_picked_up.json"))
        .unwrap();
    let EventPayload::StatusReported(status) = &payloads[0] else {
        panic!("{payloads:?}")
    };
    assert_eq!(status.status, StatusType::DepartedPickup);
    assert!(connector.receive(b"{\"event\": 1}").is_err());
}
