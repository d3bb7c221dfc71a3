//! The embedded bus: a durable queue in a SQLite file, for one machine with no broker.
//!
//! Every operation (publish, lease, ack, retry, reject) is a write of the file's
//! [`GroupCommit`]: operations waiting together go in one transaction, so many small
//! publishes share one fsync while each caller still hears back only once its own
//! operation is durable. Several processes may open the same file; SQLite's lock
//! serialises them and consumers poll when idle.
//!
//! The bus may live in a file of its own ([`EmbeddedBus::open`]) or in the SQLite
//! store's file, sharing its writer ([`crate::store::sqlite::SqliteStore::open_with_embedded_bus`]):
//! a stage's commit then enqueues the messages it publishes in the same transaction
//! ([`enqueue`]), with no outbox to relay.
//!
//! Semantics match RabbitMQ's quorum queues as the hub uses them: a leased message is
//! invisible until acknowledged or until its visibility timeout passes, when it is
//! delivered again with its attempt counted; after `max_deliveries` it is moved to the
//! dead letters instead. As RabbitMQ pushes to a consumer with room in its prefetch
//! window, the transaction that enqueues a message due at once leases it to a consumer
//! of this process that has caught up and has room, and hands it over in memory once
//! committed ([`handoff`]).

mod handoff;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use rusqlite::{Connection, params};
use transload_core::bus::{
    Bus, BusError, BusMessage, Consumer, ConsumerOptions, Delivery, DeliveryToken, Stage,
};
use uuid::Uuid;

use self::handoff::Inbox;
pub(crate) use self::handoff::{Handed, LocalConsumers};
use super::dead_letters::BusDeadLetter;
use crate::sqlite::group_commit::{Answer, GroupCommit, WriteError, received};
use crate::sqlite::{
    Durability, has_table, is_busy, migrate_component, open_durable, open_writer, record_version,
};

const MIGRATIONS: &[&str] = &[include_str!("../migrations/embedded_0001.sql")];
/// The name of the bus's schema in `schema_versions`.
const SCHEMA: &str = "embedded_bus";
/// How often an idle consumer looks for messages published by another process or
/// become due after a retry delay.
const IDLE_POLL: Duration = Duration::from_millis(25);

/// Settings of the embedded bus.
#[derive(Debug, Clone)]
pub struct EmbeddedBusOptions {
    /// Deliveries of one message before it is dead-lettered (like `x-delivery-limit`).
    pub max_deliveries: u32,
}

impl Default for EmbeddedBusOptions {
    fn default() -> Self {
        Self { max_deliveries: 20 }
    }
}

/// The durable queue in SQLite. Cloning shares the writer.
#[derive(Debug, Clone)]
pub struct EmbeddedBus {
    writer: Arc<GroupCommit>,
    consumers: Arc<LocalConsumers>,
    path: Arc<Path>,
    options: Arc<EmbeddedBusOptions>,
    /// Whether the bus lives in the store's file, whose commits acknowledge deliveries
    /// ([`Consumer::acknowledges_in_commit`]).
    in_store: bool,
    /// The lock file held while this process has the bus to itself
    /// ([`EmbeddedBus::claim`]).
    claim: Option<Arc<std::fs::File>>,
}

/// A message as it is inserted: its columns, encoded by the publisher, so that the
/// writer thread, which every stage waits for, only binds them.
#[derive(Debug)]
pub(crate) struct MessageRow {
    pub(crate) id: String,
    pub(crate) routing_key: String,
    pub(crate) headers: String,
    pub(crate) body: Vec<u8>,
    /// The instant of its `transload-available-at` header (Unix ms), if readable.
    pub(crate) available_at: Option<i64>,
}

impl MessageRow {
    /// The columns of `message`.
    ///
    /// # Errors
    /// When its headers cannot be encoded.
    pub(crate) fn of(message: BusMessage) -> Result<Self, serde_json::Error> {
        Ok(Self {
            id: message.id.to_string(),
            headers: serde_json::to_string(&message.headers)?,
            available_at: message.available_at_ms(),
            routing_key: message.routing_key,
            body: message.body,
        })
    }
}

/// A leased message as the writer read it or handed it over; the consumer decodes it
/// ([`LeasedRow::delivery`]) on its own thread.
#[derive(Debug)]
pub(crate) struct LeasedRow {
    seq: i64,
    id: String,
    routing_key: String,
    headers: String,
    body: Vec<u8>,
    attempt: u32,
    lease: i64,
}

impl LeasedRow {
    fn delivery(self) -> Result<Delivery, BusError> {
        Ok(Delivery {
            message: message_from(&self.id, self.routing_key, &self.headers, self.body)?,
            attempt: self.attempt,
            token: DeliveryToken {
                tag: u64::try_from(self.seq).map_err(|error| BusError::Other(error.to_string()))?,
                generation: u64::try_from(self.lease)
                    .map_err(|error| BusError::Other(error.to_string()))?,
            },
        })
    }
}

/// What a lease did: the rows it leased, and how many messages past the delivery limit
/// it moved to the dead letters (counted once the lease has committed).
#[derive(Debug)]
struct Leased {
    rows: Vec<LeasedRow>,
    dead_lettered: usize,
}

/// What a lease answers.
type LeaseAnswer = Answer<Result<Leased, BusError>>;

