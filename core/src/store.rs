//! The store: everything the hub must remember, behind one trait, implemented by SQLite
//! (embedded) and PostgreSQL (several hub processes).
//!
//! Writes go through [`Store::commit`], which applies a [`UnitOfWork`] in one
//! transaction: the input marked processed, the new state, the audit entries and the
//! outgoing messages (the transactional outbox) commit together or not at all.

use std::collections::BTreeMap;
use std::future::Future;

use jiff::Timestamp;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use thiserror::Error;
use uuid::Uuid;

use crate::bus::{BusMessage, DeliveryToken, Stage};
use crate::ids::{DedupeKey, PartnerId, TenantId};

/// Bytes as an endpoint received them, before any parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    /// Unique id.
    pub id: Uuid,
    /// The tenant the sender belongs to.
    pub tenant: TenantId,
    /// The sending partner.
    pub partner: PartnerId,
    /// `x12`, `json` or `xml`.
    pub format: String,
    /// Recognises a resend of the same input (unique per tenant).
    pub dedupe_key: DedupeKey,
    /// When it arrived.
    pub received_at: Timestamp,
    /// Endpoint metadata (content type, file name, webhook id).
    pub metadata: BTreeMap<String, String>,
    /// The bytes.
    pub body: Vec<u8>,
}

/// Marks a bus message as processed by a consumer, so a redelivery has no second effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    /// The consumer (stage worker) name.
    pub consumer: String,
    /// The bus message id.
    pub message_id: Uuid,
}

/// Identifies one piece of state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StateKey {
    /// Its tenant: state is never read across tenants.
    pub tenant: TenantId,
    /// What kind of state (`load`, `tender`, `carrier_stats`…).
    pub kind: String,
    /// The key within the kind (a shipper load id…).
    pub key: String,
}

/// A state's value: a JSON document kept as its text. Writers serialize their own types
/// straight into it and readers parse it straight into theirs, with no
/// [`serde_json::Value`] tree between (building, copying and freeing such trees took a
/// tenth of the pick path's CPU). Two documents are equal when their JSON is.
#[derive(Clone)]
pub struct StateDocument(Box<RawValue>);

impl StateDocument {
    /// `value` serialized.
    ///
    /// # Errors
    /// When `value` cannot be serialized to JSON (a map with keys that are not strings).
    pub fn to_document<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::value::to_raw_value(value).map(Self)
    }

    /// The document of JSON `text`, as a store read it back.
    ///
    /// # Errors
    /// When `text` is not JSON.
    pub fn from_text(text: String) -> Result<Self, serde_json::Error> {
        RawValue::from_string(text).map(Self)
    }

    /// The document parsed into `T`.
    ///
    /// # Errors
    /// When the document does not have the shape of `T`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.0.get())
    }

    /// The JSON text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// The document as a [`serde_json::Value`] (for tools and tests, not the hot path).
    #[must_use]
    pub fn to_value(&self) -> serde_json::Value {
        // The text is JSON by construction.
        self.parse().unwrap_or(serde_json::Value::Null)
    }
}

impl From<Box<RawValue>> for StateDocument {
    fn from(raw: Box<RawValue>) -> Self {
        Self(raw)
    }
}

impl From<&serde_json::Value> for StateDocument {
    fn from(value: &serde_json::Value) -> Self {
        // A `Value` always prints as JSON, so the fallback is never taken.
        Self(RawValue::from_string(value.to_string()).unwrap_or_default())
    }
}

impl From<serde_json::Value> for StateDocument {
    fn from(value: serde_json::Value) -> Self {
        Self::from(&value)
    }
}

impl PartialEq for StateDocument {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str() || self.to_value() == other.to_value()
    }
}

impl std::fmt::Debug for StateDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for StateDocument {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// A piece of state as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StateRecord {
    /// Incremented by every write, from 1.
    pub version: u64,
    /// The state.
    pub value: StateDocument,
}

/// A write of state, with optimistic concurrency.
#[derive(Debug, Clone, PartialEq)]
pub struct StateWrite {
    /// What to write.
    pub key: StateKey,
    /// The version read before (None: the state must not exist yet).
    pub expected_version: Option<u64>,
    /// The new value.
    pub value: StateDocument,
}

