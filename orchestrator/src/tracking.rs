//! Shipment tracking: carrier status events and GPS pings.
//!
//! A [`Tracking`] is the tracking state of one load, built from its [`Shipment`] with
//! [`Tracking::new`] and fed status events ([`Tracking::record`]) and GPS pings
//! ([`Tracking::ping`]). It is plain data (serde, snake_case) so it can be stored as JSON
//! between events; every method is a pure function of the state and its arguments: no
//! I/O, no clock (`now` and `received_at` are passed in).
//!
//! # The log
//!
//! Every event about the load is appended to the log ([`Tracking::log`]), with the time
//! it was received and what it did ([`Effect`]); the log is never trimmed. An event is a
//! **duplicate** of a logged one when it has the same `(status, stop_seq,
//! occurred_at.local, raw_code)` (a partner's resend): it is not logged and changes
//! nothing ([`Recorded::Duplicate`]). An event about another load is not logged either
//! ([`Recorded::OtherLoad`]).
//!
//! # The stop of an event
//!
//! An event concerns the stop its `stop_seq` names. Without `stop_seq`, an event whose
//! type names a role (X3/AF: pickup; X1/D1/CD/AG: delivery) concerns the only stop of
//! that role, when the load has one. A milestone (arrival, D1, departure, X6) that names
//! an unknown stop, a stop of the other role, or no stop when several are possible, is
//! logged as [`Effect::Unattributed`] and changes nothing. An ETA names any stop; an ETA
//! without a stop on a load with several deliveries is kept as the load's ETA.
//!
//! # Time zones
//!
//! A time whose zone is [`ZoneSource::Unresolved`] (an X12 AT7 without AT707) is read,
//! for `occurred_at` and `eta` alike, in the first zone found of:
//!
//! 1. the time zone of the event's stop location ([`ZoneSource::StopLocation`]);
//! 2. the default zone of the reporting partner, set with
//!    [`Tracking::with_partner_zone`] ([`ZoneSource::PartnerDefault`]);
//!
//! and stays unresolved otherwise. A time resolved only by a default guess
//! ([`ZoneSource::PartnerDefault`] or [`ZoneSource::HubDefault`]: a mapping that does not
//! know the load's stops, such as an X12 214 without AT707 and MS1) is read again in the
//! stop's zone when the stop has one. Explicit and stop-location times are kept as they
//! are. Resolution uses [`ZonedTime::resolve`] (earlier instant in a DST
//! fold, later in a gap). The logged event carries the resolved times. Unresolved
//! windows and appointments of the stops are resolved once, in the stop's zone, by
//! [`Tracking::new`].
//!
//! # Progress: it never goes back
//!
//! Each milestone event has a position on the route, ordered by stop sequence, then by
//! phase at the stop:
//!
//! | event                                   | position                          |
//! |-----------------------------------------|-----------------------------------|
//! | X6 in transit with `stop_seq` *s*        | (*s*, en route)                   |
//! | X6 in transit without stop              | (first delivery stop, en route)   |
//! | X3 / X1 arrived at *s*                  | (*s*, arrived)                    |
//! | D1 delivered at delivery stop *s*       | (*s*, unloaded)                   |
//! | AF / CD departed *s*                    | (*s*, departed)                   |
//!
//! The load's position moves to an event's position only when it is further along
//! **and** the event did not happen before the latest event that moved it (compared on
//! instants; an unresolved time is not compared). Any other milestone is a **late
//! arrival** ([`Effect::Late`]: behind the position, or older than the latest applied
//! event) or a repeat of the current position ([`Effect::Repeated`]); it is logged but
//! does not move the position. With events whose times agree with their positions, the
//! position is therefore the most advanced one whatever the order they arrive in.
//!
//! [`Progress`] is read from the position: `planned` (nothing yet), `at_pickup`,
//! `picked_up` (left a pickup), `in_transit` (toward a stop), `at_delivery` (arrived, or
//! unloaded at an intermediate stop), `left_delivery` (left a delivery stop without a
//! D1 at the last one), and `delivered`. **Delivered** means a D1 at the *last* delivery
//! stop (or without `stop_seq` when the load has one delivery stop), whenever it
//! arrives; a D1 at an intermediate stop marks only that stop delivered.
//!
//! # Per-stop times
//!
//! Every attributed milestone, late or not, fills the times of its stop
//! ([`StopTimes`]): the **earliest** reported arrival and delivery, the **latest**
//! reported departure (a resolved time beats an unresolved one; ties keep the first).
//! So the times too do not depend on the order of arrival; a late X3 still gives the
//! pickup its arrival time. The latest ETA of a stop is the one *reported* last
//! (`occurred_at` of the EtaUpdated event).
//!
//! # Geofence
//!
//! [`Tracking::ping`] compares a GPS position with every stop that has coordinates. The
//! distance is the haversine great-circle distance on a sphere of radius
//! [`EARTH_RADIUS_M`] (the IUGG mean Earth radius):
//!
//! ```text
//! h = sin²((φ₂ − φ₁)/2) + cos φ₁ · cos φ₂ · sin²((λ₂ − λ₁)/2)
//! d = 2 R · asin(√h)              φ latitude, λ longitude, in radians
//! ```
//!
//! A ping at distance ≤ `radius_m` of a stop it was not inside is an **arrival** (a
//! synthesised X3/X1 with origin `gps`); a ping beyond `radius_m` of a stop it was inside
//! is a **departure** (AF/CD). Pings inside again, or outside again, give nothing. A ping
//! not later than the last one is ignored. The synthesised events go through
//! [`Tracking::record`] like any other (raw codes [`GEOFENCE_ARRIVAL_CODE`] and
//! [`GEOFENCE_DEPARTURE_CODE`], time in the stop's zone).
//!
//! # Running late
//!
//! [`Tracking::lateness`] looks at the **next delivery stop not reached** (no arrival,
//! D1 or departure, and the position not at or past it). Its promised time is the
//! appointment's latest (else its earliest), else the window's latest. The expected
//! arrival is the latest ETA of the stop (or the load's ETA if reported later) when it
//! is not in the past, else `now`. The load is **running late** (`RUNNING_LATE`) when
//! `expected − promised > tolerance`: the ETA is after the promise plus tolerance, or
//! `now` is past it with no arrival. The answer says by how much, on what basis, and
//! whether the first pickup has not been left yet (so the load can still be re-tendered).