/// The deliveries of a lease's rows. A row that cannot be decoded (a damaged file) is
/// logged and left leased: it comes back after the visibility timeout and, at the
/// delivery limit, goes to the dead letters, without holding up the rows leased with it.
fn deliveries(rows: Vec<LeasedRow>) -> Vec<Delivery> {
    rows.into_iter()
        .filter_map(|row| {
            let seq = row.seq;
            row.delivery()
                .map_err(|error| {
                    tracing::error!(seq, %error, "embedded bus: a leased message cannot be read; it will be dead-lettered at its delivery limit");
                })
                .ok()
        })
        .collect()
}

impl EmbeddedBus {
    /// Opens (creating) the bus in a SQLite file of its own at `path`, with a writer of
    /// its own.
    ///
    /// # Errors
    /// When the file cannot be opened or migrated.
    pub fn open(path: &Path, options: EmbeddedBusOptions) -> Result<EmbeddedBus, BusError> {
        let shared_path: Arc<Path> = Arc::from(path);
        let mut connection = open_writer(path, Arc::downgrade(&shared_path)).map_err(bus_error)?;
        prepare_schema(&mut connection).map_err(bus_error)?;
        let writer = GroupCommit::start(connection, &format!("transload-bus-{}", path.display()))
            .map_err(|error| {
            BusError::Other(format!("cannot start the bus writer: {error}"))
        })?;
        Ok(EmbeddedBus {
            writer: Arc::new(writer),
            consumers: Arc::new(LocalConsumers::default()),
            path: shared_path,
            options: Arc::new(options),
            in_store: false,
            claim: None,
        })
    }

    /// The bus in the file at `path` whose writer is `writer` (the file's schema
    /// prepared with [`prepare_schema`]); whoever enqueues messages in it through
    /// `writer` ([`enqueue`]) hands them to `consumers` and wakes them, as this bus does.
    pub(crate) fn on_writer(
        writer: Arc<GroupCommit>,
        consumers: Arc<LocalConsumers>,
        path: &Path,
        options: EmbeddedBusOptions,
    ) -> EmbeddedBus {
        EmbeddedBus {
            writer,
            consumers,
            path: Arc::from(path),
            options: Arc::new(options),
            in_store: true,
            claim: None,
        }
    }

