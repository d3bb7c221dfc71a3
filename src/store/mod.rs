//! Implementations of [`transload_core::store::Store`]: `sqlite` (embedded) and
//! `postgres` (several hub processes).

#[cfg(test)]
pub(crate) mod flaky;
pub mod postgres;
pub mod sqlite;

use jiff::Timestamp;
use transload_core::ids::{PartnerId, TenantId};
use transload_core::store::{
    AuditEntry, CommitOutcome, DeadLetter, DeadLetterFilter, History, OutboxRecord, RawMessage,
    StateKey, StateRecord, Store, StoreError, UnitOfWork,
};
use uuid::Uuid;

/// The store the configuration names, chosen at start-up.
#[derive(Debug, Clone)]
pub enum AnyStore {
    /// SQLite in the data directory.
    Sqlite(sqlite::SqliteStore),
    /// PostgreSQL.
    Postgres(postgres::PostgresStore),
}

impl AnyStore {
    /// Whether what units publish waits in the outbox for the relay (else the store
    /// enqueues it on the embedded bus in its own file).
    #[must_use]
    pub fn needs_relay(&self) -> bool {
        match self {
            AnyStore::Sqlite(store) => !store.publishes_to_bus(),
            AnyStore::Postgres(_) => true,
        }
    }
}

/// Calls the same method on whichever store this is.
macro_rules! delegate {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Sqlite($store) => $call.await,
            AnyStore::Postgres($store) => $call.await,
        }
    };
}

impl Store for AnyStore {
    async fn commit(&self, unit: UnitOfWork) -> Result<CommitOutcome, StoreError> {
        delegate!(self, store => store.commit(unit))
    }

    async fn commit_all(&self, units: Vec<UnitOfWork>) -> Vec<Result<CommitOutcome, StoreError>> {
        delegate!(self, store => store.commit_all(units))
    }

    async fn commit_chain(&self, units: Vec<UnitOfWork>) -> Vec<Result<CommitOutcome, StoreError>> {
        delegate!(self, store => store.commit_chain(units))
    }

    async fn load_state(&self, key: &StateKey) -> Result<Option<StateRecord>, StoreError> {
        delegate!(self, store => store.load_state(key))
    }

    async fn pending_outbox(&self, limit: usize) -> Result<Vec<OutboxRecord>, StoreError> {
        delegate!(self, store => store.pending_outbox(limit))
    }

    async fn mark_published(&self, seqs: &[i64]) -> Result<(), StoreError> {
        delegate!(self, store => store.mark_published(seqs))
    }

    async fn raw_message(&self, id: Uuid) -> Result<Option<RawMessage>, StoreError> {
        delegate!(self, store => store.raw_message(id))
    }

    async fn is_processed(&self, consumer: &str, message_id: Uuid) -> Result<bool, StoreError> {
        delegate!(self, store => store.is_processed(consumer, message_id))
    }

    async fn prune(&self, history: History, before: Timestamp) -> Result<u64, StoreError> {
        delegate!(self, store => store.prune(history, before))
    }

    async fn next_control_number(
        &self,
        partner: &PartnerId,
        sequence: &str,
    ) -> Result<u64, StoreError> {
        delegate!(self, store => store.next_control_number(partner, sequence))
    }

    async fn next_control_numbers(
        &self,
        partner: &PartnerId,
        wanted: &[(&str, u64)],
    ) -> Result<Vec<Vec<u64>>, StoreError> {
        delegate!(self, store => store.next_control_numbers(partner, wanted))
    }

    async fn record_received_control_number(
        &self,
        partner: &PartnerId,
        sequence: &str,
        number: &str,
    ) -> Result<bool, StoreError> {
        delegate!(self, store => store.record_received_control_number(partner, sequence, number))
    }

    async fn dead_letters(&self, filter: &DeadLetterFilter) -> Result<Vec<DeadLetter>, StoreError> {
        delegate!(self, store => store.dead_letters(filter))
    }

    async fn dead_letter(&self, id: Uuid) -> Result<Option<DeadLetter>, StoreError> {
        delegate!(self, store => store.dead_letter(id))
    }

    async fn audit_log(
        &self,
        tenant: &TenantId,
        subject: &str,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        delegate!(self, store => store.audit_log(tenant, subject))
    }
}
