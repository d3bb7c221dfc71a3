//! Shipment tracking through the public API: deduplication, order of arrival, zone
//! resolution, delivery at intermediate and last stops, geofence, lateness, storage.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use transload_core::ids::{PartnerId, ShipperLoadId, ZoneName};
use transload_core::model::{
    Appointment, AppointmentStatus, GeoPoint, LoadExtent, Location, Mode, Shipment, ShipmentTotals,
    StatusEvent, StatusOrigin, StatusType, Stop, StopRole, TimeWindow, ZoneSource, ZonedTime,
};
use transload_orchestrator::tracking::{
    Crossing, Effect, GEOFENCE_ARRIVAL_CODE, GpsPing, LatenessBasis, Progress, PromiseSource,
    RUNNING_LATE, Recorded, Tracking, TrackingError,
};

// ---------------------------------------------------------------- builders

const CHICAGO: &str = "America/Chicago";
const MEMPHIS_DC: GeoPoint = GeoPoint {
    lat: 35.0421,
    lon: -89.9792,
};
const JOLIET_DC: GeoPoint = GeoPoint {
    lat: 41.525,
    lon: -88.0817,
};
/// Metres per degree of latitude on the haversine sphere.
const METRES_PER_DEGREE: f64 = 111_195.08;

fn load_id() -> ShipperLoadId {
    ShipperLoadId::new("LOAD-1").unwrap()
}

fn carrier() -> PartnerId {
    PartnerId::new("odfl").unwrap()
}

fn zone(name: &str) -> ZoneName {
    ZoneName::new(name).unwrap()
}

fn local(text: &str) -> DateTime {
    text.parse().unwrap()
}