use std::collections::BTreeMap;

use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use transload_core::ids::{PartnerId, ProNumber, ShipperLoadId, ZoneName};
use transload_core::model::{
    CarrierRef, GeoPoint, Location, Shipment, StatusEvent, StatusOrigin, StatusType, Stop,
    StopRole, ZoneSource, ZonedTime,
};

/// Mean Earth radius (IUGG), in metres, used for haversine distances.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// The exception code of a load running late.
pub const RUNNING_LATE: &str = "RUNNING_LATE";

/// `raw_code` of an arrival synthesised from GPS pings.
pub const GEOFENCE_ARRIVAL_CODE: &str = "GEOFENCE_ARRIVAL";

/// `raw_code` of a departure synthesised from GPS pings.
pub const GEOFENCE_DEPARTURE_CODE: &str = "GEOFENCE_DEPARTURE";

/// Why tracking could not be set up, or a ping was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrackingError {
    /// Stop sequence numbers must start at 1 and increase along the route.
    #[error("stop {seq} is out of order: stop sequence numbers start at 1 and increase")]
    StopsOutOfOrder {
        /// The offending stop.
        seq: u16,
    },
    /// A load has at least one pickup and one delivery.
    #[error("the load has no {role:?} stop")]
    MissingRole {
        /// The missing role.
        role: StopRole,
    },
    /// A zone name that is neither a known IANA zone nor a `±HH:MM` offset.
    #[error("unknown time zone `{zone}`")]
    UnknownZone {
        /// The name.
        zone: ZoneName,
    },
    /// A window or appointment time of a stop cannot be read in the stop's zone.
    #[error("stop {seq}: {message}")]
    StopTime {
        /// The stop.
        seq: u16,
        /// What went wrong.
        message: String,
    },
    /// A stop's coordinates are not a point on the earth.
    #[error("stop {seq} has invalid coordinates ({lat}, {lon})")]
    InvalidStopGeo {
        /// The stop.
        seq: u16,
        /// Its latitude.
        lat: f64,
        /// Its longitude.
        lon: f64,
    },
    /// A ping's coordinates are not a point on the earth.
    #[error("invalid ping coordinates ({lat}, {lon})")]
    InvalidPing {
        /// Its latitude.
        lat: f64,
        /// Its longitude.
        lon: f64,
    },
    /// A geofence radius must be a finite number of metres above zero.
    #[error("invalid geofence radius {radius_m} m")]
    InvalidRadius {
        /// The radius given.
        radius_m: f64,
    },
    /// The ping's time cannot be expressed (out of range).
    #[error("ping time: {message}")]
    PingTime {
        /// What went wrong.
        message: String,
    },
}

/// Where a load is, read from its most advanced applied event.
///
/// Ordered along the route, not by variant: `at_pickup` of stop 2 comes after
/// `picked_up` of stop 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Progress {
    /// Nothing reported yet.
    Planned,
    /// Arrived at a pickup stop (X3).
    AtPickup {
        /// The stop.
        stop: u16,
    },
    /// Left a pickup stop with the freight (AF).
    PickedUp {
        /// The stop.
        stop: u16,
    },
    /// On the road toward a stop (X6).
    InTransit {
        /// The stop ahead.
        next: u16,
    },
    /// Arrived at a delivery stop (X1), or unloaded at an intermediate one (D1).
    AtDelivery {
        /// The stop.
        stop: u16,
    },
    /// Left a delivery stop (CD) while the last one has no D1.
    LeftDelivery {
        /// The stop.
        stop: u16,
    },
    /// Delivered at the last delivery stop (D1).
    Delivered,
}

/// The phase of a position at a stop, in route order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Phase {
    EnRoute,
    Arrived,
    Unloaded,
    Departed,
}

/// A point of the route: a stop and a phase there; ordered by stop sequence, then phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Position {
    stop: u16,
    phase: Phase,
}

/// What a logged event did to the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// It moved the load's position or progress forward.
    Advanced,
    /// A milestone behind the current position, or that happened before the latest
    /// applied event: stop times filled in, progress unchanged.
    Late,
    /// A milestone at the current position (another report of it).
    Repeated,
    /// Not a milestone (ETA, appointment, delay, exception, other); ETAs are kept.
    Noted,
    /// A milestone whose stop cannot be determined; nothing changed.
    Unattributed,
}

/// The answer to [`Tracking::record`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Recorded {
    /// Appended to the log, with its effect.
    Stored {
        /// What it did.
        effect: Effect,
    },
    /// A resend of a logged event: nothing changed.
    Duplicate,
    /// About another load: not logged.
    OtherLoad {
        /// The load it is about.
        shipper_load_id: ShipperLoadId,
    },
}

impl Recorded {
    /// Whether the event moved the load forward.
    #[must_use]
    pub fn advanced(&self) -> bool {
        matches!(
            self,
            Recorded::Stored {
                effect: Effect::Advanced
            }
        )
    }
}

/// One logged event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedEvent {
    /// The event, its times resolved.
    pub event: StatusEvent,
    /// When the hub received it.
    pub received_at: Timestamp,
    /// What it did.
    pub effect: Effect,
}

/// Where a stop's promised time comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromiseSource {
    /// The dock appointment.
    Appointment,
    /// The stop's time window.
    Window,
}

