//! A stage worker: reads its stage's queue in batches, hands each message to the
//! stage's [`Handler`], commits what the handler wants written together with the
//! message's processed marker, then acknowledges the batch at once (one multi-ack after
//! a durable batch). On a bus that lives in the store (the embedded bus in the SQLite
//! store's file) each unit acknowledges its own delivery in its commit instead
//! ([`Consumer::acknowledges_in_commit`]). Failures are retried with backoff or
//! dead-lettered with their reason and original bytes; nothing is dropped.
//!
//! With `concurrency` 1 each message is handled and committed before the next is
//! handled, so a handler that reads state sees what the previous message wrote (the
//! orchestrator). Above 1, the messages of a batch are handled up to `concurrency` at
//! a time on the runtime's threads (messages with the same value of the `ordered_by`
//! header one after another, in the order they came), then their units are committed
//! together, in the order the messages came ([`Store::commit_all`]): one durable write
//! for the batch, each unit still failing alone.
//!
//! A worker given a [`PendingState`] ([`StageWorker::with_pending_state`]) handles its
//! batch one message after another without committing in between: each unit's state
//! writes are recorded there, where the handler reads them (through
//! [`crate::pipeline::WithPendingState`]), and the units are committed at the end as a
//! chain ([`Store::commit_chain`]).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use jiff::Timestamp;
use thiserror::Error;
use tokio::sync::Notify;
use transload_core::bus::{Bus, BusError, BusMessage, Consumer, ConsumerOptions, Delivery, Stage};
use transload_core::ids::{PartnerId, TenantId};
use transload_core::store::{CommitOutcome, DeadLetter, Processed, Store, StoreError, UnitOfWork};
use uuid::Uuid;

use crate::ingest::{PARTNER_HEADER, TENANT_HEADER};
use crate::metrics::{Outcome, StageMeters};
use crate::pipeline::pending_state::PendingState;
use crate::pipeline::retry::RetryPolicy;

/// Why a handler could not process a message.
#[derive(Debug, Error)]
pub enum HandlerError {
    /// Trying again later may work (a partner API down, a lock).
    #[error("transient: {0}")]
    Transient(String),
    /// It will never work as it is (bad syntax, failed mapping): dead-letter it.
    #[error("permanent: {0}")]
    Permanent(String),
    /// Not yet: the message (a timer) is due later; it comes back after this long,
    /// without counting an attempt.
    #[error("not due for {0:?}")]
    NotDue(Duration),
}

/// What one stage does with one message.
pub trait Handler: Send + Sync + 'static {
    /// The writes processing `message` makes: state, audit, outgoing messages. The worker
    /// adds the processed marker and commits them atomically.
    fn handle(
        &self,
        message: &BusMessage,
    ) -> impl Future<Output = Result<UnitOfWork, HandlerError>> + Send;

    /// Called when the unit [`Handler::handle`] returned could not be committed because
    /// the partner had sent one of its control numbers before (a duplicate interchange or
    /// group). Returns what to write instead (e.g. a TA1 rejection); by default the
    /// message is dead-lettered with that reason.
    fn handle_duplicate(
        &self,
        message: &BusMessage,
        sequence: &str,
        number: &str,
    ) -> impl Future<Output = Result<UnitOfWork, HandlerError>> + Send {
        let _ = message;
        let reason = format!("duplicate: the partner sent {sequence} {number} before");
        async move { Err(HandlerError::Permanent(reason)) }
    }
}

/// How a worker reads and retries.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The consumer name recorded with processed message ids (unique per stage role).
    pub name: String,
    /// The stage read.
    pub stage: Stage,
    /// Deliveries handled per batch (and acknowledged at once).
    pub batch: usize,
    /// How long to wait for a batch to fill.
    pub batch_wait: Duration,
    /// Consumer settings.
    pub consumer: ConsumerOptions,
    /// Backoff for transient failures.
    pub retry: RetryPolicy,
    /// Messages of a batch handled at once (1: one after another, each committed
    /// before the next is handled).
    pub concurrency: usize,
    /// With `concurrency` above 1, messages with the same value of this header are
    /// handled one after another, in the order they came (e.g. everything about one
    /// load); messages without it are independent.
    pub ordered_by: Option<&'static str>,
}

/// What happened to the deliveries of one batch.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchReport {
    /// Committed for the first time.
    pub committed: usize,
    /// Already processed before (a redelivery), acknowledged without effect.
    pub duplicates: usize,
    /// Scheduled for another attempt.
    pub retried: usize,
    /// Given up on and recorded as dead letters.
    pub dead_lettered: usize,
    /// Not due yet (timers), back later.
    pub deferred: usize,
}

