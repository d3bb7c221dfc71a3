//! Moves what the bus gave up on by itself ([`crate::bus::dead_letters`]) into the
//! store's dead letters, where `transload dlq` lists, shows and redrives it: at start,
//! then every [`DRAIN_EVERY`].
//!
//! A letter leaves the bus only once the store has it; a letter read again (the hub
//! stopped in between) has the same store id and is not stored twice.

use std::time::Duration;

use thiserror::Error;
use transload_core::bus::BusError;
use transload_core::store::{Store, StoreError, UnitOfWork};

use crate::bus::dead_letters::BusDeadLetters;

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
}

impl<S: Store> DeadLetterDrain<S> {
    /// A drain of `letters` into `store`.
    #[must_use]
    pub fn new(letters: BusDeadLetters, store: S) -> Self {
        Self { letters, store }
    }

    /// Moves every letter on the bus now, a batch at a time; how many moved.
    ///
    /// # Errors
    /// When the bus or the store fails; the batches before have moved.
    pub async fn drain_once(&mut self) -> Result<usize, DrainError> {
        let mut moved = 0;
        loop {
            let letters = self.letters.take(BATCH).await?;
            if letters.is_empty() {
                return Ok(moved);
            }
            let mut entries = Vec::with_capacity(letters.len());
            for letter in &letters {
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
            self.letters.forget(&letters).await?;
            for stage in stages {
                crate::metrics::bus_dead_letters_moved(stage.name(), 1);
            }
            moved += stored;
            if letters.len() < BATCH {
                return Ok(moved);
            }
        }
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
