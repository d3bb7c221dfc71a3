//! The store in a SQLite file: the embedded default.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use transload_core::bus::{BusMessage, Stage};
use transload_core::ids::{DedupeKey, PartnerId, TenantId};
use transload_core::store::{
    AuditEntry, CommitOutcome, DEAD_LETTER_HEADER, DeadLetter, DeadLetterFilter, History,
    OutboxRecord, REDRIVE_OF_HEADER, RawMessage, StateDocument, StateKey, StateRecord, Store,
    StoreError, UnitOfWork,
};
use uuid::Uuid;

use crate::bus::embedded::{
    self, EmbeddedBus, EmbeddedBusOptions, Handed, LocalConsumers, MessageRow,
};
use crate::sqlite::group_commit::{GroupCommit, WriteError};
use crate::sqlite::{Durability, has_table, is_busy, migrate, open_durable, open_writer};

/// Records deleted per write when pruning.
const PRUNE_CHUNK: usize = 5_000;

const MIGRATIONS: &[&str] = &[
    include_str!("migrations/sqlite/0001_initial.sql"),
    include_str!("migrations/sqlite/0002_outbox_keeps_only_pending.sql"),
    include_str!("migrations/sqlite/0003_processed_by_time.sql"),
    include_str!("migrations/sqlite/0004_history_by_time.sql"),
    include_str!("migrations/sqlite/0005_state_values_in_their_rows.sql"),
];

/// Read connections: the stages, the relay and the APIs read at once.
const READERS: usize = 4;

/// The read connections, each taken by one reader at a time.
type Readers = Arc<[Mutex<Connection>]>;

/// The store in one SQLite file. Writes go through a group commit on the write
/// connection ([`GroupCommit`]); reads use connections of their own ([`READERS`]), so
/// they neither wait for a commit's fsync nor see uncommitted writes. Cloning shares
/// them all.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    readers: Readers,
    writer: Arc<GroupCommit>,
    publishing: Publishing,
}

/// Where the messages a unit publishes go.
#[derive(Debug, Clone)]
enum Publishing {
    /// To the outbox table, which the relay publishes to a bus elsewhere.
    Outbox,
    /// Straight to the embedded bus in the same file, in the unit's transaction; its
    /// consumers in this process are handed what is due at once and woken through this
    /// once the unit is committed.
    EmbeddedBus(Arc<LocalConsumers>),
}

impl SqliteStore {
    /// Opens (creating and migrating) the store at `path`; what units publish goes to
    /// its outbox, for the relay to publish to the bus.
    ///
    /// Messages an earlier run left in the embedded bus of this file (opened with
    /// [`SqliteStore::open_with_embedded_bus`], before the hub moved to RabbitMQ) move
    /// to the outbox, so that the relay publishes them.
    ///
    /// # Errors
    /// When the file cannot be opened or migrated.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let (readers, connection) = open_files(path)?;
        if has_table(&connection, "bus_messages").map_err(store_error)? {
            move_messages(&connection, BUS_TO_OUTBOX)?;
        }
        Ok(SqliteStore {
            readers,
            writer: Arc::new(start_writer(connection)?),
            publishing: Publishing::Outbox,
        })
    }

    /// Opens (creating and migrating) the store at `path` with the embedded bus in the
    /// same file, both written by one writer: a unit's messages are enqueued in its own
    /// transaction (one write and one fsync per stage's batch, where an outbox cost the
    /// commit, a read of the outbox, a publish with an fsync of its own, and a mark),
    /// and no relay is needed.
    ///
    /// Messages an earlier run left in the outbox (when the bus was elsewhere) move to
    /// the embedded bus.
    ///
    /// # Errors
    /// When the file cannot be opened or migrated.
    pub fn open_with_embedded_bus(
        path: &Path,
        options: EmbeddedBusOptions,
    ) -> Result<(SqliteStore, EmbeddedBus), StoreError> {
        let (readers, mut connection) = open_files(path)?;
        embedded::prepare_schema(&mut connection).map_err(store_error)?;
        move_messages(&connection, OUTBOX_TO_BUS)?;
        let writer = Arc::new(start_writer(connection)?);
        let consumers = Arc::new(LocalConsumers::default());
        let bus =
            EmbeddedBus::on_writer(Arc::clone(&writer), Arc::clone(&consumers), path, options);
        let store = SqliteStore {
            readers,
            writer,
            publishing: Publishing::EmbeddedBus(consumers),
        };
        Ok((store, bus))
    }

    /// Runs `work` in the writer's next transaction; its changes are kept when `keep`
    /// is true of its value.
    async fn write<T, F>(
        &self,
        sync: Durability,
        keep: fn(&Result<T, StoreError>) -> bool,
        work: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.writer.write(sync, keep, work).await?
    }

    /// Wakes the embedded bus's consumers of the stages committed units enqueued
    /// messages on.
    fn published(&self, stages: StagesPublished) {
        if let Publishing::EmbeddedBus(consumers) = &self.publishing {
            for stage in Stage::ALL {
                if stages.includes(stage) {
                    consumers.notify(stage);
                }
            }
        }
    }

    /// The embedded bus's consumers in this process, when units enqueue on it.
    fn local_consumers(&self) -> Option<Arc<LocalConsumers>> {
        match &self.publishing {
            Publishing::EmbeddedBus(consumers) => Some(Arc::clone(consumers)),
            Publishing::Outbox => None,
        }
    }

    /// Applies `units` in order in one group transaction (each checks, then writes); as
    /// a `chain`, once one is not committed the ones after it do nothing
    /// ([`Store::commit_chain`]).
    async fn commit_units(
        &self,
        units: Vec<UnitOfWork>,
        chain: bool,
    ) -> Vec<Result<CommitOutcome, StoreError>> {
        let broken = Arc::new(AtomicBool::new(false));
        let mut publishes = Vec::with_capacity(units.len());
        let works: Vec<_> = units
            .into_iter()
            .map(|mut unit| {
                publishes.push(StagesPublished::by(&unit));
                let broken = Arc::clone(&broken);
                let json = UnitJson::take(&mut unit);
                let bus = self.local_consumers();
                move |connection: &Connection| {
                    if broken.load(Ordering::SeqCst) {
                        return (Err(StoreError::NotAttempted), Handed::default());
                    }
                    let applied = match json {
                        Ok(json) => apply(connection, &unit, json, bus.as_deref()),
                        Err(error) => (Err(error), Handed::default()),
                    };
                    if chain && !committed(&applied.0) {
                        broken.store(true, Ordering::SeqCst);
                    }
                    applied
                }
            })
            .collect();
        let outcomes: Vec<_> = self
            .writer
            .write_all(applied_committed, hand_over, works)
            .await
            .into_iter()
            .map(|result| result.map_err(StoreError::from)?.0)
            .collect();
        self.published(
            outcomes
                .iter()
                .zip(publishes)
                .filter(|(outcome, _)| committed(outcome))
                .fold(StagesPublished::default(), |all, (_, stages)| {
                    all.and(stages)
                }),
        );
        outcomes
    }

    /// Whether units enqueue their messages on the embedded bus in the same file (else
    /// in the outbox, for the relay).
    #[must_use]
    pub fn publishes_to_bus(&self) -> bool {
        matches!(self.publishing, Publishing::EmbeddedBus(_))
    }

    /// Runs a point read (rows found by their key, which takes microseconds) on a read
    /// connection, on the calling thread. Handing the worker thread's other tasks over
    /// first ([`tokio::task::block_in_place`]) cost more than the reads themselves: the
    /// pick path, three point reads per pick, ran a third faster without it.
    fn point_read<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        with_reader(&self.readers, work)
    }

    /// Runs a read that may go through many rows on the blocking pool.
    async fn scan<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let readers = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || with_reader(&readers, work))
            .await
            .map_err(|error| StoreError::Other(format!("store task failed: {error}")))?
    }
}

