//! Pure mapping between the canonical model and Rapid Freight's JSON: no I/O, no clock.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::fmt::temporal::Pieces;
use jiff::tz::{Offset, TimeZone};
use thiserror::Error;
use transload_core::ids::{CountryCode, PartnerId, ProNumber, Scac, ShipperLoadId, ZoneName};
use transload_core::model::{
    Address, CarrierRef, EquipmentType, Location, Mode, PaymentTerms, Reference,
    SpecialServiceKind, StatusEvent, StatusOrigin, StatusType, Stop, StopRole, Tender,
    TenderDecision, TenderPurpose, TenderResponse, WeightUnit, ZoneSource, ZonedTime,
};

use crate::api::{
    Amount, Equipment, Facility, Freight, Measure, StatusWebhook, TenderReply, TenderRequest,
    TenderStop, TypedValue,
};

/// Why a mapping failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MappingError {
    /// The input lacks something the output needs, or has a value out of range.
    #[error("{field}: {reason}")]
    Invalid {
        /// Where (a JSON pointer into the input).
        field: String,
        /// What is wrong.
        reason: String,
    },
}

fn invalid(field: &str, reason: impl std::fmt::Display) -> MappingError {
    MappingError::Invalid {
        field: field.to_owned(),
        reason: reason.to_string(),
    }
}

/// A canonical tender as Rapid Freight's `POST /v1/tenders` body.
///
/// # Errors
/// When the tender has no stops, or a stop has no address.
pub fn tender_request(tender: &Tender) -> Result<TenderRequest, MappingError> {
    let shipment = &tender.shipment;
    if shipment.stops.is_empty() {
        return Err(invalid(
            "/shipment/stops",
            "a tender needs at least one stop",
        ));
    }
    let stops = shipment
        .stops
        .iter()
        .enumerate()
        .map(|(index, stop)| tender_stop(index, stop))
        .collect::<Result<Vec<_>, _>>()?;
    let totals = &shipment.totals;
    Ok(TenderRequest {
        tender_reference: tender.tender_id.clone(),
        shipment_reference: shipment.shipper_load_id.to_string(),
        purpose: match tender.purpose {
            TenderPurpose::Original => "NEW",
            TenderPurpose::Change => "UPDATE",
            TenderPurpose::Cancellation => "CANCEL",
        }
        .to_owned(),
        service_level: match shipment.mode {
            Mode::Truckload => "FTL",
            Mode::Ltl => "LTL",
            Mode::Intermodal => "INTERMODAL",
            Mode::Rail => "RAIL",
            Mode::Ocean => "OCEAN",
            Mode::Air => "AIR",
            Mode::Parcel => "PARCEL",
        }
        .to_owned(),
        equipment: shipment.equipment.as_ref().map(|e| Equipment {
            kind: match e.equipment_type {
                EquipmentType::DryVan => "VAN",
                EquipmentType::Reefer => "REEFER",
                EquipmentType::Flatbed => "FLATBED",
                EquipmentType::StepDeck => "STEP_DECK",
                EquipmentType::Container => "CONTAINER",
                EquipmentType::Tanker => "TANKER",
                EquipmentType::StraightTruck => "BOX_TRUCK",
            }
            .to_owned(),
            length_ft: e.length_feet,
        }),
        accessorials: shipment
            .special_services
            .iter()
            .filter_map(|s| accessorial(s.kind))
            .map(str::to_owned)
            .collect(),
        stops,
        freight: Freight {
            weight: totals.weight.map(|w| Measure {
                value: w.value.to_string(),
                unit: match w.unit {
                    WeightUnit::Lb => "LB",
                    WeightUnit::Kg => "KG",
                }
                .to_owned(),
            }),
            pieces: totals.pieces,
            handling_units: totals.handling_units,
            declared_value: totals.declared_value.as_ref().map(amount),
        },
        offered_rate: tender.offered_rate.as_ref().map(amount),
        payment_terms: match tender.payment_terms {
            PaymentTerms::Prepaid => "PREPAID",
            PaymentTerms::Collect => "COLLECT",
            PaymentTerms::ThirdParty => "THIRD_PARTY",
        }
        .to_owned(),
        respond_by: tender.respond_by.map(|t| t.to_string()),
        references: shipment.references.iter().map(typed_value).collect(),
    })
}

/// Rapid Freight's accessorial code; `None` for services it has no code for.
fn accessorial(kind: SpecialServiceKind) -> Option<&'static str> {
    Some(match kind {
        SpecialServiceKind::Liftgate => "LIFTGATE",
        SpecialServiceKind::InsideDelivery => "INSIDE_DELIVERY",
        SpecialServiceKind::Residential => "RESIDENTIAL",
        SpecialServiceKind::Appointment => "APPOINTMENT",
        SpecialServiceKind::Hazmat => "HAZMAT",
        SpecialServiceKind::TeamDrivers => "TEAM",
        SpecialServiceKind::DriverAssist => "DRIVER_ASSIST",
        SpecialServiceKind::TemperatureControl => "TEMP_CONTROL",
        SpecialServiceKind::HighValue => "HIGH_VALUE",
        SpecialServiceKind::Other => return None,
    })
}