/// The time a stop was promised for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promise {
    /// The time.
    pub at: ZonedTime,
    /// Where it comes from.
    pub source: PromiseSource,
}

/// An estimated time of arrival and when it was reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtaReport {
    /// The estimate.
    pub eta: ZonedTime,
    /// When the estimate was made (`occurred_at` of the event).
    pub reported_at: ZonedTime,
}

/// What is known of one stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopTimes {
    /// The stop.
    pub seq: u16,
    /// Pickup or delivery.
    pub role: StopRole,
    /// The promised time, for lateness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promised: Option<Promise>,
    /// Earliest reported arrival.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrived_at: Option<ZonedTime>,
    /// Earliest reported delivery (D1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<ZonedTime>,
    /// Latest reported departure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub departed_at: Option<ZonedTime>,
    /// The ETA reported last for this stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta: Option<EtaReport>,
}

/// A stop as tracking keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TrackedStop {
    times: StopTimes,
    location: Location,
    #[serde(default)]
    inside_geofence: bool,
}

/// A GPS position report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpsPing {
    /// Who sent it (the visibility provider or the carrier).
    pub reported_by: PartnerId,
    /// When the position was taken.
    pub at: Timestamp,
    /// The position.
    pub point: GeoPoint,
}

/// Whether a ping entered or left a geofence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Crossing {
    /// Entered: an arrival.
    Arrival,
    /// Left after having been inside: a departure.
    Departure,
}

/// A geofence crossing found by [`Tracking::ping`], with the event it produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeofenceTransition {
    /// The stop.
    pub stop: u16,
    /// Entered or left.
    pub crossing: Crossing,
    /// Distance from the stop, in metres.
    pub distance_m: f64,
    /// The synthesised status event (origin `gps`).
    pub event: StatusEvent,
    /// What recording it did.
    pub recorded: Recorded,
}

/// On what a lateness is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LatenessBasis {
    /// The latest ETA, not in the past.
    Eta,
    /// The clock: `now`, with no arrival (no ETA, or one already past).
    Clock,
}

/// A `RUNNING_LATE` exception: the next delivery stop will miss its promised time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lateness {
    /// Always [`RUNNING_LATE`].
    pub code: String,
    /// The delivery stop.
    pub stop: u16,
    /// On what it is judged.
    pub basis: LatenessBasis,
    /// The promised time.
    pub promised: Timestamp,
    /// Where the promise comes from.
    pub promise_source: PromiseSource,
    /// The latest resolved ETA for the stop, if any (even when past).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta: Option<Timestamp>,
    /// The expected arrival: the ETA, or `now`.
    pub expected: Timestamp,
    /// `expected − promised`.
    pub late_by: SignedDuration,
    /// The tolerance it exceeds.
    pub tolerance: SignedDuration,
    /// The first pickup has not been left yet: the load can still be re-tendered.
    pub before_pickup: bool,
}

/// Counts of the events seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventCounts {
    /// Logged events.
    pub logged: usize,
    /// Of which moved the load forward.
    pub advanced: usize,
    /// Of which were late arrivals.
    pub late: usize,
    /// Of which repeated the current position.
    pub repeated: usize,
    /// Of which were not milestones.
    pub noted: usize,
    /// Of which had no determinable stop.
    pub unattributed: usize,
    /// Resends ignored.
    pub duplicates: usize,
    /// Events about another load, refused.
    pub other_load: usize,
}

/// The tracking state in brief, for the decision record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingSummary {
    /// The load.
    pub shipper_load_id: ShipperLoadId,
    /// Where it is.
    pub progress: Progress,
    /// Every stop, in route order.
    pub stops: Vec<StopTimes>,
    /// An ETA reported without a stop on a load with several deliveries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_eta: Option<EtaReport>,
    /// The time of the latest event that moved the load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_applied_at: Option<Timestamp>,
    /// Event counts.
    pub counts: EventCounts,
}

/// The tracking state of one load. See the [module documentation](self) for the rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tracking {
    shipper_load_id: ShipperLoadId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    carrier: Option<CarrierRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pro_number: Option<ProNumber>,
    #[serde(default)]
    partner_zones: BTreeMap<PartnerId, ZoneName>,
    stops: Vec<TrackedStop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    load_eta: Option<EtaReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    position: Option<Position>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    latest_applied_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_ping_at: Option<Timestamp>,
    #[serde(default)]
    log: Vec<LoggedEvent>,
    #[serde(default)]
    duplicates: usize,
    #[serde(default)]
    other_load: usize,
}

/// The stop an event concerns.
enum Target {
    /// A stop of the load.
    Stop(u16),
    /// No stop, legitimately (a status of the whole load).
    Load,
    /// A stop was needed and none could be determined.
    Unknown,
}

impl Tracking {
    /// Starts tracking `shipment`: its stops must have increasing sequence numbers, at
    /// least one pickup and one delivery, known zones and valid coordinates. Unresolved
    /// windows and appointments are resolved in the stop's zone.
    ///
    /// # Errors
    /// [`TrackingError`] naming the first stop that breaks a rule.
    pub fn new(shipment: &Shipment) -> Result<Self, TrackingError> {
        let mut previous = 0;
        let mut stops = Vec::with_capacity(shipment.stops.len());
        for stop in &shipment.stops {
            if stop.seq <= previous {
                return Err(TrackingError::StopsOutOfOrder { seq: stop.seq });
            }
            previous = stop.seq;
            stops.push(tracked_stop(stop)?);
        }
        for role in [StopRole::Pickup, StopRole::Delivery] {
            if !stops.iter().any(|stop| stop.times.role == role) {
                return Err(TrackingError::MissingRole { role });
            }
        }
        Ok(Self {
            shipper_load_id: shipment.shipper_load_id.clone(),
            carrier: shipment.carrier.clone(),
            pro_number: shipment.pro_number.clone(),
            partner_zones: BTreeMap::new(),
            stops,
            load_eta: None,
            position: None,
            latest_applied_at: None,
            last_ping_at: None,
            log: Vec::new(),
            duplicates: 0,
            other_load: 0,
        })
    }

