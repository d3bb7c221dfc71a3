//! A stage worker: reads its stage's queue in batches, hands each message to the
//! stage's [`Handler`], commits what the handler wants written together with the
//! message's processed marker, then acknowledges the batch at once (one multi-ack after
//! a durable batch). Failures are retried with backoff or dead-lettered with their
//! reason and original bytes; nothing is dropped.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use thiserror::Error;
use tokio::sync::Notify;
use transload_core::bus::{Bus, BusError, BusMessage, Consumer, ConsumerOptions, Delivery, Stage};
use transload_core::ids::{PartnerId, TenantId};
use transload_core::store::{CommitOutcome, DeadLetter, Processed, Store, UnitOfWork};
use uuid::Uuid;

use crate::ingest::{PARTNER_HEADER, TENANT_HEADER};
use crate::metrics::{self, Outcome};
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
    handler: H,
    options: WorkerOptions,
    relay: Option<Arc<Notify>>,
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
            handler,
            options,
            relay,
        })
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
        let mut report = BatchReport::default();
        let mut done = Vec::with_capacity(deliveries.len());
        let mut wrote_outbox = false;
        for delivery in deliveries {
            let started = Instant::now();
            let partner = delivery.message.headers.get(PARTNER_HEADER).cloned();
            let message_id = delivery.message.id;
            metrics::received(&self.options.name, partner.as_deref());
            let outcome = match self.process(&delivery, &mut wrote_outbox).await {
                Verdict::Committed => {
                    report.committed += 1;
                    done.push(delivery);
                    Outcome::Committed
                }
                Verdict::Duplicate => {
                    report.duplicates += 1;
                    done.push(delivery);
                    Outcome::Duplicate
                }
                Verdict::Retry(delay) => {
                    report.retried += 1;
                    self.consumer.retry(&delivery, delay).await?;
                    Outcome::Retried
                }
                Verdict::Defer(delay) => {
                    report.deferred += 1;
                    self.consumer.defer(&delivery, delay).await?;
                    Outcome::Deferred
                }
                Verdict::DeadLetter(reason) => {
                    if self.dead_letter(&delivery, &reason).await {
                        report.dead_lettered += 1;
                        done.push(delivery);
                        Outcome::DeadLettered
                    } else {
                        report.retried += 1;
                        let delay = self.options.retry.first_delay;
                        self.consumer.retry(&delivery, delay).await?;
                        Outcome::Retried
                    }
                }
            };
            let stage = self.options.name.as_str();
            metrics::stage_latency(stage, started.elapsed());
            metrics::processed(stage, partner.as_deref(), outcome);
            if outcome == Outcome::Committed {
                metrics::end_to_end(stage, message_id);
            }
        }
        if wrote_outbox && let Some(relay) = &self.relay {
            relay.notify_one();
        }
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

    async fn process(&self, delivery: &Delivery, wrote_outbox: &mut bool) -> Verdict {
        let message = &delivery.message;
        let mut unit = match self.handler.handle(message).await {
            Ok(unit) => unit,
            Err(HandlerError::Permanent(reason)) => return Verdict::DeadLetter(reason),
            Err(HandlerError::Transient(reason)) => {
                return self.retry_or_give_up(delivery.attempt, reason);
            }
            Err(HandlerError::NotDue(delay)) => return Verdict::Defer(delay),
        };
        let mut has_outbox = !unit.outbox.is_empty() || !unit.redrives.is_empty();
        unit.processed = Some(Processed {
            consumer: self.options.name.clone(),
            message_id: message.id,
        });
        let outcome = match self.store.commit(unit).await {
            Ok(CommitOutcome::DuplicateControlNumber { sequence, number }) => {
                match self
                    .handler
                    .handle_duplicate(message, &sequence, &number)
                    .await
                {
                    Ok(mut instead) => {
                        instead.received_control_numbers.clear();
                        has_outbox = !instead.outbox.is_empty() || !instead.redrives.is_empty();
                        instead.processed = Some(Processed {
                            consumer: self.options.name.clone(),
                            message_id: message.id,
                        });
                        self.store.commit(instead).await
                    }
                    Err(HandlerError::Permanent(reason)) => return Verdict::DeadLetter(reason),
                    Err(HandlerError::Transient(reason)) => {
                        return self.retry_or_give_up(delivery.attempt, reason);
                    }
                    Err(HandlerError::NotDue(delay)) => return Verdict::Defer(delay),
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