/// Runs `work` on the first free read connection, else waits for the first.
fn with_reader<T>(
    readers: &[Mutex<Connection>],
    work: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let free = readers.iter().find_map(|reader| reader.try_lock().ok());
    let mut connection = match free {
        Some(connection) => connection,
        None => readers
            .first()
            .ok_or_else(|| StoreError::Other("the store has no read connection".to_owned()))?
            .lock()
            .map_err(|_| StoreError::Other("store connection poisoned by a panic".to_owned()))?,
    };
    work(&mut connection)
}

pub(crate) fn store_error(error: rusqlite::Error) -> StoreError {
    store_error_ref(&error)
}

pub(crate) fn store_error_ref(error: &rusqlite::Error) -> StoreError {
    if is_busy(error) {
        StoreError::Unavailable(error.to_string())
    } else {
        StoreError::Other(error.to_string())
    }
}

/// Whether `consumer` recorded `message_id` as processed.
fn is_marked(
    connection: &Connection,
    consumer: &str,
    message_id: Uuid,
) -> Result<bool, StoreError> {
    connection
        .prepare_cached("SELECT 1 FROM processed WHERE consumer = ?1 AND message_id = ?2")
        .and_then(|mut statement| statement.exists(params![consumer, message_id.to_string()]))
        .map_err(store_error)
}

/// For writes whose changes are kept when they succeed.
fn keep_all<T>(result: &Result<T, StoreError>) -> bool {
    result.is_ok()
}

/// For units: their changes are kept when they are committed (a duplicate writes nothing).
fn committed(outcome: &Result<CommitOutcome, StoreError>) -> bool {
    matches!(outcome, Ok(CommitOutcome::Committed))
}

/// [`committed`], of what [`apply`] returns.
fn applied_committed((outcome, _): &(Result<CommitOutcome, StoreError>, Handed)) -> bool {
    committed(outcome)
}

/// Hands a committed unit's messages to the consumers they were leased to, on the
/// writer thread ([`GroupCommit::queue_then`]).
fn hand_over((_, handed): &mut (Result<CommitOutcome, StoreError>, Handed)) {
    handed.deliver();
}

/// The stages units publish messages on (a set, one bit per stage).
#[derive(Debug, Default, Clone, Copy)]
struct StagesPublished(u8);

impl StagesPublished {
    /// The stages `unit` publishes on (a redrive's, read in the commit, may be any).
    fn by(unit: &UnitOfWork) -> Self {
        if !unit.redrives.is_empty() {
            return Self(u8::MAX);
        }
        Self(
            unit.outbox
                .iter()
                .fold(0, |bits, (stage, _)| bits | Self::bit(*stage)),
        )
    }