    /// Claims the bus for this process, as a hub does: holds a lock on the file `lock`
    /// for as long as a handle of the bus lives, so that a second hub on the same data
    /// directory is refused, and makes the messages an earlier process had leased
    /// available again at once, their delivery counted, instead of after their
    /// visibility timeout. Other processes may still publish (a CLI command); the lock
    /// is released by the system when the process ends, however it ends.
    ///
    /// # Errors
    /// When another process holds the lock, or the files cannot be written.
    pub async fn claim(mut self, lock: &Path) -> Result<EmbeddedBus, BusError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(lock)
            .map_err(|error| BusError::Other(format!("cannot open {}: {error}", lock.display())))?;
        file.try_lock().map_err(|error| match error {
            std::fs::TryLockError::WouldBlock => BusError::Other(format!(
                "another transload process holds {}: one hub per data directory",
                lock.display()
            )),
            std::fs::TryLockError::Error(error) => {
                BusError::Other(format!("cannot lock {}: {error}", lock.display()))
            }
        })?;
        self.claim = Some(Arc::new(file));
        let released = self
            .call(Durability::Normal, |connection, _, now| {
                connection
                    .prepare_cached(
                        "UPDATE bus_messages SET available_at = ?1, lease = NULL
                         WHERE lease IS NOT NULL",
                    )
                    .and_then(|mut statement| statement.execute(params![now]))
                    .map_err(bus_error)
            })
            .await?;
        if released > 0 {
            tracing::info!(
                released,
                "embedded bus: messages leased by an earlier process are available again"
            );
        }
        Ok(self)
    }

    /// The file the bus lives in.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues `operation` for the writer, not fsync'd unless `sync` says so; its changes
    /// are kept when it succeeds.
    fn queue<T, F>(
        &self,
        sync: Durability,
        operation: F,
    ) -> Result<Answer<Result<T, BusError>>, BusError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &EmbeddedBusOptions, i64) -> Result<T, BusError> + Send + 'static,
    {
        let options = Arc::clone(&self.options);
        self.writer
            .queue(sync, Result::is_ok, move |connection| {
                operation(connection, &options, now_ms())
            })
            .map_err(BusError::from)
    }

    /// Runs `operation` in the writer's next transaction ([`EmbeddedBus::queue`]).
    async fn call<T, F>(&self, sync: Durability, operation: F) -> Result<T, BusError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &EmbeddedBusOptions, i64) -> Result<T, BusError> + Send + 'static,
    {
        received(self.queue(sync, operation)?).await?
    }

    /// Messages dead-lettered on `stage` by the bus itself (delivery limit, `reject`),
    /// newest first: `(message, attempts, reason)`.
    ///
    /// # Errors
    /// When the file cannot be read.
    pub fn dead_letters(&self, stage: Stage) -> Result<Vec<(BusMessage, u32, String)>, BusError> {
        let connection = open_durable(&self.path).map_err(bus_error)?;
        let mut statement = connection
            .prepare(
                "SELECT message_id, routing_key, headers, body, attempts, reason FROM bus_dead_letters
                 WHERE stage = ?1 ORDER BY seq DESC",
            )
            .map_err(bus_error)?;
        let rows = statement
            .query_map(params![stage.name()], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, Vec<u8>>(3)?,
                    row.get::<_, u32>(4)?,
                    row.get::<_, String>(5)?,
                ))
            })
            .map_err(bus_error)?;
        let mut letters = Vec::new();
        for row in rows {
            let (id, routing_key, headers, body, attempts, reason) = row.map_err(bus_error)?;
            letters.push((
                message_from(&id, routing_key, &headers, body)?,
                attempts,
                reason,
            ));
        }
        Ok(letters)
    }

    /// Up to `max` of the messages the bus dead-lettered itself, oldest first, left in
    /// the file until [`EmbeddedBus::forget_dead_letters`] (see
    /// [`crate::bus::dead_letters`]). A row that cannot be decoded in full comes with
    /// what could be read: its bytes, and its damage in the reason.
    ///
    /// # Errors
    /// When the file cannot be read.
    pub async fn take_dead_letters(&self, max: usize) -> Result<Vec<BusDeadLetter>, BusError> {
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        self.call(Durability::Normal, move |connection, _, _| {
            let mut statement = connection
                .prepare_cached(
                    "SELECT seq, stage, message_id, routing_key, headers, body, attempts, reason, failed_at
                     FROM bus_dead_letters ORDER BY seq LIMIT ?1",
                )
                .map_err(bus_error)?;
            let rows = statement
                .query_map(params![limit], |row| {
                    Ok(StoredDeadLetter {
                        seq: row.get(0)?,
                        stage: row.get(1)?,
                        id: row.get(2)?,
                        routing_key: row.get(3)?,
                        headers: row.get(4)?,
                        body: row.get(5)?,
                        attempts: row.get(6)?,
                        reason: row.get(7)?,
                        failed_at: row.get(8)?,
                    })
                })
                .map_err(bus_error)?;
            rows.map(|row| row.map_err(bus_error).map(StoredDeadLetter::into_letter))
                .collect()
        })
        .await
    }

    /// Deletes the dead letters `seqs` ([`EmbeddedBus::take_dead_letters`]'s handles).
    ///
    /// # Errors
    /// When the file cannot be written.
    pub async fn forget_dead_letters(&self, seqs: &[u64]) -> Result<(), BusError> {
        let seqs = seqs.to_vec();
        self.call(Durability::Normal, move |connection, _, _| {
            let mut statement = connection
                .prepare_cached("DELETE FROM bus_dead_letters WHERE seq = ?1")
                .map_err(bus_error)?;
            for seq in seqs {
                let seq = i64::try_from(seq).map_err(|_| {
                    BusError::Other(format!("not a dead letter of this bus: {seq}"))
                })?;
                statement.execute(params![seq]).map_err(bus_error)?;
            }
            Ok(())
        })
        .await
    }

    /// Whether the bus can write now: a round trip through the writer thread with an
    /// empty write, for readiness checks.
    ///
    /// # Errors
    /// When the writer has stopped or the file cannot be written.
    pub async fn probe(&self) -> Result<(), BusError> {
        self.call(Durability::Normal, |_, _, _| Ok(())).await
    }

    /// Messages waiting or in flight on every stage, in one read.
    ///
    /// # Errors
    /// When the file cannot be read.
    pub fn depths(&self) -> Result<Vec<(Stage, u64)>, BusError> {
        let connection = open_durable(&self.path).map_err(bus_error)?;
        let mut statement = connection
            .prepare("SELECT stage, count(*) FROM bus_messages GROUP BY stage")
            .map_err(bus_error)?;
        let counts = statement
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })
            .map_err(bus_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(bus_error)?;
        Ok(Stage::ALL
            .into_iter()
            .map(|stage| {
                let count = counts
                    .iter()
                    .find(|(name, _)| name == stage.name())
                    .map_or(0, |(_, count)| u64::try_from(*count).unwrap_or(0));
                (stage, count)
            })
            .collect())
    }

    /// Messages waiting or in flight on `stage`.
    ///
    /// # Errors
    /// When the file cannot be read.
    pub fn depth(&self, stage: Stage) -> Result<u64, BusError> {
        let connection = open_durable(&self.path).map_err(bus_error)?;
        connection
            .query_row(
                "SELECT count(*) FROM bus_messages WHERE stage = ?1",
                params![stage.name()],
                |row| row.get::<_, i64>(0),
            )
            .map_err(bus_error)
            .map(|count| u64::try_from(count).unwrap_or(0))
    }
}

/// Creates or migrates the bus's tables in the file of `connection`, which may be the
/// store's (the bus tracks its schema in `schema_versions`, apart from the store's).
///
/// # Errors
/// When the schema cannot be read or migrated.
pub(crate) fn prepare_schema(connection: &mut Connection) -> rusqlite::Result<()> {
    // A bus file written before the bus could share the store's file: its tables had no
    // prefix, and its version was the file's `user_version`.
    if has_table(connection, "messages")? && !has_table(connection, "bus_messages")? {
        let transaction = connection.transaction()?;
        transaction.execute_batch(
            "ALTER TABLE messages RENAME TO bus_messages;
             ALTER TABLE dead_letters RENAME TO bus_dead_letters;
             DROP INDEX messages_ready;
             CREATE INDEX bus_messages_ready ON bus_messages (stage, available_at, seq);",
        )?;
        // The renamed tables are those of the first migration.
        record_version(&transaction, SCHEMA, 1)?;
        transaction.commit()?;
    }
    migrate_component(connection, SCHEMA, MIGRATIONS)
}