fn amount(money: &transload_core::model::Money) -> Amount {
    Amount {
        amount: money.amount.to_string(),
        currency: money.currency.to_string(),
    }
}

fn typed_value(reference: &Reference) -> TypedValue {
    TypedValue {
        kind: match reference.qualifier.as_str() {
            "BM" => "BOL".to_owned(),
            "PO" => "PO".to_owned(),
            other => other.to_owned(),
        },
        value: reference.value.clone(),
    }
}

fn tender_stop(index: usize, stop: &Stop) -> Result<TenderStop, MappingError> {
    let field = format!("/shipment/stops/{index}/location/address");
    let address = stop
        .location
        .address
        .as_ref()
        .ok_or_else(|| invalid(&field, "the carrier needs an address for every stop"))?;
    let window = stop
        .appointment
        .as_ref()
        .map(|a| &a.window)
        .or(stop.window.as_ref());
    let at = |t: Option<&ZonedTime>, which: &str| {
        t.map(|t| {
            local_rfc3339(t).map_err(|e| invalid(&format!("/shipment/stops/{index}/{which}"), e))
        })
        .transpose()
    };
    Ok(TenderStop {
        sequence: stop.seq,
        kind: match stop.role {
            StopRole::Pickup => "PICKUP",
            StopRole::Delivery => "DELIVERY",
        }
        .to_owned(),
        facility: facility(&stop.location, address),
        window_start: at(window.and_then(|w| w.earliest.as_ref()), "window/earliest")?,
        window_end: at(window.and_then(|w| w.latest.as_ref()), "window/latest")?,
        appointment_number: stop
            .appointment
            .as_ref()
            .and_then(|a| a.confirmation.clone()),
        references: stop.references.iter().map(typed_value).collect(),
    })
}

fn facility(location: &Location, address: &Address) -> Facility {
    Facility {
        code: location.id.clone(),
        name: location.name.clone(),
        street: address.lines.clone(),
        city: address.city.clone(),
        state: address.region.clone(),
        postal_code: address.postal_code.clone(),
        country: address.country.to_string(),
        timezone: location.time_zone.as_ref().map(ToString::to_string),
    }
}

/// `2026-11-25T08:00:00-06:00`: the local time as sent, with its offset from UTC; the
/// local time alone when the zone is unresolved.
fn local_rfc3339(time: &ZonedTime) -> Result<String, jiff::Error> {
    let Some(utc) = time.utc else {
        return Ok(time.local.strftime("%Y-%m-%dT%H:%M:%S").to_string());
    };
    let as_if_utc = TimeZone::UTC.to_timestamp(time.local)?;
    let seconds = as_if_utc.as_second() - utc.as_second();
    let offset = Offset::from_seconds(i32::try_from(seconds).unwrap_or(i32::MAX))?;
    let zoned = time.local.to_zoned_datetime(TimeZone::fixed(offset))?;
    Ok(zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string())
}

/// The carrier's answer to a tender as a canonical `transload.tender.responded` payload;
/// `None` while the answer is `PENDING` (it comes later, by webhook).
///
/// # Errors
/// An unknown status, a reply about another tender, an unreadable time or PRO number.
pub fn tender_response(
    tender: &Tender,
    reply: &TenderReply,
) -> Result<Option<TenderResponse>, MappingError> {
    if reply.tender_reference != tender.tender_id {
        return Err(invalid(
            "/tender_reference",
            format!(
                "the answer is about tender {}, not {}",
                reply.tender_reference, tender.tender_id
            ),
        ));
    }
    let decision = match reply.status.as_str() {
        "ACCEPTED" => TenderDecision::Accepted,
        "REJECTED" => TenderDecision::Declined,
        "PENDING" => return Ok(None),
        other => return Err(invalid("/status", format!("unknown status `{other}`"))),
    };
    let Some(decided_at) = reply.decided_at.as_deref() else {
        return Err(invalid("/decided_at", "a decision needs its time"));
    };
    let responded_at: Timestamp = decided_at.parse().map_err(|e| invalid("/decided_at", e))?;
    let pro_number = reply
        .pro_number
        .as_deref()
        .map(ProNumber::new)
        .transpose()
        .map_err(|e| invalid("/pro_number", e))?;
    let mut references = Vec::new();
    if let Some(pro) = &pro_number {
        references.push(Reference {
            qualifier: "CN".to_owned(),
            value: pro.to_string(),
        });
    }
    if let Some(confirmation) = &reply.confirmation {
        references.push(Reference {
            qualifier: "CF".to_owned(),
            value: confirmation.clone(),
        });
    }
    Ok(Some(TenderResponse {
        shipper_load_id: tender.shipment.shipper_load_id.clone(),
        tender_id: Some(tender.tender_id.clone()),
        carrier: CarrierRef {
            scac: tender.carrier.scac.clone(),
            name: None,
        },
        decision,
        reason: reply.reason.clone(),
        raw_code: reply.status.clone(),
        responded_at,
        pro_number,
        references,
    }))
}