    fn bit(stage: Stage) -> u8 {
        match stage {
            Stage::Inbound => 1,
            Stage::Events => 2,
            Stage::Outbound => 4,
        }
    }

    fn and(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    fn includes(self, stage: Stage) -> bool {
        self.0 & Self::bit(stage) != 0
    }
}

impl From<WriteError> for StoreError {
    fn from(error: WriteError) -> Self {
        if error.is_transient() {
            StoreError::Unavailable(error.to_string())
        } else {
            StoreError::Other(error.to_string())
        }
    }
}

/// Opens the read connections and the write connection of the store at `path`, and
/// migrates it.
fn open_files(path: &Path) -> Result<(Readers, Connection), StoreError> {
    let readers: Readers = (0..READERS)
        .map(|_| open_durable(path).map(Mutex::new))
        .collect::<Result<Vec<_>, _>>()
        .map_err(store_error)?
        .into();
    let mut connection = open_writer(path, Arc::downgrade(&readers)).map_err(store_error)?;
    migrate(&mut connection, MIGRATIONS).map_err(store_error)?;
    Ok((readers, connection))
}

fn start_writer(connection: Connection) -> Result<GroupCommit, StoreError> {
    GroupCommit::start(connection, "transload-store-writer")
        .map_err(|error| StoreError::Other(format!("cannot start the store writer: {error}")))
}

/// Moves the messages waiting in the outbox to the embedded bus (due at once; a timer
/// that is not due yet defers itself).
const OUTBOX_TO_BUS: [&str; 2] = [
    "INSERT INTO bus_messages (stage, message_id, routing_key, headers, body, available_at)
     SELECT stage, message_id, routing_key, headers, body, CAST(unixepoch('subsec') * 1000 AS INTEGER)
     FROM outbox ORDER BY seq",
    "DELETE FROM outbox",
];

/// Moves the messages waiting or in flight on the embedded bus to the outbox.
const BUS_TO_OUTBOX: [&str; 2] = [
    "INSERT INTO outbox (stage, message_id, routing_key, headers, body)
     SELECT stage, message_id, routing_key, headers, body FROM bus_messages ORDER BY seq",
    "DELETE FROM bus_messages",
];

/// Runs the two statements of a move in one transaction, logging what moved.
fn move_messages(connection: &Connection, statements: [&str; 2]) -> Result<(), StoreError> {
    let [copy, delete] = statements;
    let transaction = connection.unchecked_transaction().map_err(store_error)?;
    let moved = transaction.execute(copy, []).map_err(store_error)?;
    transaction.execute(delete, []).map_err(store_error)?;
    transaction.commit().map_err(store_error)?;
    if moved > 0 {
        tracing::info!(
            moved,
            "messages left by a run with another bus were moved to this one's queue"
        );
    }
    Ok(())
}

fn corrupt(what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {error}"))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|error| StoreError::Other(error.to_string()))
}

fn headers_from(text: &str) -> Result<BTreeMap<String, String>, StoreError> {
    serde_json::from_str(text).map_err(|error| corrupt("headers", error))
}

fn uuid_from(text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|error| corrupt("uuid", error))
}

/// Times are stored as integer microseconds since the Unix epoch: they sort as numbers
/// and keep the precision PostgreSQL keeps.
fn micros(at: Timestamp) -> i64 {
    at.as_microsecond()
}

fn timestamp_from(micros: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_microsecond(micros).map_err(|error| corrupt("timestamp", error))
}

fn stage_from(text: &str) -> Result<Stage, StoreError> {
    Stage::from_name(text).ok_or_else(|| corrupt("stage", text))
}

fn version_from(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|error| corrupt("version", error))
}

