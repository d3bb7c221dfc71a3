//! The outbox relay: publishes what the stages committed to the store's outbox, and
//! marks it published only after the bus confirmed it. A crash between the two sends the
//! messages again; consumers dedupe on the message id. (The hub runs it when the bus is
//! RabbitMQ or the store PostgreSQL; the embedded bus in the SQLite store's file needs
//! none, since commits enqueue on it themselves.)

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use thiserror::Error;
use tokio::sync::Notify;
use transload_core::bus::{Bus, BusError, BusMessage, Stage};
use transload_core::store::{DeadLetter, Store, StoreError, UnitOfWork};
use uuid::Uuid;

use crate::metrics;
use crate::pipeline::retry::RetryPolicy;

/// Outbox messages read per round.
const BATCH: usize = 500;
/// Backoff while the bus or store fails: the relay never gives up, the messages wait
/// in the outbox.
const RELAY_BACKOFF: RetryPolicy = RetryPolicy {
    first_delay: Duration::from_millis(100),
    max_delay: Duration::from_secs(5),
    factor: 2.0,
    max_attempts: u32::MAX,
};
/// How often the relay looks at the outbox when nobody told it to.
const POLL: Duration = Duration::from_millis(200);

/// Why a relay round failed; the messages stay in the outbox for the next round.
#[derive(Debug, Error)]
pub enum RelayError {
    /// Reading the outbox or marking it failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Publishing failed or was not confirmed.
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// Moves messages from the store's outbox to the bus.
#[derive(Debug, Clone)]
pub struct OutboxRelay<B, S> {
    bus: B,
    store: S,
    wake: Arc<Notify>,
}

impl<B: Bus, S: Store> OutboxRelay<B, S> {
    /// A relay from `store` to `bus`.
    pub fn new(bus: B, store: S) -> Self {
        Self {
            bus,
            store,
            wake: Arc::new(Notify::new()),
        }
    }

    /// A handle that makes the relay look at the outbox now.
    #[must_use]
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    /// Publishes everything pending once; returns how many messages were published.
    ///
    /// # Errors
    /// When the store or the bus fails; nothing is marked published that the bus did not
    /// confirm.
    pub async fn relay_once(&self) -> Result<usize, RelayError> {
        let pending = self.store.pending_outbox(BATCH).await?;
        metrics::outbox_pending(pending.len());
        if pending.is_empty() {
            return Ok(0);
        }
        let mut by_stage: BTreeMap<Stage, (Vec<i64>, Vec<BusMessage>)> = BTreeMap::new();
        for record in pending {
            let entry = by_stage.entry(record.stage).or_default();
            entry.0.push(record.seq);
            entry.1.push(record.message);
        }
        // Every stage's batch at once (the embedded bus writes them in one transaction),
        // then one mark for all that the bus took.
        let mut stages = Vec::with_capacity(by_stage.len());
        let mut batches = Vec::with_capacity(by_stage.len());
        for (stage, (seqs, messages)) in by_stage {
            stages.push((stage, seqs));
            batches.push(messages);
        }
        let results = futures_util::future::join_all(
            stages
                .iter()
                .zip(batches)
                .map(|((stage, _), messages)| self.bus.publish(*stage, messages)),
        )
        .await;
        let mut published: Vec<i64> = Vec::new();
        let mut accepted = 0;
        let mut failure = None;
        for ((stage, seqs), result) in stages.iter().zip(results) {
            match result {
                Ok(()) => accepted += seqs.len(),
                Err(BusError::Refused(_)) => match self.publish_one_by_one(*stage, seqs).await {
                    Ok(taken) => accepted += taken,
                    Err(error) => {
                        failure.get_or_insert(error);
                        continue;
                    }
                },
                Err(error) => {
                    failure.get_or_insert(error.into());
                    continue;
                }
            }
            published.extend(seqs);
        }
        if !published.is_empty() {
            self.store.mark_published(&published).await?;
            metrics::outbox_published(accepted);
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(published.len()),
        }
    }

    /// After the bus refused a batch: publishes its messages one at a time (read again
    /// from the outbox, where they still are, so the common path keeps no copy), so that
    /// the one the bus refuses (a header it reserves, an unroutable key) becomes a dead
    /// letter an operator can fix and redrive, instead of holding up the whole outbox.
    /// Returns how many the bus took.
    async fn publish_one_by_one(&self, stage: Stage, seqs: &[i64]) -> Result<usize, RelayError> {
        let records = self.store.pending_outbox(BATCH).await?;
        let mut accepted = 0;
        for record in records.into_iter().filter(|r| seqs.contains(&r.seq)) {
            let (seq, message) = (record.seq, record.message);
            match self.bus.publish(stage, vec![message.clone()]).await {
                Ok(()) => accepted += 1,
                Err(BusError::Refused(reason)) => {
                    tracing::error!(%stage, id = %message.id, %reason, "the bus refused an outbox message; dead-lettered");
                    let dead = DeadLetter {
                        id: Uuid::now_v7(),
                        stage,
                        tenant: None,
                        partner: None,
                        reason: format!("the bus refused the message: {reason}"),
                        attempts: 1,
                        message,
                        failed_at: Timestamp::now(),
                        redriven: None,
                    };
                    self.store
                        .commit(UnitOfWork {
                            dead_letters: vec![dead],
                            ..UnitOfWork::default()
                        })
                        .await?;
                }
                Err(error) => return Err(error.into()),
            }
            self.store.mark_published(&[seq]).await?;
        }
        Ok(accepted)
    }

    /// Relays until the process stops, backing off while the bus or store fails.
    pub async fn run(self) {
        let mut failures: u32 = 0;
        loop {
            let notified = self.wake.notified();
            match self.relay_once().await {
                Ok(count) => {
                    failures = 0;
                    if count == BATCH {
                        continue;
                    }
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let delay = RELAY_BACKOFF
                        .delay_after(failures)
                        .unwrap_or(RELAY_BACKOFF.max_delay);
                    tracing::warn!(error = %error, ?delay, "outbox relay failed; trying again");
                    tokio::time::sleep(delay).await;
                    continue;
                }
            }
            let _ = tokio::time::timeout(POLL, notified).await;
        }
    }
}
