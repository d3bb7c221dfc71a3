//! State written by a batch that is not committed yet, visible to the rest of the batch.
//!
//! A worker whose handler reads state (the orchestrator) may still commit its batch
//! at once: it handles the messages one after another, records each unit's state writes
//! here so that the next message reads them through [`WithPendingState`], then commits
//! the units as a chain ([`Store::commit_chain`]): the first unit that is not committed
//! stops the chain, and the messages after it, whose decisions may rest on its writes,
//! are handled again later.

use jiff::Timestamp;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use transload_core::ids::{PartnerId, TenantId};
use transload_core::store::{
    AuditEntry, CommitOutcome, DeadLetter, DeadLetterFilter, History, OutboxRecord, RawMessage,
    StateKey, StateRecord, StateWrite, Store, StoreError, UnitOfWork,
};
use uuid::Uuid;

/// The state writes of the units handled so far in the current batch. Cloning shares it.
#[derive(Debug, Clone, Default)]
pub struct PendingState {
    writes: Arc<Mutex<HashMap<StateKey, StateRecord>>>,
}

impl PendingState {
    /// Records `writes` as the state the rest of the batch reads.
    pub fn record(&self, writes: &[StateWrite]) {
        let mut pending = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
        for write in writes {
            let version = write.expected_version.map_or(1, |version| version + 1);
            pending.insert(
                write.key.clone(),
                StateRecord {
                    version,
                    value: write.value.clone(),
                },
            );
        }
    }

    /// Forgets every pending write (the batch was committed, or given up).
    pub fn clear(&self) {
        self.writes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    fn get(&self, key: &StateKey) -> Option<StateRecord> {
        self.writes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }
}

/// A store whose [`Store::load_state`] sees the batch's pending writes first; everything
/// else goes to the store underneath.
#[derive(Debug, Clone)]
pub struct WithPendingState<S> {
    store: S,
    pending: PendingState,
}

impl<S: Store> WithPendingState<S> {
    /// `store`, read through `pending`.
    pub fn new(store: S, pending: PendingState) -> Self {
        Self { store, pending }
    }
}

impl<S: Store> Store for WithPendingState<S> {
    async fn commit(&self, unit: UnitOfWork) -> Result<CommitOutcome, StoreError> {
        self.store.commit(unit).await
    }

    async fn commit_all(&self, units: Vec<UnitOfWork>) -> Vec<Result<CommitOutcome, StoreError>> {
        self.store.commit_all(units).await
    }

    async fn commit_chain(&self, units: Vec<UnitOfWork>) -> Vec<Result<CommitOutcome, StoreError>> {
        self.store.commit_chain(units).await
    }

    async fn load_state(&self, key: &StateKey) -> Result<Option<StateRecord>, StoreError> {
        match self.pending.get(key) {
            Some(record) => Ok(Some(record)),
            None => self.store.load_state(key).await,
        }
    }

    async fn pending_outbox(&self, limit: usize) -> Result<Vec<OutboxRecord>, StoreError> {
        self.store.pending_outbox(limit).await
    }

    async fn mark_published(&self, seqs: &[i64]) -> Result<(), StoreError> {
        self.store.mark_published(seqs).await
    }

    async fn raw_message(&self, id: Uuid) -> Result<Option<RawMessage>, StoreError> {
        self.store.raw_message(id).await
    }

    async fn is_processed(&self, consumer: &str, message_id: Uuid) -> Result<bool, StoreError> {
        self.store.is_processed(consumer, message_id).await
    }

    async fn prune(&self, history: History, before: Timestamp) -> Result<u64, StoreError> {
        self.store.prune(history, before).await
    }

    async fn next_control_number(
        &self,
        partner: &PartnerId,
        sequence: &str,
    ) -> Result<u64, StoreError> {
        self.store.next_control_number(partner, sequence).await
    }

    async fn next_control_numbers(
        &self,
        partner: &PartnerId,
        wanted: &[(&str, u64)],
    ) -> Result<Vec<Vec<u64>>, StoreError> {
        self.store.next_control_numbers(partner, wanted).await
    }

    async fn record_received_control_number(
        &self,
        partner: &PartnerId,
        sequence: &str,
        number: &str,
    ) -> Result<bool, StoreError> {
        self.store
            .record_received_control_number(partner, sequence, number)
            .await
    }

    async fn dead_letters(&self, filter: &DeadLetterFilter) -> Result<Vec<DeadLetter>, StoreError> {
        self.store.dead_letters(filter).await
    }

    async fn dead_letter(&self, id: Uuid) -> Result<Option<DeadLetter>, StoreError> {
        self.store.dead_letter(id).await
    }

    async fn audit_log(
        &self,
        tenant: &TenantId,
        subject: &str,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.store.audit_log(tenant, subject).await
    }
}