    /// Sets the zone in which the unresolved times `partner` sends are read when their
    /// stop has no zone.
    ///
    /// # Errors
    /// [`TrackingError::UnknownZone`] when `zone` is neither an IANA zone nor an offset.
    pub fn with_partner_zone(
        mut self,
        partner: PartnerId,
        zone: ZoneName,
    ) -> Result<Self, TrackingError> {
        if time_zone(&zone).is_none() {
            return Err(TrackingError::UnknownZone { zone });
        }
        self.partner_zones.insert(partner, zone);
        Ok(self)
    }

    /// The load tracked.
    #[must_use]
    pub fn shipper_load_id(&self) -> &ShipperLoadId {
        &self.shipper_load_id
    }

    /// Every logged event, in the order received.
    #[must_use]
    pub fn log(&self) -> &[LoggedEvent] {
        &self.log
    }

    /// What is known of stop `seq`.
    #[must_use]
    pub fn stop_times(&self, seq: u16) -> Option<&StopTimes> {
        self.stop(seq).map(|stop| &stop.times)
    }

    /// Where the load is.
    #[must_use]
    pub fn progress(&self) -> Progress {
        let delivered = self
            .last_delivery()
            .is_some_and(|stop| stop.times.delivered_at.is_some());
        if delivered {
            return Progress::Delivered;
        }
        let Some(position) = self.position else {
            return Progress::Planned;
        };
        let role = self.stop(position.stop).map(|stop| stop.times.role);
        match (position.phase, role) {
            (Phase::Arrived, Some(StopRole::Pickup)) => Progress::AtPickup {
                stop: position.stop,
            },
            (Phase::Departed, Some(StopRole::Pickup)) => Progress::PickedUp {
                stop: position.stop,
            },
            (Phase::Arrived | Phase::Unloaded, Some(StopRole::Delivery)) => Progress::AtDelivery {
                stop: position.stop,
            },
            (Phase::Departed, Some(StopRole::Delivery)) => Progress::LeftDelivery {
                stop: position.stop,
            },
            _ => Progress::InTransit {
                next: position.stop,
            },
        }
    }

    /// Records a status event received at `received_at`: resolves its times, logs it
    /// unless it is a duplicate or about another load, and moves the state forward if
    /// it is the most advanced so far (see the module documentation).
    pub fn record(&mut self, mut event: StatusEvent, received_at: Timestamp) -> Recorded {
        if event.shipper_load_id != self.shipper_load_id {
            self.other_load = self.other_load.saturating_add(1);
            return Recorded::OtherLoad {
                shipper_load_id: event.shipper_load_id,
            };
        }
        if self
            .log
            .iter()
            .any(|logged| same_report(&logged.event, &event))
        {
            self.duplicates = self.duplicates.saturating_add(1);
            return Recorded::Duplicate;
        }
        let target = self.target(&event);
        self.resolve_times(&mut event, &target);
        let effect = match (milestone(&event, &target, self.first_delivery()), target) {
            (Some(position), _) => self.apply_milestone(&event, position),
            (None, Target::Unknown) if is_milestone(event.status) => Effect::Unattributed,
            (None, target) => {
                self.note(&event, &target);
                Effect::Noted
            }
        };
        tracing::debug!(
            load = %self.shipper_load_id,
            status = ?event.status,
            stop = event.stop_seq,
            ?effect,
            "status recorded"
        );
        self.log.push(LoggedEvent {
            event,
            received_at,
            effect,
        });
        Recorded::Stored { effect }
    }

    /// Checks a GPS ping against the geofence of radius `radius_m` metres around every
    /// stop with coordinates; records an arrival for each stop entered and a departure
    /// for each stop left, and returns them in route order.
    ///
    /// # Errors
    /// [`TrackingError::InvalidRadius`] unless `radius_m` is finite and above zero,
    /// [`TrackingError::InvalidPing`] when the point is not on the earth.
    pub fn ping(
        &mut self,
        ping: GpsPing,
        radius_m: f64,
    ) -> Result<Vec<GeofenceTransition>, TrackingError> {
        if !radius_m.is_finite() || radius_m <= 0.0 {
            return Err(TrackingError::InvalidRadius { radius_m });
        }
        if !is_on_earth(ping.point) {
            return Err(TrackingError::InvalidPing {
                lat: ping.point.lat,
                lon: ping.point.lon,
            });
        }
        if self.last_ping_at.is_some_and(|last| ping.at <= last) {
            return Ok(Vec::new());
        }
        self.last_ping_at = Some(ping.at);
        let crossings: Vec<(u16, Crossing, f64)> = self
            .stops
            .iter()
            .filter_map(|stop| {
                let distance_m = haversine_m(stop.location.geo?, ping.point);
                let inside = distance_m <= radius_m;
                match (stop.inside_geofence, inside) {
                    (false, true) => Some((stop.times.seq, Crossing::Arrival, distance_m)),
                    (true, false) => Some((stop.times.seq, Crossing::Departure, distance_m)),
                    _ => None,
                }
            })
            .collect();
        let mut transitions = Vec::with_capacity(crossings.len());
        for (seq, crossing, distance_m) in crossings {
            let Some(stop) = self.stops.iter_mut().find(|stop| stop.times.seq == seq) else {
                continue;
            };
            stop.inside_geofence = crossing == Crossing::Arrival;
            let event = self.geofence_event(&ping, seq, crossing)?;
            let recorded = self.record(event.clone(), ping.at);
            transitions.push(GeofenceTransition {
                stop: seq,
                crossing,
                distance_m,
                event,
                recorded,
            });
        }
        Ok(transitions)
    }

