//! Scenarios through the orchestrator's decisions ([`transload_orchestrator::process`]):
//! a load driven through several pure decisions in a row, each outcome's `load` fed to the
//! next call with `now` advanced by hand, asserting the statuses, the tenders, the
//! commands and the decision records of every step.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeSet;

use common::{dec, id, instant, usd};
use jiff::SignedDuration;
use jiff::civil::{Date, DateTime};
use rust_decimal::Decimal;
use serde_json::json;
use transload_core::event::EventPayload;
use transload_core::ids::{
    CurrencyCode, OrderId, PartnerId, ProNumber, Scac, ShipperLoadId, TenantId, ZoneName,
};
use transload_core::model::{
    Ack, AckError, AckKind, AckStatus, Address, CarrierRef, ChargeLine, ChargeType, Hazmat,
    Invoice, InvoiceKind, Location, Money, Order, OrderCancellation, OrderLine, PackingGroup,
    PaymentTerms, PickCompletion, PickedLine, ServiceLevel, StatusEvent, StatusOrigin, StatusType,
    TenderDecision, TenderPurpose, TenderResponse, TimeWindow, Weight, ZoneSource, ZonedTime,
};
use transload_orchestrator::dispatch;
use transload_orchestrator::freight_audit::{AuditOutcome, Disposition, Rule};
use transload_orchestrator::load::{LoadState, LoadStatus, TenderOutcome, Transmission};
use transload_orchestrator::policy::Policy;
use transload_orchestrator::process::{
    CarrierFeedback, Command, Context, Outcome, Override, Timer, on_ack, on_invoice,
    on_order_cancelled, on_order_changed, on_pick, on_status, on_tender_response, on_timer,
};
use transload_orchestrator::tracking::{Lateness, LatenessBasis, Progress};
use transload_orchestrator::{
    Carrier, CarrierHistory, CarrierMaster, Exclusion, SelectionDecision,
};

// ---------------------------------------------------------------------------------------
// The world: carriers, policy, partners
// ---------------------------------------------------------------------------------------

/// The first pick, the dispatch and the first tender happen at this instant.
const T0: &str = "2026-03-08T12:00:00Z";
/// The load of order `SO-1001` (picked without a wave).
const LOAD: &str = "LSO-1001";
const ORDER: &str = "SO-1001";

/// A carrier of the `IL → GA` lane of the common builders at a flat linehaul with a 10 %
/// fuel surcharge, 24 h lead time, 2 h to answer a tender, perfect quality.
fn carrier(carrier_id: &str, scac: &str, flat: &str, hazmat: bool) -> Carrier {
    let mut carrier = common::carrier(carrier_id);
    carrier.scac = Scac::new(scac).unwrap();
    carrier.hazmat = hazmat;
    carrier.response_time_hours = 2;
    let mut rate = common::flat_rate(flat);
    rate.fuel_surcharge_pct = dec("10");
    carrier.lanes[0].rates = vec![rate];
    carrier
}

/// Four carriers; totals are linehaul + 10 % fuel:
///
/// | carrier | SCAC | total   | hazmat | answers 204s with a 997 |
/// |---------|------|---------|--------|-------------------------|
/// | cargo   | CRGO |  990.00 | no     | yes (X12)               |
/// | acme    | ACME | 1100.00 | yes    | yes (X12)               |
/// | bolt    | BOLT | 1155.00 | yes    | yes (X12)               |
/// | dray    | DRAY | 1320.00 | yes    | no (API)                |
struct World {
    policy: Policy,
    carriers: CarrierMaster,
    history: CarrierHistory,
    sends_997: BTreeSet<transload_core::ids::PartnerId>,
}

impl World {
    fn new() -> Self {
        let mut policy = Policy::default();
        policy.notify.wms = Some(id("wms"));
        policy.notify.erp = Some(id("erp"));
        policy.notify.consignee = Some(id("consignee"));
        policy.cancellation.tonu_fee = Some(usd("150.00"));
        let carriers = CarrierMaster::new([
            carrier("cargo", "CRGO", "900", false),
            carrier("acme", "ACME", "1000", true),
            carrier("bolt", "BOLT", "1050", true),
            carrier("dray", "DRAY", "1200", true),
        ])
        .unwrap();
        Self {
            policy,
            carriers,
            history: CarrierHistory::new(),
            sends_997: [id("cargo"), id("acme"), id("bolt")].into_iter().collect(),
        }
    }

    fn at(&self, now: &str) -> Context<'_> {
        Context {
            now: instant(now),
            policy: &self.policy,
            carriers: &self.carriers,
            history: &self.history,
            sends_997: &self.sends_997,
        }
    }
}

fn tenant() -> TenantId {
    TenantId::new("acme-retail").unwrap()
}

fn utc(text: &str) -> ZonedTime {
    ZonedTime::from_utc(instant(text)).unwrap()
}

fn zone(name: &str) -> ZoneName {
    ZoneName::new(name).unwrap()
}

fn place(
    location_id: &str,
    city: &str,
    region: &str,
    postal_code: &str,
    time_zone: &str,
) -> Location {
    Location {
        id: Some(location_id.to_owned()),
        name: Some(format!("{city} {location_id}")),
        address: Some(Address {
            lines: vec!["1 Dock Road".to_owned()],
            city: city.to_owned(),
            region: Some(region.to_owned()),
            postal_code: Some(postal_code.to_owned()),
            country: common::us(),
        }),
        geo: None,
        time_zone: Some(zone(time_zone)),
    }
}

/// The picking facility, in Chicago.
fn chicago_dc() -> Location {
    place("DC-CHI", "Chicago", "IL", "60601", "America/Chicago")
}

/// The consignee, in Atlanta.
fn atlanta() -> Location {
    place("ATL-01", "Atlanta", "GA", "30301", "America/New_York")
}

/// An order Chicago → Atlanta: pickup 2026-03-10 14:00–18:00 UTC, delivery 2026-03-12
/// 14:00–22:00 UTC (the promise: 22:00).
fn order(order_id: &str, hazmat: bool) -> Order {
    Order {
        order_id: OrderId::new(order_id).unwrap(),
        references: Vec::new(),
        parties: Vec::new(),
        ship_from: chicago_dc(),
        ship_to: atlanta(),
        lines: vec![OrderLine {
            line_number: 1,
            sku: "SKU-1".to_owned(),
            description: None,
            quantity: dec("10"),
            unit: "CA".to_owned(),
            weight: Some(Weight::kg(dec("800"))),
            volume: None,
            hazmat: hazmat.then(|| Hazmat {
                un_number: "UN1203".to_owned(),
                hazard_class: "3".to_owned(),
                packing_group: Some(PackingGroup::II),
                proper_shipping_name: "Gasoline".to_owned(),
                emergency_phone: None,
            }),
            freight_class: None,
        }],
        pickup_window: Some(TimeWindow {
            earliest: Some(utc("2026-03-10T14:00:00Z")),
            latest: Some(utc("2026-03-10T18:00:00Z")),
        }),
        delivery_window: Some(TimeWindow {
            earliest: Some(utc("2026-03-12T14:00:00Z")),
            latest: Some(utc("2026-03-12T22:00:00Z")),
        }),
        service_level: ServiceLevel::Standard,
        requested_mode: None,
        declared_value: None,
        instructions: None,
    }
}

fn pick(order_id: &str, wave: Option<&str>, at: &str) -> PickCompletion {
    PickCompletion {
        order_id: OrderId::new(order_id).unwrap(),
        facility: chicago_dc(),
        wave: wave.map(str::to_owned),
        picked_at: utc(at),
        lines: vec![PickedLine {
            line_number: 1,
            sku: "SKU-1".to_owned(),
            quantity_picked: dec("10"),
            quantity_short: None,
        }],
        handling_units: Vec::new(),
        total_weight: None,
    }
}

fn load_id(text: &str) -> ShipperLoadId {
    ShipperLoadId::new(text).unwrap()
}

/// A carrier's 214 about `LOAD`.
fn status(
    kind: StatusType,
    code: &str,
    stop: Option<u16>,
    occurred_at: ZonedTime,
    from: &str,
) -> StatusEvent {
    StatusEvent {
        shipper_load_id: load_id(LOAD),
        pro_number: None,
        carrier: None,
        status: kind,
        raw_code: code.to_owned(),
        raw_reason: Some("NS".to_owned()),
        stop_seq: stop,
        occurred_at,
        eta: None,
        location: None,
        origin: StatusOrigin::Edi,
        reported_by: id(from),
        references: Vec::new(),
    }
}

/// A 990 echoing `tender_id`.
fn response(
    load: &str,
    tender_id: &str,
    scac: &str,
    decision: TenderDecision,
    at: &str,
) -> TenderResponse {
    let accepted = decision == TenderDecision::Accepted;
    TenderResponse {
        shipper_load_id: load_id(load),
        tender_id: Some(tender_id.to_owned()),
        carrier: CarrierRef {
            scac: Scac::new(scac).unwrap(),
            name: None,
        },
        decision,
        reason: (!accepted).then(|| "NO_CAPACITY".to_owned()),
        raw_code: if accepted { "A" } else { "D" }.to_owned(),
        responded_at: instant(at),
        pro_number: accepted.then(|| ProNumber::new(format!("PRO-{scac}-1")).unwrap()),
        references: Vec::new(),
    }
}

