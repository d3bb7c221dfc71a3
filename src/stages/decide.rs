//! The decide stage: canonical events (and the orchestrator's own timers and people's
//! overrides) in, decisions out.
//!
//! For each message it loads the state the message concerns (the order, the load, the
//! 204 transmission a 997 answers), runs the orchestrator's pure decision function
//! ([`transload_orchestrator::process`]) and returns, for the worker to commit in one
//! transaction with the message's processed marker: the new state (optimistic
//! concurrency on its version), one audit entry per decision record and per alert, and
//! the commands as outbox messages — events for partners on the outbound stage, timers
//! on the events stage.
//!
//! A timer is a message on the events stage with the header `transload-internal: timer`
//! and its due time in `transload-due-at`; read before it is due it is deferred (no
//! attempt counted) for the time left, at most [`DecideOptions::max_timer_wait`] at a
//! time, so a timer fires within that much of its time even after a restart. It is
//! published with `transload-available-at` as far ahead as that first deferral would
//! be, so the embedded bus holds it back instead of handing it to decide at once.
//!
//! Every state key carries the event's tenant: nothing is read across tenants.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use transload_connectors::partner::PartnerDirectory;
use transload_core::bus::{AVAILABLE_AT_HEADER, BusMessage, Stage};
use transload_core::event::{Event, EventPayload};
use transload_core::ids::{DedupeKey, PartnerId, ShipperLoadId, TenantId, ZoneName};
use transload_core::store::{AuditEntry, StateDocument, StateKey, StateWrite, Store, UnitOfWork};
use transload_orchestrator::carrier::CarrierMaster;
use transload_orchestrator::history::{CarrierHistory, HistoryLedger};
use transload_orchestrator::load::{LOAD_KIND, LoadState, ORDER_KIND, OrderState};
use transload_orchestrator::policy::Policy;
use transload_orchestrator::process::{
    self, Command, Context, DecideError, Outcome, Override, Timer,
};

use crate::ingest::{PARTNER_HEADER, TENANT_HEADER};
use crate::pipeline::{Handler, HandlerError};
use crate::stages::deliver::{TRANSMISSION_KIND, TenderTransmission, transmission_key};
use crate::stages::translate::{CONTENT_TYPE_HEADER, EVENT_TYPE_HEADER};

/// Header marking the orchestrator's own messages on the events stage: `timer` or
/// `override`.
pub const INTERNAL_HEADER: &str = "transload-internal";
/// Header with a timer's due time (RFC 3339).
pub const DUE_AT_HEADER: &str = "transload-due-at";
/// State kind of the carrier history (key `carriers`).
pub const HISTORY_KIND: &str = "carrier_history";
/// State kind of the PRO-number index (key: the PRO; value: the load id).
pub const PRO_KIND: &str = "pro";

/// The orchestrator's clock: the system's, shifted by an offset tests can move to play a
/// day in seconds.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// Now.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        let offset = SignedDuration::from_millis(self.offset_ms.load(Ordering::Relaxed));
        Timestamp::now()
            .checked_add(offset)
            .unwrap_or_else(|_| Timestamp::now())
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// How the decide stage runs.
#[derive(Debug, Clone)]
pub struct DecideOptions {
    /// The longest a timer read early waits before it is looked at again.
    pub max_timer_wait: Duration,
}

impl Default for DecideOptions {
    fn default() -> Self {
        Self {
            max_timer_wait: Duration::from_secs(60),
        }
    }
}

/// An override as it travels on the events stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct OverrideMessage {
    /// The tenant.
    pub tenant: TenantId,
    /// The load.
    pub load: ShipperLoadId,
    /// The decision.
    #[serde(flatten)]
    pub decision: Override,
}

impl OverrideMessage {
    /// The bus message carrying this override to the decide stage.
    ///
    /// # Errors
    /// When it cannot be serialized.
    pub fn to_message(&self) -> Result<BusMessage, serde_json::Error> {
        Ok(BusMessage::new(
            format!("{}.transload.override", self.tenant),
            serde_json::to_vec(self)?,
        )
        .with_header(INTERNAL_HEADER, "override")
        .with_header(TENANT_HEADER, self.tenant.as_str()))
    }
}