/// Runs `sql` through the connection's statement cache: the writer runs the same few
/// statements for every unit, and parsing them each time was a tenth of its work.
fn execute_cached(
    connection: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<usize> {
    connection.prepare_cached(sql)?.execute(params)
}

/// The JSON columns of a unit (but its states, which are JSON text already) and the
/// messages it publishes, encoded before the unit is queued: the writer thread, which
/// every stage waits for, then only binds them. Serializing there took a tenth of its
/// time, and freeing the values it had serialized another tenth; both now happen on the
/// caller's thread.
struct UnitJson {
    raw_metadata: Option<String>,
    audit: Vec<String>,
    outbox: Vec<(Stage, MessageRow)>,
}

impl UnitJson {
    /// Encodes the JSON columns and the messages of `unit` and takes them out of it
    /// (left empty), so that they are freed here.
    fn take(unit: &mut UnitOfWork) -> Result<Self, StoreError> {
        Ok(Self {
            raw_metadata: unit
                .raw
                .as_mut()
                .map(|raw| to_json(&std::mem::take(&mut raw.metadata)))
                .transpose()?,
            audit: unit
                .audit
                .iter_mut()
                .map(|entry| to_json(&entry.details.take()))
                .collect::<Result<_, _>>()?,
            outbox: std::mem::take(&mut unit.outbox)
                .into_iter()
                .map(|(stage, message)| Ok((stage, message_row(message)?)))
                .collect::<Result<_, StoreError>>()?,
        })
    }
}

fn message_row(message: BusMessage) -> Result<MessageRow, StoreError> {
    MessageRow::of(message).map_err(|error| StoreError::Other(error.to_string()))
}

/// Applies a unit of work inside `transaction`, with its JSON columns and messages in
/// `json`, enqueuing the messages on the embedded bus in the same file when it has the
/// bus's consumers (`bus`), else in the outbox; the caller commits on `Committed`, and
/// then hands over the messages leased to consumers ([`Handed`], empty unless
/// committed).
fn apply(
    transaction: &Connection,
    unit: &UnitOfWork,
    json: UnitJson,
    bus: Option<&LocalConsumers>,
) -> (Result<CommitOutcome, StoreError>, Handed) {
    let mut handed = Handed::default();
    let outcome = apply_unit(transaction, unit, json, bus, &mut handed);
    if committed(&outcome) {
        (outcome, handed)
    } else {
        // Rolled back: nothing to hand over, and the places reserved are given back.
        (outcome, Handed::default())
    }
}

fn apply_unit(
    transaction: &Connection,
    unit: &UnitOfWork,
    json: UnitJson,
    bus: Option<&LocalConsumers>,
    handed: &mut Handed,
) -> Result<CommitOutcome, StoreError> {
    let to_bus = bus.is_some();
    if unit.acknowledges.is_some() && !to_bus {
        return Err(StoreError::Other(
            "the store does not hold the bus: a delivery is acknowledged through the bus"
                .to_owned(),
        ));
    }
    let at = Timestamp::now();
    let now = micros(at);
    // Everything that makes a unit keep nothing is checked before anything is written:
    // the group commit has no savepoint to undo a unit's first writes (a unit that
    // fails after writing rolls back its whole group transaction).
    if let Some(outcome) = refused(transaction, unit)? {
        return Ok(outcome);
    }
    if let Some(token) = &unit.acknowledges {
        // The unit consumes its delivery: once committed, the message is gone and never
        // comes again, so it needs no processed marker. A delivery whose lease was lost
        // has come again to a consumer that processes it instead: this one does nothing
        // (and, its delete having changed nothing, has written nothing).
        let stale =
            embedded::acknowledge(transaction, std::slice::from_ref(token)).map_err(|error| {
                StoreError::Other(format!("cannot acknowledge the delivery: {error}"))
            })?;
        if stale > 0 {
            return Ok(CommitOutcome::AlreadyProcessed);
        }
    } else if let Some(processed) = &unit.processed {
        // The first write: when it inserts nothing, nothing was written.
        let inserted = execute_cached(
            transaction,
            "INSERT OR IGNORE INTO processed (consumer, message_id, processed_at) VALUES (?1, ?2, ?3)",
            params![processed.consumer, processed.message_id.to_string(), now],
        )
        .map_err(store_error)?;
        if inserted == 0 {
            return Ok(CommitOutcome::AlreadyProcessed);
        }
    }
    if let Some(raw) = &unit.raw {
        execute_cached(
            transaction,
            "INSERT INTO raw_messages (id, tenant, partner, format, dedupe_key, received_at, metadata, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                raw.id.to_string(),
                raw.tenant.as_str(),
                raw.partner.as_str(),
                raw.format,
                raw.dedupe_key.as_str(),
                micros(raw.received_at),
                json.raw_metadata,
                raw.body,
            ],
        )
        .map_err(store_error)?;
    }
    for received in &unit.received_control_numbers {
        let inserted = execute_cached(
            transaction,
            "INSERT OR IGNORE INTO received_control_numbers (partner, sequence, number, received_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![received.partner.as_str(), received.sequence, received.number, now],
        )
        .map_err(store_error)?;
        if inserted == 0 {
            // The same number twice in one unit (checked against the file above).
            return Ok(CommitOutcome::DuplicateControlNumber {
                sequence: received.sequence.clone(),
                number: received.number.clone(),
            });
        }
    }
    for write in &unit.states {
        let changed = match write.expected_version {
            None => execute_cached(
                transaction,
                "INSERT OR IGNORE INTO state (tenant, kind, key, version, value) VALUES (?1, ?2, ?3, 1, ?4)",
                params![write.key.tenant.as_str(), write.key.kind, write.key.key, write.value.as_str()],
            ),
            Some(expected) => execute_cached(
                transaction,
                "UPDATE state SET version = version + 1, value = ?5
                 WHERE tenant = ?1 AND kind = ?2 AND key = ?3 AND version = ?4",
                params![
                    write.key.tenant.as_str(),
                    write.key.kind,
                    write.key.key,
                    // A version beyond i64 cannot exist: it matches no row, a conflict.
                    i64::try_from(expected).unwrap_or(-1),
                    write.value.as_str()
                ],
            ),
        }
        .map_err(store_error)?;
        if changed != 1 {
            // The same state twice in one unit (checked against the file above).
            return Err(conflict(write));
        }
    }
    for (entry, details) in unit.audit.iter().zip(&json.audit) {
        execute_cached(
            transaction,
            "INSERT INTO audit_log (tenant, actor, action, subject, details, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                entry.tenant.as_str(),
                entry.actor,
                entry.action,
                entry.subject,
                details,
                micros(entry.at)
            ],
        )
        .map_err(store_error)?;
    }
    for redrive in &unit.redrives {
        let dead = read_dead_letter(transaction, redrive.dead_letter_id)?
            .filter(|dead| dead.redriven.is_none())
            .ok_or(StoreError::NoSuchDeadLetter(redrive.dead_letter_id))?;
        execute_cached(
            transaction,
            "UPDATE dead_letters SET redriven_at = ?2, redriven_by = ?3 WHERE id = ?1",
            params![redrive.dead_letter_id.to_string(), now, redrive.by],
        )
        .map_err(store_error)?;
        let body = redrive
            .edited_body
            .clone()
            .unwrap_or_else(|| dead.message.body.clone());
        let message = BusMessage {
            id: Uuid::now_v7(),
            body,
            ..dead.message.clone()
        }
        .with_header(REDRIVE_OF_HEADER, dead.message.id.to_string())
        .with_header(DEAD_LETTER_HEADER, redrive.dead_letter_id.to_string());
        publish(
            transaction,
            dead.stage,
            message_row(message)?,
            bus,
            handed,
            at,
        )?;
    }
    // Moved, not copied: a message handed to a consumer goes to it as it is.
    for (stage, message) in json.outbox {
        publish(transaction, stage, message, bus, handed, at)?;
    }
    for dead in &unit.dead_letters {
        execute_cached(
            transaction,
            "INSERT INTO dead_letters (id, stage, tenant, partner, reason, attempts, message_id, routing_key, headers, body, failed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                dead.id.to_string(),
                dead.stage.name(),
                dead.tenant.as_ref().map(TenantId::as_str),
                dead.partner.as_ref().map(PartnerId::as_str),
                dead.reason,
                dead.attempts,
                dead.message.id.to_string(),
                dead.message.routing_key,
                to_json(&dead.message.headers)?,
                dead.message.body,
                micros(dead.failed_at),
            ],
        )
        .map_err(store_error)?;
    }
    Ok(CommitOutcome::Committed)
}

