//! A store for unit tests: a real SQLite store whose commits fail while `down` is set.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use transload_core::ids::{PartnerId, TenantId};
use transload_core::store::{
    AuditEntry, CommitOutcome, DeadLetter, DeadLetterFilter, OutboxRecord, RawMessage, StateKey,
    StateRecord, Store, StoreError, UnitOfWork,
};
use uuid::Uuid;

use super::sqlite::SqliteStore;

impl FlakyStore {
    /// A store in `path` that is up.
    pub(crate) fn open(path: &std::path::Path) -> FlakyStore {
        FlakyStore {
            inner: SqliteStore::open(path).unwrap_or_else(|error| panic!("{error}")),
            down: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// A real SQLite store whose commits fail while `down` is set.
#[derive(Clone)]
pub(crate) struct FlakyStore {
    pub(crate) inner: SqliteStore,
    pub(crate) down: Arc<AtomicBool>,
}

impl Store for FlakyStore {
    async fn commit(&self, unit: UnitOfWork) -> Result<CommitOutcome, StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("disk on fire".to_owned()));
        }
        self.inner.commit(unit).await
    }
    async fn load_state(&self, key: &StateKey) -> Result<Option<StateRecord>, StoreError> {
        self.inner.load_state(key).await
    }
    async fn pending_outbox(&self, limit: usize) -> Result<Vec<OutboxRecord>, StoreError> {
        self.inner.pending_outbox(limit).await
    }
    async fn mark_published(&self, seqs: &[i64]) -> Result<(), StoreError> {
        self.inner.mark_published(seqs).await
    }
    async fn raw_message(&self, id: Uuid) -> Result<Option<RawMessage>, StoreError> {
        self.inner.raw_message(id).await
    }
    async fn is_processed(&self, consumer: &str, message_id: Uuid) -> Result<bool, StoreError> {
        self.inner.is_processed(consumer, message_id).await
    }
    async fn prune(
        &self,
        history: transload_core::store::History,
        before: jiff::Timestamp,
    ) -> Result<u64, StoreError> {
        self.inner.prune(history, before).await
    }
    async fn next_control_number(
        &self,
        partner: &PartnerId,
        sequence: &str,
    ) -> Result<u64, StoreError> {
        self.inner.next_control_number(partner, sequence).await
    }
    async fn record_received_control_number(
        &self,
        partner: &PartnerId,
        sequence: &str,
        number: &str,
    ) -> Result<bool, StoreError> {
        self.inner
            .record_received_control_number(partner, sequence, number)
            .await
    }
    async fn dead_letters(&self, filter: &DeadLetterFilter) -> Result<Vec<DeadLetter>, StoreError> {
        self.inner.dead_letters(filter).await
    }
    async fn dead_letter(&self, id: Uuid) -> Result<Option<DeadLetter>, StoreError> {
        self.inner.dead_letter(id).await
    }
    async fn audit_log(
        &self,
        tenant: &TenantId,
        subject: &str,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.inner.audit_log(tenant, subject).await
    }
}
