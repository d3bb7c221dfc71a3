//! The embedded bus: a durable queue in a SQLite file, for one machine with no broker.
//!
//! One writer thread owns the write connection and applies every operation (publish,
//! lease, ack, retry, reject) that is waiting in one transaction: a group commit, so
//! many small publishes share one fsync while each caller still hears back only once
//! its own operation is durable. Several processes may open the same file; SQLite's
//! lock serialises them and consumers poll when idle.
//!
//! Semantics match RabbitMQ's quorum queues as the hub uses them: a leased message is
//! invisible until acknowledged or until its visibility timeout passes, when it is
//! delivered again with its attempt counted; after `max_deliveries` it is moved to the
//! dead letters instead.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{Connection, Transaction, params};
use tokio::sync::{Notify, oneshot};
use transload_core::bus::{
    AVAILABLE_AT_HEADER, Bus, BusError, BusMessage, Consumer, ConsumerOptions, Delivery,
    DeliveryToken, Stage,
};
use uuid::Uuid;

use crate::sqlite::{
    Durability, OPERATION_SAVEPOINT, is_busy, migrate, open_durable, open_savepoint, open_writer,
    release_savepoint, roll_back_savepoint, set_sync,
};

const MIGRATIONS: &[&str] = &[include_str!("migrations/embedded_0001.sql")];
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
    writer: Sender<Operation>,
    published: Arc<Notify>,
    path: Arc<Path>,
}

/// One operation for the writer thread, with where to send its result.
#[derive(Debug)]
enum Operation {
    Publish {
        stage: Stage,
        messages: Vec<MessageRow>,
        reply: oneshot::Sender<Result<(), BusError>>,
    },
    Lease {
        stage: Stage,
        max: usize,
        visibility: Duration,
        reply: oneshot::Sender<Result<Vec<LeasedRow>, BusError>>,
    },
    Ack {
        tokens: Vec<DeliveryToken>,
        reply: oneshot::Sender<Result<(), BusError>>,
    },
    Retry {
        token: DeliveryToken,
        delay: Duration,
        /// Whether the delivery counts as an attempt (a retry) or not (a deferral).
        counts: bool,
        reply: oneshot::Sender<Result<(), BusError>>,
    },
    Reject {
        token: DeliveryToken,
        reason: String,
        reply: oneshot::Sender<Result<(), BusError>>,
    },
}

/// A message as the writer inserts it: its columns, encoded by the publisher, so that
/// the writer thread, which every stage waits for, only binds them.
#[derive(Debug)]
struct MessageRow {
    id: String,
    routing_key: String,
    headers: String,
    body: Vec<u8>,
    /// The instant of its `transload-available-at` header (Unix ms), if readable.
    available_at: Option<i64>,
}

impl MessageRow {
    fn of(message: BusMessage) -> Result<Self, BusError> {
        Ok(Self {
            id: message.id.to_string(),
            headers: serde_json::to_string(&message.headers)
                .map_err(|error| BusError::Other(error.to_string()))?,
            available_at: message
                .headers
                .get(AVAILABLE_AT_HEADER)
                .and_then(|at| at.parse::<Timestamp>().ok())
                .map(Timestamp::as_millisecond),
            routing_key: message.routing_key,
            body: message.body,
        })
    }
}

/// A leased message as the writer read it; the consumer decodes it
/// ([`LeasedRow::delivery`]) on its own thread.
#[derive(Debug)]
struct LeasedRow {
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
    /// Opens (creating) the bus in the SQLite file at `path`.
    ///
    /// # Errors
    /// When the file cannot be opened or migrated.
    pub fn open(path: &Path, options: EmbeddedBusOptions) -> Result<EmbeddedBus, BusError> {
        let shared_path: Arc<Path> = Arc::from(path);
        let mut connection = open_writer(path, Arc::downgrade(&shared_path)).map_err(bus_error)?;
        migrate(&mut connection, MIGRATIONS).map_err(bus_error)?;
        let (writer, operations) = channel();
        let thread_name = format!("transload-bus-{}", path.display());
        std::thread::Builder::new()
            .name(thread_name)
            .spawn(move || {
                Writer {
                    connection,
                    options,
                    sync: Durability::Full,
                }
                .run(&operations);
            })
            .map_err(|error| BusError::Other(format!("cannot start the bus writer: {error}")))?;
        Ok(EmbeddedBus {
            writer,
            published: Arc::new(Notify::new()),
            path: shared_path,
        })
    }

