//! Moves what the bus gave up on by itself ([`crate::bus::dead_letters`]) into the
//! store's dead letters, where `transload dlq` lists, shows and redrives it: at start,
//! then every [`DRAIN_EVERY`].
//!
//! A letter leaves the bus only once the store has it; a letter read again (the hub
//! stopped in between) has the same store id and is not stored twice. While the store
//! fails, the letters taken wait in the drain and are tried again, not given back to
//! the bus.

use std::time::Duration;

use thiserror::Error;
use transload_core::bus::BusError;
use transload_core::store::{Store, StoreError, UnitOfWork};

use crate::bus::dead_letters::{BusDeadLetter, BusDeadLetters};

/// How often the hub looks for letters.
pub const DRAIN_EVERY: Duration = Duration::from_secs(1);
/// Letters moved in one store commit.
const BATCH: usize = 100;

/// Why a pass stopped; the letters not moved stay on the bus.
#[derive(Debug, Error)]
pub enum DrainError {
    /// The bus could not be read or written.
    #[error("bus: {0}")]
    Bus(#[from] BusError),
    /// The store could not take the letters.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// Moves the bus's dead letters into the store. See the module documentation.
#[derive(Debug)]
pub struct DeadLetterDrain<S> {
    letters: BusDeadLetters,
    store: S,
    /// Letters taken from the bus that the store could not take yet: tried again before
    /// anything else is taken. (Given back to RabbitMQ instead, each would count a
    /// delivery, and a queue with a delivery limit drops what passes it.)
    pending: Vec<BusDeadLetter>,
}

impl<S: Store> DeadLetterDrain<S> {
    /// A drain of `letters` into `store`.
    #[must_use]
    pub fn new(letters: BusDeadLetters, store: S) -> Self {
        Self {
            letters,
            store,
            pending: Vec::new(),
        }
    }

    /// Moves every letter on the bus now, a batch at a time; how many moved.
    ///
    /// # Errors
    /// When the bus or the store fails; the batches before have moved.
    pub async fn drain_once(&mut self) -> Result<usize, DrainError> {
        let mut moved = 0;
        loop {
            if self.pending.is_empty() {
                self.pending = self.letters.take(BATCH).await?;
                if self.pending.is_empty() {
                    return Ok(moved);
                }
            }
            let taken = self.pending.len();
            moved += self.store_pending().await?;
            if taken < BATCH {
                return Ok(moved);
            }
        }
    }

    /// Stores the pending letters the store does not have yet, then removes them from
    /// the bus; how many were stored. The letters stay pending while the store fails.
    async fn store_pending(&mut self) -> Result<usize, DrainError> {
        let mut entries = Vec::with_capacity(self.pending.len());
        for letter in &self.pending {
            if self.store.dead_letter(letter.store_id()).await?.is_some() {
                continue; // moved before, then read again
            }
            tracing::warn!(
                stage = %letter.stage,
                message_id = %letter.message.id,
                attempts = letter.attempts,
                reason = %letter.reason,
                dead_letter = %letter.store_id(),
                "the bus gave up on a message; it is now a dead letter (transload dlq)"
            );
            entries.push(letter.clone().into_store_entry());
        }
        let stored = entries.len();
        let stages: Vec<_> = entries.iter().map(|entry| entry.stage).collect();
        if !entries.is_empty() {
            self.store
                .commit(UnitOfWork {
                    dead_letters: entries,
                    ..UnitOfWork::default()
                })
                .await?;
        }
        for stage in stages {
            crate::metrics::bus_dead_letters_moved(stage.name(), 1);
        }
        // Stored: whatever happens to the bus now, the next take reads them again at
        // worst, and finds them stored.
        let letters = std::mem::take(&mut self.pending);
        self.letters.forget(&letters).await?;
        Ok(stored)
    }

    /// Drains at start and every [`DRAIN_EVERY`], for as long as the task runs.
    pub async fn run(mut self) {
        let mut every = tokio::time::interval(DRAIN_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            every.tick().await;
            match self.drain_once().await {
                Ok(_) => failing = false,
                // Once per outage, not every second.
                Err(error) if !failing => {
                    failing = true;
                    tracing::warn!(%error, "cannot move the bus's dead letters into the store now; trying again");
                }
                Err(error) => tracing::debug!(%error, "still cannot move the bus's dead letters"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use std::sync::atomic::Ordering;

    use transload_core::bus::{Bus, BusMessage, Consumer, ConsumerOptions, Stage};
    use transload_core::store::DeadLetterFilter;

    use super::*;
    use crate::bus::embedded::{EmbeddedBus, EmbeddedBusOptions};
    use crate::store::flaky::FlakyStore;

    async fn reject(bus: &EmbeddedBus, body: &str) {
        bus.publish(
            Stage::Inbound,
            vec![BusMessage::new("acme.x12", body.as_bytes().to_vec())],
        )
        .await
        .unwrap();
        let mut consumer = bus
            .consumer(Stage::Inbound, ConsumerOptions::default())
            .await
            .unwrap();
        let got = consumer
            .next_batch(1, Duration::from_secs(2))
            .await
            .unwrap();
        consumer.reject(&got[0], "poison").await.unwrap();
    }

    /// While the store fails, the letters taken wait in the drain (and on the bus) and
    /// are stored first once it is back, before anything new is taken.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn letters_wait_in_the_drain_while_the_store_fails() {
        let dir = tempfile::Builder::new()
            .prefix("transload-drain-")
            .tempdir()
            .unwrap();
        let bus = EmbeddedBus::open(
            &dir.path().join("bus.sqlite3"),
            EmbeddedBusOptions::default(),
        )
        .unwrap();
        let store = FlakyStore::open(&dir.path().join("store.sqlite3"));
        let mut drain = DeadLetterDrain::new(BusDeadLetters::Embedded(bus.clone()), store.clone());
        reject(&bus, "first").await;
        store.down.store(true, Ordering::SeqCst);
        assert!(matches!(
            drain.drain_once().await,
            Err(DrainError::Store(StoreError::Unavailable(_)))
        ));
        assert_eq!(drain.pending.len(), 1);
        assert_eq!(
            bus.dead_letters(Stage::Inbound).unwrap().len(),
            1,
            "still on the bus"
        );

        reject(&bus, "second").await;
        store.down.store(false, Ordering::SeqCst);
        assert_eq!(
            drain.drain_once().await.unwrap(),
            1,
            "the pending letter first"
        );
        let stored = store
            .dead_letters(&DeadLetterFilter::default())
            .await
            .unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].message.body, b"first");
        assert_eq!(drain.drain_once().await.unwrap(), 1);
        assert!(bus.dead_letters(Stage::Inbound).unwrap().is_empty());
        assert_eq!(
            store
                .dead_letters(&DeadLetterFilter::default())
                .await
                .unwrap()
                .len(),
            2
        );
    }
}