fn instant(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// `text` read in `zone_name`, as if the message said so.
fn explicit(text: &str, zone_name: &str) -> ZonedTime {
    ZonedTime::resolve(
        local(text),
        zone(zone_name),
        &TimeZone::get(zone_name).unwrap(),
        ZoneSource::Explicit,
    )
    .unwrap()
}

fn location(time_zone: Option<&str>, geo: Option<GeoPoint>) -> Location {
    Location {
        id: None,
        name: None,
        address: None,
        geo,
        time_zone: time_zone.map(zone),
    }
}

fn stop(seq: u16, role: StopRole, location: Location) -> Stop {
    Stop {
        seq,
        role,
        extent: LoadExtent::Full,
        location,
        window: None,
        appointment: None,
        orders: Vec::new(),
        references: Vec::new(),
    }
}

/// A stop with a window "deliver by `latest`" (local time, unresolved: read in the
/// stop's zone by tracking).
fn stop_due(seq: u16, role: StopRole, location: Location, latest: &str) -> Stop {
    Stop {
        window: Some(TimeWindow {
            earliest: None,
            latest: Some(ZonedTime::unresolved(local(latest))),
        }),
        ..stop(seq, role, location)
    }
}

fn shipment(stops: Vec<Stop>) -> Shipment {
    Shipment {
        shipper_load_id: load_id(),
        carrier: None,
        pro_number: None,
        mode: Mode::Truckload,
        equipment: None,
        special_services: Vec::new(),
        stops,
        orders: Vec::new(),
        parties: Vec::new(),
        references: Vec::new(),
        totals: ShipmentTotals::default(),
    }
}

/// Pickup 1 in Memphis, delivery 2 in Joliet (both in Chicago's zone).
fn two_stop() -> Tracking {
    Tracking::new(&shipment(vec![
        stop(
            1,
            StopRole::Pickup,
            location(Some(CHICAGO), Some(MEMPHIS_DC)),
        ),
        stop(
            2,
            StopRole::Delivery,
            location(Some(CHICAGO), Some(JOLIET_DC)),
        ),
    ]))
    .unwrap()
}

/// Pickup 1, deliveries 2 and 3.
fn three_stop() -> Tracking {
    Tracking::new(&shipment(vec![
        stop(1, StopRole::Pickup, location(Some(CHICAGO), None)),
        stop(2, StopRole::Delivery, location(Some(CHICAGO), None)),
        stop(3, StopRole::Delivery, location(Some(CHICAGO), None)),
    ]))
    .unwrap()
}

/// An X12 214 status the way the mapping produces it.
fn status(status: StatusType, code: &str, stop_seq: Option<u16>, at: ZonedTime) -> StatusEvent {
    StatusEvent {
        shipper_load_id: load_id(),
        pro_number: None,
        carrier: None,
        status,
        raw_code: code.to_owned(),
        raw_reason: Some("NS".to_owned()),
        stop_seq,
        occurred_at: at,
        eta: None,
        location: None,
        origin: StatusOrigin::Edi,
        reported_by: carrier(),
        references: Vec::new(),
    }
}

/// A status at `text` (local, Chicago, explicit).
fn at(kind: StatusType, code: &str, stop_seq: Option<u16>, text: &str) -> StatusEvent {
    status(kind, code, stop_seq, explicit(text, CHICAGO))
}

fn eta_update(stop_seq: Option<u16>, reported: &str, eta: &str) -> StatusEvent {
    StatusEvent {
        eta: Some(explicit(eta, CHICAGO)),
        ..at(StatusType::EtaUpdated, "AG", stop_seq, reported)
    }
}

fn received() -> Timestamp {
    instant("2026-07-01T00:00:00Z")
}

fn stored(effect: Effect) -> Recorded {
    Recorded::Stored { effect }
}

fn utc_of(time: Option<&ZonedTime>) -> Option<String> {
    time.and_then(|time| time.utc).map(|utc| utc.to_string())
}

// ---------------------------------------------------------------- deduplication

#[test]
fn a_resent_214_is_a_duplicate_and_changes_nothing() {
    let mut tracking = two_stop();
    let x3 = at(
        StatusType::ArrivedAtPickup,
        "X3",
        Some(1),
        "2026-07-01T08:00:00",
    );
    assert_eq!(
        tracking.record(x3.clone(), received()),
        stored(Effect::Advanced)
    );
    let before = tracking.clone();
    let mut resend = x3.clone();
    resend.raw_reason = Some("AG".to_owned());
    assert_eq!(
        tracking.record(resend, instant("2026-07-01T05:00:00Z")),
        Recorded::Duplicate
    );
    assert_eq!(tracking.log(), before.log());
    assert_eq!(tracking.log().len(), 1);
    assert_eq!(tracking.summary().counts.duplicates, 1);
    assert_eq!(tracking.summary().counts.logged, 1);

    // Another local time, or another raw code, is another report.
    let later = at(
        StatusType::ArrivedAtPickup,
        "X3",
        Some(1),
        "2026-07-01T08:05:00",
    );
    assert_eq!(tracking.record(later, received()), stored(Effect::Repeated));
    let other_code = StatusEvent {
        raw_code: "AA".to_owned(),
        ..x3
    };
    assert_eq!(
        tracking.record(other_code, received()),
        stored(Effect::Repeated)
    );
    assert_eq!(tracking.log().len(), 3);
}

#[test]
fn an_event_about_another_load_is_refused() {
    let mut tracking = two_stop();
    let mut event = at(
        StatusType::ArrivedAtPickup,
        "X3",
        Some(1),
        "2026-07-01T08:00:00",
    );
    event.shipper_load_id = ShipperLoadId::new("LOAD-2").unwrap();
    assert_eq!(
        tracking.record(event, received()),
        Recorded::OtherLoad {
            shipper_load_id: ShipperLoadId::new("LOAD-2").unwrap()
        }
    );
    assert!(tracking.log().is_empty());
    assert_eq!(tracking.summary().counts.other_load, 1);
}

// ---------------------------------------------------------------- order of arrival

#[test]
fn x1_arriving_before_af_does_not_regress() {
    let mut tracking = two_stop();
    let x3 = at(
        StatusType::ArrivedAtPickup,
        "X3",
        Some(1),
        "2026-07-01T08:00:00",
    );
    let af = at(
        StatusType::DepartedPickup,
        "AF",
        Some(1),
        "2026-07-01T10:00:00",
    );
    let x1 = at(
        StatusType::ArrivedAtDelivery,
        "X1",
        Some(2),
        "2026-07-01T18:00:00",
    );
    assert_eq!(tracking.record(x3, received()), stored(Effect::Advanced));
    assert_eq!(tracking.record(x1, received()), stored(Effect::Advanced));
    assert_eq!(tracking.progress(), Progress::AtDelivery { stop: 2 });

    assert_eq!(tracking.record(af, received()), stored(Effect::Late));
    assert_eq!(tracking.progress(), Progress::AtDelivery { stop: 2 });
    // The late AF still gives the pickup its departure time.
    assert_eq!(
        utc_of(tracking.stop_times(1).unwrap().departed_at.as_ref()).as_deref(),
        Some("2026-07-01T15:00:00Z")
    );
    assert_eq!(
        utc_of(tracking.stop_times(2).unwrap().arrived_at.as_ref()).as_deref(),
        Some("2026-07-01T23:00:00Z")
    );

    // A lagging X6 position report is late too.
    let x6 = at(StatusType::InTransit, "X6", None, "2026-07-01T13:00:00");
    assert_eq!(tracking.record(x6, received()), stored(Effect::Late));
    assert_eq!(tracking.progress(), Progress::AtDelivery { stop: 2 });

    let summary = tracking.summary();
    assert_eq!(summary.counts.logged, 4);
    assert_eq!(summary.counts.advanced, 2);
    assert_eq!(summary.counts.late, 2);
    assert_eq!(
        summary.latest_applied_at,
        Some(instant("2026-07-01T23:00:00Z"))
    );
}

#[test]
fn stop_times_keep_the_earliest_arrival_and_the_latest_departure() {
    let mut tracking = two_stop();
    for event in [
        at(
            StatusType::ArrivedAtPickup,
            "X3",
            Some(1),
            "2026-07-01T08:10:00",
        ),
        at(
            StatusType::ArrivedAtPickup,
            "X3",
            Some(1),
            "2026-07-01T08:00:00",
        ),
        at(
            StatusType::ArrivedAtPickup,
            "X3",
            Some(1),
            "2026-07-01T08:20:00",
        ),
        at(
            StatusType::DepartedPickup,
            "AF",
            Some(1),
            "2026-07-01T10:10:00",
        ),
        at(
            StatusType::DepartedPickup,
            "AF",
            Some(1),
            "2026-07-01T10:20:00",
        ),
        at(
            StatusType::DepartedPickup,
            "AF",
            Some(1),
            "2026-07-01T10:00:00",
        ),
    ] {
        tracking.record(event, received());
    }
    let pickup = tracking.stop_times(1).unwrap();
    assert_eq!(
        utc_of(pickup.arrived_at.as_ref()).as_deref(),
        Some("2026-07-01T13:00:00Z")
    );
    assert_eq!(
        utc_of(pickup.departed_at.as_ref()).as_deref(),
        Some("2026-07-01T15:20:00Z")
    );
    assert_eq!(tracking.progress(), Progress::PickedUp { stop: 1 });
}

#[test]
fn an_event_further_along_but_older_than_the_latest_applied_is_late() {
    let mut tracking = two_stop();
    let af = at(
        StatusType::DepartedPickup,
        "AF",
        Some(1),
        "2026-07-01T10:00:00",
    );
    assert_eq!(tracking.record(af, received()), stored(Effect::Advanced));
    // An X1 dated before the departure: further along, but stale.
    let x1 = at(
        StatusType::ArrivedAtDelivery,
        "X1",
        Some(2),
        "2026-07-01T09:00:00",
    );
    assert_eq!(tracking.record(x1, received()), stored(Effect::Late));
    assert_eq!(tracking.progress(), Progress::PickedUp { stop: 1 });
}

#[test]
fn a_milestone_without_a_determinable_stop_is_unattributed() {
    let mut tracking = three_stop();
    // Two delivery stops: an X1 without stop cannot be placed.
    let x1 = at(
        StatusType::ArrivedAtDelivery,
        "X1",
        None,
        "2026-07-01T18:00:00",
    );
    assert_eq!(
        tracking.record(x1, received()),
        stored(Effect::Unattributed)
    );
    // A stop that does not exist, and an X3 at a delivery stop.
    let unknown = at(
        StatusType::ArrivedAtDelivery,
        "X1",
        Some(9),
        "2026-07-01T18:00:00",
    );
    assert_eq!(
        tracking.record(unknown, received()),
        stored(Effect::Unattributed)
    );
    let wrong_role = at(
        StatusType::ArrivedAtPickup,
        "X3",
        Some(2),
        "2026-07-01T18:00:00",
    );
    assert_eq!(
        tracking.record(wrong_role, received()),
        stored(Effect::Unattributed)
    );
    assert_eq!(tracking.progress(), Progress::Planned);
    assert_eq!(tracking.summary().counts.unattributed, 3);
}

// ---------------------------------------------------------------- time zones

#[test]
fn an_at7_without_zone_is_read_in_the_stop_zone() {
    // The stop's zone wins over the partner's default.
    let mut tracking = two_stop()
        .with_partner_zone(carrier(), zone("America/New_York"))
        .unwrap();
    let x1 = status(
        StatusType::ArrivedAtDelivery,
        "X1",
        Some(2),
        ZonedTime::unresolved(local("2026-07-01T08:00:00")),
    );
    tracking.record(x1, received());
    let logged = &tracking.log()[0].event.occurred_at;
    assert_eq!(logged.local, local("2026-07-01T08:00:00"));
    assert_eq!(logged.zone, Some(zone(CHICAGO)));
    assert_eq!(logged.zone_source, ZoneSource::StopLocation);
    assert_eq!(logged.utc, Some(instant("2026-07-01T13:00:00Z")));
    assert_eq!(
        tracking.stop_times(2).unwrap().arrived_at.as_ref(),
        Some(logged)
    );

    // The ETA of an AG is read the same way; an AG without stop goes to the only delivery.
    let ag = StatusEvent {
        eta: Some(ZonedTime::unresolved(local("2026-07-01T16:00:00"))),
        ..status(
            StatusType::EtaUpdated,
            "AG",
            None,
            ZonedTime::unresolved(local("2026-07-01T07:00:00")),
        )
    };
    assert_eq!(tracking.record(ag, received()), stored(Effect::Noted));
    let eta = tracking.stop_times(2).unwrap().eta.clone().unwrap();
    assert_eq!(eta.eta.utc, Some(instant("2026-07-01T21:00:00Z")));
    assert_eq!(eta.eta.zone_source, ZoneSource::StopLocation);
    assert_eq!(eta.reported_at.utc, Some(instant("2026-07-01T12:00:00Z")));
}

#[test]
fn a_time_a_mapping_read_in_the_partner_default_is_read_again_in_the_stop_zone() {
    // A 214 without AT707 and MS1: the mapping could only guess the partner's zone.
    let mut tracking = two_stop();
    let guessed = ZonedTime::resolve(
        local("2026-07-01T08:00:00"),
        zone("America/New_York"),
        &jiff::tz::TimeZone::get("America/New_York").unwrap(),
        ZoneSource::PartnerDefault,
    )
    .unwrap();
    tracking.record(
        status(StatusType::ArrivedAtDelivery, "X1", Some(2), guessed),
        received(),
    );
    let logged = &tracking.log()[0].event.occurred_at;
    assert_eq!(logged.zone, Some(zone(CHICAGO)));
    assert_eq!(logged.zone_source, ZoneSource::StopLocation);
    assert_eq!(logged.utc, Some(instant("2026-07-01T13:00:00Z")));

    // An explicit zone (AT707) is kept.
    let explicit = ZonedTime::resolve(
        local("2026-07-01T09:00:00"),
        zone("America/New_York"),
        &jiff::tz::TimeZone::get("America/New_York").unwrap(),
        ZoneSource::Explicit,
    )
    .unwrap();
    tracking.record(
        status(StatusType::Delivered, "D1", Some(2), explicit.clone()),
        received(),
    );
    assert_eq!(tracking.log()[1].event.occurred_at, explicit);
}

#[test]
fn without_a_stop_zone_the_partner_default_is_used_then_none() {
    let tracking = Tracking::new(&shipment(vec![
        stop(1, StopRole::Pickup, location(None, None)),
        stop(2, StopRole::Delivery, location(None, None)),
    ]))
    .unwrap();
    let mut tracking = tracking
        .with_partner_zone(carrier(), zone("America/New_York"))
        .unwrap();
    let unresolved = || ZonedTime::unresolved(local("2026-07-01T08:00:00"));
    tracking.record(
        status(StatusType::ArrivedAtPickup, "X3", Some(1), unresolved()),
        received(),
    );
    let by_partner = &tracking.log()[0].event.occurred_at;
    assert_eq!(by_partner.zone_source, ZoneSource::PartnerDefault);
    assert_eq!(by_partner.zone, Some(zone("America/New_York")));
    assert_eq!(by_partner.utc, Some(instant("2026-07-01T12:00:00Z")));

    // A partner without a default: stays unresolved, still recorded.
    let mut other = status(StatusType::DepartedPickup, "AF", Some(1), unresolved());
    other.reported_by = PartnerId::new("fourkites").unwrap();
    assert_eq!(tracking.record(other, received()), stored(Effect::Advanced));
    let left = &tracking.log()[1].event.occurred_at;
    assert_eq!(left, &unresolved());
    assert_eq!(tracking.progress(), Progress::PickedUp { stop: 1 });

    // Explicit zones are kept as sent.
    let sent = explicit("2026-07-01T20:00:00", "America/Denver");
    tracking.record(
        status(StatusType::ArrivedAtDelivery, "X1", Some(2), sent.clone()),
        received(),
    );
    assert_eq!(tracking.log()[2].event.occurred_at, sent);
}

#[test]
fn unknown_zones_are_refused() {
    let bad = Tracking::new(&shipment(vec![
        stop(1, StopRole::Pickup, location(Some("Mars/Olympus"), None)),
        stop(2, StopRole::Delivery, location(None, None)),
    ]));
    assert_eq!(
        bad.unwrap_err(),
        TrackingError::UnknownZone {
            zone: zone("Mars/Olympus")
        }
    );
    let partner = two_stop().with_partner_zone(carrier(), zone("Nowhere/Town"));
    assert!(matches!(partner, Err(TrackingError::UnknownZone { .. })));
}

#[test]
fn a_load_needs_ordered_stops_of_both_roles() {
    let unordered = Tracking::new(&shipment(vec![
        stop(2, StopRole::Pickup, location(None, None)),
        stop(1, StopRole::Delivery, location(None, None)),
    ]));
    assert_eq!(
        unordered.unwrap_err(),
        TrackingError::StopsOutOfOrder { seq: 1 }
    );
    let no_delivery = Tracking::new(&shipment(vec![stop(
        1,
        StopRole::Pickup,
        location(None, None),
    )]));
    assert_eq!(
        no_delivery.unwrap_err(),
        TrackingError::MissingRole {
            role: StopRole::Delivery
        }
    );
}

// ---------------------------------------------------------------- delivery

#[test]
fn d1_at_an_intermediate_stop_marks_only_that_stop() {
    let mut tracking = three_stop();
    for event in [
        at(
            StatusType::DepartedPickup,
            "AF",
            Some(1),
            "2026-07-01T08:00:00",
        ),
        at(
            StatusType::ArrivedAtDelivery,
            "X1",
            Some(2),
            "2026-07-01T12:00:00",
        ),
    ] {
        tracking.record(event, received());
    }
    let d1 = at(StatusType::Delivered, "D1", Some(2), "2026-07-01T12:30:00");
    assert_eq!(tracking.record(d1, received()), stored(Effect::Advanced));
    assert_eq!(tracking.progress(), Progress::AtDelivery { stop: 2 });
    assert!(tracking.stop_times(2).unwrap().delivered_at.is_some());
    assert!(tracking.stop_times(3).unwrap().delivered_at.is_none());

    let cd = at(
        StatusType::DepartedDelivery,
        "CD",
        Some(2),
        "2026-07-01T13:00:00",
    );
    tracking.record(cd, received());
    assert_eq!(tracking.progress(), Progress::LeftDelivery { stop: 2 });
    let x6 = at(StatusType::InTransit, "X6", Some(3), "2026-07-01T14:00:00");
    tracking.record(x6, received());
    assert_eq!(tracking.progress(), Progress::InTransit { next: 3 });
}

#[test]
fn d1_at_the_last_stop_delivers_the_load() {
    let mut tracking = three_stop();
    let d1 = at(StatusType::Delivered, "D1", Some(3), "2026-07-01T18:00:00");
    assert_eq!(tracking.record(d1, received()), stored(Effect::Advanced));
    assert_eq!(tracking.progress(), Progress::Delivered);
    // Nothing moves it back.
    let x1 = at(
        StatusType::ArrivedAtDelivery,
        "X1",
        Some(2),
        "2026-07-01T12:00:00",
    );
    assert_eq!(tracking.record(x1, received()), stored(Effect::Late));
    assert_eq!(tracking.progress(), Progress::Delivered);
}

#[test]
fn a_late_d1_at_the_last_stop_still_delivers() {
    let mut tracking = two_stop();
    let cd = at(
        StatusType::DepartedDelivery,
        "CD",
        Some(2),
        "2026-07-01T19:00:00",
    );
    tracking.record(cd, received());
    assert_eq!(tracking.progress(), Progress::LeftDelivery { stop: 2 });
    let d1 = at(StatusType::Delivered, "D1", Some(2), "2026-07-01T18:30:00");
    assert_eq!(tracking.record(d1, received()), stored(Effect::Advanced));
    assert_eq!(tracking.progress(), Progress::Delivered);
}

#[test]
fn d1_without_stop_delivers_only_a_single_delivery_load() {
    let mut single = two_stop();
    let d1 = at(StatusType::Delivered, "D1", None, "2026-07-01T18:00:00");
    assert_eq!(
        single.record(d1.clone(), received()),
        stored(Effect::Advanced)
    );
    assert_eq!(single.progress(), Progress::Delivered);

    let mut multi = three_stop();
    assert_eq!(multi.record(d1, received()), stored(Effect::Unattributed));
    assert_eq!(multi.progress(), Progress::Planned);
}

// ---------------------------------------------------------------- geofence

/// A point `metres` north of `point`.
fn north_of(point: GeoPoint, metres: f64) -> GeoPoint {
    GeoPoint {
        lat: point.lat + metres / METRES_PER_DEGREE,
        lon: point.lon,
    }
}

fn gps(at: &str, point: GeoPoint) -> GpsPing {
    GpsPing {
        reported_by: PartnerId::new("fourkites").unwrap(),
        at: instant(at),
        point,
    }
}

#[test]
fn pings_entering_and_leaving_a_dc_give_arrival_and_departure() {
    let mut tracking = two_stop();
    let radius = 500.0;
    // 5 km out: nothing.
    let far = tracking
        .ping(
            gps("2026-07-01T22:00:00Z", north_of(JOLIET_DC, 5_000.0)),
            radius,
        )
        .unwrap();
    assert!(far.is_empty());

    // 50 m from the Joliet DC: arrival at delivery stop 2.
    let arrival = tracking
        .ping(
            gps("2026-07-01T22:10:00Z", north_of(JOLIET_DC, 50.0)),
            radius,
        )
        .unwrap();
    assert_eq!(arrival.len(), 1);
    let arrived = &arrival[0];
    assert_eq!(arrived.stop, 2);
    assert_eq!(arrived.crossing, Crossing::Arrival);
    assert!(
        (arrived.distance_m - 50.0).abs() < 0.5,
        "{}",
        arrived.distance_m
    );
    assert_eq!(arrived.event.status, StatusType::ArrivedAtDelivery);
    assert_eq!(arrived.event.origin, StatusOrigin::Gps);
    assert_eq!(arrived.event.raw_code, GEOFENCE_ARRIVAL_CODE);
    assert_eq!(arrived.event.stop_seq, Some(2));
    assert_eq!(
        arrived.event.occurred_at.local,
        local("2026-07-01T17:10:00")
    );
    assert_eq!(arrived.recorded, stored(Effect::Advanced));
    assert_eq!(tracking.progress(), Progress::AtDelivery { stop: 2 });
    assert_eq!(
        utc_of(tracking.stop_times(2).unwrap().arrived_at.as_ref()).as_deref(),
        Some("2026-07-01T22:10:00Z")
    );

    // Inside again: nothing new.
    let inside = tracking
        .ping(gps("2026-07-01T22:40:00Z", JOLIET_DC), radius)
        .unwrap();
    assert!(inside.is_empty());
    // An older ping is ignored.
    let older = tracking
        .ping(
            gps("2026-07-01T21:00:00Z", north_of(JOLIET_DC, 5_000.0)),
            radius,
        )
        .unwrap();
    assert!(older.is_empty());

    // 5 km away again: departure.
    let departure = tracking
        .ping(
            gps("2026-07-01T23:30:00Z", north_of(JOLIET_DC, 5_000.0)),
            radius,
        )
        .unwrap();
    assert_eq!(departure.len(), 1);
    assert_eq!(departure[0].crossing, Crossing::Departure);
    assert_eq!(departure[0].event.status, StatusType::DepartedDelivery);
    assert!((departure[0].distance_m - 5_000.0).abs() < 1.0);
    assert_eq!(tracking.progress(), Progress::LeftDelivery { stop: 2 });
    assert_eq!(tracking.log().len(), 2);
    // Outside again: nothing.
    let still_out = tracking
        .ping(
            gps("2026-07-01T23:40:00Z", north_of(JOLIET_DC, 6_000.0)),
            radius,
        )
        .unwrap();
    assert!(still_out.is_empty());
}

#[test]
fn pings_at_the_pickup_give_x3_and_af() {
    let mut tracking = two_stop();
    let arrival = tracking
        .ping(gps("2026-07-01T13:00:00Z", MEMPHIS_DC), 300.0)
        .unwrap();
    assert_eq!(arrival[0].event.status, StatusType::ArrivedAtPickup);
    assert_eq!(tracking.progress(), Progress::AtPickup { stop: 1 });
    let departure = tracking
        .ping(
            gps("2026-07-01T15:00:00Z", north_of(MEMPHIS_DC, 301.0)),
            300.0,
        )
        .unwrap();
    assert_eq!(departure[0].event.status, StatusType::DepartedPickup);
    assert_eq!(tracking.progress(), Progress::PickedUp { stop: 1 });
}

#[test]
fn invalid_pings_and_radii_are_refused() {
    let mut tracking = two_stop();
    for radius in [0.0, -5.0, f64::NAN, f64::INFINITY] {
        let error = tracking
            .ping(gps("2026-07-01T13:00:00Z", MEMPHIS_DC), radius)
            .unwrap_err();
        assert!(matches!(error, TrackingError::InvalidRadius { .. }));
    }
    let off_earth = GeoPoint {
        lat: 91.0,
        lon: 0.0,
    };
    assert!(matches!(
        tracking.ping(gps("2026-07-01T13:00:00Z", off_earth), 100.0),
        Err(TrackingError::InvalidPing { .. })
    ));
    assert!(tracking.log().is_empty());
}

// ---------------------------------------------------------------- lateness

/// Delivery stop 2, the Joliet DC, due by 16:00 Chicago (21:00Z).
fn due_by_four() -> Tracking {
    Tracking::new(&shipment(vec![
        stop(1, StopRole::Pickup, location(Some(CHICAGO), None)),
        stop_due(
            2,
            StopRole::Delivery,
            location(Some(CHICAGO), Some(JOLIET_DC)),
            "2026-07-02T16:00:00",
        ),
    ]))
    .unwrap()
}

fn minutes(count: i64) -> SignedDuration {
    SignedDuration::from_mins(count)
}

#[test]
fn running_late_when_the_eta_is_beyond_the_window_plus_tolerance() {
    let mut tracking = due_by_four();
    tracking.record(
        eta_update(Some(2), "2026-07-02T08:00:00", "2026-07-02T17:00:00"),
        received(),
    );
    let now = instant("2026-07-02T14:00:00Z");
    let late = tracking.lateness(now, minutes(30)).unwrap();
    assert_eq!(late.code, RUNNING_LATE);
    assert_eq!(late.stop, 2);
    assert_eq!(late.basis, LatenessBasis::Eta);
    assert_eq!(late.promised, instant("2026-07-02T21:00:00Z"));
    assert_eq!(late.promise_source, PromiseSource::Window);
    assert_eq!(late.eta, Some(instant("2026-07-02T22:00:00Z")));
    assert_eq!(late.expected, instant("2026-07-02T22:00:00Z"));
    assert_eq!(late.late_by, SignedDuration::from_hours(1));
    assert_eq!(late.tolerance, minutes(30));
    assert!(late.before_pickup);

    // Once the freight is picked up, re-tendering is off the table.
    tracking.record(
        at(
            StatusType::DepartedPickup,
            "AF",
            Some(1),
            "2026-07-02T06:00:00",
        ),
        received(),
    );
    assert!(!tracking.lateness(now, minutes(30)).unwrap().before_pickup);

    // A newer ETA within the window clears it.
    tracking.record(
        eta_update(Some(2), "2026-07-02T09:00:00", "2026-07-02T15:45:00"),
        received(),
    );
    assert_eq!(tracking.lateness(now, minutes(30)), None);
    // An older report does not bring the late ETA back.
    tracking.record(
        eta_update(Some(2), "2026-07-02T07:00:00", "2026-07-02T19:00:00"),
        received(),
    );
    assert_eq!(tracking.lateness(now, minutes(30)), None);
}

#[test]
fn not_late_within_tolerance() {
    let mut tracking = due_by_four();
    tracking.record(
        eta_update(Some(2), "2026-07-02T08:00:00", "2026-07-02T16:20:00"),
        received(),
    );
    let now = instant("2026-07-02T14:00:00Z");
    assert_eq!(tracking.lateness(now, minutes(30)), None);
    // Exactly promised + tolerance is still on time.
    tracking.record(
        eta_update(Some(2), "2026-07-02T09:00:00", "2026-07-02T16:30:00"),
        received(),
    );
    assert_eq!(tracking.lateness(now, minutes(30)), None);
    // One minute more is late.
    tracking.record(
        eta_update(Some(2), "2026-07-02T10:00:00", "2026-07-02T16:31:00"),
        received(),
    );
    assert_eq!(
        tracking.lateness(now, minutes(30)).unwrap().late_by,
        minutes(31)
    );
}

#[test]
fn late_by_the_clock_when_past_the_promise_with_no_arrival() {
    let mut tracking = due_by_four();
    // 16:20 Chicago, tolerance 30 min: not yet.
    assert_eq!(
        tracking.lateness(instant("2026-07-02T21:20:00Z"), minutes(30)),
        None
    );
    let now = instant("2026-07-02T22:00:00Z");
    let late = tracking.lateness(now, minutes(30)).unwrap();
    assert_eq!(late.basis, LatenessBasis::Clock);
    assert_eq!(late.eta, None);
    assert_eq!(late.expected, now);
    assert_eq!(late.late_by, SignedDuration::from_hours(1));

    // A stale ETA (already past) does not hide it.
    tracking.record(
        eta_update(Some(2), "2026-07-02T08:00:00", "2026-07-02T15:00:00"),
        received(),
    );
    let late = tracking.lateness(now, minutes(30)).unwrap();
    assert_eq!(late.basis, LatenessBasis::Clock);
    assert_eq!(late.eta, Some(instant("2026-07-02T20:00:00Z")));

    // Once arrived, the load is no longer running late.
    tracking.record(
        at(
            StatusType::ArrivedAtDelivery,
            "X1",
            Some(2),
            "2026-07-02T16:55:00",
        ),
        received(),
    );
    assert_eq!(tracking.lateness(now, minutes(30)), None);
}

#[test]
fn the_appointment_comes_before_the_window() {
    let appointment_at = ZonedTime::unresolved(local("2026-07-02T10:00:00"));
    let delivery = Stop {
        appointment: Some(Appointment {
            window: TimeWindow {
                earliest: Some(appointment_at),
                latest: None,
            },
            confirmation: Some("APT-7".to_owned()),
            status: AppointmentStatus::Confirmed,
        }),
        ..stop_due(
            2,
            StopRole::Delivery,
            location(Some(CHICAGO), None),
            "2026-07-02T16:00:00",
        )
    };
    let tracking = Tracking::new(&shipment(vec![
        stop(1, StopRole::Pickup, location(Some(CHICAGO), None)),
        delivery,
    ]))
    .unwrap();
    let late = tracking
        .lateness(instant("2026-07-02T16:00:00Z"), minutes(15))
        .unwrap();
    assert_eq!(late.promise_source, PromiseSource::Appointment);
    assert_eq!(late.promised, instant("2026-07-02T15:00:00Z"));
    assert_eq!(late.late_by, SignedDuration::from_hours(1));
}

#[test]
fn lateness_looks_at_the_next_delivery_stop_not_reached() {
    let mut tracking = Tracking::new(&shipment(vec![
        stop(1, StopRole::Pickup, location(Some(CHICAGO), None)),
        stop_due(
            2,
            StopRole::Delivery,
            location(Some(CHICAGO), None),
            "2026-07-02T10:00:00",
        ),
        stop_due(
            3,
            StopRole::Delivery,
            location(Some(CHICAGO), None),
            "2026-07-02T16:00:00",
        ),
    ]))
    .unwrap();
    let now = instant("2026-07-02T17:00:00Z"); // 12:00 Chicago
    assert_eq!(tracking.lateness(now, minutes(0)).unwrap().stop, 2);
    tracking.record(
        at(
            StatusType::ArrivedAtDelivery,
            "X1",
            Some(2),
            "2026-07-02T09:50:00",
        ),
        received(),
    );
    assert_eq!(tracking.lateness(now, minutes(0)), None);
    tracking.record(
        at(StatusType::Delivered, "D1", Some(3), "2026-07-02T15:00:00"),
        received(),
    );
    assert_eq!(
        tracking.lateness(instant("2026-07-03T00:00:00Z"), minutes(0)),
        None
    );
}

#[test]
fn an_eta_without_stop_on_a_multi_delivery_load_counts_for_the_next_stop() {
    let mut tracking = Tracking::new(&shipment(vec![
        stop(1, StopRole::Pickup, location(Some(CHICAGO), None)),
        stop_due(
            2,
            StopRole::Delivery,
            location(Some(CHICAGO), None),
            "2026-07-02T10:00:00",
        ),
        stop(3, StopRole::Delivery, location(Some(CHICAGO), None)),
    ]))
    .unwrap();
    let now = instant("2026-07-02T13:00:00Z"); // 08:00 Chicago
    tracking.record(
        eta_update(None, "2026-07-02T07:30:00", "2026-07-02T11:00:00"),
        received(),
    );
    let late = tracking.lateness(now, minutes(15)).unwrap();
    assert_eq!((late.stop, late.basis), (2, LatenessBasis::Eta));
    assert_eq!(late.eta, Some(instant("2026-07-02T16:00:00Z")));
    assert!(tracking.summary().load_eta.is_some());
    // A later stop-specific report takes over.
    tracking.record(
        eta_update(Some(2), "2026-07-02T07:45:00", "2026-07-02T09:30:00"),
        received(),
    );
    assert_eq!(tracking.lateness(now, minutes(15)), None);
}

// ---------------------------------------------------------------- storage

#[test]
fn tracking_survives_a_json_round_trip() {
    let mut tracking = due_by_four()
        .with_partner_zone(carrier(), zone("America/New_York"))
        .unwrap();
    tracking.record(
        at(
            StatusType::ArrivedAtPickup,
            "X3",
            Some(1),
            "2026-07-02T06:00:00",
        ),
        received(),
    );
    tracking.record(
        eta_update(Some(2), "2026-07-02T08:00:00", "2026-07-02T17:00:00"),
        received(),
    );
    tracking
        .ping(gps("2026-07-02T20:00:00Z", JOLIET_DC), 500.0)
        .unwrap();
    let json = serde_json::to_string(&tracking).unwrap();
    let mut restored: Tracking = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, tracking);
    assert_eq!(restored.summary(), tracking.summary());
    // The geofence state survives: inside again gives nothing, leaving gives a departure.
    let inside = gps("2026-07-02T20:05:00Z", north_of(JOLIET_DC, 20.0));
    assert!(restored.ping(inside, 500.0).unwrap().is_empty());
    let away = gps("2026-07-02T21:00:00Z", north_of(JOLIET_DC, 5_000.0));
    assert_eq!(
        restored.ping(away, 500.0).unwrap()[0].crossing,
        Crossing::Departure
    );
    // The restored state still recognises resends.
    assert_eq!(
        restored.record(
            at(
                StatusType::ArrivedAtPickup,
                "X3",
                Some(1),
                "2026-07-02T06:00:00"
            ),
            received(),
        ),
        Recorded::Duplicate
    );
    let summary_json = serde_json::to_value(tracking.summary()).unwrap();
    assert_eq!(summary_json["progress"]["stage"], "at_delivery");
    assert_eq!(summary_json["progress"]["stop"], 2);
    assert_eq!(summary_json["counts"]["logged"], 3);
    assert_eq!(
        summary_json["stops"][1]["arrived_at"]["zone_source"],
        "stop_location"
    );
}