/// The decide stage's handler.
#[derive(Debug, Clone)]
pub struct Decide<S> {
    store: S,
    carriers: Arc<CarrierMaster>,
    policy: Arc<Policy>,
    partners: Arc<PartnerDirectory>,
    sends_997: Arc<BTreeSet<PartnerId>>,
    clock: Clock,
    options: DecideOptions,
}

/// One state read, with the version to write against.
struct Loaded<T> {
    value: Option<T>,
    version: Option<u64>,
    key: StateKey,
}

impl<T: Serialize> Loaded<T> {
    fn write(&self, value: &T) -> Result<StateWrite, HandlerError> {
        Ok(StateWrite {
            key: self.key.clone(),
            expected_version: self.version,
            value: StateDocument::to_document(value)
                .map_err(|e| HandlerError::Permanent(format!("cannot store the state: {e}")))?,
        })
    }
}

impl<S: Store> Decide<S> {
    /// A decide stage over `carriers` with `policy`; `partners` tells which carriers
    /// answer 204s with a 997 and each partner's time zone.
    #[must_use]
    pub fn new(
        store: S,
        carriers: Arc<CarrierMaster>,
        policy: Arc<Policy>,
        partners: Arc<PartnerDirectory>,
        clock: Clock,
        options: DecideOptions,
    ) -> Self {
        let sends_997 = partners
            .iter()
            .filter(|profile| profile.acks.expect_997)
            .map(|profile| profile.id.clone())
            .collect();
        Self {
            store,
            carriers,
            policy,
            partners,
            sends_997: Arc::new(sends_997),
            clock,
            options,
        }
    }

    async fn read<T: DeserializeOwned>(
        &self,
        tenant: &TenantId,
        kind: &str,
        key: &str,
    ) -> Result<Loaded<T>, HandlerError> {
        let key = StateKey {
            tenant: tenant.clone(),
            kind: kind.to_owned(),
            key: key.to_owned(),
        };
        let record = self.store.load_state(&key).await.map_err(|e| {
            if e.is_transient() {
                HandlerError::Transient(e.to_string())
            } else {
                HandlerError::Permanent(e.to_string())
            }
        })?;
        match record {
            None => Ok(Loaded {
                value: None,
                version: None,
                key,
            }),
            Some(record) => {
                let value = record.value.parse().map_err(|e| {
                    HandlerError::Permanent(format!(
                        "stored {}/{} cannot be read: {e}",
                        key.kind, key.key
                    ))
                })?;
                Ok(Loaded {
                    value: Some(value),
                    version: Some(record.version),
                    key,
                })
            }
        }
    }

    async fn history(
        &self,
        tenant: &TenantId,
        now: Timestamp,
    ) -> Result<(Loaded<HistoryLedger>, CarrierHistory), HandlerError> {
        let loaded: Loaded<HistoryLedger> = self.read(tenant, HISTORY_KIND, "carriers").await?;
        let history = loaded
            .value
            .as_ref()
            .map_or_else(CarrierHistory::new, |ledger| {
                ledger.history(
                    &self.carriers,
                    utc_day(now),
                    self.policy.tender.allocation_period,
                )
            });
        Ok((loaded, history))
    }

    /// The ledger with what `outcome` reported about carriers, when it reported anything.
    fn history_write(
        &self,
        loaded: &Loaded<HistoryLedger>,
        outcome: &Outcome,
        now: Timestamp,
    ) -> Result<Option<StateWrite>, HandlerError> {
        if outcome.feedback.is_empty() {
            return Ok(None);
        }
        let today = utc_day(now);
        let mut ledger = loaded.value.clone().unwrap_or_default();
        for feedback in &outcome.feedback {
            ledger.apply(feedback, today, self.policy.tender.allocation_period);
        }
        loaded.write(&ledger).map(Some)
    }

    /// What a decision at `now` may use.
    fn context<'a>(&'a self, now: Timestamp, history: &'a CarrierHistory) -> Context<'a> {
        Context {
            now,
            policy: &self.policy,
            carriers: &self.carriers,
            history,
            sends_997: &self.sends_997,
        }
    }