/// Why `unit` is to keep nothing, found before it writes anything: its input processed
/// already, its raw message or a control number received before, a state changed
/// since it was read, a dead letter redriven already, a dead letter id taken. `None`
/// when it can be written.
///
/// # Errors
/// A state conflict, a dead letter that is not there, or SQLite's error.
fn refused(
    transaction: &Connection,
    unit: &UnitOfWork,
) -> Result<Option<CommitOutcome>, StoreError> {
    // Processed already comes first, as when the marker's insert told. (A unit that
    // consumes its delivery may find a marker from before the bus was in this file: a
    // message moved from the outbox or an earlier bus file.)
    if let Some(processed) = &unit.processed
        && is_marked(transaction, &processed.consumer, processed.message_id)?
    {
        return Ok(Some(CommitOutcome::AlreadyProcessed));
    }
    if let Some(raw) = &unit.raw {
        let existing: Option<String> = transaction
            .prepare_cached("SELECT id FROM raw_messages WHERE tenant = ?1 AND dedupe_key = ?2")
            .and_then(|mut statement| {
                statement
                    .query_row(
                        params![raw.tenant.as_str(), raw.dedupe_key.as_str()],
                        |row| row.get(0),
                    )
                    .optional()
            })
            .map_err(store_error)?;
        if let Some(existing) = existing {
            return Ok(Some(CommitOutcome::DuplicateRaw {
                existing: uuid_from(&existing)?,
            }));
        }
    }
    for received in &unit.received_control_numbers {
        let seen = transaction
            .prepare_cached(
                "SELECT 1 FROM received_control_numbers WHERE partner = ?1 AND sequence = ?2 AND number = ?3",
            )
            .and_then(|mut statement| {
                statement.exists(params![
                    received.partner.as_str(),
                    received.sequence,
                    received.number
                ])
            })
            .map_err(store_error)?;
        if seen {
            return Ok(Some(CommitOutcome::DuplicateControlNumber {
                sequence: received.sequence.clone(),
                number: received.number.clone(),
            }));
        }
    }
    // The versions the unit's own earlier writes leave (a chain of writes to one state).
    let mut written: Vec<(&StateKey, u64)> = Vec::new();
    for write in &unit.states {
        if let Some((_, version)) = written.iter_mut().find(|(key, _)| **key == write.key) {
            if write.expected_version != Some(*version) {
                return Err(conflict(write));
            }
            *version = version.saturating_add(1);
            continue;
        }
        let version: Option<i64> = transaction
            .prepare_cached(
                "SELECT version FROM state WHERE tenant = ?1 AND kind = ?2 AND key = ?3",
            )
            .and_then(|mut statement| {
                statement
                    .query_row(
                        params![write.key.tenant.as_str(), write.key.kind, write.key.key],
                        |row| row.get(0),
                    )
                    .optional()
            })
            .map_err(store_error)?;
        let current = version.map(version_from).transpose()?;
        if current != write.expected_version {
            return Err(conflict(write));
        }
        written.push((
            &write.key,
            current.map_or(1, |version| version.saturating_add(1)),
        ));
    }
    for redrive in &unit.redrives {
        read_dead_letter(transaction, redrive.dead_letter_id)?
            .filter(|dead| dead.redriven.is_none())
            .ok_or(StoreError::NoSuchDeadLetter(redrive.dead_letter_id))?;
    }
    for dead in &unit.dead_letters {
        let taken = transaction
            .prepare_cached("SELECT 1 FROM dead_letters WHERE id = ?1")
            .and_then(|mut statement| statement.exists(params![dead.id.to_string()]))
            .map_err(store_error)?;
        if taken {
            return Err(StoreError::Other(format!(
                "a dead letter with id {} exists already",
                dead.id
            )));
        }
    }
    Ok(None)
}

