//! The orchestrator's decisions: pure functions of (state, input, context) returning the
//! new state, the commands to carry out, and a record of every decision taken.
//!
//! The caller (the hub's decide stage) loads the state, calls one of these functions,
//! and commits the new state, the decision records (audit log) and the commands
//! (outbox) in one transaction. Nothing here reads a clock or does I/O: `now` and the
//! carrier master come in the [`Context`].
//!
//! # The life of a load
//!
//! ```text
//! pick ──> building ──(wave cutoff)──> selection ──> [awaiting_approval] ──> tendering
//!  tendering ──990 accept──> accepted ──214──> in_transit ──D1 at last stop──> delivered
//!  tendering ──990 decline / expiry──> next carrier ... ──none left──> needs_person
//! ```
//!
//! - **Selection** ranks the eligible carriers ([`crate::select`]); the ranking is the
//!   waterfall. The whole selection record (every candidate with its exclusion rule or
//!   score) is a decision record.
//! - **Guardrails** ([`crate::policy::Guardrails`]): a hazmat load, a declared value at or
//!   above `high_value`, or a load no carrier takes within its max pay waits for a
//!   person's approval ([`Override::Approve`]); above-max-pay carriers are then ranked by
//!   cost.
//! - **Tendering**: a tender (X12 204, purpose original, G62*64 respond-by) goes to the
//!   first untried carrier. For a carrier that answers 204s with a 997
//!   ([`Context::sends_997`]) the respond-by clock starts when its 997 accepts the 204;
//!   a 997 rejecting it withdraws the tender and raises an alert naming the segment
//!   positions, and the load needs a person. Otherwise the clock starts at once. A
//!   [`Timer::TenderExpiry`] fires at the respond-by time; an open tender then expires
//!   and the next carrier gets one. A decline does the same at once. An acceptance after
//!   expiry is recorded (`late_accept_recorded`), not applied. When no carrier is left the
//!   routing guide is exhausted: the load needs a person.
//! - **Status**: 214s and GPS pings go to [`Tracking`]: stored append-only, deduplicated,
//!   zones resolved, state never regressed. A status of origin `gps` with coordinates is
//!   a position: entering a stop's geofence (`geofence_radius_m`) is an arrival there,
//!   leaving it a departure. Picked up → `in_transit`; delivered at the last
//!   stop → `delivered`, and the WMS and ERP are told. An ETA beyond the promised window
//!   plus tolerance raises `running_late` once, tells the consignee and the WMS, and,
//!   before pickup and when the policy says so, tenders to the next carrier.
//! - **Cancellation / change** by the OMS: a load that loses its last order is cancelled;
//!   the carrier holding an accepted or open tender gets a 204 with purpose cancellation
//!   (B2A 01), the WMS is told. A cancellation less than `tonu_hours_before_pickup` before
//!   pickup, or after the carrier arrived at pickup, owes the TONU fee, which the freight
//!   audit then accepts. A changed order on a tendered load sends the carrier a 204 with
//!   purpose change (B2A 04).
//! - **Freight audit**: a 210 is audited against the accepted carrier's price
//!   ([`crate::freight_audit`]); detention billed is supported by a stop dwell over two
//!   hours in the tracking, a TONU by a late cancellation.

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;
use transload_core::event::EventPayload;
use transload_core::ids::{OrderId, PartnerId, ShipperLoadId, TenantId};
use transload_core::model::{
    Ack, AckStatus, CarrierRef, Invoice, Money, Order, OrderCancellation, PaymentTerms,
    PickCompletion, Shipment, StatusEvent, StatusOrigin, StatusType, Tender, TenderDecision,
    TenderPurpose, TenderResponse, ZonedTime,
};

use crate::carrier::CarrierMaster;
use crate::decision::{Exclusion, Outcome as CandidateOutcome};
use crate::dispatch::{self, DispatchError};
use crate::filters::lane_for;
use crate::freight_audit::{self, AuditEvidence, AuditedInvoice, Disposition, ExpectedCharges};
use crate::history::CarrierHistory;
use crate::load::{
    Approval, AwardedCarrier, LoadState, LoadStatus, OrderState, RankedCarrier, TenderAttempt,
    TenderOutcome, Transmission,
};
use crate::policy::Policy;
use crate::pricing::price;
use crate::request::LoadRequest;
use crate::selection::select;
use crate::tracking::{Crossing, GpsPing, Progress, Recorded, Tracking};

/// What a decision may use besides the state.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Now.
    pub now: Timestamp,
    /// The policy.
    pub policy: &'a Policy,
    /// The carrier master.
    pub carriers: &'a CarrierMaster,
    /// Loads per carrier and lane, awards, observed quality.
    pub history: &'a CarrierHistory,
    /// Carriers that answer a 204 with a 997 (their partner profile expects X12 acks).
    pub sends_997: &'a BTreeSet<PartnerId>,
}

/// Something to carry out once the decision is committed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "command")]
pub enum Command {
    /// Send a canonical event to a partner (through its outbound mapping).
    Send {
        /// The partner.
        to: PartnerId,
        /// What.
        payload: Box<EventPayload>,
    },
    /// Come back to this load at `due`.
    Schedule {
        /// When.
        due: Timestamp,
        /// What for.
        timer: Timer,
    },
    /// A person must look at this.
    Alert {
        /// Stable code.
        code: String,
        /// In words, with positions where there are any.
        message: String,
    },
}

/// A wake-up the orchestrator scheduled for itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "timer")]
pub enum Timer {
    /// The wave of a building load closes.
    WaveCutoff {
        /// The load.
        load: ShipperLoadId,
    },
    /// A tender's respond-by time passed.
    TenderExpiry {
        /// The load.
        load: ShipperLoadId,
        /// The tender.
        tender_id: String,
    },
}

impl Timer {
    /// The load the timer is about.
    #[must_use]
    pub fn load(&self) -> &ShipperLoadId {
        match self {
            Timer::WaveCutoff { load } | Timer::TenderExpiry { load, .. } => load,
        }
    }
}

/// A person's decision about a load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "override")]
pub enum Override {
    /// Approve what the guardrails held back.
    Approve {
        /// Who.
        by: String,
        /// Why.
        reason: String,
    },
    /// Withdraw the open tender (or start again after the guide was exhausted) and
    /// tender to the next carrier, or to `carrier` when given.
    Retender {
        /// Who.
        by: String,
        /// Why.
        reason: String,
        /// A carrier of the master to tender to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        carrier: Option<PartnerId>,
    },
}

impl Override {
    /// Who decided.
    #[must_use]
    pub fn by(&self) -> &str {
        match self {
            Override::Approve { by, .. } | Override::Retender { by, .. } => by,
        }
    }
}