fn ack(status: AckStatus, errors: Vec<AckError>) -> Ack {
    Ack {
        kind: AckKind::Functional,
        interchange_control_number: None,
        functional_id: Some("SM".to_owned()),
        group_control_number: Some("17".to_owned()),
        transaction_set_id: Some("204".to_owned()),
        transaction_control_number: Some("0001".to_owned()),
        status,
        errors,
    }
}

/// A 210 for `LOAD`; the total is the sum of the lines.
fn invoice(
    number: &str,
    kind: InvoiceKind,
    scac: &str,
    lines: &[(ChargeType, &str, &str)],
) -> Invoice {
    let charges: Vec<ChargeLine> = lines
        .iter()
        .map(|(charge_type, code, amount)| ChargeLine {
            charge_type: *charge_type,
            code: (*code).to_owned(),
            raw_code: Some((*code).to_owned()),
            description: None,
            quantity: None,
            rate: None,
            amount: usd(amount),
        })
        .collect();
    let total = charges
        .iter()
        .fold(Decimal::ZERO, |sum, line| sum + line.amount.amount);
    Invoice {
        invoice_number: number.to_owned(),
        kind,
        raw_correction_code: None,
        carrier: CarrierRef {
            scac: Scac::new(scac).unwrap(),
            name: None,
        },
        shipper_load_id: Some(load_id(LOAD)),
        pro_number: None,
        invoice_date: "2026-03-13".parse::<Date>().unwrap(),
        due_date: None,
        parties: Vec::new(),
        billed_weight: None,
        charges,
        total: Money::new(total, CurrencyCode::usd()),
        references: Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------
// Reading outcomes
// ---------------------------------------------------------------------------------------

/// `action/rule` of each decision record, in order.
fn decisions(outcome: &Outcome) -> Vec<String> {
    outcome
        .decisions
        .iter()
        .map(|record| format!("{}/{}", record.action, record.rule))
        .collect()
}

/// The details of the one decision record with `action`.
fn details<'a>(outcome: &'a Outcome, action: &str) -> &'a serde_json::Value {
    let found: Vec<_> = outcome
        .decisions
        .iter()
        .filter(|record| record.action == action)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {action} record in {:?}",
        decisions(outcome)
    );
    &found[0].details
}

/// One line per command: whom, what (payload type, purpose, id), when.
/// The carrier the decision awarded the load to, if any.
fn awarded(outcome: &Outcome) -> Option<PartnerId> {
    outcome.feedback.iter().find_map(|feedback| match feedback {
        CarrierFeedback::Awarded { carrier, .. } => Some(carrier.clone()),
        _ => None,
    })
}

fn commands(outcome: &Outcome) -> Vec<String> {
    outcome.commands.iter().map(describe).collect()
}

fn describe(command: &Command) -> String {
    match command {
        Command::Send { to, payload } => {
            let what = match payload.as_ref() {
                EventPayload::TenderOffered(tender) => {
                    format!("204 {:?} {}", tender.purpose, tender.tender_id)
                }
                EventPayload::ShipmentPlanned(shipment) => {
                    format!("shipment_planned {}", shipment.shipper_load_id)
                }
                EventPayload::StatusReported(event) => {
                    format!("status {:?} {}", event.status, event.raw_code)
                }
                EventPayload::OrderCancelled(cancel) => {
                    format!("order_cancelled {}", cancel.order_id)
                }
                EventPayload::InvoiceReceived(invoice) => {
                    format!("invoice {}", invoice.invoice_number)
                }
                other => format!("{:?}", other.event_type()),
            };
            format!("send {to} {what}")
        }
        Command::Schedule { due, timer } => match timer {
            Timer::TenderExpiry { load, tender_id } => {
                format!("schedule tender_expiry {load} {tender_id} at {due}")
            }
            Timer::WaveCutoff { load } => format!("schedule wave_cutoff {load} at {due}"),
        },
        Command::Alert { code, .. } => format!("alert {code}"),
    }
}

/// The payload of the `index`th command, which must be a send.
fn sent(outcome: &Outcome, index: usize) -> &EventPayload {
    match &outcome.commands[index] {
        Command::Send { payload, .. } => payload,
        other => panic!("command {index} is not a send: {other:?}"),
    }
}