/// Moves the messages and dead letters of the bus file at `from` (the bus's own file,
/// as it was before the bus moved into the store's) into the bus in the file at `into`,
/// then renames `from` to `<from>.imported`; returns how many messages moved. A crash
/// before the rename moves them again on the next start: delivered twice, which the
/// stages' processed markers absorb.
///
/// # Errors
/// When either file cannot be read or written.
pub fn import_file(into: &Path, from: &Path) -> Result<usize, BusError> {
    let mut old = open_durable(from).map_err(bus_error)?;
    prepare_schema(&mut old).map_err(bus_error)?;
    drop(old);
    let from_name = from
        .to_str()
        .ok_or_else(|| BusError::Other(format!("{} is not a UTF-8 path", from.display())))?;
    let connection = open_durable(into).map_err(bus_error)?;
    connection
        .execute("ATTACH DATABASE ?1 AS old", [from_name])
        .map_err(bus_error)?;
    let transaction = connection.unchecked_transaction().map_err(bus_error)?;
    let moved = transaction
        .execute(
            "INSERT INTO main.bus_messages (stage, message_id, routing_key, headers, body, attempts, available_at)
             SELECT stage, message_id, routing_key, headers, body, attempts, available_at
             FROM old.bus_messages ORDER BY seq",
            [],
        )
        .map_err(bus_error)?;
    transaction
        .execute(
            "INSERT INTO main.bus_dead_letters (stage, message_id, routing_key, headers, body, attempts, reason, failed_at)
             SELECT stage, message_id, routing_key, headers, body, attempts, reason, failed_at
             FROM old.bus_dead_letters ORDER BY seq",
            [],
        )
        .map_err(bus_error)?;
    transaction.commit().map_err(bus_error)?;
    connection
        .execute("DETACH DATABASE old", [])
        .map_err(bus_error)?;
    drop(connection);
    let mut imported = from.as_os_str().to_owned();
    imported.push(".imported");
    std::fs::rename(from, &imported)
        .map_err(|error| BusError::Other(format!("cannot rename {}: {error}", from.display())))?;
    Ok(moved)
}

/// Enqueues `message` on `stage` in the transaction of `connection` (a write of the
/// bus's writer), available at once or at its `available_at`, if later. A message due at
/// once is leased to a consumer of this process with room ([`LocalConsumers::reserve`]),
/// its row added to `handed`; the caller hands those over
/// ([`Handed::deliver`]) and wakes the stage's consumers once the transaction has
/// committed.
///
/// # Errors
/// When the row cannot be inserted.
pub(crate) fn enqueue(
    connection: &Connection,
    stage: Stage,
    message: MessageRow,
    now: i64,
    consumers: &LocalConsumers,
    handed: &mut Handed,
) -> rusqlite::Result<()> {
    let available_at = message.available_at.map_or(now, |at| at.max(now));
    let taker = if available_at <= now {
        consumers.reserve(stage)
    } else {
        None
    };
    // Handed over, the row is as a lease leaves it: the consumer's lease, one delivery
    // counted, invisible for the visibility timeout.
    let (attempts, available_at, lease) = match &taker {
        Some(inbox) => (
            1,
            now.saturating_add(inbox.visibility_ms),
            Some(inbox.lease),
        ),
        None => (0, available_at, None),
    };
    let inserted = connection
        .prepare_cached(
            "INSERT INTO bus_messages (stage, message_id, routing_key, headers, body, available_at, attempts, lease)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .and_then(|mut statement| {
            statement.execute(params![
                stage.name(),
                message.id,
                message.routing_key,
                message.headers,
                message.body,
                available_at,
                attempts,
                lease
            ])
        });
    match (taker, inserted) {
        (Some(inbox), Ok(_)) => {
            let row = LeasedRow {
                seq: connection.last_insert_rowid(),
                id: message.id,
                routing_key: message.routing_key,
                headers: message.headers,
                body: message.body,
                attempt: 1,
                lease: inbox.lease,
            };
            handed.push(inbox, row);
            Ok(())
        }
        (Some(inbox), Err(error)) => {
            inbox.give_room(1);
            Err(error)
        }
        (None, inserted) => inserted.map(drop),
    }
}

impl From<WriteError> for BusError {
    fn from(error: WriteError) -> Self {
        if error.is_transient() {
            BusError::Unavailable(error.to_string())
        } else {
            BusError::Other(error.to_string())
        }
    }
}

impl Bus for EmbeddedBus {
    type Consumer = EmbeddedConsumer;