    /// Whether the load is running late at `now`, beyond `tolerance`, for its next
    /// delivery stop not reached (see the module documentation). `None` when it is not,
    /// when every delivery stop is reached, or when that stop has no resolved promise.
    #[must_use]
    pub fn lateness(&self, now: Timestamp, tolerance: SignedDuration) -> Option<Lateness> {
        if self.progress() == Progress::Delivered {
            return None;
        }
        let stop = self
            .stops
            .iter()
            .find(|stop| stop.times.role == StopRole::Delivery && !self.reached(stop))?;
        let promise = stop.times.promised.as_ref()?;
        let promised = promise.at.utc?;
        let report = match (&stop.times.eta, &self.load_eta) {
            (Some(own), Some(load)) if reported_later(load, own) => Some(load),
            (Some(own), _) => Some(own),
            (None, load) => load.as_ref(),
        };
        let eta = report.and_then(|report| report.eta.utc);
        let (expected, basis) = match eta {
            Some(eta) if eta >= now => (eta, LatenessBasis::Eta),
            _ => (now, LatenessBasis::Clock),
        };
        let late_by = expected.duration_since(promised);
        if late_by <= tolerance {
            return None;
        }
        Some(Lateness {
            code: RUNNING_LATE.to_owned(),
            stop: stop.times.seq,
            basis,
            promised,
            promise_source: promise.source,
            eta,
            expected,
            late_by,
            tolerance,
            before_pickup: self.before_pickup(),
        })
    }

    /// The state in brief, for the decision record.
    #[must_use]
    pub fn summary(&self) -> TrackingSummary {
        let count = |effect: Effect| {
            self.log
                .iter()
                .filter(|logged| logged.effect == effect)
                .count()
        };
        TrackingSummary {
            shipper_load_id: self.shipper_load_id.clone(),
            progress: self.progress(),
            stops: self.stops.iter().map(|stop| stop.times.clone()).collect(),
            load_eta: self.load_eta.clone(),
            latest_applied_at: self.latest_applied_at,
            counts: EventCounts {
                logged: self.log.len(),
                advanced: count(Effect::Advanced),
                late: count(Effect::Late),
                repeated: count(Effect::Repeated),
                noted: count(Effect::Noted),
                unattributed: count(Effect::Unattributed),
                duplicates: self.duplicates,
                other_load: self.other_load,
            },
        }
    }

    fn stop(&self, seq: u16) -> Option<&TrackedStop> {
        self.stops.iter().find(|stop| stop.times.seq == seq)
    }

    fn stop_mut(&mut self, seq: u16) -> Option<&mut TrackedStop> {
        self.stops.iter_mut().find(|stop| stop.times.seq == seq)
    }

    /// The only stop of `role`, if the load has exactly one.
    fn only_stop(&self, role: StopRole) -> Option<u16> {
        let mut of_role = self.stops.iter().filter(|stop| stop.times.role == role);
        match (of_role.next(), of_role.next()) {
            (Some(stop), None) => Some(stop.times.seq),
            _ => None,
        }
    }

    fn first_delivery(&self) -> Option<u16> {
        self.stops
            .iter()
            .find(|stop| stop.times.role == StopRole::Delivery)
            .map(|stop| stop.times.seq)
    }

    fn last_delivery(&self) -> Option<&TrackedStop> {
        self.stops
            .iter()
            .rev()
            .find(|stop| stop.times.role == StopRole::Delivery)
    }

    /// The stop `event` concerns (see "The stop of an event").
    fn target(&self, event: &StatusEvent) -> Target {
        let role = role_of(event.status);
        match event.stop_seq {
            Some(seq) => match self.stop(seq) {
                Some(stop)
                    if event.status == StatusType::EtaUpdated
                        || role.is_none_or(|role| role == stop.times.role) =>
                {
                    Target::Stop(seq)
                }
                _ => Target::Unknown,
            },
            None => match role {
                Some(role) => match self.only_stop(role) {
                    Some(seq) => Target::Stop(seq),
                    None if event.status == StatusType::EtaUpdated => Target::Load,
                    None => Target::Unknown,
                },
                None => Target::Load,
            },
        }
    }

    /// Resolves the unresolved `occurred_at` and `eta` of `event`.
    fn resolve_times(&self, event: &mut StatusEvent, target: &Target) {
        let stop_seq = match target {
            Target::Stop(seq) => Some(*seq),
            Target::Load | Target::Unknown => event.stop_seq,
        };
        let stop_zone = stop_seq
            .and_then(|seq| self.stop(seq))
            .and_then(|stop| stop.location.time_zone.as_ref());
        let partner_zone = self.partner_zones.get(&event.reported_by);
        event.occurred_at = resolve(event.occurred_at.clone(), stop_zone, partner_zone);
        event.eta = event
            .eta
            .take()
            .map(|eta| resolve(eta, stop_zone, partner_zone));
    }

    /// Fills the stop's times and moves the position if the milestone is further along
    /// and not older than the latest applied event.
    fn apply_milestone(&mut self, event: &StatusEvent, position: Position) -> Effect {
        let progress_before = self.progress();
        let time = &event.occurred_at;
        if let Some(stop) = self.stop_mut(position.stop) {
            let times = &mut stop.times;
            match position.phase {
                Phase::EnRoute => {}
                Phase::Arrived => keep_earliest(&mut times.arrived_at, time),
                Phase::Unloaded => keep_earliest(&mut times.delivered_at, time),
                Phase::Departed => keep_latest(&mut times.departed_at, time),
            }
        }
        let stale = matches!(
            (time.utc, self.latest_applied_at),
            (Some(at), Some(latest)) if at < latest
        );
        if Some(position) > self.position && !stale {
            self.position = Some(position);
            if let Some(at) = time.utc {
                self.latest_applied_at = Some(self.latest_applied_at.map_or(at, |l| l.max(at)));
            }
            return Effect::Advanced;
        }
        if self.progress() != progress_before {
            Effect::Advanced
        } else if Some(position) == self.position {
            Effect::Repeated
        } else {
            Effect::Late
        }
    }

