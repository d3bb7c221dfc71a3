//! The state the orchestrator keeps per load (stored as JSON under the state kind
//! `load`, keyed by the shipper load id, one row per tenant and load) and per order
//! (kind `order`).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use transload_core::ids::{OrderId, PartnerId, ProNumber, Scac, ShipperLoadId, TenantId};
use transload_core::model::{Money, Order, Shipment};

use crate::freight_audit::AuditedInvoice;
use crate::tracking::Tracking;

/// State kind of a [`LoadState`].
pub const LOAD_KIND: &str = "load";
/// State kind of an [`OrderState`].
pub const ORDER_KIND: &str = "order";

/// What the orchestrator knows of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderState {
    /// The order as the OMS last sent it.
    pub order: Order,
    /// The load it travels on, once picked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<ShipperLoadId>,
    /// Whether the OMS cancelled it.
    #[serde(default)]
    pub cancelled: bool,
}

/// One load, from the first pick to the last invoice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadState {
    /// Its tenant.
    pub tenant: TenantId,
    /// The load as built from its orders.
    pub shipment: Shipment,
    /// Where it is in its life.
    pub status: LoadStatus,
    /// The wave it was built for, and until when it takes more orders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wave_closes_at: Option<Timestamp>,
    /// The carriers to tender to, best first, as carrier selection ranked them; the
    /// waterfall walks down this list.
    #[serde(default)]
    pub ranking: Vec<RankedCarrier>,
    /// Every tender sent, oldest first.
    #[serde(default)]
    pub tenders: Vec<TenderAttempt>,
    /// The carrier that accepted, while its acceptance stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<AwardedCarrier>,
    /// The carrier's PRO number, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pro_number: Option<ProNumber>,
    /// Statuses and GPS pings.
    pub tracking: Tracking,
    /// Whether a running-late exception was raised (once per load).
    #[serde(default)]
    pub running_late: bool,
    /// Invoices audited, oldest first.
    #[serde(default)]
    pub invoices: Vec<AuditedInvoice>,
    /// Approvals given by people, and what they approved.
    #[serde(default)]
    pub approvals: Vec<Approval>,
    /// A truck-ordered-not-used fee owed after a late cancellation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tonu: Option<Money>,
}

impl LoadState {
    /// The tender still waiting for an answer (at most one at a time).
    #[must_use]
    pub fn open_tender(&self) -> Option<&TenderAttempt> {
        self.tenders
            .iter()
            .rev()
            .find(|tender| tender.outcome == TenderOutcome::Open)
    }

    /// The tender that holds the load now: open, or accepted.
    #[must_use]
    pub fn current_tender(&self) -> Option<&TenderAttempt> {
        self.tenders.iter().rev().find(|tender| {
            matches!(
                tender.outcome,
                TenderOutcome::Open | TenderOutcome::Accepted
            )
        })
    }

    /// The tender with id `tender_id`.
    #[must_use]
    pub fn tender(&self, tender_id: &str) -> Option<&TenderAttempt> {
        self.tenders
            .iter()
            .find(|tender| tender.tender_id == tender_id)
    }

    pub(crate) fn tender_mut(&mut self, tender_id: &str) -> Option<&mut TenderAttempt> {
        self.tenders
            .iter_mut()
            .find(|tender| tender.tender_id == tender_id)
    }

    /// The carriers of the ranking not tendered to yet, in ranking order.
    pub fn untried(&self) -> impl Iterator<Item = &RankedCarrier> {
        self.ranking.iter().filter(|ranked| {
            !self
                .tenders
                .iter()
                .any(|tender| tender.carrier == ranked.carrier)
        })
    }
}