    async fn publish(&self, stage: Stage, messages: Vec<BusMessage>) -> Result<(), BusError> {
        if messages.is_empty() {
            return Ok(());
        }
        let messages = messages
            .into_iter()
            .map(MessageRow::of)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| BusError::Other(error.to_string()))?;
        let consumers = Arc::clone(&self.consumers);
        let answer = self.writer.queue_then(
            Durability::Full,
            Result::is_ok,
            |enqueued: &mut Result<Handed, BusError>| {
                if let Ok(handed) = enqueued {
                    handed.deliver();
                }
            },
            move |connection| {
                let mut handed = Handed::default();
                let now = now_ms();
                for message in messages {
                    enqueue(connection, stage, message, now, &consumers, &mut handed)
                        .map_err(bus_error)?;
                }
                Ok(handed)
            },
        )?;
        received(answer).await??;
        self.consumers.notify(stage);
        Ok(())
    }

    async fn consumer(
        &self,
        stage: Stage,
        options: ConsumerOptions,
    ) -> Result<EmbeddedConsumer, BusError> {
        let inbox = self.consumers.register(
            stage,
            usize::from(options.prefetch),
            new_lease(),
            millis(options.visibility_timeout),
        );
        Ok(EmbeddedConsumer {
            bus: self.clone(),
            stage,
            options,
            inbox,
            last_batch: 0,
            last_lease: None,
            ahead: None,
            ready: Vec::new(),
        })
    }
}

/// Reads one stage of the embedded bus.
///
/// Like a RabbitMQ consumer with a prefetch window, it holds up to `prefetch`
/// deliveries not settled yet (acknowledged, retried, deferred or rejected), counting
/// those waiting for the next call:
/// - While it is caught up (its last lease found no more ready messages), messages
///   enqueued on its stage in this process are leased to it in the transaction that
///   enqueues them and handed over in memory once committed (see [`handoff`]): no lease
///   of its own, no read. It still leases every [`IDLE_POLL`], for messages become due
///   (retries, timers) or published by another process.
/// - Otherwise it leases from the file, and asks for its next batch while its caller
///   still holds one, when told that the batch is handled ([`Consumer::lease_ahead`]).
///   The next call of [`Consumer::next_batch`] then finds its batch leased already,
///   instead of waiting for the writer while the stage idles. (Asked for when the batch
///   is handed out, the lease would miss what comes while it is handled, and that would
///   wait a batch longer.)
///
/// Dropped, it gives back at once what was handed to it or leased ahead and not handed
/// out; deliveries handed out and not settled, and a lease ahead still on its way, come
/// back after the visibility timeout.
#[derive(Debug)]
pub struct EmbeddedConsumer {
    bus: EmbeddedBus,
    stage: Stage,
    options: ConsumerOptions,
    /// What the writer hands it, and the room left in its window.
    inbox: Arc<Inbox>,
    /// The size of batch the last call of [`Consumer::next_batch`] asked for.
    last_batch: usize,
    /// When it last asked the writer for a lease.
    last_lease: Option<Instant>,
    /// The lease asked of the writer ahead of the next call, if any.
    ahead: Option<LeaseAnswer>,
    /// Deliveries leased or handed over and not handed out yet (when a call asks for
    /// fewer).
    ready: Vec<Delivery>,
}

impl EmbeddedConsumer {
    /// Queues a lease of up to `max` messages for the writer.
    fn lease(&mut self, max: usize) -> Result<LeaseAnswer, BusError> {
        let (stage, visibility) = (self.stage, self.options.visibility_timeout);
        let inbox = Arc::clone(&self.inbox);
        self.last_lease = Some(Instant::now());
        // Not fsync'd: a lease lost with the machine only delivers its messages sooner.
        self.bus
            .queue(Durability::Normal, move |connection, options, now| {
                lease(connection, options, stage, max, visibility, now, &inbox)
            })
    }

    /// The deliveries of a lease, counted against the window.
    async fn leased(&self, answer: LeaseAnswer) -> Result<Vec<Delivery>, BusError> {
        let Leased {
            rows,
            dead_lettered,
        } = received(answer).await??;
        if dead_lettered > 0 {
            tracing::warn!(
                stage = %self.stage,
                moved = dead_lettered,
                max_deliveries = self.bus.options.max_deliveries,
                "the embedded bus dead-lettered messages past its delivery limit (bus_dead_letters)"
            );
            crate::metrics::bus_dead_lettered(
                self.stage.name(),
                "delivery limit reached",
                dead_lettered,
            );
        }
        let batch = deliveries(rows);
        self.inbox.take_room(batch.len());
        Ok(batch)
    }

    /// Whether it is time to look in the file for messages not handed over.
    fn lease_due(&self) -> bool {
        !self.inbox.is_caught_up() || self.last_lease.is_none_or(|at| at.elapsed() >= IDLE_POLL)
    }

    /// Up to `max` of the deliveries leased or handed over and not handed out yet, in
    /// publish order (what was handed over is newer than what its lease left in the
    /// file, what a lease finds may be older than what was handed over); `None` when
    /// there are none.
    fn take_ready(&mut self, max: usize) -> Option<Vec<Delivery>> {
        self.ready.extend(deliveries(self.inbox.take(usize::MAX)));
        if self.ready.is_empty() {
            return None;
        }
        self.ready.sort_by_key(|delivery| delivery.token.tag);
        let rest = self.ready.split_off(max.min(self.ready.len()));
        self.last_batch = max;
        Some(std::mem::replace(&mut self.ready, rest))
    }

    fn settled(&mut self, count: usize) {
        self.inbox.give_room(count);
    }