    /// Keeps the ETA of a non-milestone event, if it is the one reported last.
    fn note(&mut self, event: &StatusEvent, target: &Target) {
        let (StatusType::EtaUpdated, Some(eta)) = (event.status, &event.eta) else {
            return;
        };
        let report = EtaReport {
            eta: eta.clone(),
            reported_at: event.occurred_at.clone(),
        };
        let slot = match target {
            Target::Stop(seq) => match self.stop_mut(*seq) {
                Some(stop) => &mut stop.times.eta,
                None => return,
            },
            Target::Load => &mut self.load_eta,
            Target::Unknown => return,
        };
        if slot
            .as_ref()
            .is_none_or(|current| reported_later(&report, current))
        {
            *slot = Some(report);
        }
    }

    /// Whether the truck has reached `stop` (or gone past it).
    fn reached(&self, stop: &TrackedStop) -> bool {
        let times = &stop.times;
        times.arrived_at.is_some()
            || times.delivered_at.is_some()
            || times.departed_at.is_some()
            || self.position.is_some_and(|position| {
                position
                    > Position {
                        stop: times.seq,
                        phase: Phase::EnRoute,
                    }
            })
    }

    /// Whether the first pickup has not been left yet.
    fn before_pickup(&self) -> bool {
        let Some(first) = self
            .stops
            .iter()
            .find(|stop| stop.times.role == StopRole::Pickup)
        else {
            return false;
        };
        let left = Position {
            stop: first.times.seq,
            phase: Phase::Departed,
        };
        self.position.is_none_or(|position| position < left)
            && self
                .stops
                .iter()
                .all(|stop| stop.times.departed_at.is_none() && stop.times.delivered_at.is_none())
    }

    /// The status event of a geofence crossing at stop `seq`.
    fn geofence_event(
        &self,
        ping: &GpsPing,
        seq: u16,
        crossing: Crossing,
    ) -> Result<StatusEvent, TrackingError> {
        let stop = self.stop(seq);
        let role = stop.map_or(StopRole::Delivery, |stop| stop.times.role);
        let (status, raw_code) = match (crossing, role) {
            (Crossing::Arrival, StopRole::Pickup) => {
                (StatusType::ArrivedAtPickup, GEOFENCE_ARRIVAL_CODE)
            }
            (Crossing::Arrival, StopRole::Delivery) => {
                (StatusType::ArrivedAtDelivery, GEOFENCE_ARRIVAL_CODE)
            }
            (Crossing::Departure, StopRole::Pickup) => {
                (StatusType::DepartedPickup, GEOFENCE_DEPARTURE_CODE)
            }
            (Crossing::Departure, StopRole::Delivery) => {
                (StatusType::DepartedDelivery, GEOFENCE_DEPARTURE_CODE)
            }
        };
        let zone = stop.and_then(|stop| {
            let name = stop.location.time_zone.as_ref()?;
            Some((name.clone(), time_zone(name)?))
        });
        let occurred_at = match zone {
            Some((name, zone)) => ZonedTime {
                local: zone.to_datetime(ping.at),
                zone: Some(name),
                utc: Some(ping.at),
                zone_source: ZoneSource::StopLocation,
            },
            None => ZonedTime::from_utc(ping.at).map_err(|error| TrackingError::PingTime {
                message: error.to_string(),
            })?,
        };
        Ok(StatusEvent {
            shipper_load_id: self.shipper_load_id.clone(),
            pro_number: self.pro_number.clone(),
            carrier: self.carrier.clone(),
            status,
            raw_code: raw_code.to_owned(),
            raw_reason: None,
            stop_seq: Some(seq),
            occurred_at,
            eta: None,
            location: Some(Location {
                id: None,
                name: None,
                address: None,
                geo: Some(ping.point),
                time_zone: None,
            }),
            origin: StatusOrigin::Gps,
            reported_by: ping.reported_by.clone(),
            references: Vec::new(),
        })
    }
}

/// Haversine great-circle distance between `a` and `b`, in metres, on a sphere of radius
/// [`EARTH_RADIUS_M`] (error under 0.5 % against the ellipsoid).
#[must_use]
pub fn haversine_m(a: GeoPoint, b: GeoPoint) -> f64 {
    let (phi_a, phi_b) = (a.lat.to_radians(), b.lat.to_radians());
    let half_dphi = (b.lat - a.lat).to_radians() / 2.0;
    let half_dlambda = (b.lon - a.lon).to_radians() / 2.0;
    let h = half_dphi.sin().powi(2) + phi_a.cos() * phi_b.cos() * half_dlambda.sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.clamp(0.0, 1.0).sqrt().asin()
}

/// The time zone named `name`: an IANA zone, or a fixed offset `±HH:MM`.
fn time_zone(name: &ZoneName) -> Option<TimeZone> {
    let text = name.as_str();
    let signed = text
        .strip_prefix('+')
        .map(|rest| (1, rest))
        .or_else(|| text.strip_prefix('-').map(|rest| (-1, rest)));
    let Some((sign, rest)) = signed else {
        return TimeZone::get(text).ok();
    };
    let (hours, minutes) = rest.split_once(':')?;
    let two_digits = |part: &str| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(hours) || !two_digits(minutes) {
        return None;
    }
    let hours: i32 = hours.parse().ok()?;
    let minutes: i32 = minutes.parse().ok()?;
    if minutes >= 60 {
        return None;
    }
    Offset::from_seconds(sign * (hours * 3600 + minutes * 60))
        .ok()
        .map(TimeZone::fixed)
}