/// The conflict of a state write whose expected version is not the stored one.
fn conflict(write: &transload_core::store::StateWrite) -> StoreError {
    StoreError::Conflict {
        kind: write.key.kind.clone(),
        key: write.key.key.clone(),
        expected: write.expected_version,
    }
}

/// Publishes `message` on `stage` at `at`: enqueued on the embedded bus in the same file
/// (`bus`, its consumers in this process), or inserted in the outbox.
fn publish(
    transaction: &Connection,
    stage: Stage,
    message: MessageRow,
    bus: Option<&LocalConsumers>,
    handed: &mut Handed,
    at: Timestamp,
) -> Result<(), StoreError> {
    if let Some(consumers) = bus {
        return embedded::enqueue(
            transaction,
            stage,
            message,
            at.as_millisecond(),
            consumers,
            handed,
        )
        .map_err(store_error);
    }
    execute_cached(
        transaction,
        "INSERT INTO outbox (stage, message_id, routing_key, headers, body) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            stage.name(),
            message.id,
            message.routing_key,
            message.headers,
            message.body
        ],
    )
    .map_err(store_error)?;
    Ok(())
}

const DEAD_LETTER_COLUMNS: &str = "id, stage, tenant, partner, reason, attempts, message_id, routing_key, headers, body, failed_at, redriven_at, redriven_by";