/// The canonical status for a Rapid Freight event name; [`StatusType::Other`] for names
/// the model has no type for (the name is kept as `raw_code`).
#[must_use]
pub fn status_type(event: &str) -> StatusType {
    match event {
        "shipment.appointment_scheduled" => StatusType::AppointmentSet,
        "shipment.arrived_at_pickup" => StatusType::ArrivedAtPickup,
        "shipment.picked_up" => StatusType::DepartedPickup,
        "shipment.in_transit" => StatusType::InTransit,
        "shipment.eta_changed" => StatusType::EtaUpdated,
        "shipment.arrived_at_delivery" => StatusType::ArrivedAtDelivery,
        "shipment.delivered" => StatusType::Delivered,
        "shipment.departed_delivery" => StatusType::DepartedDelivery,
        "shipment.delayed" => StatusType::Delayed,
        "shipment.exception" => StatusType::Exception,
        _ => StatusType::Other,
    }
}

/// A time the carrier sent with its offset, in the location's zone when it names one
/// that has that offset then, else in the offset itself.
fn zoned_time(text: &str, zone: Option<&str>, field: &str) -> Result<ZonedTime, MappingError> {
    let pieces = Pieces::parse(text).map_err(|e| invalid(field, e))?;
    let time = pieces
        .time()
        .ok_or_else(|| invalid(field, "a time of day is required"))?;
    let offset = pieces
        .to_numeric_offset()
        .ok_or_else(|| invalid(field, "an offset from UTC is required"))?;
    let local: DateTime = pieces.date().to_datetime(time);
    let utc = TimeZone::fixed(offset)
        .to_timestamp(local)
        .map_err(|e| invalid(field, e))?;
    // The location's zone only when it agrees with the offset sent (an ETA is given in
    // the destination's offset, not the reporting location's).
    let zone_name = match zone {
        Some(name) if TimeZone::get(name).is_ok_and(|tz| tz.to_offset(utc) == offset) => {
            name.to_owned()
        }
        _ => offset_name(offset),
    };
    Ok(ZonedTime {
        local,
        zone: Some(ZoneName::new(zone_name).map_err(|e| invalid(field, e))?),
        utc: Some(utc),
        zone_source: ZoneSource::Explicit,
    })
}

/// `-06:00`.
fn offset_name(offset: Offset) -> String {
    let seconds = offset.seconds();
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

/// A status webhook of the carrier as a canonical `transload.shipment.status` payload.
///
/// # Errors
/// An unreadable load id, PRO number, time or zone.
pub fn shipment_status(
    partner: &PartnerId,
    scac: &Scac,
    webhook: &StatusWebhook,
) -> Result<StatusEvent, MappingError> {
    let zone = webhook
        .location
        .as_ref()
        .and_then(|l| l.timezone.as_deref());
    let location = webhook
        .location
        .as_ref()
        .map(|l| {
            Ok::<_, MappingError>(Location {
                id: None,
                name: None,
                address: Some(Address {
                    lines: Vec::new(),
                    city: l.city.clone(),
                    region: l.state.clone(),
                    postal_code: None,
                    country: CountryCode::new(l.country.clone())
                        .map_err(|e| invalid("/location/country", e))?,
                }),
                geo: None,
                time_zone: l
                    .timezone
                    .as_deref()
                    .map(ZoneName::new)
                    .transpose()
                    .map_err(|e| invalid("/location/timezone", e))?,
            })
        })
        .transpose()?;
    Ok(StatusEvent {
        shipper_load_id: ShipperLoadId::new(webhook.shipment_reference.clone())
            .map_err(|e| invalid("/shipment_reference", e))?,
        pro_number: webhook
            .pro_number
            .as_deref()
            .map(ProNumber::new)
            .transpose()
            .map_err(|e| invalid("/pro_number", e))?,
        carrier: Some(CarrierRef {
            scac: scac.clone(),
            name: None,
        }),
        status: status_type(&webhook.event),
        raw_code: webhook.event.clone(),
        raw_reason: webhook.reason_code.clone(),
        stop_seq: webhook.stop_sequence,
        occurred_at: zoned_time(&webhook.occurred_at, zone, "/occurred_at")?,
        eta: webhook
            .eta
            .as_deref()
            .map(|eta| zoned_time(eta, zone, "/eta"))
            .transpose()?,
        location,
        origin: StatusOrigin::Api,
        reported_by: partner.clone(),
        references: vec![Reference {
            qualifier: "EV".to_owned(),
            value: webhook.event_id.clone(),
        }],
    })
}