// ---------------------------------------------------------------- order independence

/// A three-stop trip whose events' times agree with their route positions.
fn trip() -> Vec<StatusEvent> {
    vec![
        at(
            StatusType::ArrivedAtPickup,
            "X3",
            Some(1),
            "2026-07-01T08:00:00",
        ),
        at(
            StatusType::DepartedPickup,
            "AF",
            Some(1),
            "2026-07-01T09:00:00",
        ),
        eta_update(None, "2026-07-01T09:30:00", "2026-07-01T13:00:00"),
        at(StatusType::InTransit, "X6", None, "2026-07-01T10:00:00"),
        at(
            StatusType::ArrivedAtDelivery,
            "X1",
            Some(2),
            "2026-07-01T12:00:00",
        ),
        at(StatusType::Delivered, "D1", Some(2), "2026-07-01T12:30:00"),
        at(
            StatusType::DepartedDelivery,
            "CD",
            Some(2),
            "2026-07-01T13:00:00",
        ),
        at(StatusType::InTransit, "X6", Some(3), "2026-07-01T14:00:00"),
        at(
            StatusType::ArrivedAtDelivery,
            "X1",
            Some(3),
            "2026-07-01T16:00:00",
        ),
        at(StatusType::Delivered, "D1", Some(3), "2026-07-01T16:30:00"),
        at(
            StatusType::DepartedDelivery,
            "CD",
            Some(3),
            "2026-07-01T17:00:00",
        ),
    ]
}