    /// Gives `items` back to the queue, due after their delays, as retries (`counts`:
    /// the delivery counts as an attempt) or deferrals, all in one write.
    async fn later(
        &mut self,
        items: &[(&Delivery, Duration)],
        counts: bool,
    ) -> Result<(), BusError> {
        if items.is_empty() {
            return Ok(());
        }
        self.settled(items.len());
        let items: Vec<(DeliveryToken, Duration)> = items
            .iter()
            .map(|(delivery, delay)| (delivery.token, *delay))
            .collect();
        // Each item is its own write, so that one that lost its lease fails alone.
        let answers: Vec<_> = items
            .into_iter()
            .map(|(token, delay)| {
                self.bus
                    .queue(Durability::Normal, move |connection, _, now| {
                        give_back(connection, token, delay, counts, now)
                    })
            })
            .collect();
        let mut first_failure = Ok(());
        for answer in answers {
            let result = match answer {
                Ok(answer) => received(answer)
                    .await
                    .map_err(BusError::from)
                    .and_then(|r| r),
                Err(error) => Err(error),
            };
            if let Err(error) = result
                && first_failure.is_ok()
            {
                first_failure = Err(error);
            }
        }
        first_failure
    }
}

impl Drop for EmbeddedConsumer {
    fn drop(&mut self) {
        let mut tokens: Vec<DeliveryToken> = self
            .ready
            .drain(..)
            .map(|delivery| delivery.token)
            .collect();
        for row in self.inbox.close() {
            if let (Ok(tag), Ok(generation)) = (u64::try_from(row.seq), u64::try_from(row.lease)) {
                tokens.push(DeliveryToken { tag, generation });
            }
        }
        if tokens.is_empty() {
            return;
        }
        // Not awaited: a give-back lost leaves the messages to come back after the
        // visibility timeout, as any unsettled delivery.
        drop(
            self.bus
                .queue(Durability::Normal, move |connection, _, now| {
                    for token in tokens {
                        // One whose lease ran out meanwhile is someone else's now.
                        match give_back(connection, token, Duration::ZERO, false, now) {
                            Ok(()) | Err(BusError::StaleDelivery(_)) => {}
                            Err(error) => return Err(error),
                        }
                    }
                    Ok(())
                }),
        );
    }
}