    /// The file the bus lives in.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn call<T>(
        &self,
        operation: impl FnOnce(oneshot::Sender<Result<T, BusError>>) -> Operation,
    ) -> Result<T, BusError> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(operation(reply))
            .map_err(|_| BusError::Unavailable("the bus writer has stopped".to_owned()))?;
        answer
            .await
            .map_err(|_| BusError::Unavailable("the bus writer has stopped".to_owned()))?
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
                "SELECT message_id, routing_key, headers, body, attempts, reason FROM dead_letters
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

    /// Whether the bus can write now: a round trip through the writer thread with an
    /// empty write transaction (an acknowledgement of nothing), for readiness checks.
    ///
    /// # Errors
    /// When the writer has stopped or the file cannot be written.
    pub async fn probe(&self) -> Result<(), BusError> {
        self.call(|reply| Operation::Ack {
            tokens: Vec::new(),
            reply,
        })
        .await
    }

    /// Messages waiting or in flight on every stage, in one read.
    ///
    /// # Errors
    /// When the file cannot be read.
    pub fn depths(&self) -> Result<Vec<(Stage, u64)>, BusError> {
        let connection = open_durable(&self.path).map_err(bus_error)?;
        let mut statement = connection
            .prepare("SELECT stage, count(*) FROM messages GROUP BY stage")
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
                "SELECT count(*) FROM messages WHERE stage = ?1",
                params![stage.name()],
                |row| row.get::<_, i64>(0),
            )
            .map_err(bus_error)
            .map(|count| u64::try_from(count).unwrap_or(0))
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
            .collect::<Result<Vec<_>, _>>()?;
        self.call(|reply| Operation::Publish {
            stage,
            messages,
            reply,
        })
        .await?;
        self.published.notify_waiters();
        Ok(())
    }

    async fn consumer(
        &self,
        stage: Stage,
        options: ConsumerOptions,
    ) -> Result<EmbeddedConsumer, BusError> {
        Ok(EmbeddedConsumer {
            bus: self.clone(),
            stage,
            options,
            unsettled: 0,
            ahead: None,
            leased_ahead: Vec::new(),
        })
    }
}

/// Reads one stage of the embedded bus.
///
/// Like a RabbitMQ consumer with a prefetch window, it asks for the next batch as soon as
/// it hands one out, when the window leaves room: up to `prefetch` deliveries are leased
/// and not yet settled (acknowledged, retried, deferred or rejected). The next call of
/// [`Consumer::next_batch`] then finds its batch leased already, instead of waiting for
/// the writer while the stage idles. A consumer dropped with a batch leased ahead leaves
/// it to come back after the visibility timeout, as any unsettled delivery.
#[derive(Debug)]
pub struct EmbeddedConsumer {
    bus: EmbeddedBus,
    stage: Stage,
    options: ConsumerOptions,
    /// Deliveries handed out and not settled yet.
    unsettled: usize,
    /// The lease asked of the writer ahead of the next call, if any.
    ahead: Option<oneshot::Receiver<Result<Vec<LeasedRow>, BusError>>>,
    /// Deliveries leased ahead and not handed out yet (when a call asks for fewer).
    leased_ahead: Vec<Delivery>,
}

impl EmbeddedConsumer {
    /// Counts `batch` as unsettled and, when the window still has room, asks the writer
    /// for the next batch (of up to `max`) now, to be collected by the next call. Only
    /// these leases ahead are held to the window: a consumer whose count went wrong (a
    /// delivery dropped unsettled) reads as it did without them, never less.
    fn hand_out(&mut self, batch: Vec<Delivery>, max: usize) -> Vec<Delivery> {
        self.unsettled = self.unsettled.saturating_add(batch.len());
        let held = self.unsettled.saturating_add(self.leased_ahead.len());
        let room = usize::from(self.options.prefetch).saturating_sub(held);
        if room > 0 && self.ahead.is_none() {
            let (reply, answer) = oneshot::channel();
            let asked = self.bus.writer.send(Operation::Lease {
                stage: self.stage,
                max: room.min(max),
                visibility: self.options.visibility_timeout,
                reply,
            });
            // A writer that has stopped answers the next call with its error.
            if asked.is_ok() {
                self.ahead = Some(answer);
            }
        }
        batch
    }

    fn settled(&mut self, count: usize) {
        self.unsettled = self.unsettled.saturating_sub(count);
    }
}