/// One decision, for the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// What was done (`tender_sent`, `tender_expired`, `invoice_audited`…).
    pub action: String,
    /// The rule that decided.
    pub rule: String,
    /// Inputs, alternatives and results.
    pub details: serde_json::Value,
}

/// What a decision produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The load's new state.
    pub load: LoadState,
    /// Commands to carry out after the commit.
    pub commands: Vec<Command>,
    /// Decision records.
    pub decisions: Vec<DecisionRecord>,
    /// What this decision tells about carriers' performance (for the carrier history).
    pub feedback: Vec<CarrierFeedback>,
}

/// A fact about a carrier that its history keeps: awards count against lane capacity and
/// allocation, answers make its acceptance rate, deliveries its on-time rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "feedback")]
pub enum CarrierFeedback {
    /// It was awarded a load on `lane` for pickup on `pickup_date`.
    Awarded {
        /// The carrier.
        carrier: PartnerId,
        /// The contract lane.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lane: Option<String>,
        /// The pickup day.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pickup_date: Option<jiff::civil::Date>,
    },
    /// It answered a tender (an expiry counts as a refusal).
    Answered {
        /// The carrier.
        carrier: PartnerId,
        /// Accepted in time.
        accepted: bool,
    },
    /// It delivered a load.
    Delivered {
        /// The carrier.
        carrier: PartnerId,
        /// At or before the promised time plus the tolerance.
        on_time: bool,
    },
}

impl Outcome {
    fn of(load: LoadState) -> Self {
        Self {
            load,
            commands: Vec::new(),
            decisions: Vec::new(),
            feedback: Vec::new(),
        }
    }

    fn record(&mut self, action: &str, rule: &str, details: serde_json::Value) {
        self.decisions.push(DecisionRecord {
            action: action.to_owned(),
            rule: rule.to_owned(),
            details,
        });
    }

    fn alert(&mut self, code: &str, message: String) {
        self.commands.push(Command::Alert {
            code: code.to_owned(),
            message,
        });
    }

    fn send(&mut self, to: &PartnerId, payload: EventPayload) {
        self.commands.push(Command::Send {
            to: to.clone(),
            payload: Box::new(payload),
        });
    }
}

/// Why a decision could not be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecideError {
    /// The pick cannot become a load.
    #[error(transparent)]
    Dispatch(#[from] DispatchError),
    /// An amount overflowed.
    #[error("amount out of range: {0}")]
    Amount(String),
    /// A time overflowed.
    #[error("time out of range: {0}")]
    Time(String),
    /// The load's stops cannot be tracked.
    #[error("cannot track the load: {0}")]
    Tracking(String),
}

fn hours(hours: u32) -> SignedDuration {
    SignedDuration::from_hours(i64::from(hours))
}

fn add(now: Timestamp, span: SignedDuration) -> Result<Timestamp, DecideError> {
    now.checked_add(span)
        .map_err(|e| DecideError::Time(e.to_string()))
}

// ---------------------------------------------------------------------------------------
// Dispatch
// ---------------------------------------------------------------------------------------

/// A picked order: opens or extends its wave's load; dispatches it when the wave has no
/// cutoff. `load` is the state under [`dispatch::load_id_for`], if any.
///
/// # Errors
/// See [`DecideError`].
pub fn on_pick(
    tenant: &TenantId,
    load: Option<LoadState>,
    order: &Order,
    pick: &PickCompletion,
    ctx: &Context<'_>,
) -> Result<Outcome, DecideError> {
    let id = dispatch::load_id_for(order, pick, &ctx.policy.dispatch)?;
    match load {
        Some(mut load) if load.status == LoadStatus::Building => {
            dispatch::extend_load(&mut load.shipment, order, pick)?;
            let mut outcome = Outcome::of(load);
            outcome.record(
                "order_added_to_load",
                "same_wave_facility_destination",
                json!({ "order": order.order_id, "orders": outcome.load.shipment.orders }),
            );
            Ok(outcome)
        }
        Some(load) => {
            // The wave's load left already (or is being tendered): this order would have
            // to travel alone, under an id of its own.
            let mut outcome = Outcome::of(load);
            if outcome.load.shipment.orders.contains(&order.order_id) {
                outcome.record(
                    "pick_repeated",
                    "order_already_on_load",
                    json!({ "order": order.order_id }),
                );
            } else {
                outcome.alert(
                    "wave_load_already_dispatched",
                    format!(
                        "order {} was picked after its wave's load {} was dispatched ({})",
                        order.order_id,
                        outcome.load.shipment.shipper_load_id,
                        outcome.load.status.name()
                    ),
                );
                outcome.record(
                    "pick_after_dispatch",
                    "wave_load_already_dispatched",
                    json!({ "order": order.order_id }),
                );
            }
            Ok(outcome)
        }
        None => {
            let shipment =
                dispatch::new_load(id.clone(), order, pick, &ctx.policy.dispatch, ctx.now)?;
            let tracking =
                Tracking::new(&shipment).map_err(|e| DecideError::Tracking(e.to_string()))?;
            let cutoff = ctx.policy.dispatch.wave_cutoff_minutes;
            let waves = pick.wave.is_some() && cutoff > 0;
            let wave_closes_at = if waves {
                Some(add(ctx.now, SignedDuration::from_mins(i64::from(cutoff)))?)
            } else {
                None
            };
            let load = LoadState {
                tenant: tenant.clone(),
                shipment,
                status: LoadStatus::Building,
                wave_closes_at,
                ranking: Vec::new(),
                tenders: Vec::new(),
                carrier: None,
                pro_number: None,
                tracking,
                running_late: false,
                invoices: Vec::new(),
                approvals: Vec::new(),
                tonu: None,
            };
            let mut outcome = Outcome::of(load);
            outcome.record(
                "load_built",
                if waves { "wave_opened" } else { "dispatch_at_once" },
                json!({ "load": id, "order": order.order_id, "wave": pick.wave, "wave_closes_at": wave_closes_at }),
            );
            match wave_closes_at {
                Some(due) => outcome.commands.push(Command::Schedule {
                    due,
                    timer: Timer::WaveCutoff { load: id },
                }),
                None => dispatch_load(&mut outcome, ctx)?,
            }
            Ok(outcome)
        }
    }
}