impl Consumer for EmbeddedConsumer {
    async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError> {
        let deadline = tokio::time::Instant::now() + wait;
        let max = max.min(usize::from(self.options.prefetch)).max(1);
        if let Some(ahead) = self.ahead.take() {
            let leased = self.leased(ahead).await?;
            self.ready.extend(leased);
        }
        let consumers = Arc::clone(&self.bus.consumers);
        loop {
            let notified = consumers.notified(self.stage);
            if let Some(batch) = self.take_ready(max) {
                return Ok(batch);
            }
            if self.lease_due() {
                let answer = self.lease(max)?;
                let leased = self.leased(answer).await?;
                self.ready.extend(leased);
                if let Some(batch) = self.take_ready(max) {
                    return Ok(batch);
                }
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            let nap = IDLE_POLL.min(deadline - now);
            let _ = tokio::time::timeout(nap, notified).await;
        }
    }

    async fn ack(&mut self, deliveries: &[Delivery]) -> Result<(), BusError> {
        if deliveries.is_empty() {
            return Ok(());
        }
        self.settled(deliveries.len());
        let tokens: Vec<DeliveryToken> = deliveries.iter().map(|delivery| delivery.token).collect();
        // Not fsync'd: an acknowledgement lost with the machine only delivers its
        // messages again, which the stages' processed markers absorb.
        let stale = self
            .bus
            .call(Durability::Normal, move |connection, _, _| {
                acknowledge(connection, &tokens)
            })
            .await?;
        if stale == 0 {
            Ok(())
        } else {
            Err(BusError::StaleDelivery(format!(
                "{stale} of {} acknowledged deliveries had lost their lease and will be delivered again",
                deliveries.len()
            )))
        }
    }

    async fn retry(&mut self, delivery: &Delivery, delay: Duration) -> Result<(), BusError> {
        self.later(&[(delivery, delay)], true).await
    }

    async fn defer(&mut self, delivery: &Delivery, delay: Duration) -> Result<(), BusError> {
        self.later(&[(delivery, delay)], false).await
    }

    async fn retry_all(&mut self, retries: &[(&Delivery, Duration)]) -> Result<(), BusError> {
        self.later(retries, true).await
    }

    async fn defer_all(&mut self, deferrals: &[(&Delivery, Duration)]) -> Result<(), BusError> {
        self.later(deferrals, false).await
    }

    fn acknowledges_in_commit(&self) -> bool {
        self.bus.in_store
    }

    fn acknowledged_in_commit(&mut self, count: usize) {
        self.settled(count);
    }

    /// When the window still has room and what comes is not handed over, asks the
    /// writer for the next batch (as large as the last call asked for) now, to be
    /// collected by the next call. Only these leases ahead are held to the window: a
    /// consumer whose count went wrong (a delivery dropped unsettled) reads as it did
    /// without them, never less.
    fn lease_ahead(&mut self) {
        let room = self.inbox.room();
        if room > 0 && self.last_batch > 0 && self.ahead.is_none() && self.lease_due() {
            // A writer that has stopped answers the next call with its error.
            self.ahead = self.lease(room.min(self.last_batch)).ok();
        }
    }

    async fn reject(&mut self, delivery: &Delivery, reason: &str) -> Result<(), BusError> {
        self.settled(1);
        let (token, reason) = (delivery.token, reason.to_owned());
        self.bus
            .call(Durability::Normal, move |connection, _, now| {
                dead_letter(connection, token, &reason, now)
            })
            .await?;
        tracing::warn!(stage = %self.stage, message_id = %delivery.message.id, "the embedded bus dead-lettered a rejected message (bus_dead_letters)");
        crate::metrics::bus_dead_lettered(self.stage.name(), "rejected", 1);
        Ok(())
    }
}

/// Deletes the acknowledged messages in the transaction of `connection` (a write of the
/// bus's writer); how many tokens were stale (their lease lost, the message delivered
/// again), whose messages stay.
///
/// # Errors
/// When a token is not of this bus or the rows cannot be deleted.
pub(crate) fn acknowledge(
    connection: &Connection,
    tokens: &[DeliveryToken],
) -> Result<usize, BusError> {
    let mut statement = connection
        .prepare_cached("DELETE FROM bus_messages WHERE seq = ?1 AND lease = ?2")
        .map_err(bus_error)?;
    let mut stale = 0;
    for token in tokens {
        if statement
            .execute(params![tag(token)?, generation(token)?])
            .map_err(bus_error)?
            == 0
        {
            stale += 1;
        }
    }
    Ok(stale)
}

/// Makes a leased message available again after `delay`, its delivery counted as an
/// attempt (`counts`, a retry) or given back (a deferral).
fn give_back(
    connection: &Connection,
    token: DeliveryToken,
    delay: Duration,
    counts: bool,
    now: i64,
) -> Result<(), BusError> {
    let due = now.saturating_add(millis(delay));
    // Attempts are counted when a message is leased; a deferral gives the lease's count
    // back.
    let given_back = i64::from(!counts);
    let (seq, lease) = (tag(&token)?, generation(&token)?);
    let changed = connection
        .prepare_cached(
            "UPDATE bus_messages SET available_at = ?3, lease = NULL,
                    attempts = MAX(attempts - ?4, 0)
             WHERE seq = ?1 AND lease = ?2",
        )
        .and_then(|mut statement| statement.execute(params![seq, lease, due, given_back]))
        .map_err(bus_error)?;
    owned(changed)
}

/// Moves a leased message to the dead letters with `reason`.
fn dead_letter(
    connection: &Connection,
    token: DeliveryToken,
    reason: &str,
    now: i64,
) -> Result<(), BusError> {
    let moved = connection
        .execute(
            "INSERT INTO bus_dead_letters (stage, message_id, routing_key, headers, body, attempts, reason, failed_at)
             SELECT stage, message_id, routing_key, headers, body, attempts, ?3, ?4
             FROM bus_messages WHERE seq = ?1 AND lease = ?2",
            params![tag(&token)?, generation(&token)?, reason, now],
        )
        .map_err(bus_error)?;
    owned(moved)?;
    connection
        .execute(
            "DELETE FROM bus_messages WHERE seq = ?1",
            params![tag(&token)?],
        )
        .map_err(bus_error)?;
    Ok(())
}

fn owned(changed: usize) -> Result<(), BusError> {
    if changed == 1 {
        Ok(())
    } else {
        Err(BusError::StaleDelivery(
            "the delivery lost its lease and will be delivered again".to_owned(),
        ))
    }
}

/// The next `?4` messages of stage `?1` ready at `?3`, in the order of the ready index.
macro_rules! ready_window {
    () => {
        "SELECT seq FROM bus_messages WHERE stage = ?1 AND available_at <= ?3
         ORDER BY available_at, seq LIMIT ?4"
    };
}

/// Copies the messages of the ready window delivered `?2` times or more to the dead letters.
const DEAD_LETTER_LIMIT_REACHED: &str = concat!(
    "INSERT INTO bus_dead_letters (stage, message_id, routing_key, headers, body, attempts, reason, failed_at)
     SELECT stage, message_id, routing_key, headers, body, attempts, 'delivery limit reached', ?3
     FROM bus_messages WHERE attempts >= ?2 AND seq IN (",
    ready_window!(),
    ")"
);

/// Deletes the messages [`DEAD_LETTER_LIMIT_REACHED`] copied.
const DELETE_LIMIT_REACHED: &str = concat!(
    "DELETE FROM bus_messages WHERE attempts >= ?2 AND seq IN (",
    ready_window!(),
    ")"
);

/// Leases up to `max` ready messages of `stage` for `visibility`; when fewer were ready,
/// the consumer of `inbox` has caught up, and messages enqueued from now on may be
/// handed to it.
fn lease(
    transaction: &Connection,
    options: &EmbeddedBusOptions,
    stage: Stage,
    max: usize,
    visibility: Duration,
    now: i64,
    inbox: &Inbox,
) -> Result<Leased, BusError> {
    let limit = i64::try_from(max).unwrap_or(i64::MAX);
    // Every statement here walks the ready messages in the order of the index
    // (available_at, seq) and stops after `limit`: a lease costs the same with ten
    // messages waiting or a million. (Ordered by seq, SQLite sorted every ready message,
    // and the delivery-limit check below read each of them, twice, for every lease.)
    //
    // Poison messages first: among the next `limit` ready, those past the delivery limit
    // go to the dead letters. The lease below skips any further back; they come to the
    // front of a later lease and are moved then.
    let mut moved = 0;
    for sql in [DEAD_LETTER_LIMIT_REACHED, DELETE_LIMIT_REACHED] {
        moved = transaction
            .prepare_cached(sql)
            .and_then(|mut statement| {
                statement.execute(params![stage.name(), options.max_deliveries, now, limit])
            })
            .map_err(bus_error)?;
    }
    let lease = new_lease();
    let until = now.saturating_add(millis(visibility));
    let mut statement = transaction
        .prepare_cached(
            "UPDATE bus_messages SET attempts = attempts + 1, available_at = ?3, lease = ?4
             WHERE seq IN (SELECT seq FROM bus_messages
                           WHERE stage = ?1 AND available_at <= ?5 AND attempts < ?6
                           ORDER BY available_at, seq LIMIT ?2)
             RETURNING seq, message_id, routing_key, headers, body, attempts",
        )
        .map_err(bus_error)?;
    let mut rows = statement
        .query_map(
            params![
                stage.name(),
                limit,
                until,
                lease,
                now,
                options.max_deliveries
            ],
            |row| {
                Ok(LeasedRow {
                    seq: row.get(0)?,
                    id: row.get(1)?,
                    routing_key: row.get(2)?,
                    headers: row.get(3)?,
                    body: row.get(4)?,
                    attempt: row.get(5)?,
                    lease,
                })
            },
        )
        .map_err(bus_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(bus_error)?;
    if rows.len() < max {
        inbox.caught_up();
    }
    // RETURNING yields rows in no promised order; deliver in publish order.
    rows.sort_by_key(|row| row.seq);
    Ok(Leased {
        rows,
        dead_lettered: moved,
    })
}

fn message_from(
    id: &str,
    routing_key: String,
    headers: &str,
    body: Vec<u8>,
) -> Result<BusMessage, BusError> {
    Ok(BusMessage {
        id: Uuid::parse_str(id)
            .map_err(|error| BusError::Other(format!("corrupt message id: {error}")))?,
        routing_key,
        headers: serde_json::from_str::<BTreeMap<String, String>>(headers)
            .map_err(|error| BusError::Other(format!("corrupt headers: {error}")))?,
        body,
    })
}

/// A row of `bus_dead_letters` as stored.
struct StoredDeadLetter {
    seq: i64,
    stage: String,
    id: String,
    routing_key: String,
    headers: String,
    body: Vec<u8>,
    attempts: u32,
    reason: String,
    failed_at: i64,
}

impl StoredDeadLetter {
    /// The letter, whatever of the row is damaged: an unknown stage reads as the
    /// inbound one, a message id that is not a UUID as one derived from the row, headers
    /// that are not a JSON object as none; the reason says so.
    fn into_letter(self) -> BusDeadLetter {
        let mut reason = self.reason;
        let stage = Stage::from_name(&self.stage).unwrap_or_else(|| {
            reason.push_str(&format!(" (its stage {:?} is unknown)", self.stage));
            Stage::Inbound
        });
        let id = Uuid::parse_str(&self.id).unwrap_or_else(|error| {
            reason.push_str(&format!(" (its id {:?} is not a UUID: {error})", self.id));
            Uuid::new_v5(
                &Uuid::NAMESPACE_OID,
                format!("bus_dead_letters/{}", self.seq).as_bytes(),
            )
        });
        let headers = serde_json::from_str::<BTreeMap<String, String>>(&self.headers)
            .unwrap_or_else(|error| {
                reason.push_str(&format!(" (its headers are unreadable: {error})"));
                BTreeMap::new()
            });
        BusDeadLetter {
            stage,
            message: BusMessage {
                id,
                routing_key: self.routing_key,
                headers,
                body: self.body,
            },
            attempts: self.attempts,
            reason,
            failed_at: Timestamp::from_millisecond(self.failed_at).unwrap_or(Timestamp::UNIX_EPOCH),
            handle: u64::try_from(self.seq).unwrap_or(0),
        }
    }
}

fn tag(token: &DeliveryToken) -> Result<i64, BusError> {
    i64::try_from(token.tag)
        .map_err(|_| BusError::StaleDelivery("not a delivery of this bus".to_owned()))
}

fn generation(token: &DeliveryToken) -> Result<i64, BusError> {
    i64::try_from(token.generation)
        .map_err(|_| BusError::StaleDelivery("not a delivery of this bus".to_owned()))
}

/// A lease number no other lease of any process is likely to have (63 random bits).
fn new_lease() -> i64 {
    let (_, random) = Uuid::now_v7().as_u64_pair();
    i64::try_from(random >> 1).unwrap_or(i64::MAX)
}

/// `duration` in milliseconds, saturated.
fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn now_ms() -> i64 {
    Timestamp::now().as_millisecond()
}

fn bus_error(error: rusqlite::Error) -> BusError {
    if is_busy(&error) {
        BusError::Unavailable(error.to_string())
    } else {
        BusError::Other(error.to_string())
    }
}