/// One entry of the audit log: decisions, overrides, redrives.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// The tenant.
    pub tenant: TenantId,
    /// Who: `orchestrator`, `operator:alice`, `partner:odfl`.
    pub actor: String,
    /// What kind of entry: `decision`, `override`, `redrive`.
    pub action: String,
    /// About what (a shipper load id, a dead-letter id).
    pub subject: String,
    /// The record itself (inputs, alternatives, rule, reason).
    pub details: serde_json::Value,
    /// When.
    pub at: Timestamp,
}

/// A message that could not be processed, kept for an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Unique id of the entry.
    pub id: Uuid,
    /// The stage that gave up.
    pub stage: Stage,
    /// The tenant, when known.
    pub tenant: Option<TenantId>,
    /// The partner, when known.
    pub partner: Option<PartnerId>,
    /// Why, in words, with the position for a parse error.
    pub reason: String,
    /// How many times it was tried.
    pub attempts: u32,
    /// The message as it was on the bus, original bytes included.
    pub message: BusMessage,
    /// When the stage gave up.
    pub failed_at: Timestamp,
    /// When an operator sent it through again, and who.
    pub redriven: Option<(Timestamp, String)>,
}

/// Header of a redriven message naming the id the message had when it was
/// dead-lettered. A redriven message gets a new id, so that a processed marker of the
/// original cannot swallow it.
pub const REDRIVE_OF_HEADER: &str = "transload-redrive-of";

/// Header of a redriven message naming the dead letter it came from.
pub const DEAD_LETTER_HEADER: &str = "transload-dead-letter";

/// An operator sends a dead letter through its stage again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redrive {
    /// The dead letter.
    pub dead_letter_id: Uuid,
    /// Who.
    pub by: String,
    /// A corrected body to send instead of the original one.
    pub edited_body: Option<Vec<u8>>,
}

/// Everything one step of the pipeline writes, committed atomically.
#[derive(Debug, Clone, Default)]
pub struct UnitOfWork {
    /// The input this step consumed; a second commit for it is refused. (A store that
    /// holds the bus may record no marker for a unit that [`UnitOfWork::acknowledges`]
    /// its delivery: that commit removes the message, which cannot come again.)
    pub processed: Option<Processed>,
    /// A raw message received (with its dedupe key).
    pub raw: Option<RawMessage>,
    /// State changes.
    pub states: Vec<StateWrite>,
    /// Audit entries.
    pub audit: Vec<AuditEntry>,
    /// Messages to publish once committed.
    pub outbox: Vec<(Stage, BusMessage)>,
    /// Messages given up on.
    pub dead_letters: Vec<DeadLetter>,
    /// Dead letters sent through again.
    pub redrives: Vec<Redrive>,
    /// Control numbers a partner sent (ISA13, GS06), recorded with this unit; a number
    /// recorded before makes the commit write nothing and answer
    /// [`CommitOutcome::DuplicateControlNumber`].
    pub received_control_numbers: Vec<ReceivedControlNumber>,
    /// The bus delivery this unit consumes, acknowledged in the unit's own transaction
    /// when it is committed: only by a store that holds the bus (the embedded bus in the
    /// SQLite store's file, whose consumers say so with
    /// [`crate::bus::Consumer::acknowledges_in_commit`]); any other store refuses the unit.
    pub acknowledges: Option<DeliveryToken>,
}

/// A control number a partner sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedControlNumber {
    /// The sending partner.
    pub partner: PartnerId,
    /// Which sequence (`isa13`, `gs06`).
    pub sequence: String,
    /// The number as sent.
    pub number: String,
}

/// What a commit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Everything was written.
    Committed,
    /// Nothing was written: the consumer had processed this message already.
    AlreadyProcessed,
    /// Nothing was written: a raw message with this tenant and dedupe key exists.
    DuplicateRaw {
        /// The id of the raw message already stored.
        existing: Uuid,
    },
    /// Nothing was written: the partner had sent this control number before.
    DuplicateControlNumber {
        /// Which sequence (`isa13`, `gs06`).
        sequence: String,
        /// The number.
        number: String,
    },
}

/// A message waiting in the outbox to be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRecord {
    /// Position in the outbox, increasing.
    pub seq: i64,
    /// Where it goes.
    pub stage: Stage,
    /// The message.
    pub message: BusMessage,
}

/// Which dead letters to list.
#[derive(Debug, Clone, Default)]
pub struct DeadLetterFilter {
    /// Only this stage.
    pub stage: Option<Stage>,
    /// Only this partner.
    pub partner: Option<PartnerId>,
    /// Include the ones already redriven.
    pub include_redriven: bool,
    /// At most this many (newest first); 0 means 100.
    pub limit: usize,
}