    fn partner_zone(&self, partner: Option<&PartnerId>) -> Option<ZoneName> {
        partner
            .and_then(|id| self.partners.get(id))
            .map(|profile| profile.time_zone.clone())
    }

    /// Runs `decide` on the load `id` of `tenant` (if it exists) and turns the outcome
    /// into the unit of work.
    async fn with_load(
        &self,
        tenant: &TenantId,
        id: &str,
        cause: Option<&Event>,
        decide: impl FnOnce(LoadState, &Context<'_>) -> Result<Outcome, DecideError>,
    ) -> Result<UnitOfWork, HandlerError> {
        let mut loaded: Loaded<LoadState> = self.read(tenant, LOAD_KIND, id).await?;
        // The state can be large (its status log): taken, not copied; the write needs
        // only the key and version.
        let Some(load) = loaded.value.take() else {
            return Ok(self.unknown_load(tenant, id, cause));
        };
        let now = self.clock.now();
        let (history_loaded, history) = self.history(tenant, now).await?;
        let context = self.context(now, &history);
        let pro_before = load.pro_number.clone();
        let outcome = decide(load, &context).map_err(|e| HandlerError::Permanent(e.to_string()))?;
        let mut unit = UnitOfWork::default();
        unit.states.push(loaded.write(&outcome.load)?);
        unit.states
            .extend(self.history_write(&history_loaded, &outcome, now)?);
        if let Some(pro) = &outcome.load.pro_number
            && pro_before.as_ref() != Some(pro)
        {
            let index: Loaded<String> = self.read(tenant, PRO_KIND, pro.as_str()).await?;
            unit.states
                .push(index.write(&outcome.load.shipment.shipper_load_id.to_string())?);
        }
        self.emit(&mut unit, tenant, cause, outcome, now)?;
        Ok(unit)
    }

    fn unknown_load(&self, tenant: &TenantId, id: &str, cause: Option<&Event>) -> UnitOfWork {
        tracing::info!(%tenant, load = id, "no such load; recorded");
        UnitOfWork {
            audit: vec![AuditEntry {
                tenant: tenant.clone(),
                actor: "orchestrator".to_owned(),
                action: "decision".to_owned(),
                subject: id.to_owned(),
                details: json!({
                    "action": "ignored",
                    "rule": "unknown_load",
                    "details": { "event": cause.map(|event| event.event_type().as_str()) },
                }),
                at: self.clock.now(),
            }],
            ..UnitOfWork::default()
        }
    }

    /// Decision records and alerts to the audit log, commands to the outbox.
    fn emit(
        &self,
        unit: &mut UnitOfWork,
        tenant: &TenantId,
        cause: Option<&Event>,
        outcome: Outcome,
        now: Timestamp,
    ) -> Result<(), HandlerError> {
        let subject = outcome.load.shipment.shipper_load_id.to_string();
        let status = outcome.load.status.name();
        for record in outcome.decisions {
            tracing::info!(%tenant, load = %subject, action = %record.action, rule = %record.rule, "decision");
            unit.audit.push(AuditEntry {
                tenant: tenant.clone(),
                actor: "orchestrator".to_owned(),
                action: "decision".to_owned(),
                subject: subject.clone(),
                details: json!({
                    "action": record.action,
                    "rule": record.rule,
                    "details": record.details,
                    "status": status,
                    "cause": cause.map(|event| event.id.to_string()),
                }),
                at: now,
            });
        }
        for (n, command) in outcome.commands.into_iter().enumerate() {
            match command {
                Command::Send { to, payload } => {
                    let dedupe = format!(
                        "orchestrator/{}/{n}",
                        cause.map_or_else(|| now.to_string(), |event| event.id.to_string())
                    );
                    let message = outbound_event(tenant, &to, *payload, &dedupe, cause)?;
                    unit.outbox.push((Stage::Outbound, message));
                }
                Command::Schedule { due, timer } => {
                    // Read no earlier than it would be deferred to on its first reading.
                    let wait = Duration::try_from(due.duration_since(now))
                        .unwrap_or_default()
                        .min(self.options.max_timer_wait);
                    let message = timer_message(tenant, due, &timer)?;
                    let message = match Timestamp::now().checked_add(wait) {
                        Ok(at) => message.with_header(AVAILABLE_AT_HEADER, at.to_string()),
                        Err(_) => message,
                    };
                    unit.outbox.push((Stage::Events, message));
                }
                Command::Alert { code, message } => {
                    tracing::warn!(%tenant, load = %subject, %code, %message, "alert");
                    unit.audit.push(AuditEntry {
                        tenant: tenant.clone(),
                        actor: "orchestrator".to_owned(),
                        action: "alert".to_owned(),
                        subject: subject.clone(),
                        details: json!({ "code": code, "message": message }),
                        at: now,
                    });
                }
            }
        }
        Ok(())
    }

    async fn event(&self, message: &BusMessage) -> Result<UnitOfWork, HandlerError> {
        let event: Event = serde_json::from_slice(&message.body)
            .map_err(|e| HandlerError::Permanent(format!("not a canonical event: {e}")))?;
        let tenant = event.tenant.clone();
        let from = message
            .headers
            .get(PARTNER_HEADER)
            .and_then(|id| PartnerId::new(id.as_str()).ok())
            .or_else(|| {
                event
                    .source
                    .strip_prefix("/partners/")
                    .and_then(|id| PartnerId::new(id).ok())
            });
        match &event.payload {
            EventPayload::OrderCreated(order) | EventPayload::OrderChanged(order) => {
                self.order_received(&tenant, order, &event).await
            }
            EventPayload::OrderPicked(pick) => {
                let loaded: Loaded<OrderState> = self
                    .read(&tenant, ORDER_KIND, pick.order_id.as_str())
                    .await?;
                let Some(order_state) = loaded.value.clone() else {
                    return Err(HandlerError::Transient(format!(
                        "order {} is not known yet (its order event may still be on its way)",
                        pick.order_id
                    )));
                };
                let id = transload_orchestrator::dispatch::load_id_for(
                    &order_state.order,
                    pick,
                    &self.policy.dispatch,
                )
                .map_err(|e| HandlerError::Permanent(e.to_string()))?;
                let mut load: Loaded<LoadState> =
                    self.read(&tenant, LOAD_KIND, id.as_str()).await?;
                let now = self.clock.now();
                let (history_loaded, history) = self.history(&tenant, now).await?;
                let context = self.context(now, &history);
                let outcome = process::on_pick(
                    &tenant,
                    load.value.take(),
                    &order_state.order,
                    pick,
                    &context,
                )
                .map_err(|e| HandlerError::Permanent(e.to_string()))?;
                let mut unit = UnitOfWork::default();
                unit.states.push(load.write(&outcome.load)?);
                unit.states
                    .push(loaded.write(&process::order_on_load(order_state, &id))?);
                unit.states
                    .extend(self.history_write(&history_loaded, &outcome, now)?);
                self.emit(&mut unit, &tenant, Some(&event), outcome, now)?;
                Ok(unit)
            }
            EventPayload::OrderCancelled(cancellation) => {
                let loaded: Loaded<OrderState> = self
                    .read(&tenant, ORDER_KIND, cancellation.order_id.as_str())
                    .await?;
                let Some(mut order_state) = loaded.value.clone() else {
                    return Ok(self.unknown_load(
                        &tenant,
                        cancellation.order_id.as_str(),
                        Some(&event),
                    ));
                };
                order_state.cancelled = true;
                let order_write = loaded.write(&order_state)?;
                let Some(load) = order_state.load.clone() else {
                    return Ok(UnitOfWork {
                        states: vec![order_write],
                        audit: vec![self.order_audit(
                            &tenant,
                            &cancellation.order_id,
                            "order_cancelled_before_pick",
                        )],
                        ..UnitOfWork::default()
                    });
                };
                let mut unit = self
                    .with_load(&tenant, load.as_str(), Some(&event), |state, ctx| {
                        process::on_order_cancelled(state, cancellation, ctx)
                    })
                    .await?;
                unit.states.push(order_write);
                Ok(unit)
            }
            EventPayload::TenderResponded(response) => {
                let Some(from) = from else {
                    return Err(HandlerError::Permanent(
                        "a tender response from no known partner".to_owned(),
                    ));
                };
                self.with_load(
                    &tenant,
                    response.shipper_load_id.as_str(),
                    Some(&event),
                    |state, ctx| process::on_tender_response(state, response, &from, ctx),
                )
                .await
            }
            EventPayload::StatusReported(status) => {
                let zone = self.partner_zone(from.as_ref());
                self.with_load(
                    &tenant,
                    status.shipper_load_id.as_str(),
                    Some(&event),
                    |state, ctx| process::on_status(state, status, zone, ctx),
                )
                .await
            }
            EventPayload::InvoiceReceived(invoice) => {
                let load = match (&invoice.shipper_load_id, &invoice.pro_number) {
                    (Some(id), _) => Some(id.to_string()),
                    (None, Some(pro)) => {
                        let index: Loaded<String> =
                            self.read(&tenant, PRO_KIND, pro.as_str()).await?;
                        index.value
                    }
                    (None, None) => None,
                };
                let load = load.unwrap_or_else(|| {
                    invoice
                        .pro_number
                        .as_ref()
                        .map_or_else(|| invoice.invoice_number.clone(), ToString::to_string)
                });
                self.with_load(&tenant, &load, Some(&event), |state, ctx| {
                    process::on_invoice(state, invoice, ctx)
                })
                .await
            }
            EventPayload::AckReceived(ack) => {
                let (Some(from), Some(group)) = (from, ack.group_control_number.as_deref()) else {
                    return Ok(UnitOfWork::default());
                };
                let key = transmission_key(&from, group);
                let transmission: Loaded<TenderTransmission> =
                    self.read(&tenant, TRANSMISSION_KIND, &key).await?;
                let Some(transmission) = transmission.value else {
                    // A 997 for something other than a tender: nothing to decide.
                    return Ok(UnitOfWork::default());
                };
                self.with_load(
                    &tenant,
                    &transmission.shipper_load_id,
                    Some(&event),
                    |state, ctx| {
                        process::on_ack(
                            state,
                            &transmission.tender_id,
                            transmission.purpose,
                            ack,
                            ctx,
                        )
                    },
                )
                .await
            }
            EventPayload::ShipmentPlanned(_) | EventPayload::TenderOffered(_) => {
                Ok(UnitOfWork::default())
            }
        }
    }

    fn order_audit(
        &self,
        tenant: &TenantId,
        order: &transload_core::ids::OrderId,
        rule: &str,
    ) -> AuditEntry {
        AuditEntry {
            tenant: tenant.clone(),
            actor: "orchestrator".to_owned(),
            action: "decision".to_owned(),
            subject: order.to_string(),
            details: json!({ "action": "order_recorded", "rule": rule }),
            at: self.clock.now(),
        }
    }

    async fn order_received(
        &self,
        tenant: &TenantId,
        order: &transload_core::model::Order,
        event: &Event,
    ) -> Result<UnitOfWork, HandlerError> {
        let loaded: Loaded<OrderState> = self
            .read(tenant, ORDER_KIND, order.order_id.as_str())
            .await?;
        let previous = loaded.value.clone();
        let state = OrderState {
            order: order.clone(),
            load: previous.as_ref().and_then(|state| state.load.clone()),
            cancelled: previous.as_ref().is_some_and(|state| state.cancelled),
        };
        let order_write = loaded.write(&state)?;
        match (&state.load, previous.is_some()) {
            (Some(load), true) => {
                let mut unit = self
                    .with_load(tenant, load.as_str(), Some(event), |load, ctx| {
                        process::on_order_changed(load, order, ctx)
                    })
                    .await?;
                unit.states.push(order_write);
                Ok(unit)
            }
            _ => Ok(UnitOfWork {
                states: vec![order_write],
                audit: vec![self.order_audit(
                    tenant,
                    &order.order_id,
                    if previous.is_some() {
                        "order_changed"
                    } else {
                        "order_created"
                    },
                )],
                ..UnitOfWork::default()
            }),
        }
    }

    async fn timer(&self, message: &BusMessage) -> Result<UnitOfWork, HandlerError> {
        let due: Timestamp = message
            .headers
            .get(DUE_AT_HEADER)
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| HandlerError::Permanent("a timer without its due time".to_owned()))?;
        let now = self.clock.now();
        if now < due {
            let left = Duration::try_from(due.duration_since(now)).unwrap_or_default();
            return Err(HandlerError::NotDue(left.min(self.options.max_timer_wait)));
        }
        let tenant = header_tenant(message)?;
        let timer: Timer = serde_json::from_slice(&message.body)
            .map_err(|e| HandlerError::Permanent(format!("not a timer: {e}")))?;
        let load = timer.load().to_string();
        self.with_load(&tenant, &load, None, |state, ctx| {
            process::on_timer(state, &timer, ctx)
        })
        .await
    }