fn replay(events: &[StatusEvent]) -> Tracking {
    let mut tracking = three_stop();
    for event in events {
        tracking.record(event.clone(), received());
    }
    tracking
}

fn chronological(events: &[StatusEvent]) -> Vec<StatusEvent> {
    let mut sorted = events.to_vec();
    sorted.sort_by_key(|event| event.occurred_at.utc);
    sorted
}

proptest! {
    #[test]
    fn any_order_of_the_whole_trip_ends_delivered(
        events in Just(trip()).prop_shuffle()
    ) {
        let tracking = replay(&events);
        prop_assert_eq!(tracking.progress(), Progress::Delivered);
        let in_order = replay(&trip());
        prop_assert_eq!(tracking.summary().stops, in_order.summary().stops);
        prop_assert_eq!(tracking.summary().counts.logged, trip().len());
    }

    #[test]
    fn any_order_of_part_of_the_trip_ends_at_its_most_advanced_event(
        events in proptest::sample::subsequence(trip(), 0..=11).prop_shuffle()
    ) {
        let shuffled = replay(&events);
        let in_order = replay(&chronological(&events));
        prop_assert_eq!(shuffled.progress(), in_order.progress());
        prop_assert_eq!(shuffled.summary().stops, in_order.summary().stops);
        prop_assert_eq!(
            shuffled.summary().latest_applied_at,
            in_order.summary().latest_applied_at
        );
    }
}

#[test]
fn the_trip_in_order_passes_through_every_stage() {
    let mut tracking = three_stop();
    let mut stages = Vec::new();
    for event in trip() {
        assert!(!matches!(
            tracking.record(event, received()),
            Recorded::Stored {
                effect: Effect::Late | Effect::Unattributed
            }
        ));
        stages.push(tracking.progress());
    }
    assert_eq!(
        stages,
        vec![
            Progress::AtPickup { stop: 1 },
            Progress::PickedUp { stop: 1 },
            Progress::PickedUp { stop: 1 },
            Progress::InTransit { next: 2 },
            Progress::AtDelivery { stop: 2 },
            Progress::AtDelivery { stop: 2 },
            Progress::LeftDelivery { stop: 2 },
            Progress::InTransit { next: 3 },
            Progress::AtDelivery { stop: 3 },
            Progress::Delivered,
            Progress::Delivered,
        ]
    );
}