/// The message of the one alert with `code`.
fn alert<'a>(outcome: &'a Outcome, code: &str) -> &'a str {
    let found: Vec<&str> = outcome
        .commands
        .iter()
        .filter_map(|command| match command {
            Command::Alert { code: c, message } if c == code => Some(message.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {code} alert in {:?}",
        commands(outcome)
    );
    found[0]
}

/// `(tender id, carrier, outcome)` of every tender, oldest first.
fn tenders(load: &LoadState) -> Vec<(String, String, TenderOutcome)> {
    load.tenders
        .iter()
        .map(|tender| {
            (
                tender.tender_id.clone(),
                tender.carrier.to_string(),
                tender.outcome,
            )
        })
        .collect()
}

fn tender_row(
    tender_id: &str,
    carrier: &str,
    outcome: TenderOutcome,
) -> (String, String, TenderOutcome) {
    (tender_id.to_owned(), carrier.to_owned(), outcome)
}

/// The audit record of the invoice decision.
fn audited(outcome: &Outcome) -> AuditOutcome {
    serde_json::from_value(details(outcome, "invoice_audited").clone()).unwrap()
}

// ---------------------------------------------------------------------------------------
// Common beginnings
// ---------------------------------------------------------------------------------------

/// Order `SO-1001` picked at T0 without a wave: dispatched at once, tendered to cargo.
fn dispatched(world: &World) -> Outcome {
    on_pick(
        &tenant(),
        None,
        &order(ORDER, false),
        &pick(ORDER, None, "2026-03-08T11:55:00Z"),
        &world.at(T0),
    )
    .unwrap()
}

/// `LSO-1001` accepted by cargo: 997 at 12:05, 990 accept at 13:00.
fn accepted(world: &World) -> LoadState {
    let tendering = dispatched(world).load;
    let confirmed = on_ack(
        tendering,
        "LSO-1001-T1",
        TenderPurpose::Original,
        &ack(AckStatus::Accepted, Vec::new()),
        &world.at("2026-03-08T12:05:00Z"),
    )
    .unwrap()
    .load;
    let accepted = on_tender_response(
        confirmed,
        &response(
            LOAD,
            "LSO-1001-T1",
            "CRGO",
            TenderDecision::Accepted,
            "2026-03-08T13:00:00Z",
        ),
        &id("cargo"),
        &world.at("2026-03-08T13:00:00Z"),
    )
    .unwrap()
    .load;
    assert_eq!(accepted.status, LoadStatus::Accepted);
    accepted
}

fn linehaul_and_fuel(
    linehaul: &'static str,
    fuel: &'static str,
) -> Vec<(ChargeType, &'static str, &'static str)> {
    vec![
        (ChargeType::Linehaul, "400", linehaul),
        (ChargeType::FuelSurcharge, "FUE", fuel),
    ]
}

// ---------------------------------------------------------------------------------------
// 1. Happy path
// ---------------------------------------------------------------------------------------

#[test]
fn happy_path_from_pick_to_approved_invoice() {
    let world = World::new();

    // Pick without a wave: the load is built and dispatched at once.
    let picked = dispatched(&world);
    assert_eq!(
        decisions(&picked),
        [
            "load_built/dispatch_at_once",
            "carrier_selection/hard_filters_then_score",
            "tender_sent/waterfall_next",
        ]
    );
    let selection: SelectionDecision =
        serde_json::from_value(details(&picked, "carrier_selection").clone()).unwrap();
    assert_eq!(
        selection.ranking,
        [id("cargo"), id("acme"), id("bolt"), id("dray")]
    );
    assert_eq!(selection.decided_at, instant(T0));
    // Cheapest first: a 997 carrier, so no expiry timer until its 997.
    assert_eq!(commands(&picked), ["send cargo 204 Original LSO-1001-T1"]);
    let EventPayload::TenderOffered(tender) = sent(&picked, 0) else {
        panic!("a tender");
    };
    assert_eq!(tender.carrier.scac.as_str(), "CRGO");
    assert_eq!(tender.offered_rate, Some(usd("990.00")));
    assert_eq!(tender.respond_by, Some(instant("2026-03-08T14:00:00Z")));
    assert_eq!(tender.payment_terms, PaymentTerms::Prepaid);
    assert_eq!(tender.shipment.shipper_load_id, load_id(LOAD));
    assert_eq!(tender.shipment.orders, [OrderId::new(ORDER).unwrap()]);
    assert_eq!(
        details(&picked, "tender_sent"),
        &json!({
            "tender_id": "LSO-1001-T1",
            "carrier": "cargo",
            "offered": {"amount": "990.00", "currency": "USD"},
            "respond_by": "2026-03-08T14:00:00Z",
            "clock": "starts_at_997",
        })
    );
    let load = picked.load;
    assert_eq!(load.status, LoadStatus::Tendering);
    assert_eq!(load.tenders.len(), 1);
    assert_eq!(load.tenders[0].transmission, Transmission::AwaitingAck);
    assert_eq!(load.tenders[0].expires_at, None);

    // The 997 accepts the 204: the respond-by clock starts now.
    let acked = on_ack(
        load,
        "LSO-1001-T1",
        TenderPurpose::Original,
        &ack(AckStatus::Accepted, Vec::new()),
        &world.at("2026-03-08T12:05:00Z"),
    )
    .unwrap();
    assert_eq!(
        decisions(&acked),
        ["tender_transmission_confirmed/997_accepted"]
    );
    assert_eq!(
        commands(&acked),
        ["schedule tender_expiry LSO-1001 LSO-1001-T1 at 2026-03-08T14:05:00Z"]
    );
    assert_eq!(acked.load.tenders[0].transmission, Transmission::Confirmed);
    assert_eq!(
        acked.load.tenders[0].expires_at,
        Some(instant("2026-03-08T14:05:00Z"))
    );
    assert_eq!(acked.load.status, LoadStatus::Tendering);

    // 990 accept: awarded, the WMS is told the plan.
    let accepted = on_tender_response(
        acked.load,
        &response(
            LOAD,
            "LSO-1001-T1",
            "CRGO",
            TenderDecision::Accepted,
            "2026-03-08T13:00:00Z",
        ),
        &id("cargo"),
        &world.at("2026-03-08T13:00:00Z"),
    )
    .unwrap();
    assert_eq!(
        decisions(&accepted),
        ["tender_accepted/open_tender_accepted"]
    );
    assert_eq!(commands(&accepted), ["send wms shipment_planned LSO-1001"]);
    let EventPayload::ShipmentPlanned(planned) = sent(&accepted, 0) else {
        panic!("a plan");
    };
    assert_eq!(planned.carrier.as_ref().unwrap().scac.as_str(), "CRGO");
    assert_eq!(planned.pro_number.as_ref().unwrap().as_str(), "PRO-CRGO-1");
    assert_eq!(awarded(&accepted), Some(id("cargo")));
    let load = accepted.load;
    assert_eq!(load.status, LoadStatus::Accepted);
    assert_eq!(
        tenders(&load),
        [tender_row("LSO-1001-T1", "cargo", TenderOutcome::Accepted)]
    );
    let awarded = load.carrier.as_ref().unwrap();
    assert_eq!(awarded.tender_id, "LSO-1001-T1");
    assert_eq!(awarded.cost.total, usd("990.00"));
    assert_eq!(awarded.accepted_at, instant("2026-03-08T13:00:00Z"));

    // The expiry timer still fires: the tender is no longer open.
    let timer = Timer::TenderExpiry {
        load: load_id(LOAD),
        tender_id: "LSO-1001-T1".to_owned(),
    };
    let fired = on_timer(load, &timer, &world.at("2026-03-08T14:05:00Z")).unwrap();
    assert_eq!(decisions(&fired), ["expiry_ignored/tender_not_open"]);
    assert!(fired.commands.is_empty());
    assert_eq!(fired.load.status, LoadStatus::Accepted);

    // 214 AF: departed the pickup → in transit.
    let departed = on_status(
        fired.load,
        &status(
            StatusType::DepartedPickup,
            "AF",
            Some(1),
            utc("2026-03-10T15:00:00Z"),
            "cargo",
        ),
        None,
        &world.at("2026-03-10T15:10:00Z"),
    )
    .unwrap();
    assert_eq!(
        decisions(&departed),
        [
            "status_recorded/append_only",
            "load_in_transit/departed_pickup"
        ]
    );
    assert!(departed.commands.is_empty());
    assert_eq!(departed.load.status, LoadStatus::InTransit);
    assert_eq!(
        departed.load.tracking.progress(),
        Progress::PickedUp { stop: 1 }
    );

    // 214 D1 at the last stop: delivered, the WMS and the ERP are told.
    let delivered = on_status(
        departed.load,
        &status(
            StatusType::Delivered,
            "D1",
            Some(2),
            utc("2026-03-12T18:00:00Z"),
            "cargo",
        ),
        None,
        &world.at("2026-03-12T18:05:00Z"),
    )
    .unwrap();
    assert_eq!(
        decisions(&delivered),
        [
            "status_recorded/append_only",
            "load_delivered/delivered_at_last_stop"
        ]
    );
    assert_eq!(
        commands(&delivered),
        [
            "send wms status Delivered D1",
            "send erp status Delivered D1"
        ]
    );
    let EventPayload::StatusReported(d1) = sent(&delivered, 1) else {
        panic!("a status");
    };
    assert_eq!(d1.occurred_at.utc, Some(instant("2026-03-12T18:00:00Z")));
    assert_eq!(d1.stop_seq, Some(2));
    assert_eq!(delivered.load.status, LoadStatus::Delivered);

    // 210 at the accepted price: approved, the ERP gets the invoice.
    let invoiced = on_invoice(
        delivered.load,
        &invoice(
            "INV-1",
            InvoiceKind::Original,
            "CRGO",
            &linehaul_and_fuel("900.00", "90.00"),
        ),
        &world.at("2026-03-13T09:00:00Z"),
    )
    .unwrap();
    assert_eq!(decisions(&invoiced), ["invoice_audited/approve"]);
    assert_eq!(commands(&invoiced), ["send erp invoice INV-1"]);
    let audit = audited(&invoiced);
    assert_eq!(audit.disposition, Disposition::Approve);
    assert_eq!(audit.approved_amount, usd("990.00"));
    assert_eq!(audit.expected_total, Some(usd("990.00")));
    assert_eq!(invoiced.load.invoices.len(), 1);
    assert_eq!(invoiced.load.invoices[0].disposition, Disposition::Approve);
    assert_eq!(invoiced.load.status, LoadStatus::Delivered);
}

// ---------------------------------------------------------------------------------------
// 2. Hazmat: exclusion, approval, waterfall, fuel over tolerance
// ---------------------------------------------------------------------------------------

#[test]
fn hazmat_load_waits_for_approval_then_walks_the_waterfall_and_short_pays_fuel() {
    let world = World::new();
    let picked = on_pick(
        &tenant(),
        None,
        &order("SO-2001", true),
        &pick("SO-2001", None, "2026-03-08T11:55:00Z"),
        &world.at(T0),
    )
    .unwrap();
    assert_eq!(
        decisions(&picked),
        [
            "load_built/dispatch_at_once",
            "carrier_selection/hard_filters_then_score",
            "approval_required/guardrails",
        ]
    );
    // cargo is not hazmat-qualified: excluded under that rule, in the record.
    let record = details(&picked, "carrier_selection");
    let cargo = record["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|candidate| candidate["carrier"] == "cargo")
        .unwrap();
    assert_eq!(
        cargo["outcome"],
        json!({"excluded": {"rule": "hazmat_not_qualified"}})
    );
    let selection: SelectionDecision = serde_json::from_value(record.clone()).unwrap();
    assert_eq!(
        selection
            .candidate(&id("cargo"))
            .unwrap()
            .outcome
            .exclusion(),
        Some(&Exclusion::HazmatNotQualified)
    );
    assert_eq!(selection.ranking, [id("acme"), id("bolt"), id("dray")]);
    assert_eq!(
        details(&picked, "approval_required"),
        &json!({"reasons": ["hazmat"]})
    );
    assert_eq!(commands(&picked), ["alert approval_required"]);
    assert_eq!(
        alert(&picked, "approval_required"),
        "load LSO-2001 needs approval before it is tendered: hazmat"
    );
    assert_eq!(
        picked.load.status,
        LoadStatus::AwaitingApproval {
            reasons: vec!["hazmat".to_owned()]
        }
    );
    assert!(picked.load.tenders.is_empty());

    // A person approves: the first of the ranking gets the tender.
    let approved = transload_orchestrator::process::on_override(
        picked.load,
        &Override::Approve {
            by: "dispatcher@acme-retail".to_owned(),
            reason: "placarded, driver certified".to_owned(),
        },
        &world.at("2026-03-08T12:30:00Z"),
    )
    .unwrap();
    assert_eq!(
        decisions(&approved),
        ["approved/manual_override", "tender_sent/waterfall_next"]
    );
    assert_eq!(commands(&approved), ["send acme 204 Original LSO-2001-T1"]);
    assert_eq!(approved.load.status, LoadStatus::Tendering);
    assert_eq!(approved.load.approvals.len(), 1);
    assert_eq!(approved.load.approvals[0].approved, ["hazmat"]);
    assert_eq!(
        approved.load.approvals[0].at,
        instant("2026-03-08T12:30:00Z")
    );

    // acme's 997 accepts, then its 990 declines: bolt is next (T2).
    let acked = on_ack(
        approved.load,
        "LSO-2001-T1",
        TenderPurpose::Original,
        &ack(AckStatus::Accepted, Vec::new()),
        &world.at("2026-03-08T12:32:00Z"),
    )
    .unwrap();
    assert_eq!(
        commands(&acked),
        ["schedule tender_expiry LSO-2001 LSO-2001-T1 at 2026-03-08T14:32:00Z"]
    );
    let declined = on_tender_response(
        acked.load,
        &response(
            "LSO-2001",
            "LSO-2001-T1",
            "ACME",
            TenderDecision::Declined,
            "2026-03-08T13:00:00Z",
        ),
        &id("acme"),
        &world.at("2026-03-08T13:00:00Z"),
    )
    .unwrap();
    assert_eq!(
        decisions(&declined),
        [
            "tender_declined/open_tender_declined",
            "tender_sent/waterfall_next"
        ]
    );
    assert_eq!(commands(&declined), ["send bolt 204 Original LSO-2001-T2"]);
    assert_eq!(
        tenders(&declined.load),
        [
            tender_row("LSO-2001-T1", "acme", TenderOutcome::Declined),
            tender_row("LSO-2001-T2", "bolt", TenderOutcome::Open),
        ]
    );
    assert_eq!(declined.load.status, LoadStatus::Tendering);

    // bolt accepts.
    let accepted = on_tender_response(
        declined.load,
        &response(
            "LSO-2001",
            "LSO-2001-T2",
            "BOLT",
            TenderDecision::Accepted,
            "2026-03-08T13:30:00Z",
        ),
        &id("bolt"),
        &world.at("2026-03-08T13:30:00Z"),
    )
    .unwrap();
    assert_eq!(
        decisions(&accepted),
        ["tender_accepted/open_tender_accepted"]
    );
    assert_eq!(commands(&accepted), ["send wms shipment_planned LSO-2001"]);
    assert_eq!(awarded(&accepted), Some(id("bolt")));
    assert_eq!(accepted.load.status, LoadStatus::Accepted);
    assert_eq!(
        accepted.load.carrier.as_ref().unwrap().cost.total,
        usd("1155.00")
    );

    // The 210 bills fuel 140.00 against 105.00 (tolerance 5.00): short pay 1155.00.
    let mut bill = invoice(
        "INV-2",
        InvoiceKind::Original,
        "BOLT",
        &linehaul_and_fuel("1050.00", "140.00"),
    );
    bill.shipper_load_id = Some(load_id("LSO-2001"));
    let invoiced = on_invoice(accepted.load, &bill, &world.at("2026-03-13T09:00:00Z")).unwrap();
    assert_eq!(decisions(&invoiced), ["invoice_audited/short_pay"]);
    assert_eq!(commands(&invoiced), ["send erp invoice INV-2"]);
    let audit = audited(&invoiced);
    assert_eq!(
        audit.disposition,
        Disposition::ShortPay {
            pay: usd("1155.00")
        }
    );
    assert_eq!(audit.approved_amount, usd("1155.00"));
    assert_eq!(audit.billed_total, usd("1190.00"));
    assert_eq!(audit.rules, [Rule::OverTolerance]);
    let fuel = audit.line(ChargeType::FuelSurcharge, None).unwrap();
    assert_eq!(fuel.rule, Rule::OverTolerance);
    assert_eq!(fuel.approved, usd("105.00"));
    assert_eq!(
        details(&invoiced, "invoice_audited")["disposition"],
        json!({"kind": "short_pay", "pay": {"amount": "1155.00", "currency": "USD"}})
    );
}

// ---------------------------------------------------------------------------------------
// 3. Tender expiry and a late accept
// ---------------------------------------------------------------------------------------

#[test]
fn tender_expires_at_respond_by_then_a_late_accept_is_recorded_not_applied() {
    let world = World::new();
    let tendering = dispatched(&world).load;
    let confirmed = on_ack(
        tendering,
        "LSO-1001-T1",
        TenderPurpose::Original,
        &ack(AckStatus::Accepted, Vec::new()),
        &world.at("2026-03-08T12:05:00Z"),
    )
    .unwrap()
    .load;
    let timer = Timer::TenderExpiry {
        load: load_id(LOAD),
        tender_id: "LSO-1001-T1".to_owned(),
    };

    // Before the due time (14:05) the timer changes nothing but comes back at 14:05.
    let early = on_timer(confirmed, &timer, &world.at("2026-03-08T14:04:59Z")).unwrap();
    assert_eq!(
        decisions(&early),
        ["expiry_not_due/rescheduled_to_expires_at"]
    );
    assert_eq!(
        commands(&early),
        ["schedule tender_expiry LSO-1001 LSO-1001-T1 at 2026-03-08T14:05:00Z"]
    );
    assert_eq!(early.load.status, LoadStatus::Tendering);
    assert_eq!(
        tenders(&early.load),
        [tender_row("LSO-1001-T1", "cargo", TenderOutcome::Open)]
    );

    // At the due time: expired, acme gets T2 (a 997 carrier: no timer yet).
    let expired = on_timer(early.load, &timer, &world.at("2026-03-08T14:05:00Z")).unwrap();
    assert_eq!(
        decisions(&expired),
        [
            "tender_expired/no_response_by_respond_by",
            "tender_sent/waterfall_next"
        ]
    );
    assert_eq!(commands(&expired), ["send acme 204 Original LSO-1001-T2"]);
    assert_eq!(
        details(&expired, "tender_expired"),
        &json!({"tender_id": "LSO-1001-T1", "carrier": "cargo", "expired_at": "2026-03-08T14:05:00Z"})
    );
    assert_eq!(
        tenders(&expired.load),
        [
            tender_row("LSO-1001-T1", "cargo", TenderOutcome::Expired),
            tender_row("LSO-1001-T2", "acme", TenderOutcome::Open),
        ]
    );
    assert_eq!(
        expired.load.tenders[1].transmission,
        Transmission::AwaitingAck
    );
    assert_eq!(
        expired.load.tenders[1].sent_at,
        instant("2026-03-08T14:05:00Z")
    );

    // cargo accepts T1 after all: recorded, not applied; cargo gets the tender withdrawn
    // (204 cancellation) and operations an alert.
    let late = on_tender_response(
        expired.load,
        &response(
            LOAD,
            "LSO-1001-T1",
            "CRGO",
            TenderDecision::Accepted,
            "2026-03-08T14:20:00Z",
        ),
        &id("cargo"),
        &world.at("2026-03-08T14:20:00Z"),
    )
    .unwrap();
    assert_eq!(
        decisions(&late),
        ["late_accept_recorded/tender_had_expired"]
    );
    assert_eq!(
        commands(&late),
        [
            "send cargo 204 Cancellation LSO-1001-T1",
            "alert late_accept"
        ]
    );
    assert_eq!(awarded(&late), None);
    assert_eq!(late.load.status, LoadStatus::Tendering);
    assert_eq!(late.load.carrier, None);
    assert_eq!(
        tenders(&late.load),
        [
            tender_row("LSO-1001-T1", "cargo", TenderOutcome::LateAccepted),
            tender_row("LSO-1001-T2", "acme", TenderOutcome::Open),
        ]
    );
    assert_eq!(late.load.open_tender().unwrap().tender_id, "LSO-1001-T2");
}

// ---------------------------------------------------------------------------------------
// 4. Cancellation after acceptance, TONU
// ---------------------------------------------------------------------------------------

fn cancellation(at: &str) -> OrderCancellation {
    OrderCancellation {
        order_id: OrderId::new(ORDER).unwrap(),
        reason: Some("customer cancelled".to_owned()),
        cancelled_at: instant(at),
    }
}

#[test]
fn cancellation_within_the_tonu_window_cancels_the_tender_and_the_tonu_invoice_is_approved() {
    let world = World::new();
    let load = accepted(&world);

    // 12 h before the pickup at 2026-03-10 14:00 (window: 24 h).
    let cancelled = on_order_cancelled(
        load.clone(),
        &cancellation("2026-03-10T02:00:00Z"),
        &world.at("2026-03-10T02:00:00Z"),
    )
    .unwrap();
    assert_eq!(
        decisions(&cancelled),
        [
            "tender_withdrawn/order_cancelled",
            "tonu_owed/cancelled_within_tonu_window",
            "load_cancelled/last_order_cancelled",
        ]
    );
    assert_eq!(
        commands(&cancelled),
        [
            "send wms order_cancelled SO-1001",
            "send cargo 204 Cancellation LSO-1001-T1",
        ]
    );
    let EventPayload::TenderOffered(cancel) = sent(&cancelled, 1) else {
        panic!("a 204");
    };
    assert_eq!(cancel.purpose, TenderPurpose::Cancellation);
    assert_eq!(cancel.carrier.scac.as_str(), "CRGO");
    assert_eq!(cancel.offered_rate, None);
    assert_eq!(
        details(&cancelled, "tonu_owed"),
        &json!({
            "carrier": "cargo",
            "fee": {"amount": "150.00", "currency": "USD"},
            "pickup_at": "2026-03-10T14:00:00Z",
        })
    );
    assert_eq!(cancelled.load.status, LoadStatus::Cancelled);
    assert_eq!(cancelled.load.tonu, Some(usd("150.00")));
    assert_eq!(cancelled.load.carrier, None);
    assert_eq!(
        tenders(&cancelled.load),
        [tender_row("LSO-1001-T1", "cargo", TenderOutcome::Withdrawn)]
    );

    // The carrier bills the TONU: supported by the late cancellation, approved.
    let invoiced = on_invoice(
        cancelled.load,
        &invoice(
            "INV-T",
            InvoiceKind::Original,
            "CRGO",
            &[(ChargeType::Accessorial, "TONU", "150.00")],
        ),
        &world.at("2026-03-11T09:00:00Z"),
    )
    .unwrap();
    assert_eq!(decisions(&invoiced), ["invoice_audited/approve"]);
    assert_eq!(commands(&invoiced), ["send erp invoice INV-T"]);
    let audit = audited(&invoiced);
    assert_eq!(audit.disposition, Disposition::Approve);
    assert_eq!(audit.approved_amount, usd("150.00"));
    assert_eq!(
        audit
            .line(ChargeType::Accessorial, Some("TONU"))
            .unwrap()
            .rule,
        Rule::WithinTolerance
    );

    // The same cancellation 26 h before pickup owes nothing.
    let early = on_order_cancelled(
        load,
        &cancellation("2026-03-09T12:00:00Z"),
        &world.at("2026-03-09T12:00:00Z"),
    )
    .unwrap();
    assert_eq!(
        decisions(&early),
        [
            "tender_withdrawn/order_cancelled",
            "load_cancelled/last_order_cancelled",
        ]
    );
    assert_eq!(early.load.tonu, None);
    assert_eq!(early.load.status, LoadStatus::Cancelled);
}

// ---------------------------------------------------------------------------------------
// 5. Out-of-order and repeated 214s
// ---------------------------------------------------------------------------------------

#[test]
fn delivered_before_departed_stays_delivered_and_a_resend_is_a_duplicate() {
    let world = World::new();
    let load = accepted(&world);
    let d1 = status(
        StatusType::Delivered,
        "D1",
        Some(2),
        utc("2026-03-12T18:00:00Z"),
        "cargo",
    );
    let af = status(
        StatusType::DepartedPickup,
        "AF",
        Some(1),
        utc("2026-03-10T15:00:00Z"),
        "cargo",
    );

    let delivered = on_status(load, &d1, None, &world.at("2026-03-12T18:05:00Z")).unwrap();
    assert_eq!(
        decisions(&delivered),
        [
            "status_recorded/append_only",
            "load_delivered/delivered_at_last_stop"
        ]
    );
    assert_eq!(
        commands(&delivered),
        [
            "send wms status Delivered D1",
            "send erp status Delivered D1"
        ]
    );
    assert_eq!(delivered.load.status, LoadStatus::Delivered);

    // The AF of two days before arrives late: logged, nothing moves, nobody is told.
    let late_af = on_status(delivered.load, &af, None, &world.at("2026-03-12T18:10:00Z")).unwrap();
    assert_eq!(decisions(&late_af), ["status_recorded/append_only"]);
    assert_eq!(
        details(&late_af, "status_recorded")["recorded"],
        json!({"outcome": "stored", "effect": "late"})
    );
    assert!(late_af.commands.is_empty());
    assert_eq!(late_af.load.status, LoadStatus::Delivered);
    assert_eq!(late_af.load.tracking.progress(), Progress::Delivered);
    assert_eq!(
        late_af.load.tracking.stop_times(1).unwrap().departed_at,
        Some(utc("2026-03-10T15:00:00Z"))
    );

    // The same AF again: a duplicate.
    let again = on_status(late_af.load, &af, None, &world.at("2026-03-12T18:15:00Z")).unwrap();
    assert_eq!(
        decisions(&again),
        ["status_duplicate/same_status_seen_before"]
    );
    assert!(again.commands.is_empty());
    assert_eq!(again.load.status, LoadStatus::Delivered);
    assert_eq!(again.load.tracking.log().len(), 2);
}

// ---------------------------------------------------------------------------------------
// 6. Running late
// ---------------------------------------------------------------------------------------

fn eta_update(reported_at: &str, eta: &str) -> StatusEvent {
    let mut event = status(
        StatusType::EtaUpdated,
        "AG",
        Some(2),
        utc(reported_at),
        "cargo",
    );
    event.eta = Some(utc(eta));
    event
}

#[test]
fn an_eta_beyond_the_delivery_window_raises_running_late_once() {
    let world = World::new();
    let load = accepted(&world);
    let in_transit = on_status(
        load,
        &status(
            StatusType::DepartedPickup,
            "AF",
            Some(1),
            utc("2026-03-10T15:00:00Z"),
            "cargo",
        ),
        None,
        &world.at("2026-03-10T15:10:00Z"),
    )
    .unwrap()
    .load;

    // ETA 3 h after the promised 2026-03-12 22:00 (tolerance 30 min).
    let late = on_status(
        in_transit,
        &eta_update("2026-03-11T12:00:00Z", "2026-03-13T01:00:00Z"),
        None,
        &world.at("2026-03-11T12:00:00Z"),
    )
    .unwrap();
    assert_eq!(
        decisions(&late),
        [
            "status_recorded/append_only",
            "running_late/eta_beyond_window_plus_tolerance",
        ]
    );
    assert_eq!(
        commands(&late),
        [
            "alert running_late",
            "send consignee status Delayed RUNNING_LATE",
            "send wms status Delayed RUNNING_LATE",
        ]
    );
    assert_eq!(
        alert(&late, "running_late"),
        "load LSO-1001 is running late at stop 2"
    );
    let lateness: Lateness =
        serde_json::from_value(details(&late, "running_late").clone()).unwrap();
    assert_eq!(lateness.stop, 2);
    assert_eq!(lateness.basis, LatenessBasis::Eta);
    assert_eq!(lateness.promised, instant("2026-03-12T22:00:00Z"));
    assert_eq!(lateness.late_by, SignedDuration::from_hours(3));
    assert!(!lateness.before_pickup);
    let EventPayload::StatusReported(delayed) = sent(&late, 1) else {
        panic!("a status");
    };
    assert_eq!(delayed.status, StatusType::Delayed);
    assert_eq!(delayed.stop_seq, Some(2));
    assert_eq!(delayed.eta, Some(utc("2026-03-13T01:00:00Z")));
    assert_eq!(delayed.occurred_at, utc("2026-03-11T12:00:00Z"));
    assert_eq!(delayed.reported_by, id("cargo"));
    assert_eq!(sent(&late, 2), sent(&late, 1));
    assert!(late.load.running_late);
    assert_eq!(late.load.status, LoadStatus::InTransit);
    assert_eq!(
        tenders(&late.load),
        [tender_row("LSO-1001-T1", "cargo", TenderOutcome::Accepted)]
    );

    // A later, even later ETA: recorded, not raised again.
    let again = on_status(
        late.load,
        &eta_update("2026-03-11T18:00:00Z", "2026-03-13T02:00:00Z"),
        None,
        &world.at("2026-03-11T18:00:00Z"),
    )
    .unwrap();
    assert_eq!(decisions(&again), ["status_recorded/append_only"]);
    assert!(again.commands.is_empty());
    assert!(again.load.running_late);
}

// ---------------------------------------------------------------------------------------
// 7. A 997 rejecting the 204
// ---------------------------------------------------------------------------------------

#[test]
fn a_997_rejecting_the_204_withdraws_the_tender_and_needs_a_person() {
    let world = World::new();
    let tendering = dispatched(&world).load;
    let rejected = on_ack(
        tendering,
        "LSO-1001-T1",
        TenderPurpose::Original,
        &ack(
            AckStatus::Rejected,
            vec![AckError {
                transaction_control_number: Some("0001".to_owned()),
                segment_tag: Some("N1".to_owned()),
                segment_position: Some(7),
                loop_id: Some("0300".to_owned()),
                element_position: Some(4),
                code: "7".to_owned(),
                bad_value: Some("ZZ".to_owned()),
            }],
        ),
        &world.at("2026-03-08T12:05:00Z"),
    )
    .unwrap();
    let path = r#"ST 0001: segment N1 at 7 (loop 0300), element 4: code 7, bad value "ZZ""#;
    assert_eq!(
        decisions(&rejected),
        [
            "tender_transmission_rejected/997_rejected",
            "needs_person/tender_rejected_by_997",
        ]
    );
    assert_eq!(commands(&rejected), ["alert tender_rejected_by_997"]);
    let reason = format!("cargo rejected the 204 of tender LSO-1001-T1: {path}");
    assert_eq!(
        alert(&rejected, "tender_rejected_by_997"),
        format!("load LSO-1001: {reason}")
    );
    assert_eq!(
        rejected.load.status,
        LoadStatus::NeedsPerson {
            code: "tender_rejected_by_997".to_owned(),
            reason,
        }
    );
    assert_eq!(
        rejected.load.tenders[0].transmission,
        Transmission::Rejected {
            errors: vec![path.to_owned()]
        }
    );
    assert_eq!(
        tenders(&rejected.load),
        [tender_row("LSO-1001-T1", "cargo", TenderOutcome::Withdrawn)]
    );
    assert_eq!(rejected.load.tenders[0].expires_at, None);
    assert_eq!(rejected.load.open_tender(), None);
}

// ---------------------------------------------------------------------------------------
// 8. Duplicate invoice and rebill
// ---------------------------------------------------------------------------------------

#[test]
fn a_repeated_original_invoice_is_a_duplicate_and_a_rebill_is_audited_afresh() {
    let world = World::new();
    let load = accepted(&world);
    let original = invoice(
        "INV-9",
        InvoiceKind::Original,
        "CRGO",
        &linehaul_and_fuel("900.00", "90.00"),
    );

    let first = on_invoice(load, &original, &world.at("2026-03-13T09:00:00Z")).unwrap();
    assert_eq!(decisions(&first), ["invoice_audited/approve"]);

    let second = on_invoice(first.load, &original, &world.at("2026-03-13T10:00:00Z")).unwrap();
    assert_eq!(decisions(&second), ["invoice_audited/duplicate"]);
    let audit = audited(&second);
    assert_eq!(audit.disposition, Disposition::Duplicate);
    assert_eq!(audit.rules, [Rule::DuplicateInvoice]);
    assert_eq!(audit.approved_amount, usd("0"));
    assert_eq!(audit.duplicate_of.as_ref().unwrap().invoice_number, "INV-9");
    assert_eq!(second.load.invoices.len(), 2);
    assert_eq!(second.load.invoices[1].disposition, Disposition::Duplicate);

    let mut rebill = invoice(
        "INV-9",
        InvoiceKind::Rebill,
        "CRGO",
        &linehaul_and_fuel("900.00", "92.00"),
    );
    rebill.raw_correction_code = Some("CI".to_owned());
    let third = on_invoice(second.load, &rebill, &world.at("2026-03-14T09:00:00Z")).unwrap();
    assert_eq!(decisions(&third), ["invoice_audited/approve"]);
    let audit = audited(&third);
    assert_eq!(audit.disposition, Disposition::Approve);
    assert_eq!(audit.rules, [Rule::RebillReplaces]);
    assert_eq!(audit.approved_amount, usd("992.00"));
    let replaced = audit.supersedes.as_ref().unwrap();
    assert_eq!(replaced.invoice_number, "INV-9");
    assert_eq!(replaced.kind, InvoiceKind::Original);
    assert_eq!(replaced.disposition, Disposition::Approve);
    assert_eq!(third.load.invoices.len(), 3);
}

// ---------------------------------------------------------------------------------------
// 9. Accessorials not tendered: detention
// ---------------------------------------------------------------------------------------

/// The accepted load with an X3 at the pickup at 14:00 and an AF at `departed_at`.
fn picked_up_after(world: &World, departed_at: &str) -> LoadState {
    let arrived = on_status(
        accepted(world),
        &status(
            StatusType::ArrivedAtPickup,
            "X3",
            Some(1),
            utc("2026-03-10T14:00:00Z"),
            "cargo",
        ),
        None,
        &world.at("2026-03-10T14:05:00Z"),
    )
    .unwrap();
    assert_eq!(decisions(&arrived), ["status_recorded/append_only"]);
    assert_eq!(arrived.load.status, LoadStatus::Accepted);
    let departed = on_status(
        arrived.load,
        &status(
            StatusType::DepartedPickup,
            "AF",
            Some(1),
            utc(departed_at),
            "cargo",
        ),
        None,
        &world.at(departed_at),
    )
    .unwrap();
    assert_eq!(
        decisions(&departed),
        [
            "status_recorded/append_only",
            "load_in_transit/departed_pickup"
        ]
    );
    departed.load
}

fn detention_invoice() -> Invoice {
    let mut lines = linehaul_and_fuel("900.00", "90.00");
    lines.push((ChargeType::Accessorial, "DET", "75.00"));
    invoice("INV-D", InvoiceKind::Original, "CRGO", &lines)
}

#[test]
fn detention_not_tendered_is_short_paid_without_dwell_and_approved_with_three_hours() {
    let world = World::new();

    // One hour at the pickup: detention unsupported, short-paid out.
    let short = on_invoice(
        picked_up_after(&world, "2026-03-10T15:00:00Z"),
        &detention_invoice(),
        &world.at("2026-03-13T09:00:00Z"),
    )
    .unwrap();
    assert_eq!(decisions(&short), ["invoice_audited/short_pay"]);
    let audit = audited(&short);
    assert_eq!(
        audit.disposition,
        Disposition::ShortPay { pay: usd("990.00") }
    );
    assert_eq!(audit.rules, [Rule::AccessorialNotAuthorized]);
    let det = audit.line(ChargeType::Accessorial, Some("DET")).unwrap();
    assert_eq!(det.rule, Rule::AccessorialNotAuthorized);
    assert_eq!(det.approved, usd("0"));

    // Three hours at the pickup: detention supported by the 214s, approved.
    let approved = on_invoice(
        picked_up_after(&world, "2026-03-10T17:00:00Z"),
        &detention_invoice(),
        &world.at("2026-03-13T09:00:00Z"),
    )
    .unwrap();
    assert_eq!(decisions(&approved), ["invoice_audited/approve"]);
    let audit = audited(&approved);
    assert_eq!(audit.disposition, Disposition::Approve);
    assert_eq!(audit.approved_amount, usd("1065.00"));
    let det = audit.line(ChargeType::Accessorial, Some("DET")).unwrap();
    assert_eq!(det.rule, Rule::AccessorialSupportedByEvents);
    assert_eq!(det.approved, usd("75.00"));
}

// ---------------------------------------------------------------------------------------
// 10. Time zone from the stop when the 214 has no AT707
// ---------------------------------------------------------------------------------------

fn local(text: &str) -> DateTime {
    text.parse().unwrap()
}

#[test]
fn a_214_time_without_zone_is_read_in_the_stop_zone() {
    let world = World::new();
    // 09:30 in Chicago on 2026-03-10 is CDT (DST began 2026-03-08): 14:30 UTC.
    let arrived = on_status(
        accepted(&world),
        &status(
            StatusType::ArrivedAtPickup,
            "X3",
            Some(1),
            ZonedTime::unresolved(local("2026-03-10T09:30:00")),
            "cargo",
        ),
        None,
        &world.at("2026-03-10T14:35:00Z"),
    )
    .unwrap();
    assert_eq!(decisions(&arrived), ["status_recorded/append_only"]);
    let logged = &arrived.load.tracking.log().last().unwrap().event;
    assert_eq!(
        logged.occurred_at,
        ZonedTime {
            local: local("2026-03-10T09:30:00"),
            zone: Some(zone("America/Chicago")),
            utc: Some(instant("2026-03-10T14:30:00Z")),
            zone_source: ZoneSource::StopLocation,
        }
    );
    assert_eq!(
        arrived
            .load
            .tracking
            .stop_times(1)
            .unwrap()
            .arrived_at
            .as_ref()
            .unwrap()
            .utc,
        Some(instant("2026-03-10T14:30:00Z"))
    );

    // The D1 at the Atlanta stop, 13:00 local (EDT): 17:00 UTC, even with a partner zone.
    let delivered = on_status(
        arrived.load,
        &status(
            StatusType::Delivered,
            "D1",
            Some(2),
            ZonedTime::unresolved(local("2026-03-12T13:00:00")),
            "cargo",
        ),
        Some(zone("America/Los_Angeles")),
        &world.at("2026-03-12T17:05:00Z"),
    )
    .unwrap();
    let d1 = &delivered.load.tracking.log().last().unwrap().event;
    assert_eq!(d1.occurred_at.zone_source, ZoneSource::StopLocation);
    assert_eq!(d1.occurred_at.zone, Some(zone("America/New_York")));
    assert_eq!(d1.occurred_at.utc, Some(instant("2026-03-12T17:00:00Z")));
    assert_eq!(delivered.load.status, LoadStatus::Delivered);
    // The WMS and the ERP get the resolved time.
    let EventPayload::StatusReported(told) = sent(&delivered, 0) else {
        panic!("a status");
    };
    assert_eq!(told.occurred_at.utc, Some(instant("2026-03-12T17:00:00Z")));
}

// ---------------------------------------------------------------------------------------
// Routing guide exhausted
// ---------------------------------------------------------------------------------------

#[test]
fn every_carrier_declining_exhausts_the_routing_guide() {
    let world = World::new();
    let mut load = dispatched(&world).load;
    let walk = [
        ("cargo", "CRGO", "send acme 204 Original LSO-1001-T2"),
        ("acme", "ACME", "send bolt 204 Original LSO-1001-T3"),
        ("bolt", "BOLT", "send dray 204 Original LSO-1001-T4"),
    ];
    for (number, (carrier, scac, next)) in walk.into_iter().enumerate() {
        let tender_id = format!("LSO-1001-T{}", number + 1);
        let declined = on_tender_response(
            load,
            &response(
                LOAD,
                &tender_id,
                scac,
                TenderDecision::Declined,
                "2026-03-08T12:30:00Z",
            ),
            &id(carrier),
            &world.at("2026-03-08T12:30:00Z"),
        )
        .unwrap();
        assert_eq!(
            decisions(&declined),
            [
                "tender_declined/open_tender_declined",
                "tender_sent/waterfall_next"
            ]
        );
        // dray sends no 997: its clock starts with the tender.
        if carrier == "bolt" {
            assert_eq!(
                commands(&declined),
                [
                    next,
                    "schedule tender_expiry LSO-1001 LSO-1001-T4 at 2026-03-08T14:30:00Z"
                ]
            );
            assert_eq!(
                declined.load.tenders[3].transmission,
                Transmission::Confirmed
            );
        } else {
            assert_eq!(commands(&declined), [next]);
        }
        load = declined.load;
    }

    let exhausted = on_tender_response(
        load,
        &response(
            LOAD,
            "LSO-1001-T4",
            "DRAY",
            TenderDecision::Declined,
            "2026-03-08T12:45:00Z",
        ),
        &id("dray"),
        &world.at("2026-03-08T12:45:00Z"),
    )
    .unwrap();
    assert_eq!(
        decisions(&exhausted),
        [
            "tender_declined/open_tender_declined",
            "needs_person/routing_guide_exhausted",
        ]
    );
    assert_eq!(commands(&exhausted), ["alert routing_guide_exhausted"]);
    let reason = "routing guide exhausted: tendered to cargo, acme, bolt, dray";
    assert_eq!(
        alert(&exhausted, "routing_guide_exhausted"),
        format!("load LSO-1001: {reason}")
    );
    assert_eq!(
        exhausted.load.status,
        LoadStatus::NeedsPerson {
            code: "routing_guide_exhausted".to_owned(),
            reason: reason.to_owned(),
        }
    );
    assert!(
        exhausted
            .load
            .tenders
            .iter()
            .all(|tender| tender.outcome == TenderOutcome::Declined)
    );

    // dray's expiry timer fires afterwards: nothing left to expire.
    let timer = Timer::TenderExpiry {
        load: load_id(LOAD),
        tender_id: "LSO-1001-T4".to_owned(),
    };
    let fired = on_timer(
        exhausted.load.clone(),
        &timer,
        &world.at("2026-03-08T14:30:00Z"),
    )
    .unwrap();
    assert_eq!(decisions(&fired), ["expiry_ignored/tender_not_open"]);
    assert_eq!(fired.load.status, exhausted.load.status);
}

// ---------------------------------------------------------------------------------------
// Wave cutoff
// ---------------------------------------------------------------------------------------

#[test]
fn a_wave_load_builds_until_its_cutoff_then_is_dispatched() {
    let mut world = World::new();
    world.policy.dispatch.wave_cutoff_minutes = 30;
    let wave_load = "W7-DC-CHI-ATL-01";

    let first = on_pick(
        &tenant(),
        None,
        &order("SO-3001", false),
        &pick("SO-3001", Some("7"), "2026-03-08T11:58:00Z"),
        &world.at(T0),
    )
    .unwrap();
    assert_eq!(decisions(&first), ["load_built/wave_opened"]);
    assert_eq!(
        commands(&first),
        [format!(
            "schedule wave_cutoff {wave_load} at 2026-03-08T12:30:00Z"
        )]
    );
    assert_eq!(first.load.status, LoadStatus::Building);
    assert_eq!(first.load.shipment.shipper_load_id, load_id(wave_load));
    assert_eq!(
        first.load.wave_closes_at,
        Some(instant("2026-03-08T12:30:00Z"))
    );
    assert!(first.load.tenders.is_empty());

    // A second order of the wave joins the load.
    let second = on_pick(
        &tenant(),
        Some(first.load),
        &order("SO-3002", false),
        &pick("SO-3002", Some("7"), "2026-03-08T12:10:00Z"),
        &world.at("2026-03-08T12:10:00Z"),
    )
    .unwrap();
    assert_eq!(
        decisions(&second),
        ["order_added_to_load/same_wave_facility_destination"]
    );
    assert!(second.commands.is_empty());
    assert_eq!(second.load.status, LoadStatus::Building);
    let orders = [
        OrderId::new("SO-3001").unwrap(),
        OrderId::new("SO-3002").unwrap(),
    ];
    assert_eq!(second.load.shipment.orders, orders);
    assert_eq!(second.load.shipment.stops[0].orders, orders);
    assert_eq!(second.load.shipment.stops[1].orders, orders);
    assert_eq!(
        second
            .load
            .shipment
            .totals
            .weight
            .map(|weight| weight.in_kg()),
        Some(dec("1600"))
    );

    // The cutoff: selection runs, cargo gets the tender of both orders.
    let cutoff = on_timer(
        second.load,
        &Timer::WaveCutoff {
            load: load_id(wave_load),
        },
        &world.at("2026-03-08T12:30:00Z"),
    )
    .unwrap();
    assert_eq!(
        decisions(&cutoff),
        [
            "wave_closed/wave_cutoff",
            "carrier_selection/hard_filters_then_score",
            "tender_sent/waterfall_next",
        ]
    );
    assert_eq!(
        commands(&cutoff),
        [format!("send cargo 204 Original {wave_load}-T1")]
    );
    let EventPayload::TenderOffered(tender) = sent(&cutoff, 0) else {
        panic!("a tender");
    };
    assert_eq!(tender.shipment.orders, orders);
    assert_eq!(tender.respond_by, Some(instant("2026-03-08T14:30:00Z")));
    assert_eq!(cutoff.load.status, LoadStatus::Tendering);

    // A third order of the wave picked after the cutoff cannot join.
    let third = on_pick(
        &tenant(),
        Some(cutoff.load),
        &order("SO-3003", false),
        &pick("SO-3003", Some("7"), "2026-03-08T12:40:00Z"),
        &world.at("2026-03-08T12:40:00Z"),
    )
    .unwrap();
    assert_eq!(
        decisions(&third),
        ["pick_after_dispatch/wave_load_already_dispatched"]
    );
    assert_eq!(commands(&third), ["alert wave_load_already_dispatched"]);
    assert_eq!(third.load.shipment.orders, orders);
    assert_eq!(third.load.status, LoadStatus::Tendering);
}

// ---------------------------------------------------------------------------------------
// Regressions: bugs these scenarios found, fixed; each test states the correct behaviour.
// ---------------------------------------------------------------------------------------

/// Regression (found by these scenarios; dispatch.rs `load_id_for`, used by process.rs `on_pick` and the decide stage):
/// the load id of a pick with a wave is the wave's id even when `wave_cutoff_minutes` is
/// 0 (the default), where the policy and the dispatch docs say every pick is dispatched
/// at once as "a load of its own". The second order of the wave is then looked up under
/// the first order's load, already tendering: it gets `pick_after_dispatch` and an alert,
/// and never travels.
#[test]
fn without_a_wave_cutoff_each_pick_of_a_wave_gets_a_load_of_its_own() {
    let world = World::new();
    assert_eq!(world.policy.dispatch.wave_cutoff_minutes, 0);
    let first_pick = pick("SO-3001", Some("7"), "2026-03-08T11:55:00Z");
    let first = on_pick(
        &tenant(),
        None,
        &order("SO-3001", false),
        &first_pick,
        &world.at(T0),
    )
    .unwrap();
    assert_eq!(
        decisions(&first),
        [
            "load_built/dispatch_at_once",
            "carrier_selection/hard_filters_then_score",
            "tender_sent/waterfall_next",
        ]
    );
    // The caller stores the load under `load_id_for`: it must be the load's own id.
    let first_id = dispatch::load_id_for(
        &order("SO-3001", false),
        &first_pick,
        &world.policy.dispatch,
    )
    .unwrap();
    assert_eq!(first.load.shipment.shipper_load_id, first_id);

    // The caller reads the second pick's load under `load_id_for`.
    let second_pick = pick("SO-3002", Some("7"), "2026-03-08T11:57:00Z");
    let second_id = dispatch::load_id_for(
        &order("SO-3002", false),
        &second_pick,
        &world.policy.dispatch,
    )
    .unwrap();
    let stored = (second_id == first_id).then(|| first.load.clone());
    let second = on_pick(
        &tenant(),
        stored,
        &order("SO-3002", false),
        &second_pick,
        &world.at("2026-03-08T12:02:00Z"),
    )
    .unwrap();
    assert_eq!(
        decisions(&second),
        [
            "load_built/dispatch_at_once",
            "carrier_selection/hard_filters_then_score",
            "tender_sent/waterfall_next",
        ],
        "the second order of a wave without cutoff is not dispatched: {:?}",
        commands(&second)
    );
    assert_ne!(second_id, first_id);
    assert_eq!(second.load.shipment.shipper_load_id, second_id);
    assert_eq!(
        second.load.shipment.orders,
        [OrderId::new("SO-3002").unwrap()]
    );
}

/// Regression (found by these scenarios; dispatch.rs `new_load`: `pick.picked_at.utc.unwrap_or_else(Timestamp::now)`):
/// a pick time sent without a zone makes the default pickup window `Timestamp::now()` +
/// `pickup_after_hours`: a decision that reads the wall clock, so replaying the same
/// events gives another load. The pick time should be read in the facility's zone, as
/// every other unresolved time is read in its stop's zone.
#[test]
fn a_pick_time_without_zone_is_read_in_the_facility_zone_not_the_wall_clock() {
    let mut world = World::new();
    world.policy.dispatch.wave_cutoff_minutes = 30;
    let mut no_window = order("SO-4001", false);
    no_window.pickup_window = None;

    // A resolved pick time: pickup 24 h later, shown in the facility's zone.
    let resolved = on_pick(
        &tenant(),
        None,
        &no_window,
        &pick("SO-4001", Some("8"), "2026-03-08T11:55:00Z"),
        &world.at(T0),
    )
    .unwrap();
    let window = resolved.load.shipment.stops[0].window.clone().unwrap();
    assert_eq!(
        window.earliest,
        Some(ZonedTime {
            local: local("2026-03-09T06:55:00"),
            zone: Some(zone("America/Chicago")),
            utc: Some(instant("2026-03-09T11:55:00Z")),
            zone_source: ZoneSource::StopLocation,
        })
    );

    // 06:00 in Chicago on 2026-03-08 is CDT (DST began at 02:00): 11:00 UTC.
    let mut unzoned = pick("SO-4001", Some("8"), "2026-03-08T11:00:00Z");
    unzoned.picked_at = ZonedTime::unresolved(local("2026-03-08T06:00:00"));
    let unresolved = on_pick(&tenant(), None, &no_window, &unzoned, &world.at(T0)).unwrap();
    let window = unresolved.load.shipment.stops[0].window.clone().unwrap();
    assert_eq!(
        window.earliest.as_ref().and_then(|earliest| earliest.utc),
        Some(instant("2026-03-09T11:00:00Z")),
        "the pickup time depends on the wall clock"
    );
}

/// Regression (found by these scenarios; process.rs `on_order_changed`): the changed order moves the delivery stop's
/// window in the shipment, but the load's `Tracking` keeps the promise it was built with
/// (`Tracking::new` at the pick), so lateness is still judged against the old window: an
/// ETA within the new window raises `running_late` and tells the consignee the load is
/// delayed. The tracking's stops should follow the changed shipment (window, location
/// and zone), keeping the log.
#[test]
fn an_order_change_moves_the_promise_lateness_is_judged_against() {
    let world = World::new();
    let in_transit = on_status(
        accepted(&world),
        &status(
            StatusType::DepartedPickup,
            "AF",
            Some(1),
            utc("2026-03-10T15:00:00Z"),
            "cargo",
        ),
        None,
        &world.at("2026-03-10T15:10:00Z"),
    )
    .unwrap()
    .load;

    // The customer takes delivery one day later.
    let mut later = order(ORDER, false);
    later.delivery_window = Some(TimeWindow {
        earliest: Some(utc("2026-03-13T14:00:00Z")),
        latest: Some(utc("2026-03-13T22:00:00Z")),
    });
    let changed = on_order_changed(in_transit, &later, &world.at("2026-03-10T20:00:00Z")).unwrap();
    assert_eq!(
        decisions(&changed),
        [
            "order_changed/oms_change",
            "tender_change_sent/load_changed_after_tender"
        ]
    );
    assert_eq!(commands(&changed), ["send cargo 204 Change LSO-1001-T1"]);
    assert_eq!(changed.load.shipment.stops[1].window, later.delivery_window);
    assert_eq!(
        changed
            .load
            .tracking
            .stop_times(2)
            .and_then(|times| times.promised.as_ref())
            .and_then(|promise| promise.at.utc),
        Some(instant("2026-03-13T22:00:00Z")),
        "tracking still promises the old window"
    );

    // An ETA 3 h after the old window, 21 h before the new one: not late.
    let eta = on_status(
        changed.load,
        &eta_update("2026-03-11T12:00:00Z", "2026-03-13T01:00:00Z"),
        None,
        &world.at("2026-03-11T12:00:00Z"),
    )
    .unwrap();
    assert_eq!(decisions(&eta), ["status_recorded/append_only"]);
    assert!(eta.commands.is_empty());
    assert!(!eta.load.running_late);
}

/// Regression (found by these scenarios; process.rs `on_tender_response`): a 990 echoing a tender id is applied to that
/// tender whoever sent it: the tender is looked up by id without checking that its
/// carrier is `from`. Another carrier's 990 (a wrong reference, a mapping error) awards
/// the load to the carrier of the tender, which never answered. It should be ignored
/// like any response from a carrier with no tender.
#[test]
fn a_990_from_another_carrier_does_not_answer_the_tender() {
    let world = World::new();
    let tendering = dispatched(&world).load;
    // acme answers cargo's tender.
    let answered = on_tender_response(
        tendering,
        &response(
            LOAD,
            "LSO-1001-T1",
            "ACME",
            TenderDecision::Accepted,
            "2026-03-08T12:30:00Z",
        ),
        &id("acme"),
        &world.at("2026-03-08T12:30:00Z"),
    )
    .unwrap();
    assert_eq!(
        decisions(&answered),
        ["response_ignored/no_tender_to_this_carrier"]
    );
    assert!(answered.commands.is_empty());
    assert_eq!(awarded(&answered), None);
    assert_eq!(answered.load.status, LoadStatus::Tendering);
    assert_eq!(
        tenders(&answered.load),
        [tender_row("LSO-1001-T1", "cargo", TenderOutcome::Open)]
    );
}

// ---------------------------------------------------------------------------------------
// GPS pings
// ---------------------------------------------------------------------------------------

/// A position from a telematics feed: a status of origin `gps` with coordinates.
fn gps(at: &str, lat: f64, lon: f64) -> StatusEvent {
    StatusEvent {
        status: StatusType::InTransit,
        raw_code: "GPS".to_owned(),
        origin: StatusOrigin::Gps,
        location: Some(Location {
            id: None,
            name: None,
            address: None,
            geo: Some(transload_core::model::GeoPoint { lat, lon }),
            time_zone: None,
        }),
        ..status(StatusType::InTransit, "GPS", None, utc(at), "cargo")
    }
}

#[test]
fn gps_pings_crossing_the_geofences_are_arrivals_and_departures() {
    let world = World::new();
    let mut load = accepted(&world);
    // The stops get coordinates: the Chicago DC and the Atlanta store.
    load.shipment.stops[0].location.geo = Some(transload_core::model::GeoPoint {
        lat: 41.8781,
        lon: -87.6298,
    });
    load.shipment.stops[1].location.geo = Some(transload_core::model::GeoPoint {
        lat: 33.7490,
        lon: -84.3880,
    });
    load.tracking = transload_orchestrator::tracking::Tracking::new(&load.shipment).unwrap();

    // 100 m from the DC: arrival at pickup (X3).
    let arrived = on_status(
        load,
        &gps("2026-03-10T14:10:00Z", 41.8790, -87.6298),
        None,
        &world.at("2026-03-10T14:10:00Z"),
    )
    .unwrap();
    assert_eq!(decisions(&arrived), ["geofence_arrival/gps_within_radius"]);
    assert_eq!(arrived.load.status, LoadStatus::Accepted);

    // 20 km away: departure from pickup (AF): the load is in transit.
    let departed = on_status(
        arrived.load,
        &gps("2026-03-10T15:00:00Z", 41.70, -87.60),
        None,
        &world.at("2026-03-10T15:00:00Z"),
    )
    .unwrap();
    assert_eq!(
        decisions(&departed),
        [
            "geofence_departure/gps_within_radius",
            "load_in_transit/departed_pickup"
        ]
    );
    assert_eq!(departed.load.status, LoadStatus::InTransit);

    // On the road: nothing crossed.
    let road = on_status(
        departed.load,
        &gps("2026-03-11T03:00:00Z", 36.16, -86.78),
        None,
        &world.at("2026-03-11T03:00:00Z"),
    )
    .unwrap();
    assert_eq!(decisions(&road), ["gps_ping_recorded/no_geofence_crossed"]);

    // At the store: arrival at delivery (X1), logged with origin gps.
    let at_store = on_status(
        road.load,
        &gps("2026-03-12T15:00:00Z", 33.7495, -84.3880),
        None,
        &world.at("2026-03-12T15:00:00Z"),
    )
    .unwrap();
    assert_eq!(decisions(&at_store), ["geofence_arrival/gps_within_radius"]);
    let last = at_store.load.tracking.log().last().unwrap();
    assert_eq!(last.event.status, StatusType::ArrivedAtDelivery);
    assert_eq!(last.event.origin, StatusOrigin::Gps);
    assert_eq!(last.event.stop_seq, Some(2));
}

#[test]
fn a_997_rejecting_a_cancellation_204_alerts_and_leaves_the_load_cancelled() {
    let world = World::new();
    let accepted = accepted(&world);
    let cancelled = on_order_cancelled(
        accepted,
        &cancellation("2026-03-09T15:00:00Z"),
        &world.at("2026-03-09T15:00:00Z"),
    )
    .unwrap()
    .load;
    assert_eq!(cancelled.status, LoadStatus::Cancelled);
    let rejected = on_ack(
        cancelled,
        "LSO-1001-T1",
        TenderPurpose::Cancellation,
        &ack(AckStatus::Rejected, Vec::new()),
        &world.at("2026-03-09T15:10:00Z"),
    )
    .unwrap();
    assert_eq!(
        decisions(&rejected),
        ["tender_update_rejected/997_rejected"]
    );
    assert_eq!(commands(&rejected), ["alert tender_update_rejected_by_997"]);
    assert_eq!(rejected.load.status, LoadStatus::Cancelled);

    let confirmed = on_ack(
        rejected.load,
        "LSO-1001-T1",
        TenderPurpose::Cancellation,
        &ack(AckStatus::Accepted, Vec::new()),
        &world.at("2026-03-09T15:20:00Z"),
    )
    .unwrap();
    assert_eq!(
        decisions(&confirmed),
        ["tender_update_confirmed/997_accepted"]
    );
    assert!(confirmed.commands.is_empty());
}