/// Where a load is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum LoadStatus {
    /// Taking more orders of its wave until the cutoff.
    Building,
    /// Waiting for a person to approve the tender (guardrails).
    AwaitingApproval {
        /// Why (`hazmat`, `high_value`, `above_max_pay`).
        reasons: Vec<String>,
    },
    /// A tender is out, waiting for the carrier.
    Tendering,
    /// A carrier accepted.
    Accepted,
    /// Picked up, on its way.
    InTransit,
    /// Delivered at the last stop.
    Delivered,
    /// Cancelled by the shipper.
    Cancelled,
    /// Something only a person can resolve (routing guide exhausted, a 997 rejecting
    /// our 204).
    NeedsPerson {
        /// Stable code of the reason.
        code: String,
        /// The reason, in words.
        reason: String,
    },
}

impl LoadStatus {
    /// The status's name, as in the decision records.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            LoadStatus::Building => "building",
            LoadStatus::AwaitingApproval { .. } => "awaiting_approval",
            LoadStatus::Tendering => "tendering",
            LoadStatus::Accepted => "accepted",
            LoadStatus::InTransit => "in_transit",
            LoadStatus::Delivered => "delivered",
            LoadStatus::Cancelled => "cancelled",
            LoadStatus::NeedsPerson { .. } => "needs_person",
        }
    }
}

/// A carrier selection ranked, with what it would cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RankedCarrier {
    /// The carrier (its partner id).
    pub carrier: PartnerId,
    /// Its SCAC.
    pub scac: Scac,
    /// The price of the load with it.
    pub cost: crate::decision::Cost,
    /// Hours it has to answer.
    pub response_time_hours: u32,
    /// Whether it was ranked only with a person's approval to pay above its max pay.
    #[serde(default)]
    pub above_max_pay: bool,
    /// The contract lane the price is from (its loads per day count against the lane's
    /// capacity once awarded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lane: Option<String>,
    /// The pickup day the lane capacity is counted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pickup_date: Option<jiff::civil::Date>,
}

/// The carrier that accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwardedCarrier {
    /// The carrier.
    pub carrier: PartnerId,
    /// Its SCAC.
    pub scac: Scac,
    /// The tender it accepted.
    pub tender_id: String,
    /// The agreed price.
    pub cost: crate::decision::Cost,
    /// When it accepted.
    pub accepted_at: Timestamp,
}

/// One tender sent to one carrier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenderAttempt {
    /// Its id (in the 204's L11/N9 TN reference).
    pub tender_id: String,
    /// The carrier.
    pub carrier: PartnerId,
    /// When it was sent.
    pub sent_at: Timestamp,
    /// Whether the carrier's system took it.
    pub transmission: Transmission,
    /// When it expires: set when the respond-by clock starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// How it ended.
    pub outcome: TenderOutcome,
}

/// Whether the carrier's system took a tender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transmission {
    /// Sent; the carrier's 997 has not come yet.
    AwaitingAck,
    /// The carrier's 997 accepted it (or the carrier sends none).
    Confirmed,
    /// The carrier's 997 rejected it.
    Rejected {
        /// Where, as segment paths (`ST*204 seg 7 N1 el 4: code 7`).
        errors: Vec<String>,
    },
}

/// How a tender ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenderOutcome {
    /// Still waiting.
    Open,
    /// The carrier accepted.
    Accepted,
    /// The carrier declined.
    Declined,
    /// No answer by the respond-by time.
    Expired,
    /// Accepted after it had expired: recorded, not applied.
    LateAccepted,
    /// Withdrawn by the hub (cancellation, re-tender, 997 rejection).
    Withdrawn,
}

/// An approval a person gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Who.
    pub by: String,
    /// Why.
    pub reason: String,
    /// What was approved (the guardrail reasons).
    pub approved: Vec<String>,
    /// When.
    pub at: Timestamp,
}

/// The key of the load state for `order`'s pick, so orders of one wave, facility and
/// destination meet in one load: `{wave}-{facility}-{destination}`, or the order id when
/// the pick names no wave.
#[must_use]
pub fn wave_load_id(
    order: &OrderId,
    wave: Option<&str>,
    facility: Option<&str>,
    destination: Option<&str>,
) -> String {
    match wave {
        Some(wave) => format!(
            "{wave}-{}-{}",
            facility.unwrap_or("facility"),
            destination.unwrap_or("destination")
        ),
        None => order.as_str().to_owned(),
    }
}