/// Runs one stage.
#[derive(Debug)]
pub struct StageWorker<B: Bus, S, H> {
    consumer: B::Consumer,
    store: S,
    handler: Arc<H>,
    options: WorkerOptions,
    relay: Option<Arc<Notify>>,
    pending: Option<PendingState>,
    meters: StageMeters,
}

/// The units of a batch on their way to one commit, in the order of its messages, and
/// the verdicts of the messages that have no unit.
struct BatchUnits {
    /// Per message: its verdict, or `None` while its unit awaits the commit.
    verdicts: Vec<Option<Verdict>>,
    units: Vec<UnitOfWork>,
    /// Per unit: the index of its message and whether it publishes.
    committing: Vec<(usize, bool)>,
}

impl BatchUnits {
    fn with_capacity(messages: usize) -> Self {
        Self {
            verdicts: Vec::with_capacity(messages),
            units: Vec::with_capacity(messages),
            committing: Vec::with_capacity(messages),
        }
    }

    /// The next message's unit (and whether it publishes), or its verdict.
    fn push(&mut self, handled: Result<(UnitOfWork, bool), Verdict>) {
        match handled {
            Ok((unit, has_outbox)) => {
                self.committing.push((self.verdicts.len(), has_outbox));
                self.units.push(unit);
                self.verdicts.push(None);
            }
            Err(verdict) => self.verdicts.push(Some(verdict)),
        }
    }
}

enum Verdict {
    /// Committed for the first time: acknowledge.
    Committed,
    /// Processed before: acknowledge.
    Duplicate,
    Retry(Duration),
    Defer(Duration),
    DeadLetter(String),
}

impl<B: Bus, S: Store, H: Handler> StageWorker<B, S, H> {
    /// A worker on `bus` and `store` running `handler`; `relay` is woken after commits
    /// that wrote to the outbox.
    ///
    /// # Errors
    /// When the consumer cannot be opened.
    pub async fn new(
        bus: &B,
        store: S,
        handler: H,
        options: WorkerOptions,
        relay: Option<Arc<Notify>>,
    ) -> Result<Self, BusError> {
        let consumer = bus
            .consumer(options.stage, options.consumer.clone())
            .await?;
        Ok(Self {
            consumer,
            store,
            handler: Arc::new(handler),
            meters: StageMeters::new(&options.name),
            options,
            relay,
            pending: None,
        })
    }

    /// Commits each batch at once as a chain, recording the state each unit writes in
    /// `pending` (which the handler must read through) for the messages after it.
    #[must_use]
    pub fn with_pending_state(mut self, pending: PendingState) -> Self {
        self.pending = Some(pending);
        self
    }