/// Reads an unresolved `time` in the stop's zone, else the partner's. A time whose zone
/// was only a default guess (the partner's or the hub's, as a mapping without the
/// load's stops must guess) is read again in the stop's zone when the stop has one.
fn resolve(
    time: ZonedTime,
    stop_zone: Option<&ZoneName>,
    partner_zone: Option<&ZoneName>,
) -> ZonedTime {
    match time.zone_source {
        ZoneSource::Unresolved => {}
        ZoneSource::PartnerDefault | ZoneSource::HubDefault if stop_zone.is_some() => {
            return resolve(ZonedTime::unresolved(time.local), stop_zone, None);
        }
        _ => return time,
    }
    let candidates = [
        (stop_zone, ZoneSource::StopLocation),
        (partner_zone, ZoneSource::PartnerDefault),
    ];
    for (name, source) in candidates {
        let Some(name) = name else { continue };
        let Some(zone) = time_zone(name) else {
            continue;
        };
        if let Ok(resolved) = ZonedTime::resolve(time.local, name.clone(), &zone, source) {
            return resolved;
        }
    }
    time
}

/// The tracked form of `stop`, its promise resolved in its zone.
fn tracked_stop(stop: &Stop) -> Result<TrackedStop, TrackingError> {
    let zone = match &stop.location.time_zone {
        Some(name) => Some((
            name,
            time_zone(name).ok_or_else(|| TrackingError::UnknownZone { zone: name.clone() })?,
        )),
        None => None,
    };
    if let Some(point) = stop.location.geo
        && !is_on_earth(point)
    {
        return Err(TrackingError::InvalidStopGeo {
            seq: stop.seq,
            lat: point.lat,
            lon: point.lon,
        });
    }
    let appointment = stop.appointment.as_ref().and_then(|appointment| {
        let window = &appointment.window;
        window.latest.as_ref().or(window.earliest.as_ref())
    });
    let promise = match (
        appointment,
        stop.window.as_ref().and_then(|w| w.latest.as_ref()),
    ) {
        (Some(at), _) => Some((at, PromiseSource::Appointment)),
        (None, Some(at)) => Some((at, PromiseSource::Window)),
        (None, None) => None,
    };
    let promised = match promise {
        Some((at, source)) => {
            let at = match (&zone, at.zone_source) {
                (Some((name, zone)), ZoneSource::Unresolved) => {
                    ZonedTime::resolve(at.local, (*name).clone(), zone, ZoneSource::StopLocation)
                        .map_err(|error| TrackingError::StopTime {
                            seq: stop.seq,
                            message: error.to_string(),
                        })?
                }
                _ => at.clone(),
            };
            Some(Promise { at, source })
        }
        None => None,
    };
    Ok(TrackedStop {
        times: StopTimes {
            seq: stop.seq,
            role: stop.role,
            promised,
            arrived_at: None,
            delivered_at: None,
            departed_at: None,
            eta: None,
        },
        location: stop.location.clone(),
        inside_geofence: false,
    })
}

fn is_on_earth(point: GeoPoint) -> bool {
    (-90.0..=90.0).contains(&point.lat) && (-180.0..=180.0).contains(&point.lon)
}

/// Whether `a` and `b` are the same report: same status, stop, local time and raw code.
fn same_report(a: &StatusEvent, b: &StatusEvent) -> bool {
    a.status == b.status
        && a.stop_seq == b.stop_seq
        && a.occurred_at.local == b.occurred_at.local
        && a.raw_code == b.raw_code
}

/// The stop role a status type speaks of.
fn role_of(status: StatusType) -> Option<StopRole> {
    match status {
        StatusType::ArrivedAtPickup | StatusType::DepartedPickup => Some(StopRole::Pickup),
        StatusType::ArrivedAtDelivery
        | StatusType::Delivered
        | StatusType::DepartedDelivery
        | StatusType::EtaUpdated => Some(StopRole::Delivery),
        StatusType::InTransit
        | StatusType::AppointmentSet
        | StatusType::Delayed
        | StatusType::Exception
        | StatusType::Other => None,
    }
}

fn is_milestone(status: StatusType) -> bool {
    matches!(
        status,
        StatusType::ArrivedAtPickup
            | StatusType::DepartedPickup
            | StatusType::InTransit
            | StatusType::ArrivedAtDelivery
            | StatusType::Delivered
            | StatusType::DepartedDelivery
    )
}

/// The route position of a milestone event; `None` for other events and for milestones
/// without a stop.
fn milestone(
    event: &StatusEvent,
    target: &Target,
    first_delivery: Option<u16>,
) -> Option<Position> {
    let at = |stop, phase| Some(Position { stop, phase });
    match (event.status, target) {
        (StatusType::InTransit, Target::Stop(seq)) => at(*seq, Phase::EnRoute),
        (StatusType::InTransit, Target::Load) => at(first_delivery?, Phase::EnRoute),
        (StatusType::ArrivedAtPickup | StatusType::ArrivedAtDelivery, Target::Stop(seq)) => {
            at(*seq, Phase::Arrived)
        }
        (StatusType::Delivered, Target::Stop(seq)) => at(*seq, Phase::Unloaded),
        (StatusType::DepartedPickup | StatusType::DepartedDelivery, Target::Stop(seq)) => {
            at(*seq, Phase::Departed)
        }
        _ => None,
    }
}

/// A sort key putting resolved times first, by instant, then unresolved ones by local.
fn time_key(time: &ZonedTime) -> (bool, Option<Timestamp>, DateTime) {
    (time.utc.is_none(), time.utc, time.local)
}

/// Replaces `slot` with `time` if it is earlier (resolved times first).
fn keep_earliest(slot: &mut Option<ZonedTime>, time: &ZonedTime) {
    if slot
        .as_ref()
        .is_none_or(|current| time_key(time) < time_key(current))
    {
        *slot = Some(time.clone());
    }
}