    async fn override_(&self, message: &BusMessage) -> Result<UnitOfWork, HandlerError> {
        let request: OverrideMessage = serde_json::from_slice(&message.body)
            .map_err(|e| HandlerError::Permanent(format!("not an override: {e}")))?;
        let load = request.load.to_string();
        let mut unit = self
            .with_load(&request.tenant, &load, None, |state, ctx| {
                process::on_override(state, &request.decision, ctx)
            })
            .await?;
        unit.audit.push(AuditEntry {
            tenant: request.tenant.clone(),
            actor: format!("operator:{}", request.decision.by()),
            action: "override".to_owned(),
            subject: load,
            details: serde_json::to_value(&request.decision).unwrap_or_default(),
            at: self.clock.now(),
        });
        Ok(unit)
    }
}

/// The calendar day (UTC) of `now`: lane capacity and allocation periods count in UTC days.
fn utc_day(now: Timestamp) -> jiff::civil::Date {
    jiff::tz::TimeZone::UTC.to_datetime(now).date()
}

fn header_tenant(message: &BusMessage) -> Result<TenantId, HandlerError> {
    message
        .headers
        .get(TENANT_HEADER)
        .and_then(|tenant| TenantId::new(tenant.as_str()).ok())
        .ok_or_else(|| HandlerError::Permanent("the message names no tenant".to_owned()))
}