/// A timer came due.
///
/// # Errors
/// See [`DecideError`].
pub fn on_timer(load: LoadState, timer: &Timer, ctx: &Context<'_>) -> Result<Outcome, DecideError> {
    let mut outcome = Outcome::of(load);
    match timer {
        Timer::WaveCutoff { .. } => {
            if outcome.load.status == LoadStatus::Building {
                outcome.record(
                    "wave_closed",
                    "wave_cutoff",
                    json!({ "orders": outcome.load.shipment.orders }),
                );
                dispatch_load(&mut outcome, ctx)?;
            }
        }
        Timer::TenderExpiry { tender_id, .. } => {
            let open = outcome
                .load
                .tender(tender_id)
                .filter(|tender| tender.outcome == TenderOutcome::Open)
                .map(|tender| (tender.carrier.clone(), tender.expires_at));
            match open {
                Some((carrier, Some(expires_at))) if expires_at <= ctx.now => {
                    if let Some(tender) = outcome.load.tender_mut(tender_id) {
                        tender.outcome = TenderOutcome::Expired;
                    }
                    outcome.feedback.push(CarrierFeedback::Answered {
                        carrier: carrier.clone(),
                        accepted: false,
                    });
                    outcome.record(
                        "tender_expired",
                        "no_response_by_respond_by",
                        json!({ "tender_id": tender_id, "carrier": carrier, "expired_at": expires_at }),
                    );
                    tender_next(&mut outcome, ctx)?;
                }
                Some((_, Some(expires_at))) => {
                    // Early (a clock moved, a timer redelivered): look again at its time.
                    outcome.commands.push(Command::Schedule {
                        due: expires_at,
                        timer: timer.clone(),
                    });
                    outcome.record(
                        "expiry_not_due",
                        "rescheduled_to_expires_at",
                        json!({ "tender_id": tender_id, "expires_at": expires_at }),
                    );
                }
                _ => outcome.record(
                    "expiry_ignored",
                    "tender_not_open",
                    json!({ "tender_id": tender_id }),
                ),
            }
        }
    }
    Ok(outcome)
}

/// Runs carrier selection and the guardrails, then tenders.
fn dispatch_load(outcome: &mut Outcome, ctx: &Context<'_>) -> Result<(), DecideError> {
    let shipment = &outcome.load.shipment;
    let miles = dispatch::miles(shipment, &ctx.policy.dispatch);
    let request =
        match LoadRequest::from_shipment(shipment, miles, ctx.policy.dispatch.currency.clone()) {
            Ok(request) => request,
            Err(error) => {
                needs_person(outcome, "load_incomplete", &error.to_string());
                return Ok(());
            }
        };
    let selection = select(&request, ctx.carriers, ctx.history, ctx.now);
    let mut ranking: Vec<RankedCarrier> = selection
        .ranking
        .iter()
        .filter_map(|id| {
            let candidate = selection.candidate(id)?;
            let score = candidate.outcome.score()?;
            let carrier = ctx.carriers.get(id)?;
            Some(RankedCarrier {
                carrier: id.clone(),
                scac: candidate.scac.clone(),
                cost: score.cost.clone(),
                response_time_hours: carrier.response_time_hours,
                above_max_pay: false,
                lane: Some(score.lane.clone()),
                pickup_date: Some(request.pickup_date),
            })
        })
        .collect();
    let above_max_pay = above_max_pay_ranking(&selection.candidates, &request, ctx);
    outcome.record(
        "carrier_selection",
        "hard_filters_then_score",
        serde_json::to_value(&selection).unwrap_or_else(|e| json!({ "error": e.to_string() })),
    );
    let mut reasons = Vec::new();
    let guardrails = &ctx.policy.guardrails;
    if guardrails.approve_hazmat && outcome.load.shipment.is_hazmat() {
        reasons.push("hazmat".to_owned());
    }
    if let (Some(limit), Some(value)) = (
        &guardrails.high_value,
        &outcome.load.shipment.totals.declared_value,
    ) && value.currency == limit.currency
        && value.amount >= limit.amount
    {
        reasons.push("high_value".to_owned());
    }
    if ranking.is_empty() && !above_max_pay.is_empty() && guardrails.approve_above_max_pay {
        reasons.push("above_max_pay".to_owned());
        ranking = above_max_pay;
    }
    outcome.load.ranking = ranking;
    if reasons.is_empty() || outcome.load.ranking.is_empty() {
        tender_next(outcome, ctx)
    } else {
        outcome.alert(
            "approval_required",
            format!(
                "load {} needs approval before it is tendered: {}",
                outcome.load.shipment.shipper_load_id,
                reasons.join(", ")
            ),
        );
        outcome.record(
            "approval_required",
            "guardrails",
            json!({ "reasons": reasons }),
        );
        outcome.load.status = LoadStatus::AwaitingApproval { reasons };
        Ok(())
    }
}

/// Carriers excluded only by their max pay, cheapest first, priced as they would be.
fn above_max_pay_ranking(
    candidates: &[crate::decision::Candidate],
    request: &LoadRequest,
    ctx: &Context<'_>,
) -> Vec<RankedCarrier> {
    let mut ranked: Vec<RankedCarrier> = candidates
        .iter()
        .filter(|candidate| {
            matches!(
                candidate.outcome,
                CandidateOutcome::Excluded(Exclusion::AboveMaxPay { .. })
            )
        })
        .filter_map(|candidate| {
            let carrier = ctx.carriers.get(&candidate.carrier)?;
            let (lane, rate) = lane_for(carrier, request).ok()?;
            let cost = price(lane, rate, request, &carrier.currency).ok()?;
            Some(RankedCarrier {
                carrier: carrier.id.clone(),
                scac: carrier.scac.clone(),
                cost,
                response_time_hours: carrier.response_time_hours,
                above_max_pay: true,
                lane: Some(lane.id.clone()),
                pickup_date: Some(request.pickup_date),
            })
        })
        .collect();
    ranked.sort_by(|a, b| {
        a.cost
            .total
            .amount
            .cmp(&b.cost.total.amount)
            .then_with(|| a.carrier.cmp(&b.carrier))
    });
    ranked
}

fn needs_person(outcome: &mut Outcome, code: &str, reason: &str) {
    outcome.alert(
        code,
        format!("load {}: {reason}", outcome.load.shipment.shipper_load_id),
    );
    outcome.record("needs_person", code, json!({ "reason": reason }));
    outcome.load.status = LoadStatus::NeedsPerson {
        code: code.to_owned(),
        reason: reason.to_owned(),
    };
}