/// What went wrong in the store.
#[derive(Debug, Clone, Error)]
pub enum StoreError {
    /// The database cannot be reached now; retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A state write found another version than expected: reload and decide again.
    #[error("state {kind}/{key} changed concurrently (expected version {expected:?})")]
    Conflict {
        /// State kind.
        kind: String,
        /// State key.
        key: String,
        /// The version the writer expected.
        expected: Option<u64>,
    },
    /// A redrive named a dead letter that does not exist or was redriven already.
    #[error("dead letter {0} does not exist or was redriven already")]
    NoSuchDeadLetter(Uuid),
    /// Stored data that cannot be read back.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// Anything else from the database.
    #[error("store error: {0}")]
    Other(String),
    /// Not attempted: an earlier unit of its chain was not committed
    /// ([`Store::commit_chain`]); nothing of it was written, try it again.
    #[error("not attempted: an earlier unit of its batch was not committed")]
    NotAttempted,
}

impl StoreError {
    /// Whether trying again later may succeed.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable(_) | StoreError::Conflict { .. } | StoreError::NotAttempted
        )
    }
}

/// [`Store::commit_all`] (or, as a `chain`, [`Store::commit_chain`]) by one
/// [`Store::commit`] per unit.
async fn commit_one_by_one<S: Store>(
    store: &S,
    units: Vec<UnitOfWork>,
    chain: bool,
) -> Vec<Result<CommitOutcome, StoreError>> {
    let mut outcomes = Vec::with_capacity(units.len());
    let mut broken = false;
    for unit in units {
        if broken {
            outcomes.push(Err(StoreError::NotAttempted));
            continue;
        }
        let outcome = store.commit(unit).await;
        broken = chain && !matches!(outcome, Ok(CommitOutcome::Committed));
        outcomes.push(outcome);
    }
    outcomes
}

async fn next_control_numbers_one_by_one<S: Store>(
    store: &S,
    partner: &PartnerId,
    wanted: &[(&str, u64)],
) -> Result<Vec<Vec<u64>>, StoreError> {
    let mut allocated = Vec::with_capacity(wanted.len());
    for (sequence, count) in wanted {
        let mut numbers = Vec::new();
        for _ in 0..*count {
            numbers.push(store.next_control_number(partner, sequence).await?);
        }
        allocated.push(numbers);
    }
    Ok(allocated)
}

/// What the store keeps only for a while: [`Store::prune`] forgets it by age.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum History {
    /// Processed markers, by when their message was processed. A marker guards against
    /// a second delivery of its message, which comes within the bus's visibility
    /// timeout or at a restart: markers are kept for days, not for every message ever
    /// handled.
    ProcessedMarkers,
    /// Raw inbound messages, by when they were received. Their dedupe keys go with them:
    /// a partner's retry older than the retention is taken as a new message.
    RawMessages,
    /// Audit entries, by when they were written.
    AuditEntries,
    /// Dead letters that were redriven, by when. A dead letter not redriven is work left
    /// to an operator and is never pruned.
    RedrivenDeadLetters,
    /// Control numbers received from partners (an interchange's ISA13, a group's GS06),
    /// by when: a partner's interchange with a number older than this is taken as new.
    ReceivedControlNumbers,
}

impl History {
    /// Every kind, in the order they are pruned.
    pub const ALL: [Self; 5] = [
        Self::ProcessedMarkers,
        Self::RawMessages,
        Self::AuditEntries,
        Self::RedrivenDeadLetters,
        Self::ReceivedControlNumbers,
    ];

    /// Its name in logs and configuration.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::ProcessedMarkers => "processed markers",
            Self::RawMessages => "raw messages",
            Self::AuditEntries => "audit entries",
            Self::RedrivenDeadLetters => "redriven dead letters",
            Self::ReceivedControlNumbers => "received control numbers",
        }
    }
}