fn timer_message(
    tenant: &TenantId,
    due: Timestamp,
    timer: &Timer,
) -> Result<BusMessage, HandlerError> {
    let body = serde_json::to_vec(timer)
        .map_err(|e| HandlerError::Permanent(format!("cannot write the timer: {e}")))?;
    Ok(BusMessage::new(format!("{tenant}.transload.timer"), body)
        .with_header(INTERNAL_HEADER, "timer")
        .with_header(TENANT_HEADER, tenant.as_str())
        .with_header(DUE_AT_HEADER, due.to_string()))
}

/// A canonical event for partner `to`, on its way to the deliver stage.
fn outbound_event(
    tenant: &TenantId,
    to: &PartnerId,
    payload: EventPayload,
    dedupe: &str,
    cause: Option<&Event>,
) -> Result<BusMessage, HandlerError> {
    let dedupe = DedupeKey::new(dedupe)
        .map_err(|e| HandlerError::Permanent(format!("cannot key the event: {e}")))?;
    let mut event = Event::new(tenant.clone(), "/orchestrator", payload, dedupe);
    if let Some(cause) = cause {
        let correlation = event.correlation_id.clone();
        event = event.caused_by(cause);
        // Keep the load as the correlation of what the orchestrator sends.
        event.correlation_id = correlation;
    }
    let event_type = event.event_type().as_str();
    let body = serde_json::to_vec(&event)
        .map_err(|e| HandlerError::Permanent(format!("cannot serialize the event: {e}")))?;
    Ok(BusMessage::new(to.as_str(), body)
        .with_header(TENANT_HEADER, tenant.as_str())
        .with_header(PARTNER_HEADER, to.as_str())
        .with_header(EVENT_TYPE_HEADER, event_type)
        .with_header(CONTENT_TYPE_HEADER, "application/cloudevents+json"))
}

impl<S: Store> Handler for Decide<S> {
    async fn handle(&self, message: &BusMessage) -> Result<UnitOfWork, HandlerError> {
        match message.headers.get(INTERNAL_HEADER).map(String::as_str) {
            None => self.event(message).await,
            Some("timer") => self.timer(message).await,
            Some("override") => self.override_(message).await,
            Some(other) => Err(HandlerError::Permanent(format!(
                "unknown internal message `{other}`"
            ))),
        }
    }
}