/// Tenders to the first carrier of the ranking not tried yet; the guide exhausted, the
/// load needs a person.
fn tender_next(outcome: &mut Outcome, ctx: &Context<'_>) -> Result<(), DecideError> {
    let Some(next) = outcome.load.untried().next().cloned() else {
        let tried: Vec<&PartnerId> = outcome
            .load
            .tenders
            .iter()
            .map(|tender| &tender.carrier)
            .collect();
        let reason = if outcome.load.ranking.is_empty() {
            "no eligible carrier (see the carrier selection record)".to_owned()
        } else {
            format!(
                "routing guide exhausted: tendered to {}",
                tried
                    .iter()
                    .map(|carrier| carrier.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        needs_person(outcome, "routing_guide_exhausted", &reason);
        return Ok(());
    };
    send_tender(outcome, &next, ctx)
}

fn send_tender(
    outcome: &mut Outcome,
    carrier: &RankedCarrier,
    ctx: &Context<'_>,
) -> Result<(), DecideError> {
    let number = outcome.load.tenders.len().saturating_add(1);
    let tender_id = format!("{}-T{number}", outcome.load.shipment.shipper_load_id);
    let respond_by = add(ctx.now, hours(carrier.response_time_hours))?;
    let awaits_997 =
        ctx.policy.tender.clock_starts_at_997 && ctx.sends_997.contains(&carrier.carrier);
    let (transmission, expires_at) = if awaits_997 {
        (Transmission::AwaitingAck, None)
    } else {
        (Transmission::Confirmed, Some(respond_by))
    };
    let carrier_ref = CarrierRef {
        scac: carrier.scac.clone(),
        name: ctx.carriers.get(&carrier.carrier).map(|c| c.name.clone()),
    };
    let tender = Tender {
        tender_id: tender_id.clone(),
        purpose: TenderPurpose::Original,
        carrier: carrier_ref,
        shipment: outcome.load.shipment.clone(),
        payment_terms: PaymentTerms::Prepaid,
        offered_rate: Some(carrier.cost.total.clone()),
        respond_by: Some(respond_by),
    };
    outcome.send(&carrier.carrier, EventPayload::TenderOffered(tender));
    if let Some(due) = expires_at {
        outcome.commands.push(Command::Schedule {
            due,
            timer: Timer::TenderExpiry {
                load: outcome.load.shipment.shipper_load_id.clone(),
                tender_id: tender_id.clone(),
            },
        });
    }
    outcome.record(
        "tender_sent",
        if carrier.above_max_pay {
            "approved_above_max_pay"
        } else {
            "waterfall_next"
        },
        json!({
            "tender_id": tender_id,
            "carrier": carrier.carrier,
            "offered": carrier.cost.total,
            "respond_by": respond_by,
            "clock": if awaits_997 { "starts_at_997" } else { "started" },
        }),
    );
    outcome.load.tenders.push(TenderAttempt {
        tender_id,
        carrier: carrier.carrier.clone(),
        sent_at: ctx.now,
        transmission,
        expires_at,
        outcome: TenderOutcome::Open,
    });
    outcome.load.status = LoadStatus::Tendering;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Acknowledgements and responses
// ---------------------------------------------------------------------------------------

/// The carrier's 997 (or 999) for the 204 of `tender_id` sent with `purpose` (an
/// original starts the tender's clock or withdraws it; a rejected cancellation or change
/// raises an alert).
///
/// # Errors
/// See [`DecideError`].
pub fn on_ack(
    load: LoadState,
    tender_id: &str,
    purpose: TenderPurpose,
    ack: &Ack,
    ctx: &Context<'_>,
) -> Result<Outcome, DecideError> {
    let mut outcome = Outcome::of(load);
    let Some(tender) = outcome.load.tender(tender_id).cloned() else {
        outcome.record(
            "ack_ignored",
            "unknown_tender",
            json!({ "tender_id": tender_id }),
        );
        return Ok(outcome);
    };
    if purpose != TenderPurpose::Original {
        // The 997 of a cancellation or change: the tender's clock is not concerned, but
        // a carrier whose system refused the update still acts on the old tender.
        let errors: Vec<String> = ack.errors.iter().map(describe_ack_error).collect();
        let details = json!({ "tender_id": tender_id, "purpose": purpose, "errors": errors });
        if ack.status == AckStatus::Rejected {
            outcome.record("tender_update_rejected", "997_rejected", details);
            outcome.alert(
                "tender_update_rejected_by_997",
                format!(
                    "{} rejected the {purpose:?} 204 of tender {tender_id}: {}",
                    tender.carrier,
                    if errors.is_empty() {
                        "no segment named".to_owned()
                    } else {
                        errors.join("; ")
                    }
                ),
            );
        } else {
            outcome.record("tender_update_confirmed", "997_accepted", details);
        }
        return Ok(outcome);
    }
    if tender.transmission != Transmission::AwaitingAck {
        outcome.record(
            "ack_ignored",
            "transmission_already_settled",
            json!({ "tender_id": tender_id }),
        );
        return Ok(outcome);
    }
    match ack.status {
        AckStatus::Accepted | AckStatus::AcceptedWithErrors | AckStatus::PartiallyAccepted => {
            let response_hours = outcome
                .load
                .ranking
                .iter()
                .find(|ranked| ranked.carrier == tender.carrier)
                .map_or(24, |ranked| ranked.response_time_hours);
            let expires_at = add(ctx.now, hours(response_hours))?;
            if let Some(attempt) = outcome.load.tender_mut(tender_id) {
                attempt.transmission = Transmission::Confirmed;
                attempt.expires_at = Some(expires_at);
            }
            outcome.commands.push(Command::Schedule {
                due: expires_at,
                timer: Timer::TenderExpiry {
                    load: outcome.load.shipment.shipper_load_id.clone(),
                    tender_id: tender_id.to_owned(),
                },
            });
            outcome.record(
                "tender_transmission_confirmed",
                "997_accepted",
                json!({ "tender_id": tender_id, "expires_at": expires_at }),
            );
        }
        AckStatus::Rejected => {
            let errors: Vec<String> = ack.errors.iter().map(describe_ack_error).collect();
            if let Some(attempt) = outcome.load.tender_mut(tender_id) {
                attempt.transmission = Transmission::Rejected {
                    errors: errors.clone(),
                };
                attempt.outcome = TenderOutcome::Withdrawn;
            }
            outcome.record(
                "tender_transmission_rejected",
                "997_rejected",
                json!({ "tender_id": tender_id, "carrier": tender.carrier, "errors": errors }),
            );
            needs_person(
                &mut outcome,
                "tender_rejected_by_997",
                &format!(
                    "{} rejected the 204 of tender {tender_id}: {}",
                    tender.carrier,
                    if errors.is_empty() {
                        "no segment named".to_owned()
                    } else {
                        errors.join("; ")
                    }
                ),
            );
        }
    }
    Ok(outcome)
}

/// `ST 0001: segment N1 at 7 (loop 0300), element 4: code 7, bad value "ZZ"`.
fn describe_ack_error(error: &transload_core::model::AckError) -> String {
    let mut text = String::new();
    if let Some(set) = &error.transaction_control_number {
        text.push_str(&format!("ST {set}: "));
    }
    match (&error.segment_tag, error.segment_position) {
        (Some(tag), Some(position)) => text.push_str(&format!("segment {tag} at {position}")),
        (Some(tag), None) => text.push_str(&format!("segment {tag}")),
        (None, Some(position)) => text.push_str(&format!("segment at {position}")),
        (None, None) => text.push_str("the set"),
    }
    if let Some(loop_id) = &error.loop_id {
        text.push_str(&format!(" (loop {loop_id})"));
    }
    if let Some(element) = error.element_position {
        text.push_str(&format!(", element {element}"));
    }
    text.push_str(&format!(": code {}", error.code));
    if let Some(value) = &error.bad_value {
        text.push_str(&format!(", bad value {value:?}"));
    }
    text
}

/// The carrier's answer to a tender (X12 990), from partner `from`.
///
/// # Errors
/// See [`DecideError`].
pub fn on_tender_response(
    load: LoadState,
    response: &TenderResponse,
    from: &PartnerId,
    ctx: &Context<'_>,
) -> Result<Outcome, DecideError> {
    let mut outcome = Outcome::of(load);
    let tender = response
        .tender_id
        .as_deref()
        .and_then(|id| outcome.load.tender(id))
        .filter(|tender| &tender.carrier == from)
        .or_else(|| {
            outcome
                .load
                .tenders
                .iter()
                .rev()
                .find(|tender| &tender.carrier == from)
        })
        .cloned();
    let Some(tender) = tender else {
        outcome.record(
            "response_ignored",
            "no_tender_to_this_carrier",
            json!({ "from": from, "tender_id": response.tender_id }),
        );
        return Ok(outcome);
    };
    let details = json!({
        "tender_id": tender.tender_id,
        "carrier": tender.carrier,
        "decision": response.decision,
        "reason": response.reason,
        "responded_at": response.responded_at,
    });
    match (tender.outcome, response.decision) {
        (TenderOutcome::Open, TenderDecision::Accepted) => {
            let cost = outcome
                .load
                .ranking
                .iter()
                .find(|ranked| ranked.carrier == tender.carrier)
                .map(|ranked| (ranked.scac.clone(), ranked.cost.clone()));
            if let Some(attempt) = outcome.load.tender_mut(&tender.tender_id) {
                attempt.outcome = TenderOutcome::Accepted;
            }
            if let Some((scac, cost)) = cost {
                outcome.load.carrier = Some(AwardedCarrier {
                    carrier: tender.carrier.clone(),
                    scac: scac.clone(),
                    tender_id: tender.tender_id.clone(),
                    cost,
                    accepted_at: ctx.now,
                });
                outcome.load.shipment.carrier = Some(CarrierRef { scac, name: None });
            }
            if let Some(pro) = &response.pro_number {
                outcome.load.pro_number = Some(pro.clone());
                outcome.load.shipment.pro_number = Some(pro.clone());
            }
            outcome.load.status = LoadStatus::Accepted;
            let ranked = outcome
                .load
                .ranking
                .iter()
                .find(|ranked| ranked.carrier == tender.carrier);
            outcome.feedback.push(CarrierFeedback::Awarded {
                carrier: tender.carrier.clone(),
                lane: ranked.and_then(|ranked| ranked.lane.clone()),
                pickup_date: ranked.and_then(|ranked| ranked.pickup_date),
            });
            outcome.feedback.push(CarrierFeedback::Answered {
                carrier: tender.carrier.clone(),
                accepted: true,
            });
            outcome.record("tender_accepted", "open_tender_accepted", details);
            if let Some(wms) = &ctx.policy.notify.wms {
                let shipment = outcome.load.shipment.clone();
                outcome.send(wms, EventPayload::ShipmentPlanned(shipment));
            }
        }
        (TenderOutcome::Open, TenderDecision::Declined) => {
            if let Some(attempt) = outcome.load.tender_mut(&tender.tender_id) {
                attempt.outcome = TenderOutcome::Declined;
            }
            outcome.feedback.push(CarrierFeedback::Answered {
                carrier: tender.carrier.clone(),
                accepted: false,
            });
            outcome.record("tender_declined", "open_tender_declined", details);
            tender_next(&mut outcome, ctx)?;
        }
        (TenderOutcome::Expired, TenderDecision::Accepted) => {
            if let Some(attempt) = outcome.load.tender_mut(&tender.tender_id) {
                attempt.outcome = TenderOutcome::LateAccepted;
            }
            outcome.record("late_accept_recorded", "tender_had_expired", details);
            // The carrier believes it has the load: withdraw the tender with a 204
            // cancellation, and tell operations.
            send_purpose(&mut outcome, &tender, TenderPurpose::Cancellation);
            outcome.alert(
                "late_accept",
                format!(
                    "{} accepted tender {} of load {} after it had expired; the tender was withdrawn",
                    tender.carrier, tender.tender_id, outcome.load.shipment.shipper_load_id
                ),
            );
        }
        (state, _) => {
            outcome.record(
                "response_recorded",
                match state {
                    TenderOutcome::Withdrawn => "tender_withdrawn",
                    TenderOutcome::Expired => "tender_had_expired",
                    _ => "tender_already_answered",
                },
                details,
            );
        }
    }
    Ok(outcome)
}

// ---------------------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------------------

/// A status from the carrier (X12 214, API) or a GPS-derived one.
///
/// # Errors
/// See [`DecideError`].
pub fn on_status(
    load: LoadState,
    status: &StatusEvent,
    partner_zone: Option<transload_core::ids::ZoneName>,
    ctx: &Context<'_>,
) -> Result<Outcome, DecideError> {
    let mut outcome = Outcome::of(load);
    if let Some(zone) = partner_zone
        && let Ok(tracking) = outcome
            .load
            .tracking
            .clone()
            .with_partner_zone(status.reported_by.clone(), zone)
    {
        outcome.load.tracking = tracking;
    }
    if status.origin == StatusOrigin::Gps
        && let Some(point) = status.location.as_ref().and_then(|location| location.geo)
    {
        return on_gps_ping(outcome, status, point, ctx);
    }
    let recorded = outcome.load.tracking.record(status.clone(), ctx.now);
    let details = json!({
        "status": status.status,
        "raw_code": status.raw_code,
        "stop_seq": status.stop_seq,
        "recorded": recorded,
    });
    if matches!(recorded, Recorded::Duplicate) {
        outcome.record("status_duplicate", "same_status_seen_before", details);
        return Ok(outcome);
    }
    outcome.record("status_recorded", "append_only", details);
    if outcome.load.pro_number.is_none()
        && let Some(pro) = &status.pro_number
    {
        outcome.load.pro_number = Some(pro.clone());
    }
    follow_progress(&mut outcome, ctx)?;
    Ok(outcome)
}

/// A GPS position (a status of origin `gps` with coordinates): entering a stop's
/// geofence is an arrival there, leaving it a departure; the position alone is not logged.
fn on_gps_ping(
    mut outcome: Outcome,
    status: &StatusEvent,
    point: transload_core::model::GeoPoint,
    ctx: &Context<'_>,
) -> Result<Outcome, DecideError> {
    let ping = GpsPing {
        reported_by: status.reported_by.clone(),
        at: status.occurred_at.utc.unwrap_or(ctx.now),
        point,
    };
    let transitions = match outcome
        .load
        .tracking
        .ping(ping, ctx.policy.tracking.geofence_radius_m)
    {
        Ok(transitions) => transitions,
        Err(error) => {
            outcome.record(
                "gps_ping_ignored",
                "invalid_ping",
                json!({ "error": error.to_string() }),
            );
            return Ok(outcome);
        }
    };
    if transitions.is_empty() {
        outcome.record(
            "gps_ping_recorded",
            "no_geofence_crossed",
            json!({ "lat": point.lat, "lon": point.lon }),
        );
        return Ok(outcome);
    }
    for transition in &transitions {
        outcome.record(
            match transition.crossing {
                Crossing::Arrival => "geofence_arrival",
                Crossing::Departure => "geofence_departure",
            },
            "gps_within_radius",
            json!({
                "stop_seq": transition.stop,
                "distance_m": transition.distance_m.round(),
                "status": transition.event.status,
                "recorded": transition.recorded,
            }),
        );
    }
    follow_progress(&mut outcome, ctx)?;
    Ok(outcome)
}

/// Moves the load's status with its tracking and checks for lateness.
fn follow_progress(outcome: &mut Outcome, ctx: &Context<'_>) -> Result<(), DecideError> {
    let progress = outcome.load.tracking.progress();
    let active = matches!(
        outcome.load.status,
        LoadStatus::Accepted | LoadStatus::InTransit | LoadStatus::Tendering
    );
    if active && progress == Progress::Delivered {
        outcome.load.status = LoadStatus::Delivered;
        if let (Some(carrier), Some(on_time)) = (
            outcome.load.carrier.as_ref().map(|c| c.carrier.clone()),
            delivered_on_time(&outcome.load, ctx),
        ) {
            outcome
                .feedback
                .push(CarrierFeedback::Delivered { carrier, on_time });
        }
        outcome.record(
            "load_delivered",
            "delivered_at_last_stop",
            json!({ "summary": outcome.load.tracking.summary() }),
        );
        let delivered = delivered_status(&outcome.load, ctx);
        for partner in [&ctx.policy.notify.wms, &ctx.policy.notify.erp]
            .into_iter()
            .flatten()
        {
            if let Some(status) = &delivered {
                outcome.send(partner, EventPayload::StatusReported(status.clone()));
            }
        }
        return Ok(());
    }
    let picked_up = !matches!(progress, Progress::Planned | Progress::AtPickup { .. });
    if active && picked_up && outcome.load.status != LoadStatus::InTransit {
        outcome.load.status = LoadStatus::InTransit;
        outcome.record("load_in_transit", "departed_pickup", json!({}));
    }
    check_lateness(outcome, ctx)
}

/// Whether the last delivery stop was reached (D1, else arrival) by its promised time plus
/// the tolerance; `None` without a promise or a resolved time.
fn delivered_on_time(load: &LoadState, ctx: &Context<'_>) -> Option<bool> {
    let last = load
        .shipment
        .stops
        .iter()
        .rev()
        .find(|stop| stop.role == transload_core::model::StopRole::Delivery)?;
    let times = load.tracking.stop_times(last.seq)?;
    let promised = times.promised.as_ref()?.at.utc?;
    let reached = times
        .arrived_at
        .as_ref()
        .or(times.delivered_at.as_ref())?
        .utc?;
    let tolerance =
        SignedDuration::from_mins(i64::from(ctx.policy.tracking.late_tolerance_minutes));
    Some(reached.duration_since(promised) <= tolerance)
}

fn delivered_status(load: &LoadState, ctx: &Context<'_>) -> Option<StatusEvent> {
    load.tracking
        .log()
        .iter()
        .rev()
        .find(|logged| logged.event.status == StatusType::Delivered)
        .map(|logged| logged.event.clone())
        .or_else(|| {
            let occurred_at = ZonedTime::from_utc(ctx.now).ok()?;
            Some(synthetic_status(
                load,
                StatusType::Delivered,
                "D1",
                occurred_at,
            ))
        })
}

fn synthetic_status(
    load: &LoadState,
    status: StatusType,
    raw_code: &str,
    occurred_at: ZonedTime,
) -> StatusEvent {
    StatusEvent {
        shipper_load_id: load.shipment.shipper_load_id.clone(),
        pro_number: load.pro_number.clone(),
        carrier: load.shipment.carrier.clone(),
        status,
        raw_code: raw_code.to_owned(),
        raw_reason: None,
        stop_seq: None,
        occurred_at,
        eta: None,
        location: None,
        origin: StatusOrigin::Manual,
        reported_by: load
            .carrier
            .as_ref()
            .map_or_else(PartnerId::hub, |carrier| carrier.carrier.clone()),
        references: Vec::new(),
    }
}

fn check_lateness(outcome: &mut Outcome, ctx: &Context<'_>) -> Result<(), DecideError> {
    if outcome.load.running_late {
        return Ok(());
    }
    let tolerance =
        SignedDuration::from_mins(i64::from(ctx.policy.tracking.late_tolerance_minutes));
    let Some(lateness) = outcome.load.tracking.lateness(ctx.now, tolerance) else {
        return Ok(());
    };
    outcome.load.running_late = true;
    outcome.record(
        "running_late",
        "eta_beyond_window_plus_tolerance",
        serde_json::to_value(&lateness).unwrap_or_default(),
    );
    outcome.alert(
        "running_late",
        format!(
            "load {} is running late at stop {}",
            outcome.load.shipment.shipper_load_id, lateness.stop
        ),
    );
    if let Ok(occurred_at) = ZonedTime::from_utc(ctx.now) {
        let mut delayed = synthetic_status(
            &outcome.load,
            StatusType::Delayed,
            "RUNNING_LATE",
            occurred_at,
        );
        delayed.stop_seq = Some(lateness.stop);
        delayed.eta = lateness.eta.and_then(|eta| ZonedTime::from_utc(eta).ok());
        for partner in [&ctx.policy.notify.consignee, &ctx.policy.notify.wms]
            .into_iter()
            .flatten()
        {
            outcome.send(partner, EventPayload::StatusReported(delayed.clone()));
        }
    }
    if lateness.before_pickup && ctx.policy.tracking.retender_when_late_before_pickup {
        withdraw_current(outcome, "running_late_before_pickup");
        tender_next(outcome, ctx)?;
    }
    Ok(())
}

/// Withdraws the open or accepted tender and tells its carrier (204, cancellation).
fn withdraw_current(outcome: &mut Outcome, rule: &str) {
    let current = outcome.load.current_tender().cloned();
    let Some(current) = current else {
        return;
    };
    if let Some(attempt) = outcome.load.tender_mut(&current.tender_id) {
        attempt.outcome = TenderOutcome::Withdrawn;
    }
    outcome.load.carrier = None;
    outcome.load.shipment.carrier = None;
    send_purpose(outcome, &current, TenderPurpose::Cancellation);
    outcome.record(
        "tender_withdrawn",
        rule,
        json!({ "tender_id": current.tender_id, "carrier": current.carrier }),
    );
}

/// Sends the carrier of `tender` a 204 with `purpose` (cancellation or change).
fn send_purpose(outcome: &mut Outcome, tender: &TenderAttempt, purpose: TenderPurpose) {
    let scac = outcome
        .load
        .ranking
        .iter()
        .find(|ranked| ranked.carrier == tender.carrier)
        .map(|ranked| ranked.scac.clone());
    let Some(scac) = scac else {
        return;
    };
    let message = Tender {
        tender_id: tender.tender_id.clone(),
        purpose,
        carrier: CarrierRef { scac, name: None },
        shipment: outcome.load.shipment.clone(),
        payment_terms: PaymentTerms::Prepaid,
        offered_rate: None,
        respond_by: None,
    };
    outcome.send(&tender.carrier, EventPayload::TenderOffered(message));
}

// ---------------------------------------------------------------------------------------
// Orders changed or cancelled
// ---------------------------------------------------------------------------------------

/// The OMS cancelled an order on this load.
///
/// # Errors
/// See [`DecideError`].
pub fn on_order_cancelled(
    load: LoadState,
    cancellation: &OrderCancellation,
    ctx: &Context<'_>,
) -> Result<Outcome, DecideError> {
    let mut outcome = Outcome::of(load);
    let order = &cancellation.order_id;
    if let Some(wms) = &ctx.policy.notify.wms {
        outcome.send(wms, EventPayload::OrderCancelled(cancellation.clone()));
    }
    if matches!(
        outcome.load.status,
        LoadStatus::Delivered | LoadStatus::Cancelled | LoadStatus::InTransit
    ) {
        let rule = format!("load_{}", outcome.load.status.name());
        outcome.alert(
            "cancel_too_late",
            format!(
                "order {order} was cancelled but load {} is {}",
                outcome.load.shipment.shipper_load_id,
                outcome.load.status.name()
            ),
        );
        outcome.record("cancellation_not_applied", &rule, json!({ "order": order }));
        return Ok(outcome);
    }
    remove_order(&mut outcome.load.shipment, order);
    if !outcome.load.shipment.orders.is_empty() {
        outcome.record(
            "order_removed_from_load",
            "other_orders_remain",
            json!({ "order": order, "orders": outcome.load.shipment.orders }),
        );
        send_change(&mut outcome);
        return Ok(outcome);
    }
    let accepted = outcome.load.carrier.clone();
    let pickup_at = pickup_time(&outcome.load.shipment);
    let arrived = outcome.load.tracking.progress() != Progress::Planned;
    withdraw_current(&mut outcome, "order_cancelled");
    let mut tonu = None;
    if let Some(accepted) = &accepted {
        let late = match pickup_at {
            Some(pickup_at) => {
                let cutoff = pickup_at
                    .checked_sub(hours(ctx.policy.cancellation.tonu_hours_before_pickup))
                    .unwrap_or(pickup_at);
                ctx.now >= cutoff
            }
            None => false,
        };
        if late || arrived {
            tonu = ctx.policy.cancellation.tonu_fee.clone();
            outcome.record(
                "tonu_owed",
                if arrived {
                    "cancelled_after_carrier_arrived"
                } else {
                    "cancelled_within_tonu_window"
                },
                json!({ "carrier": accepted.carrier, "fee": tonu, "pickup_at": pickup_at }),
            );
        }
    }
    outcome.load.tonu = tonu;
    outcome.load.status = LoadStatus::Cancelled;
    outcome.record(
        "load_cancelled",
        "last_order_cancelled",
        json!({ "order": order, "reason": cancellation.reason }),
    );
    Ok(outcome)
}

/// The OMS changed an order on this load: a tendered load's carrier gets a change.
///
/// # Errors
/// See [`DecideError`].
pub fn on_order_changed(
    load: LoadState,
    order: &Order,
    _ctx: &Context<'_>,
) -> Result<Outcome, DecideError> {
    let mut outcome = Outcome::of(load);
    if let Some(stop) = outcome
        .load
        .shipment
        .stops
        .iter_mut()
        .rev()
        .find(|stop| stop.role == transload_core::model::StopRole::Delivery)
    {
        stop.location = order.ship_to.clone();
        if order.delivery_window.is_some() {
            stop.window = order.delivery_window.clone();
        }
    }
    rebuild_tracking(&mut outcome.load)?;
    outcome.record(
        "order_changed",
        "oms_change",
        json!({ "order": order.order_id }),
    );
    send_change(&mut outcome);
    Ok(outcome)
}

/// Tracking anew from the changed shipment (new promises, locations, zones), with the
/// statuses logged so far recorded again in their order.
fn rebuild_tracking(load: &mut LoadState) -> Result<(), DecideError> {
    let mut tracking =
        Tracking::new(&load.shipment).map_err(|e| DecideError::Tracking(e.to_string()))?;
    for logged in load.tracking.log() {
        tracking.record(logged.event.clone(), logged.received_at);
    }
    load.tracking = tracking;
    Ok(())
}

fn send_change(outcome: &mut Outcome) {
    let current = outcome.load.current_tender().cloned();
    if let Some(current) = current {
        send_purpose(outcome, &current, TenderPurpose::Change);
        outcome.record(
            "tender_change_sent",
            "load_changed_after_tender",
            json!({ "tender_id": current.tender_id, "carrier": current.carrier }),
        );
    }
}

fn remove_order(shipment: &mut Shipment, order: &OrderId) {
    shipment.orders.retain(|id| id != order);
    for stop in &mut shipment.stops {
        stop.orders.retain(|id| id != order);
    }
}

fn pickup_time(shipment: &Shipment) -> Option<Timestamp> {
    let stop = shipment
        .stops
        .iter()
        .find(|stop| stop.role == transload_core::model::StopRole::Pickup)?;
    stop.appointment
        .as_ref()
        .map(|appointment| &appointment.window)
        .or(stop.window.as_ref())
        .and_then(|window| window.earliest.as_ref().or(window.latest.as_ref()))
        .and_then(|time| time.utc)
}

/// Records the order on the order state when it joins a load.
#[must_use]
pub fn order_on_load(mut order: OrderState, load: &ShipperLoadId) -> OrderState {
    order.load = Some(load.clone());
    order
}

// ---------------------------------------------------------------------------------------
// Freight audit
// ---------------------------------------------------------------------------------------

/// A carrier invoice (X12 210) for this load.
///
/// # Errors
/// See [`DecideError`].
pub fn on_invoice(
    load: LoadState,
    invoice: &Invoice,
    ctx: &Context<'_>,
) -> Result<Outcome, DecideError> {
    let mut outcome = Outcome::of(load);
    let mut expected = outcome
        .load
        .carrier
        .as_ref()
        .map(|carrier| ExpectedCharges::from_cost(&carrier.cost));
    let mut evidence = AuditEvidence::default();
    if let Some(tonu) = &outcome.load.tonu {
        evidence.supported_accessorials.insert("TONU".to_owned());
        if expected.is_none() {
            expected = Some(ExpectedCharges {
                currency: tonu.currency.clone(),
                linehaul: Money::new(Decimal::ZERO, tonu.currency.clone()),
                fuel_surcharge: Money::new(Decimal::ZERO, tonu.currency.clone()),
                accessorials: [("TONU".to_owned(), tonu.clone())].into_iter().collect(),
            });
        }
    }
    if longest_dwell(&outcome.load) > SignedDuration::from_hours(2) {
        evidence.supported_accessorials.insert("DET".to_owned());
    }
    let audited = freight_audit::audit(
        invoice,
        expected.as_ref(),
        &evidence,
        &outcome.load.invoices,
        &ctx.policy.audit,
    );
    let audited = match audited {
        Ok(audited) => audited,
        Err(error) => return Err(DecideError::Amount(error.to_string())),
    };
    let disposition = disposition_code(&audited.disposition);
    outcome.record(
        "invoice_audited",
        disposition,
        serde_json::to_value(&audited).unwrap_or_default(),
    );
    if matches!(
        audited.disposition,
        Disposition::Dispute | Disposition::Hold
    ) {
        outcome.alert(
            "invoice_needs_review",
            format!(
                "invoice {} for load {}: {disposition} ({})",
                invoice.invoice_number,
                outcome.load.shipment.shipper_load_id,
                audited.rule_codes().join(", ")
            ),
        );
    }
    // The ERP pays what the audit approved: it is sent approved and short-paid
    // invoices (the decision record holds the amount to pay), not duplicates, disputes
    // or holds.
    if let Some(erp) = &ctx.policy.notify.erp
        && matches!(
            audited.disposition,
            Disposition::Approve | Disposition::ShortPay { .. }
        )
    {
        outcome.send(erp, EventPayload::InvoiceReceived(invoice.clone()));
    }
    outcome.load.invoices.push(AuditedInvoice::from(&audited));
    Ok(outcome)
}

/// The longest time the carrier spent at one stop (arrival to departure).
fn longest_dwell(load: &LoadState) -> SignedDuration {
    load.shipment
        .stops
        .iter()
        .filter_map(|stop| load.tracking.stop_times(stop.seq))
        .filter_map(|times| {
            let arrived = times.arrived_at.as_ref()?.utc?;
            let departed = times.departed_at.as_ref()?.utc?;
            Some(departed.duration_since(arrived))
        })
        .max()
        .unwrap_or(SignedDuration::ZERO)
}

/// The disposition's name, as in the decision records.
#[must_use]
pub fn disposition_code(disposition: &Disposition) -> &'static str {
    match disposition {
        Disposition::Approve => "approve",
        Disposition::ShortPay { .. } => "short_pay",
        Disposition::Dispute => "dispute",
        Disposition::Hold => "hold",
        Disposition::Duplicate => "duplicate",
        Disposition::Cancelled => "cancelled",
    }
}

// ---------------------------------------------------------------------------------------
// People
// ---------------------------------------------------------------------------------------

/// A person's decision.
///
/// # Errors
/// See [`DecideError`].
pub fn on_override(
    load: LoadState,
    decision: &Override,
    ctx: &Context<'_>,
) -> Result<Outcome, DecideError> {
    let mut outcome = Outcome::of(load);
    match decision {
        Override::Approve { by, reason } => {
            let LoadStatus::AwaitingApproval { reasons } = outcome.load.status.clone() else {
                outcome.record(
                    "override_refused",
                    "nothing_awaits_approval",
                    json!({ "by": by, "reason": reason, "status": outcome.load.status.name() }),
                );
                return Ok(outcome);
            };
            outcome.load.approvals.push(Approval {
                by: by.clone(),
                reason: reason.clone(),
                approved: reasons.clone(),
                at: ctx.now,
            });
            outcome.record(
                "approved",
                "manual_override",
                json!({ "by": by, "reason": reason, "approved": reasons }),
            );
            tender_next(&mut outcome, ctx)?;
        }
        Override::Retender {
            by,
            reason,
            carrier,
        } => {
            if matches!(
                outcome.load.status,
                LoadStatus::Delivered | LoadStatus::Cancelled | LoadStatus::InTransit
            ) {
                outcome.record(
                    "override_refused",
                    "load_past_tendering",
                    json!({ "by": by, "reason": reason, "status": outcome.load.status.name() }),
                );
                return Ok(outcome);
            }
            withdraw_current(&mut outcome, "manual_override");
            outcome.record(
                "retender",
                "manual_override",
                json!({ "by": by, "reason": reason, "carrier": carrier }),
            );
            match carrier {
                Some(carrier) => {
                    let ranked = outcome
                        .load
                        .ranking
                        .iter()
                        .find(|ranked| &ranked.carrier == carrier)
                        .cloned();
                    match ranked {
                        Some(ranked) => send_tender(&mut outcome, &ranked, ctx)?,
                        None => needs_person(
                            &mut outcome,
                            "carrier_not_ranked",
                            &format!("{carrier} is not eligible for this load"),
                        ),
                    }
                }
                None => tender_next(&mut outcome, ctx)?,
            }
        }
    }
    Ok(outcome)
}