/// Replaces `slot` with `time` if it is later (resolved times beat unresolved ones).
fn keep_latest(slot: &mut Option<ZonedTime>, time: &ZonedTime) {
    let later = |current: &ZonedTime| match (time.utc, current.utc) {
        (Some(new), Some(old)) => new > old,
        (Some(_), None) => true,
        (None, Some(_)) => false,
        (None, None) => time.local > current.local,
    };
    if slot.as_ref().is_none_or(later) {
        *slot = Some(time.clone());
    }
}

/// Whether `candidate` was reported after `current` (resolved times beat unresolved).
fn reported_later(candidate: &EtaReport, current: &EtaReport) -> bool {
    match (candidate.reported_at.utc, current.reported_at.utc) {
        (Some(new), Some(old)) => new > old,
        (Some(_), None) => true,
        (None, Some(_)) => false,
        (None, None) => candidate.reported_at.local > current.reported_at.local,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str) -> ZoneName {
        ZoneName::new(name).unwrap()
    }

    #[test]
    fn haversine_gives_a_degree_of_latitude_and_a_quarter_meridian() {
        let origin = GeoPoint { lat: 0.0, lon: 0.0 };
        let degree = haversine_m(origin, GeoPoint { lat: 1.0, lon: 0.0 });
        assert!((degree - 111_195.08).abs() < 0.01, "{degree}");
        let pole = haversine_m(
            origin,
            GeoPoint {
                lat: 90.0,
                lon: 0.0,
            },
        );
        assert!((pole - EARTH_RADIUS_M * std::f64::consts::FRAC_PI_2).abs() < 1e-6);
        assert_eq!(haversine_m(origin, origin), 0.0);
        // Antipodes: h = 1 exactly, no NaN from rounding.
        let antipode = haversine_m(
            origin,
            GeoPoint {
                lat: 0.0,
                lon: 180.0,
            },
        );
        assert!((antipode - EARTH_RADIUS_M * std::f64::consts::PI).abs() < 1e-6);
    }

    #[test]
    fn haversine_chicago_loop_to_joliet_is_54_3_km() {
        let chicago = GeoPoint {
            lat: 41.8781,
            lon: -87.6298,
        };
        let joliet = GeoPoint {
            lat: 41.525,
            lon: -88.0817,
        };
        let distance = haversine_m(chicago, joliet);
        // 54 305.5 m on the sphere (computed independently).
        assert!((distance - 54_305.5).abs() < 1.0, "{distance}");
    }

    #[test]
    fn zones_are_iana_names_or_fixed_offsets() {
        assert!(time_zone(&zone("America/Chicago")).is_some());
        assert!(time_zone(&zone("Mars/Olympus")).is_none());
        let minus_five = time_zone(&zone("-05:00")).unwrap();
        let local: DateTime = "2026-07-01T08:00:00".parse().unwrap();
        assert_eq!(
            minus_five.to_timestamp(local).unwrap().to_string(),
            "2026-07-01T13:00:00Z"
        );
        assert!(time_zone(&zone("+05:30")).is_some());
        assert!(time_zone(&zone("+5:30")).is_none());
        assert!(time_zone(&zone("+05:75")).is_none());
    }

    #[test]
    fn resolution_keeps_resolved_times_and_falls_back_in_order() {
        let local: DateTime = "2026-07-01T08:00:00".parse().unwrap();
        let unresolved = ZonedTime::unresolved(local);
        let chicago = zone("America/Chicago");
        let new_york = zone("America/New_York");
        let by_stop = resolve(unresolved.clone(), Some(&chicago), Some(&new_york));
        assert_eq!(by_stop.zone_source, ZoneSource::StopLocation);
        assert_eq!(by_stop.utc.unwrap().to_string(), "2026-07-01T13:00:00Z");
        let by_partner = resolve(unresolved.clone(), None, Some(&new_york));
        assert_eq!(by_partner.zone_source, ZoneSource::PartnerDefault);
        assert_eq!(by_partner.utc.unwrap().to_string(), "2026-07-01T12:00:00Z");
        assert_eq!(resolve(unresolved.clone(), None, None), unresolved);
        let explicit = ZonedTime::from_utc("2026-07-01T08:00:00Z".parse().unwrap()).unwrap();
        assert_eq!(
            resolve(explicit.clone(), Some(&chicago), Some(&new_york)),
            explicit
        );
    }

    #[test]
    fn positions_order_by_stop_then_phase() {
        let at = |stop, phase| Position { stop, phase };
        assert!(at(1, Phase::Departed) < at(2, Phase::EnRoute));
        assert!(at(2, Phase::EnRoute) < at(2, Phase::Arrived));
        assert!(at(2, Phase::Arrived) < at(2, Phase::Unloaded));
        assert!(at(2, Phase::Unloaded) < at(2, Phase::Departed));
        assert!(None < Some(at(1, Phase::EnRoute)));
    }

    #[test]
    fn earliest_and_latest_prefer_resolved_times() {
        let unresolved = ZonedTime::unresolved("2026-07-01T01:00:00".parse().unwrap());
        let resolved = ZonedTime::from_utc("2026-07-01T09:00:00Z".parse().unwrap()).unwrap();
        let earlier = ZonedTime::from_utc("2026-07-01T08:00:00Z".parse().unwrap()).unwrap();
        let mut slot = Some(unresolved.clone());
        keep_earliest(&mut slot, &resolved);
        assert_eq!(slot.as_ref(), Some(&resolved));
        keep_earliest(&mut slot, &unresolved);
        keep_earliest(&mut slot, &earlier);
        assert_eq!(slot.as_ref(), Some(&earlier));
        let mut slot = Some(unresolved.clone());
        keep_latest(&mut slot, &earlier);
        keep_latest(&mut slot, &resolved);
        keep_latest(&mut slot, &earlier);
        keep_latest(&mut slot, &unresolved);
        assert_eq!(slot, Some(resolved));
    }
}