fn dead_letter_from_row(
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<Result<DeadLetter, StoreError>> {
    let id: String = row.get(0)?;
    let stage: String = row.get(1)?;
    let tenant: Option<String> = row.get(2)?;
    let partner: Option<String> = row.get(3)?;
    let reason: String = row.get(4)?;
    let attempts: u32 = row.get(5)?;
    let message_id: String = row.get(6)?;
    let routing_key: String = row.get(7)?;
    let headers: String = row.get(8)?;
    let body: Vec<u8> = row.get(9)?;
    let failed_at: i64 = row.get(10)?;
    let redriven_at: Option<i64> = row.get(11)?;
    let redriven_by: Option<String> = row.get(12)?;
    Ok((|| {
        Ok(DeadLetter {
            id: uuid_from(&id)?,
            stage: stage_from(&stage)?,
            tenant: tenant
                .map(TenantId::new)
                .transpose()
                .map_err(|e| corrupt("tenant", e))?,
            partner: partner
                .map(PartnerId::new)
                .transpose()
                .map_err(|e| corrupt("partner", e))?,
            reason,
            attempts,
            message: BusMessage {
                id: uuid_from(&message_id)?,
                routing_key,
                headers: headers_from(&headers)?,
                body,
            },
            failed_at: timestamp_from(failed_at)?,
            redriven: match (redriven_at, redriven_by) {
                (Some(at), Some(by)) => Some((timestamp_from(at)?, by)),
                _ => None,
            },
        })
    })())
}

fn read_dead_letter(connection: &Connection, id: Uuid) -> Result<Option<DeadLetter>, StoreError> {
    connection
        .query_row(
            &format!("SELECT {DEAD_LETTER_COLUMNS} FROM dead_letters WHERE id = ?1"),
            params![id.to_string()],
            dead_letter_from_row,
        )
        .optional()
        .map_err(store_error)?
        .transpose()
}

impl Store for SqliteStore {
    async fn commit(&self, unit: UnitOfWork) -> Result<CommitOutcome, StoreError> {
        // Any other outcome than `Committed` rolls the unit back: nothing written.
        self.commit_units(vec![unit], false)
            .await
            .pop()
            .unwrap_or(Err(StoreError::NotAttempted))
    }

    async fn commit_all(&self, units: Vec<UnitOfWork>) -> Vec<Result<CommitOutcome, StoreError>> {
        self.commit_units(units, false).await
    }

    async fn commit_chain(&self, units: Vec<UnitOfWork>) -> Vec<Result<CommitOutcome, StoreError>> {
        self.commit_units(units, true).await
    }

    async fn load_state(&self, key: &StateKey) -> Result<Option<StateRecord>, StoreError> {
        self.point_read(|connection| {
            let row: Option<(i64, String)> = connection
                .prepare_cached(
                    "SELECT version, value FROM state WHERE tenant = ?1 AND kind = ?2 AND key = ?3",
                )
                .and_then(|mut statement| {
                    statement.query_row(params![key.tenant.as_str(), key.kind, key.key], |row| {
                        Ok((row.get(0)?, row.get(1)?))
                    })
                })
                .optional()
                .map_err(store_error)?;
            row.map(|(version, value)| {
                Ok(StateRecord {
                    version: version_from(version)?,
                    value: StateDocument::from_text(value)
                        .map_err(|error| corrupt("state", error))?,
                })
            })
            .transpose()
        })
    }

    async fn pending_outbox(&self, limit: usize) -> Result<Vec<OutboxRecord>, StoreError> {
        self.scan(move |connection| {
            let mut statement = connection
                .prepare_cached(
                    "SELECT seq, stage, message_id, routing_key, headers, body FROM outbox
                     ORDER BY seq LIMIT ?1",
                )
                .map_err(store_error)?;
            let rows = statement
                .query_map(params![i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
                    let seq: i64 = row.get(0)?;
                    let stage: String = row.get(1)?;
                    let id: String = row.get(2)?;
                    let routing_key: String = row.get(3)?;
                    let headers: String = row.get(4)?;
                    let body: Vec<u8> = row.get(5)?;
                    Ok((seq, stage, id, routing_key, headers, body))
                })
                .map_err(store_error)?;
            let mut records = Vec::new();
            for row in rows {
                let (seq, stage, id, routing_key, headers, body) = row.map_err(store_error)?;
                records.push(OutboxRecord {
                    seq,
                    stage: stage_from(&stage)?,
                    message: BusMessage {
                        id: uuid_from(&id)?,
                        routing_key,
                        headers: headers_from(&headers)?,
                        body,
                    },
                });
            }
            Ok(records)
        })
        .await
    }

    async fn mark_published(&self, seqs: &[i64]) -> Result<(), StoreError> {
        let seqs = seqs.to_vec();
        // Losing a mark with the machine only publishes its message again (the same id,
        // which the stages' processed markers absorb): it need not wait for an fsync.
        // The bus has the message now: its row leaves the outbox, which keeps only what
        // is still to publish (and does not grow with every message ever sent).
        self.write(Durability::Normal, keep_all, move |connection| {
            let mut statement = connection
                .prepare_cached("DELETE FROM outbox WHERE seq = ?1")
                .map_err(store_error)?;
            for seq in seqs {
                statement.execute(params![seq]).map_err(store_error)?;
            }
            Ok(())
        })
        .await
    }

    async fn raw_message(&self, id: Uuid) -> Result<Option<RawMessage>, StoreError> {
        self.point_read(|connection| {
            let row = connection
                .query_row(
                    "SELECT tenant, partner, format, dedupe_key, received_at, metadata, body FROM raw_messages WHERE id = ?1",
                    params![id.to_string()],
                    |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, String>(2)?,
                            row.get::<_, String>(3)?,
                            row.get::<_, i64>(4)?,
                            row.get::<_, String>(5)?,
                            row.get::<_, Vec<u8>>(6)?,
                        ))
                    },
                )
                .optional()
                .map_err(store_error)?;
            row.map(|(tenant, partner, format, dedupe_key, received_at, metadata, body)| {
                Ok(RawMessage {
                    id,
                    tenant: TenantId::new(tenant).map_err(|e| corrupt("tenant", e))?,
                    partner: PartnerId::new(partner).map_err(|e| corrupt("partner", e))?,
                    format,
                    dedupe_key: DedupeKey::new(dedupe_key).map_err(|e| corrupt("dedupe key", e))?,
                    received_at: timestamp_from(received_at)?,
                    metadata: headers_from(&metadata)?,
                    body,
                })
            })
            .transpose()
        })
    }

    async fn prune(&self, history: History, before: Timestamp) -> Result<u64, StoreError> {
        let before = micros(before);
        // The oldest first, by the index on the record's time.
        let statement = match history {
            History::ProcessedMarkers => {
                "DELETE FROM processed WHERE (consumer, message_id) IN (
                     SELECT consumer, message_id FROM processed
                     WHERE processed_at < ?1 ORDER BY processed_at LIMIT ?2)"
            }
            History::RawMessages => {
                "DELETE FROM raw_messages WHERE rowid IN (
                     SELECT rowid FROM raw_messages
                     WHERE received_at < ?1 ORDER BY received_at LIMIT ?2)"
            }
            History::AuditEntries => {
                "DELETE FROM audit_log WHERE seq IN (
                     SELECT seq FROM audit_log WHERE at < ?1 ORDER BY at LIMIT ?2)"
            }
            History::RedrivenDeadLetters => {
                "DELETE FROM dead_letters WHERE rowid IN (
                     SELECT rowid FROM dead_letters
                     WHERE redriven_at IS NOT NULL AND redriven_at < ?1
                     ORDER BY redriven_at LIMIT ?2)"
            }
            History::ReceivedControlNumbers => {
                "DELETE FROM received_control_numbers WHERE (partner, sequence, number) IN (
                     SELECT partner, sequence, number FROM received_control_numbers
                     WHERE received_at < ?1 ORDER BY received_at LIMIT ?2)"
            }
        };
        let mut pruned = 0;
        // In chunks, each its own write, so the stages' commits go between them.
        loop {
            let deleted = self
                .write(Durability::Normal, keep_all, move |connection| {
                    execute_cached(connection, statement, params![before, PRUNE_CHUNK])
                        .map_err(store_error)
                })
                .await?;
            pruned += deleted as u64;
            if deleted < PRUNE_CHUNK {
                return Ok(pruned);
            }
        }
    }

    async fn is_processed(&self, consumer: &str, message_id: Uuid) -> Result<bool, StoreError> {
        self.point_read(|connection| is_marked(connection, consumer, message_id))
    }

    async fn next_control_number(
        &self,
        partner: &PartnerId,
        sequence: &str,
    ) -> Result<u64, StoreError> {
        let partner = partner.clone();
        let sequence = sequence.to_owned();
        self.write(Durability::Full, keep_all, move |connection| {
            let next: i64 = connection
                .query_row(
                    "INSERT INTO control_sequences (partner, sequence, last) VALUES (?1, ?2, 1)
                         ON CONFLICT (partner, sequence) DO UPDATE SET last = last + 1
                         RETURNING last",
                    params![partner.as_str(), sequence],
                    |row| row.get(0),
                )
                .map_err(store_error)?;
            version_from(next)
        })
        .await
    }

    /// All in one write, fsync'd like `next_control_number` (the deliver stage sends an
    /// interchange before it commits, so the numbers must be durable before anyone uses
    /// them); concurrent allocations share the fsync through the group commit.
    async fn next_control_numbers(
        &self,
        partner: &PartnerId,
        wanted: &[(&str, u64)],
    ) -> Result<Vec<Vec<u64>>, StoreError> {
        let partner = partner.clone();
        let wanted: Vec<(String, u64)> = wanted
            .iter()
            .map(|(sequence, count)| ((*sequence).to_owned(), *count))
            .collect();
        self
            .write(Durability::Full, keep_all, move |connection| {
                let mut allocated = Vec::with_capacity(wanted.len());
                for (sequence, count) in &wanted {
                    if *count == 0 {
                        allocated.push(Vec::new());
                        continue;
                    }
                    let step = i64::try_from(*count).map_err(|_| {
                        StoreError::Other(format!("cannot allocate {count} control numbers"))
                    })?;
                    let last: i64 = connection
                        .query_row(
                            "INSERT INTO control_sequences (partner, sequence, last) VALUES (?1, ?2, ?3)
                             ON CONFLICT (partner, sequence) DO UPDATE SET last = last + ?3
                             RETURNING last",
                            params![partner.as_str(), sequence, step],
                            |row| row.get(0),
                        )
                        .map_err(store_error)?;
                    let last = version_from(last)?;
                    allocated.push((last + 1 - count..=last).collect());
                }
                Ok(allocated)
            })
            .await
    }

    async fn record_received_control_number(
        &self,
        partner: &PartnerId,
        sequence: &str,
        number: &str,
    ) -> Result<bool, StoreError> {
        let (partner, sequence, number) = (partner.clone(), sequence.to_owned(), number.to_owned());
        self
            .write(Durability::Full, keep_all, move |connection| {
                connection
                    .execute(
                        "INSERT OR IGNORE INTO received_control_numbers (partner, sequence, number, received_at)
                         VALUES (?1, ?2, ?3, ?4)",
                        params![partner.as_str(), sequence, number, micros(Timestamp::now())],
                    )
                    .map(|inserted| inserted == 1)
                    .map_err(store_error)
            })
            .await
    }

    async fn dead_letters(&self, filter: &DeadLetterFilter) -> Result<Vec<DeadLetter>, StoreError> {
        let filter = filter.clone();
        self.scan(move |connection| {
            let limit = if filter.limit == 0 { 100 } else { filter.limit };
            let mut statement = connection
                .prepare_cached(&format!(
                    "SELECT {DEAD_LETTER_COLUMNS} FROM dead_letters
                     WHERE (?1 IS NULL OR stage = ?1) AND (?2 IS NULL OR partner = ?2)
                       AND (?3 OR redriven_at IS NULL)
                     ORDER BY failed_at DESC, rowid DESC LIMIT ?4"
                ))
                .map_err(store_error)?;
            let rows = statement
                .query_map(
                    params![
                        filter.stage.map(Stage::name),
                        filter.partner.as_ref().map(PartnerId::as_str),
                        filter.include_redriven,
                        i64::try_from(limit).unwrap_or(i64::MAX),
                    ],
                    dead_letter_from_row,
                )
                .map_err(store_error)?;
            let mut letters = Vec::new();
            for row in rows {
                letters.push(row.map_err(store_error)??);
            }
            Ok(letters)
        })
        .await
    }

    async fn dead_letter(&self, id: Uuid) -> Result<Option<DeadLetter>, StoreError> {
        self.point_read(|connection| read_dead_letter(connection, id))
    }

    async fn audit_log(
        &self,
        tenant: &TenantId,
        subject: &str,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let (tenant, subject) = (tenant.clone(), subject.to_owned());
        self.scan(move |connection| {
            let mut statement = connection
                .prepare_cached(
                    "SELECT actor, action, details, at FROM audit_log WHERE tenant = ?1 AND subject = ?2 ORDER BY at, seq",
                )
                .map_err(store_error)?;
            let rows = statement
                .query_map(params![tenant.as_str(), subject], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, i64>(3)?,
                    ))
                })
                .map_err(store_error)?;
            let mut entries = Vec::new();
            for row in rows {
                let (actor, action, details, at) = row.map_err(store_error)?;
                entries.push(AuditEntry {
                    tenant: tenant.clone(),
                    actor,
                    action,
                    subject: subject.clone(),
                    details: serde_json::from_str(&details).map_err(|error| corrupt("audit details", error))?,
                    at: timestamp_from(at)?,
                });
            }
            Ok(entries)
        })
        .await
    }
}