/// The hub's durable memory.
pub trait Store: Clone + Send + Sync + 'static {
    /// Applies `unit` in one transaction.
    fn commit(
        &self,
        unit: UnitOfWork,
    ) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send;

    /// Applies `units` in order, each as [`Store::commit`] would (atomically, failing or
    /// rolling back alone), and returns their outcomes in the same order. A store may
    /// commit them together (one durable write for all); by default they are committed
    /// one after another.
    fn commit_all(
        &self,
        units: Vec<UnitOfWork>,
    ) -> impl Future<Output = Vec<Result<CommitOutcome, StoreError>>> + Send {
        commit_one_by_one(self, units, false)
    }

    /// Applies `units` in order, each as [`Store::commit`] would, as a chain: each may rest
    /// on what the ones before it wrote, so the first unit that is not committed (any
    /// other outcome, or an error) stops the chain, and every unit after it comes back as
    /// [`StoreError::NotAttempted`]. By default one after
    /// another; a store may commit them together.
    fn commit_chain(
        &self,
        units: Vec<UnitOfWork>,
    ) -> impl Future<Output = Vec<Result<CommitOutcome, StoreError>>> + Send {
        commit_one_by_one(self, units, true)
    }

    /// Reads one piece of state.
    fn load_state(
        &self,
        key: &StateKey,
    ) -> impl Future<Output = Result<Option<StateRecord>, StoreError>> + Send;

    /// The oldest unpublished outbox messages, at most `limit`.
    fn pending_outbox(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OutboxRecord>, StoreError>> + Send;

    /// Marks outbox messages as published (after the bus confirmed them): they leave the
    /// outbox, which holds only what is still to publish.
    fn mark_published(&self, seqs: &[i64]) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A raw message by id.
    fn raw_message(
        &self,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<RawMessage>, StoreError>> + Send;

    /// Forgets the records of `history` dated before `before` (in chunks, each its own
    /// short write, so that the stages' commits go between them); returns how many went.
    fn prune(
        &self,
        history: History,
        before: Timestamp,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Whether `consumer` has processed bus message `message_id`.
    fn is_processed(
        &self,
        consumer: &str,
        message_id: Uuid,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The next number of the sequence `sequence` (e.g. `isa13`, `gs06`) for `partner`:
    /// 1, 2, 3… never repeating, even across crashes.
    fn next_control_number(
        &self,
        partner: &PartnerId,
        sequence: &str,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// For each `(sequence, count)` of `wanted`, `count` next numbers of that sequence
    /// for `partner`, in order, with the guarantees of
    /// [`Store::next_control_number`]; each sequence appears at most once in `wanted`.
    /// A store may allocate them all in one write (an outbound 997 wants an ISA13, a
    /// GS06 and an ST02 per set); by default they are asked for one by one.
    fn next_control_numbers(
        &self,
        partner: &PartnerId,
        wanted: &[(&str, u64)],
    ) -> impl Future<Output = Result<Vec<Vec<u64>>, StoreError>> + Send {
        next_control_numbers_one_by_one(self, partner, wanted)
    }

    /// Records that `partner` sent control number `number` of `sequence`; `false` when it
    /// had been recorded before (a duplicate interchange or group).
    fn record_received_control_number(
        &self,
        partner: &PartnerId,
        sequence: &str,
        number: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Dead letters matching `filter`, newest first.
    fn dead_letters(
        &self,
        filter: &DeadLetterFilter,
    ) -> impl Future<Output = Result<Vec<DeadLetter>, StoreError>> + Send;

    /// One dead letter.
    fn dead_letter(
        &self,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<DeadLetter>, StoreError>> + Send;

    /// The audit entries of `tenant` about `subject`, oldest first.
    fn audit_log(
        &self,
        tenant: &TenantId,
        subject: &str,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::StateDocument;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Load {
        id: String,
        stops: u32,
    }

    #[test]
    fn a_document_parses_back_into_what_was_serialized() {
        let load = Load {
            id: "L-1".to_owned(),
            stops: 2,
        };
        let document = StateDocument::to_document(&load).unwrap();
        assert_eq!(document.as_str(), r#"{"id":"L-1","stops":2}"#);
        assert_eq!(document.parse::<Load>().unwrap(), load);
        assert!(document.parse::<Vec<u32>>().is_err());
    }

    #[test]
    fn documents_are_equal_when_their_json_is() {
        // PostgreSQL's jsonb gives a document back with its own spacing and key order.
        let written = StateDocument::from_text(r#"{"id":"L-1","stops":2}"#.to_owned()).unwrap();
        let read = StateDocument::from_text(r#"{"stops": 2, "id": "L-1"}"#.to_owned()).unwrap();
        assert_eq!(written, read);
        assert_ne!(
            written,
            StateDocument::from(serde_json::json!({"id": "L-2", "stops": 2}))
        );
    }

    #[test]
    fn text_that_is_not_json_is_no_document() {
        assert!(StateDocument::from_text("{\"id\":".to_owned()).is_err());
        assert!(StateDocument::from_text("L-1".to_owned()).is_err());
    }
}