    /// Handles one batch (waiting up to the batch wait for it); an empty report when
    /// nothing came.
    ///
    /// # Errors
    /// When the bus fails; deliveries not acknowledged are delivered again.
    pub async fn run_once(&mut self) -> Result<BatchReport, BusError> {
        let deliveries = self
            .consumer
            .next_batch(self.options.batch, self.options.batch_wait)
            .await?;
        let started = Instant::now();
        let partners: Vec<Option<String>> = deliveries
            .iter()
            .map(|delivery| delivery.message.headers.get(PARTNER_HEADER).cloned())
            .collect();
        for partner in &partners {
            self.meters.received(partner.as_deref());
        }
        let mut wrote_outbox = false;
        // The consumer is asked for the next batch once this one is handled, as its commit
        // goes to the store, so that the lease takes what came meanwhile; where each
        // message is committed as it is handled, at the start.
        let handled = if self.options.concurrency > 1 && deliveries.len() > 1 {
            let mut batch = self.handle_together(&deliveries).await;
            self.consumer.lease_ahead();
            let outcomes = self
                .store
                .commit_all(std::mem::take(&mut batch.units))
                .await;
            Some((batch, outcomes))
        } else if let Some(pending) = self.pending.clone() {
            let mut batch = self.handle_chained(&deliveries, &pending).await;
            self.consumer.lease_ahead();
            let outcomes = self
                .store
                .commit_chain(std::mem::take(&mut batch.units))
                .await;
            pending.clear();
            Some((batch, outcomes))
        } else {
            None
        };
        let verdicts = match handled {
            Some((batch, outcomes)) => {
                self.settle(
                    &deliveries,
                    batch.verdicts,
                    batch.committing,
                    outcomes,
                    &mut wrote_outbox,
                )
                .await
            }
            None => {
                self.consumer.lease_ahead();
                let mut verdicts = Vec::with_capacity(deliveries.len());
                for delivery in &deliveries {
                    verdicts.push(self.process(delivery, &mut wrote_outbox).await);
                }
                verdicts
            }
        };
        let mut report = BatchReport::default();
        let mut done = Vec::with_capacity(deliveries.len());
        // Committed units acknowledged their deliveries themselves, on a bus in the store.
        let acknowledged_in_commit = self.consumer.acknowledges_in_commit();
        let mut acknowledged = 0;
        let mut retries = Vec::new();
        let mut deferrals = Vec::new();
        for ((delivery, verdict), partner) in deliveries.into_iter().zip(verdicts).zip(partners) {
            let message_id = delivery.message.id;
            let outcome = match verdict {
                Verdict::Committed => {
                    report.committed += 1;
                    if acknowledged_in_commit {
                        acknowledged += 1;
                    } else {
                        done.push(delivery);
                    }
                    Outcome::Committed
                }
                Verdict::Duplicate => {
                    report.duplicates += 1;
                    done.push(delivery);
                    Outcome::Duplicate
                }
                Verdict::Retry(delay) => {
                    report.retried += 1;
                    retries.push((delivery, delay));
                    Outcome::Retried
                }
                Verdict::Defer(delay) => {
                    report.deferred += 1;
                    deferrals.push((delivery, delay));
                    Outcome::Deferred
                }
                Verdict::DeadLetter(reason) => {
                    if self.dead_letter(&delivery, &reason).await {
                        report.dead_lettered += 1;
                        done.push(delivery);
                        Outcome::DeadLettered
                    } else {
                        report.retried += 1;
                        retries.push((delivery, self.options.retry.first_delay));
                        Outcome::Retried
                    }
                }
            };
            self.meters.latency(started.elapsed());
            self.meters.processed(partner.as_deref(), outcome);
            if outcome == Outcome::Committed {
                self.meters.end_to_end(message_id);
            }
        }
        if wrote_outbox && let Some(relay) = &self.relay {
            relay.notify_one();
        }
        self.consumer.acknowledged_in_commit(acknowledged);
        // What is left of the batch goes back to the bus at once (one write on the
        // embedded bus instead of one per message).
        self.consumer.retry_all(&by_ref(&retries)).await?;
        self.consumer.defer_all(&by_ref(&deferrals)).await?;
        match self.consumer.ack(&done).await {
            Ok(()) => Ok(report),
            // The commits stand; the redelivered messages will be recognised as processed.
            Err(BusError::StaleDelivery(reason)) => {
                tracing::warn!(%reason, "some deliveries were redelivered before their acknowledgement");
                Ok(report)
            }
            Err(error) => Err(error),
        }
    }