impl Consumer for EmbeddedConsumer {
    async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError> {
        let deadline = tokio::time::Instant::now() + wait;
        let max = max.min(usize::from(self.options.prefetch)).max(1);
        if self.leased_ahead.is_empty()
            && let Some(ahead) = self.ahead.take()
        {
            let rows = ahead
                .await
                .map_err(|_| BusError::Unavailable("the bus writer has stopped".to_owned()))??;
            self.leased_ahead = deliveries(rows);
        }
        if !self.leased_ahead.is_empty() {
            let rest = self
                .leased_ahead
                .split_off(max.min(self.leased_ahead.len()));
            let batch = std::mem::replace(&mut self.leased_ahead, rest);
            return Ok(self.hand_out(batch, max));
        }
        let published = Arc::clone(&self.bus.published);
        loop {
            let notified = published.notified();
            let (stage, visibility) = (self.stage, self.options.visibility_timeout);
            let batch = deliveries(
                self.bus
                    .call(|reply| Operation::Lease {
                        stage,
                        max,
                        visibility,
                        reply,
                    })
                    .await?,
            );
            if !batch.is_empty() {
                return Ok(self.hand_out(batch, max));
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
        let tokens = deliveries.iter().map(|delivery| delivery.token).collect();
        self.bus
            .call(|reply| Operation::Ack { tokens, reply })
            .await
    }

    async fn retry(&mut self, delivery: &Delivery, delay: Duration) -> Result<(), BusError> {
        self.settled(1);
        let token = delivery.token;
        self.bus
            .call(|reply| Operation::Retry {
                token,
                delay,
                counts: true,
                reply,
            })
            .await
    }

    async fn defer(&mut self, delivery: &Delivery, delay: Duration) -> Result<(), BusError> {
        self.settled(1);
        let token = delivery.token;
        self.bus
            .call(|reply| Operation::Retry {
                token,
                delay,
                counts: false,
                reply,
            })
            .await
    }

    async fn retry_all(&mut self, retries: &[(&Delivery, Duration)]) -> Result<(), BusError> {
        self.settled(retries.len());
        later_all(&self.bus, retries, true).await
    }

    async fn defer_all(&mut self, deferrals: &[(&Delivery, Duration)]) -> Result<(), BusError> {
        self.settled(deferrals.len());
        later_all(&self.bus, deferrals, false).await
    }

    async fn reject(&mut self, delivery: &Delivery, reason: &str) -> Result<(), BusError> {
        self.settled(1);
        let (token, reason) = (delivery.token, reason.to_owned());
        self.bus
            .call(|reply| Operation::Reject {
                token,
                reason,
                reply,
            })
            .await
    }
}

/// Retries (`counts`) or deferrals handed to the writer all at once, so that it applies
/// them in one transaction rather than one after another; the first failure, if any.
async fn later_all(
    bus: &EmbeddedBus,
    items: &[(&Delivery, Duration)],
    counts: bool,
) -> Result<(), BusError> {
    let calls = items.iter().map(|(delivery, delay)| {
        let (token, delay) = (delivery.token, *delay);
        bus.call(move |reply| Operation::Retry {
            token,
            delay,
            counts,
            reply,
        })
    });
    futures_util::future::join_all(calls)
        .await
        .into_iter()
        .collect()
}

/// The writer thread's state.
struct Writer {
    connection: Connection,
    options: EmbeddedBusOptions,
    sync: Durability,
}

/// An operation's result, held until the transaction it belongs to has committed.
enum Pending {
    Unit(oneshot::Sender<Result<(), BusError>>, Result<(), BusError>),
    Leased(
        oneshot::Sender<Result<Vec<LeasedRow>, BusError>>,
        Result<Vec<LeasedRow>, BusError>,
    ),
}

impl Writer {
    fn run(mut self, operations: &Receiver<Operation>) {
        while let Ok(first) = operations.recv() {
            let mut batch = vec![first];
            while let Ok(next) = operations.try_recv() {
                batch.push(next);
            }
            self.apply_batch(batch);
        }
        tracing::debug!("embedded bus writer stopped: every handle is gone");
    }

    /// Applies `batch` in one transaction and answers each caller after the commit.
    /// The commit is fsync'd when the batch publishes; leases, acknowledgements, retries
    /// and rejections alone are not: losing them with the machine only delivers their
    /// messages again, which the stages' processed markers absorb.
    fn apply_batch(&mut self, batch: Vec<Operation>) {
        let options = self.options.clone();
        let publishes = batch
            .iter()
            .any(|operation| matches!(operation, Operation::Publish { .. }));
        let sync = if publishes {
            Durability::Full
        } else {
            Durability::Normal
        };
        if let Err(error) = set_sync(&self.connection, &mut self.sync, sync) {
            let error = bus_error(error);
            for operation in batch {
                fail(operation, &error);
            }
            return;
        }
        let transaction = match self
            .connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        {
            Ok(transaction) => transaction,
            Err(error) => {
                let error = bus_error(error);
                for operation in batch {
                    fail(operation, &error);
                }
                return;
            }
        };
        let pending: Vec<Pending> = batch
            .into_iter()
            .map(|operation| apply(&transaction, &options, operation))
            .collect();
        match transaction.commit() {
            Ok(()) => {
                for answer in pending {
                    match answer {
                        Pending::Unit(reply, result) => drop(reply.send(result)),
                        Pending::Leased(reply, result) => drop(reply.send(result)),
                    }
                }
            }
            Err(error) => {
                let error = bus_error(error);
                for answer in pending {
                    match answer {
                        Pending::Unit(reply, _) => drop(reply.send(Err(copy_error(&error)))),
                        Pending::Leased(reply, _) => drop(reply.send(Err(copy_error(&error)))),
                    }
                }
            }
        }
    }
}

fn fail(operation: Operation, error: &BusError) {
    match operation {
        Operation::Publish { reply, .. }
        | Operation::Ack { reply, .. }
        | Operation::Retry { reply, .. }
        | Operation::Reject { reply, .. } => drop(reply.send(Err(copy_error(error)))),
        Operation::Lease { reply, .. } => drop(reply.send(Err(copy_error(error)))),
    }
}

fn copy_error(error: &BusError) -> BusError {
    match error {
        BusError::Unavailable(text) => BusError::Unavailable(text.clone()),
        other => BusError::Other(other.to_string()),
    }
}

/// Applies one operation inside the batch's transaction. Each operation runs under a
/// savepoint, so one that fails leaves the others of the batch intact.
fn apply(
    transaction: &Transaction<'_>,
    options: &EmbeddedBusOptions,
    operation: Operation,
) -> Pending {
    let now = now_ms();
    match operation {
        Operation::Publish {
            stage,
            messages,
            reply,
        } => Pending::Unit(
            reply,
            savepoint(transaction, |tx| publish(tx, stage, &messages, now)),
        ),
        Operation::Lease {
            stage,
            max,
            visibility,
            reply,
        } => Pending::Leased(
            reply,
            savepoint(transaction, |tx| {
                lease(tx, options, stage, max, visibility, now)
            }),
        ),
        Operation::Ack { tokens, reply } => Pending::Unit(
            reply,
            savepoint(transaction, |tx| {
                let mut statement = tx
                    .prepare_cached("DELETE FROM messages WHERE seq = ?1 AND lease = ?2")
                    .map_err(bus_error)?;
                let mut stale = 0;
                for token in &tokens {
                    if statement
                        .execute(params![tag(token)?, generation(token)?])
                        .map_err(bus_error)?
                        == 0
                    {
                        stale += 1;
                    }
                }
                if stale == 0 {
                    Ok(())
                } else {
                    Err(BusError::StaleDelivery(format!(
                        "{stale} of {} acknowledged deliveries had lost their lease and will be delivered again",
                        tokens.len()
                    )))
                }
            }),
        ),
        Operation::Retry {
            token,
            delay,
            counts,
            reply,
        } => Pending::Unit(
            reply,
            savepoint(transaction, |tx| {
                let due = now.saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
                // Attempts are counted when a message is leased; a deferral gives the
                // lease's count back.
                let given_back = i64::from(!counts);
                let (seq, lease) = (tag(&token)?, generation(&token)?);
                let changed = tx
                    .prepare_cached(
                        "UPDATE messages SET available_at = ?3, lease = NULL,
                                attempts = MAX(attempts - ?4, 0)
                         WHERE seq = ?1 AND lease = ?2",
                    )
                    .and_then(|mut statement| {
                        statement.execute(params![seq, lease, due, given_back])
                    })
                    .map_err(bus_error)?;
                owned(changed)
            }),
        ),
        Operation::Reject {
            token,
            reason,
            reply,
        } => Pending::Unit(
            reply,
            savepoint(transaction, |tx| {
                let moved = tx
                    .execute(
                        "INSERT INTO dead_letters (stage, message_id, routing_key, headers, body, attempts, reason, failed_at)
                         SELECT stage, message_id, routing_key, headers, body, attempts, ?3, ?4
                         FROM messages WHERE seq = ?1 AND lease = ?2",
                        params![tag(&token)?, generation(&token)?, reason, now],
                    )
                    .map_err(bus_error)?;
                owned(moved)?;
                tx.execute("DELETE FROM messages WHERE seq = ?1", params![tag(&token)?])
                    .map_err(bus_error)?;
                Ok(())
            }),
        ),
    }
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

fn savepoint<T>(
    transaction: &Transaction<'_>,
    work: impl FnOnce(&Transaction<'_>) -> Result<T, BusError>,
) -> Result<T, BusError> {
    open_savepoint(transaction, OPERATION_SAVEPOINT).map_err(bus_error)?;
    match work(transaction) {
        Ok(value) => {
            release_savepoint(transaction, OPERATION_SAVEPOINT).map_err(bus_error)?;
            Ok(value)
        }
        Err(error) => {
            roll_back_savepoint(transaction, OPERATION_SAVEPOINT).map_err(bus_error)?;
            Err(error)
        }
    }
}

fn publish(
    transaction: &Transaction<'_>,
    stage: Stage,
    messages: &[MessageRow],
    now: i64,
) -> Result<(), BusError> {
    let mut statement = transaction
        .prepare_cached(
            "INSERT INTO messages (stage, message_id, routing_key, headers, body, available_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(bus_error)?;
    for message in messages {
        // Held back until the instant of its `transload-available-at` header, if later.
        let available_at = message.available_at.map_or(now, |at| at.max(now));
        statement
            .execute(params![
                stage.name(),
                message.id,
                message.routing_key,
                message.headers,
                message.body,
                available_at
            ])
            .map_err(bus_error)?;
    }
    Ok(())
}

/// The next `?4` messages of stage `?1` ready at `?3`, in the order of the ready index.
macro_rules! ready_window {
    () => {
        "SELECT seq FROM messages WHERE stage = ?1 AND available_at <= ?3
         ORDER BY available_at, seq LIMIT ?4"
    };
}

/// Copies the messages of the ready window delivered `?2` times or more to the dead letters.
const DEAD_LETTER_LIMIT_REACHED: &str = concat!(
    "INSERT INTO dead_letters (stage, message_id, routing_key, headers, body, attempts, reason, failed_at)
     SELECT stage, message_id, routing_key, headers, body, attempts, 'delivery limit reached', ?3
     FROM messages WHERE attempts >= ?2 AND seq IN (",
    ready_window!(),
    ")"
);

/// Deletes the messages [`DEAD_LETTER_LIMIT_REACHED`] copied.
const DELETE_LIMIT_REACHED: &str = concat!(
    "DELETE FROM messages WHERE attempts >= ?2 AND seq IN (",
    ready_window!(),
    ")"
);

fn lease(
    transaction: &Transaction<'_>,
    options: &EmbeddedBusOptions,
    stage: Stage,
    max: usize,
    visibility: Duration,
    now: i64,
) -> Result<Vec<LeasedRow>, BusError> {
    let limit = i64::try_from(max).unwrap_or(i64::MAX);
    // Every statement here walks the ready messages in the order of the index
    // (available_at, seq) and stops after `limit`: a lease costs the same with ten
    // messages waiting or a million. (Ordered by seq, SQLite sorted every ready message,
    // and the delivery-limit check below read each of them, twice, for every lease.)
    //
    // Poison messages first: among the next `limit` ready, those past the delivery limit
    // go to the dead letters. The lease below skips any further back; they come to the
    // front of a later lease and are moved then.
    for sql in [DEAD_LETTER_LIMIT_REACHED, DELETE_LIMIT_REACHED] {
        transaction
            .prepare_cached(sql)
            .and_then(|mut statement| {
                statement.execute(params![stage.name(), options.max_deliveries, now, limit])
            })
            .map_err(bus_error)?;
    }
    let lease = new_lease();
    let until = now.saturating_add(i64::try_from(visibility.as_millis()).unwrap_or(i64::MAX));
    let mut statement = transaction
        .prepare_cached(
            "UPDATE messages SET attempts = attempts + 1, available_at = ?3, lease = ?4
             WHERE seq IN (SELECT seq FROM messages
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
    // RETURNING yields rows in no promised order; deliver in publish order.
    rows.sort_by_key(|row| row.seq);
    Ok(rows)
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