    /// Runs until the process stops, reconnecting through the bus's own recovery.
    pub async fn run(mut self) {
        loop {
            if let Err(error) = self.run_once().await {
                tracing::warn!(stage = %self.options.stage, %error, "stage worker: bus failed; trying again");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }

    /// Handles and commits one message.
    async fn process(&self, delivery: &Delivery, wrote_outbox: &mut bool) -> Verdict {
        let unit = match self.handler.handle(&delivery.message).await {
            Ok(unit) => unit,
            Err(error) => return self.refused(delivery, error),
        };
        let (unit, has_outbox) = self.marked(delivery, unit);
        let outcome = self.store.commit(unit).await;
        self.committed(delivery, outcome, has_outbox, wrote_outbox)
            .await
    }

    /// Handles the messages of a batch concurrently (one lane per value of the
    /// `ordered_by` header); their units are committed together after, in the order the
    /// messages came.
    async fn handle_together(&self, deliveries: &[Delivery]) -> BatchUnits {
        let handled = self.handle_concurrently(deliveries).await;
        let mut batch = BatchUnits::with_capacity(deliveries.len());
        for (delivery, result) in deliveries.iter().zip(handled) {
            batch.push(self.with_marker(delivery, result));
        }
        batch
    }

    /// Handles the messages of a batch one after another, each reading the state the
    /// ones before it wrote (recorded in `pending`); their units are committed as a chain
    /// after.
    async fn handle_chained(&self, deliveries: &[Delivery], pending: &PendingState) -> BatchUnits {
        pending.clear();
        let mut batch = BatchUnits::with_capacity(deliveries.len());
        for delivery in deliveries {
            // A message delivered again may have been committed before: handling it again
            // would show the messages after it its effect twice.
            if delivery.attempt > 1
                && let Ok(true) = self
                    .store
                    .is_processed(&self.options.name, delivery.message.id)
                    .await
            {
                batch.push(Err(Verdict::Duplicate));
                continue;
            }
            let result = self.handler.handle(&delivery.message).await;
            if let Ok(unit) = &result {
                pending.record(&unit.states);
            }
            batch.push(self.with_marker(delivery, result));
        }
        batch
    }

    /// The verdicts of a batch once its units' outcomes are known.
    async fn settle(
        &self,
        deliveries: &[Delivery],
        mut verdicts: Vec<Option<Verdict>>,
        committing: Vec<(usize, bool)>,
        outcomes: Vec<Result<CommitOutcome, StoreError>>,
        wrote_outbox: &mut bool,
    ) -> Vec<Verdict> {
        for ((index, has_outbox), outcome) in committing.into_iter().zip(outcomes) {
            if let (Some(delivery), Some(slot)) = (deliveries.get(index), verdicts.get_mut(index)) {
                *slot = Some(
                    self.committed(delivery, outcome, has_outbox, wrote_outbox)
                        .await,
                );
            }
        }
        verdicts
            .into_iter()
            .map(|verdict| verdict.unwrap_or(Verdict::Retry(self.options.retry.first_delay)))
            .collect()
    }

    /// Runs the handler on every delivery, up to `concurrency` lanes at once on the
    /// runtime's threads; the results in the order of `deliveries`.
    async fn handle_concurrently(
        &self,
        deliveries: &[Delivery],
    ) -> Vec<Result<UnitOfWork, HandlerError>> {
        let mut lanes: Vec<Vec<(usize, BusMessage)>> = Vec::new();
        let mut lane_of_key: HashMap<&str, usize> = HashMap::new();
        for (index, delivery) in deliveries.iter().enumerate() {
            let key = self
                .options
                .ordered_by
                .and_then(|header| delivery.message.headers.get(header))
                .map(String::as_str);
            let entry = (index, delivery.message.clone());
            match key.and_then(|key| lane_of_key.get(key).copied()) {
                Some(lane) => {
                    if let Some(lane) = lanes.get_mut(lane) {
                        lane.push(entry);
                    }
                }
                None => {
                    if let Some(key) = key {
                        lane_of_key.insert(key, lanes.len());
                    }
                    lanes.push(vec![entry]);
                }
            }
        }
        let tasks = lanes.into_iter().map(|lane| {
            let handler = Arc::clone(&self.handler);
            let indices: Vec<usize> = lane.iter().map(|(index, _)| *index).collect();
            let task = tokio::spawn(async move {
                let mut results = Vec::with_capacity(lane.len());
                for (index, message) in lane {
                    results.push((index, handler.handle(&message).await));
                }
                results
            });
            async move {
                task.await.unwrap_or_else(|error| {
                    let reason = format!("the handler failed: {error}");
                    indices
                        .into_iter()
                        .map(|index| (index, Err(HandlerError::Transient(reason.clone()))))
                        .collect()
                })
            }
        });
        let mut results: Vec<Option<Result<UnitOfWork, HandlerError>>> =
            deliveries.iter().map(|_| None).collect();
        let mut lanes =
            futures_util::stream::iter(tasks).buffer_unordered(self.options.concurrency);
        while let Some(lane) = lanes.next().await {
            for (index, result) in lane {
                if let Some(slot) = results.get_mut(index) {
                    *slot = Some(result);
                }
            }
        }
        results
            .into_iter()
            .map(|result| {
                result.unwrap_or_else(|| {
                    Err(HandlerError::Transient(
                        "the message was not handled".to_owned(),
                    ))
                })
            })
            .collect()
    }

    /// The unit with the message's processed marker (and its acknowledgement, on a bus
    /// whose deliveries the commit acknowledges), and whether it publishes anything.
    fn marked(&self, delivery: &Delivery, mut unit: UnitOfWork) -> (UnitOfWork, bool) {
        let has_outbox = !unit.outbox.is_empty() || !unit.redrives.is_empty();
        unit.processed = Some(Processed {
            consumer: self.options.name.clone(),
            message_id: delivery.message.id,
        });
        if self.consumer.acknowledges_in_commit() {
            unit.acknowledges = Some(delivery.token);
        }
        (unit, has_outbox)
    }

    /// A handled message's unit with its processed marker (and whether it publishes), or
    /// the verdict on a message the handler refused.
    fn with_marker(
        &self,
        delivery: &Delivery,
        result: Result<UnitOfWork, HandlerError>,
    ) -> Result<(UnitOfWork, bool), Verdict> {
        match result {
            Ok(unit) => Ok(self.marked(delivery, unit)),
            Err(error) => Err(self.refused(delivery, error)),
        }
    }

    /// What to do with a message the handler refused.
    fn refused(&self, delivery: &Delivery, error: HandlerError) -> Verdict {
        match error {
            HandlerError::Permanent(reason) => Verdict::DeadLetter(reason),
            HandlerError::Transient(reason) => self.retry_or_give_up(delivery.attempt, reason),
            HandlerError::NotDue(delay) => Verdict::Defer(delay),
        }
    }

    /// What to do with a message after its unit's commit (a duplicate control number
    /// asks the handler what to write instead, and commits that).
    async fn committed(
        &self,
        delivery: &Delivery,
        outcome: Result<CommitOutcome, StoreError>,
        has_outbox: bool,
        wrote_outbox: &mut bool,
    ) -> Verdict {
        let message = &delivery.message;
        let mut has_outbox = has_outbox;
        let outcome = match outcome {
            Ok(CommitOutcome::DuplicateControlNumber { sequence, number }) => {
                match self
                    .handler
                    .handle_duplicate(message, &sequence, &number)
                    .await
                {
                    Ok(mut instead) => {
                        instead.received_control_numbers.clear();
                        let (instead, outbox) = self.marked(delivery, instead);
                        has_outbox = outbox;
                        self.store.commit(instead).await
                    }
                    Err(error) => return self.refused(delivery, error),
                }
            }
            other => other,
        };
        match outcome {
            Ok(CommitOutcome::Committed) => {
                *wrote_outbox |= has_outbox;
                Verdict::Committed
            }
            Ok(CommitOutcome::AlreadyProcessed | CommitOutcome::DuplicateRaw { .. }) => {
                Verdict::Duplicate
            }
            Ok(CommitOutcome::DuplicateControlNumber { sequence, number }) => Verdict::DeadLetter(
                format!("duplicate: the partner sent {sequence} {number} before"),
            ),
            // Its chain stopped before it: handled again at once, not an attempt of its own.
            Err(StoreError::NotAttempted) => Verdict::Defer(Duration::ZERO),
            Err(error) if error.is_transient() => {
                self.retry_or_give_up(delivery.attempt, error.to_string())
            }
            Err(error) => Verdict::DeadLetter(format!("store refused the result: {error}")),
        }
    }

    fn retry_or_give_up(&self, attempt: u32, reason: String) -> Verdict {
        match self.options.retry.delay_after(attempt) {
            Some(delay) => {
                tracing::info!(stage = %self.options.stage, attempt, ?delay, %reason, "retrying");
                Verdict::Retry(delay)
            }
            None => Verdict::DeadLetter(format!("gave up after {attempt} attempts: {reason}")),
        }
    }

    /// Records the dead letter; `false` when the store could not take it (the message is
    /// then retried rather than lost).
    async fn dead_letter(&self, delivery: &Delivery, reason: &str) -> bool {
        let message = &delivery.message;
        tracing::warn!(stage = %self.options.stage, message_id = %message.id, %reason, "dead-lettering");
        let header = |name: &str| message.headers.get(name).cloned();
        let unit = UnitOfWork {
            dead_letters: vec![DeadLetter {
                id: Uuid::now_v7(),
                stage: self.options.stage,
                tenant: header(TENANT_HEADER).and_then(|value| TenantId::new(value).ok()),
                partner: header(PARTNER_HEADER).and_then(|value| PartnerId::new(value).ok()),
                reason: reason.to_owned(),
                attempts: delivery.attempt,
                message: message.clone(),
                failed_at: Timestamp::now(),
                redriven: None,
            }],
            ..UnitOfWork::default()
        };
        match self.store.commit(unit).await {
            Ok(_) => true,
            Err(error) => {
                tracing::error!(%error, "cannot record a dead letter; the message will be retried");
                false
            }
        }
    }
}

/// Deliveries with their delays, borrowed, as `retry_all` and `defer_all` take them.
fn by_ref(later: &[(Delivery, Duration)]) -> Vec<(&Delivery, Duration)> {
    later
        .iter()
        .map(|(delivery, delay)| (delivery, *delay))
        .collect()
}
