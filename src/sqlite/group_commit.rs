//! The writer of a SQLite file, with group commit: writes that arrive while a
//! transaction is being written wait, then go together in the next one. One fsync
//! serves them all, yet every caller hears back only once its own write is durable.
//!
//! A write that decides not to keep its changes (a duplicate, a conflict) must decide
//! before it changes anything: the writes check first, then write. (Each write used to
//! run in a savepoint of its own, to be rolled back alone; copying the pages it touched
//! into the savepoint's journal cost a tenth of the hub's throughput.) A write that
//! fails after changing rows (an I/O error, say) cannot be undone alone: its whole group
//! transaction is rolled back, and the other writes hear an error worth a retry.
//!
//! One thread of its own owns the write connection: it takes every write queued, commits
//! them together, answers, and takes what queued meanwhile. (An earlier design started a
//! blocking task per write, and the first to take the connection committed for all;
//! waking a dozen threads per transaction, to find the queue empty, cost the writer a
//! quarter of its time.) The store and the embedded bus write through it; when they
//! share a file they share one writer, so that a stage's commit and the messages it
//! publishes are one transaction.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use thiserror::Error;
use tokio::sync::oneshot;

use crate::sqlite::{Durability, is_busy, set_sync};

/// Why a write did not take effect: its transaction failed, or the writer is gone.
/// (What a write itself returns, errors included, is its own value.)
#[derive(Debug, Clone, Error)]
pub enum WriteError {
    /// The writer thread has stopped.
    #[error("the writer of the file has stopped")]
    Stopped,
    /// SQLite refused the transaction, or it was rolled back for another write of it.
    #[error("{message}")]
    Sqlite {
        /// SQLite's message.
        message: String,
        /// Whether another connection held the lock (worth a retry).
        busy: bool,
    },
}

impl WriteError {
    fn of(error: &rusqlite::Error) -> Self {
        WriteError::Sqlite {
            message: error.to_string(),
            busy: is_busy(error),
        }
    }

    /// Whether trying again later may work (the file was locked, the writer stopped).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            WriteError::Stopped => true,
            WriteError::Sqlite { busy, .. } => *busy,
        }
    }
}

/// What a queued write answers: its value once its transaction committed.
pub type Answer<T> = oneshot::Receiver<Result<T, WriteError>>;

/// One queued write: applies itself, then hears how the transaction ended.
trait QueuedWrite: Send {
    /// Whether its transaction must be fsync'd at commit.
    fn durable(&self) -> bool;
    /// Applies the write; `true` keeps its changes, `false` when it kept nothing (and
    /// changed nothing, or its group transaction is rolled back).
    fn apply(&mut self, connection: &Connection) -> bool;
    /// Answers the caller once the transaction has committed (or failed).
    fn answer(self: Box<Self>, committed: Result<(), WriteError>);
}

type Work<T> = Box<dyn FnOnce(&Connection) -> T + Send>;

struct Write<T> {
    durable: bool,
    work: Option<Work<T>>,
    keep: fn(&T) -> bool,
    /// Runs on the writer thread once the write's changes are committed, before the
    /// caller hears back (so that it runs even when the caller has gone).
    committed: fn(&mut T),
    /// The write's value and whether its changes were kept, once applied.
    result: Option<(T, bool)>,
    reply: oneshot::Sender<Result<T, WriteError>>,
}

impl<T: Send> QueuedWrite for Write<T> {
    fn durable(&self) -> bool {
        self.durable
    }

    fn apply(&mut self, connection: &Connection) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let value = work(connection);
        let keep = (self.keep)(&value);
        self.result = Some((value, keep));
        keep
    }

    fn answer(self: Box<Self>, committed: Result<(), WriteError>) {
        let result = match (self.result, committed) {
            (Some((mut value, true)), Ok(())) => {
                (self.committed)(&mut value);
                Ok(value)
            }
            // A write's value stands once its transaction is committed, or at once when
            // it kept nothing.
            (Some((value, _)), Ok(())) | (Some((value, false)), Err(_)) => Ok(value),
            // (`None`: not reached, its group transaction was rolled back before.)
            (Some((_, true)) | None, Err(error)) => Err(error),
            (None, Ok(())) => Err(WriteError::Sqlite {
                message: "the write was not applied".to_owned(),
                busy: true,
            }),
        };
        drop(self.reply.send(result));
    }
}

/// The queue of the writer thread, which owns the write connection.
pub struct GroupCommit {
    queue: Sender<Box<dyn QueuedWrite>>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    /// Starts the writer thread `name` on `connection`; it stops once the group commit
    /// is dropped.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn start(connection: Connection, name: &str) -> std::io::Result<Self> {
        let (queue, writes) = channel();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || run(connection, &writes))?;
        Ok(Self { queue })
    }

    /// Queues `work` for the next group transaction and returns where its value will
    /// come, once committed; its changes are kept when `keep` is true of its value.
    /// Durable with [`Durability::Full`] (fsync'd); with [`Durability::Normal`] it
    /// survives a crash of the process but may be lost with the machine, unless a write
    /// of the same transaction asked for `Full`.
    ///
    /// # Errors
    /// When the writer has stopped.
    pub fn queue<T, F>(
        &self,
        sync: Durability,
        keep: fn(&T) -> bool,
        work: F,
    ) -> Result<Answer<T>, WriteError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> T + Send + 'static,
    {
        self.queue_then(sync, keep, |_| {}, work)
    }

    /// [`GroupCommit::queue`], and `committed` runs on the writer thread with the
    /// write's value once its changes are committed, before the caller hears back, even
    /// when the caller has gone (a request cancelled).
    ///
    /// # Errors
    /// When the writer has stopped.
    pub fn queue_then<T, F>(
        &self,
        sync: Durability,
        keep: fn(&T) -> bool,
        committed: fn(&mut T),
        work: F,
    ) -> Result<Answer<T>, WriteError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> T + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Box::new(Write {
                durable: sync == Durability::Full,
                work: Some(Box::new(work)),
                keep,
                committed,
                result: None,
                reply,
            }))
            .map_err(|_| WriteError::Stopped)?;
        Ok(answer)
    }

    /// Runs `work` in the next group transaction ([`GroupCommit::queue`]) and returns
    /// its value once committed.
    ///
    /// # Errors
    /// When the transaction failed or the writer has stopped.
    pub async fn write<T, F>(
        &self,
        sync: Durability,
        keep: fn(&T) -> bool,
        work: F,
    ) -> Result<T, WriteError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> T + Send + 'static,
    {
        received(self.queue(sync, keep, work)?).await
    }

    /// Runs every work of `works` in the next group transaction, in order, durably, each
    /// kept when `keep` is true of its value and then given to `committed` on the writer
    /// thread ([`GroupCommit::queue_then`]); the values come back in the same order.
    pub async fn write_all<T, F>(
        &self,
        keep: fn(&T) -> bool,
        committed: fn(&mut T),
        works: Vec<F>,
    ) -> Vec<Result<T, WriteError>>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> T + Send + 'static,
    {
        let answers: Vec<_> = works
            .into_iter()
            .map(|work| self.queue_then(Durability::Full, keep, committed, work))
            .collect();
        let mut results = Vec::with_capacity(answers.len());
        for answer in answers {
            results.push(match answer {
                Ok(answer) => received(answer).await,
                Err(error) => Err(error),
            });
        }
        results
    }
}

/// The value a queued write answers with.
///
/// # Errors
/// When its transaction failed or the writer stopped before answering.
pub async fn received<T>(answer: Answer<T>) -> Result<T, WriteError> {
    answer.await.map_err(|_| WriteError::Stopped)?
}

/// How often the writer thread checkpoints the WAL itself, between two transactions.
///
/// The checkpointer thread ([`crate::sqlite::open_writer`]) copies the WAL into the
/// database alongside the writes, but while writes keep coming it never catches up with
/// the last of them, and SQLite only starts the WAL over once a checkpoint has copied all
/// of it: under a steady load the WAL grew without end (1.5 GB in 16 s at 1,000 picks/s).
/// Between two transactions nothing is written, so the writer's own checkpoint (of what
/// the checkpointer has not copied yet) completes, and the next transaction starts the
/// WAL over.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// The writer thread: commits whatever is queued in one transaction, again and again,
/// until every sender is gone; checkpoints every [`CHECKPOINT_EVERY`] while it writes.
fn run(mut connection: Connection, writes: &Receiver<Box<dyn QueuedWrite>>) {
    let mut sync = Durability::Full;
    let mut checkpointed = Instant::now();
    while let Ok(first) = writes.recv() {
        let mut batch = vec![first];
        batch.extend(writes.try_iter());
        let wanted = if batch.iter().any(|write| write.durable()) {
            Durability::Full
        } else {
            Durability::Normal
        };
        if let Err(error) = set_sync(&connection, &mut sync, wanted) {
            let error = WriteError::of(&error);
            for write in batch {
                write.answer(Err(error.clone()));
            }
            continue;
        }
        commit_batch(&mut connection, batch);
        if checkpointed.elapsed() >= CHECKPOINT_EVERY && checkpoint_all(&connection) {
            checkpointed = Instant::now();
        }
    }
    tracing::debug!("SQLite writer stopped: every handle is gone");
}

/// Checkpoints the whole WAL, passively: `false` when part of it is left (a checkpoint
/// running on the checkpointer's connection makes it return at once, a reader may hold
/// frames back), and the writer tries again after its next transaction. A failure is
/// logged and tried again [`CHECKPOINT_EVERY`] later, not after every transaction.
fn checkpoint_all(connection: &Connection) -> bool {
    // (busy, frames in the WAL, frames checkpointed)
    let checkpoint = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, i64>(2)?,
        ))
    });
    match checkpoint {
        Ok((busy, frames, copied)) => busy == 0 && frames == copied,
        Err(error) if is_busy(&error) => false,
        Err(error) => {
            tracing::warn!(%error, "SQLite writer: checkpoint failed; trying again");
            true
        }
    }
}

fn commit_batch(connection: &mut Connection, mut batch: Vec<Box<dyn QueuedWrite>>) {
    let transaction =
        match connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
            Ok(transaction) => transaction,
            Err(error) => {
                let error = WriteError::of(&error);
                for write in batch {
                    write.answer(Err(error.clone()));
                }
                return;
            }
        };
    for write in &mut batch {
        let before = transaction.total_changes();
        if !write.apply(&transaction) && transaction.total_changes() != before {
            // A write that keeps nothing changed rows on its way (it failed midway):
            // its changes cannot be told from the others', so the whole group
            // transaction goes. It hears its own value; the others may try again.
            return abort(transaction, batch);
        }
    }
    let committed = transaction.commit().map_err(|error| WriteError::of(&error));
    for write in batch {
        write.answer(committed.clone());
    }
}

/// Rolls the whole transaction back: the writes that kept changes fail with an error
/// worth a retry; the one that failed midway, and any that kept nothing, hear their own
/// value.
fn abort(transaction: rusqlite::Transaction<'_>, batch: Vec<Box<dyn QueuedWrite>>) {
    tracing::warn!(
        writes = batch.len(),
        "SQLite writer: a write failed after changing rows; its group transaction is rolled back and the other writes are to be tried again"
    );
    drop(transaction.rollback());
    let error = WriteError::Sqlite {
        message: "rolled back with a write of the same group transaction that failed midway"
            .to_owned(),
        busy: true,
    };
    for write in batch {
        write.answer(Err(error.clone()));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn rows(connection: &Connection) -> i64 {
        connection
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .unwrap()
    }

    /// Writes that keep nothing must have changed nothing; one that changed rows and then
    /// failed takes its group transaction with it, and the others hear an error worth a
    /// retry, while a write that kept nothing cleanly hears its value.
    #[tokio::test]
    async fn a_write_that_fails_midway_rolls_back_its_group() {
        let dir = tempfile::Builder::new()
            .prefix("transload-group-")
            .tempdir()
            .unwrap();
        let path = dir.path().join("file.sqlite3");
        let connection = crate::sqlite::open_durable(&path).unwrap();
        connection
            .execute_batch("CREATE TABLE t (n INTEGER)")
            .unwrap();
        let writer = GroupCommit::start(connection, "test-writer").unwrap();
        // Holds the writer while the next three queue, so that they share a transaction.
        let busy = writer
            .queue(
                Durability::Normal,
                |_: &()| true,
                |_| {
                    std::thread::sleep(Duration::from_millis(200));
                },
            )
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let insert =
            |n: i64| move |c: &Connection| c.execute("INSERT INTO t VALUES (?1)", [n]).is_ok();
        let kept = writer
            .queue(Durability::Normal, |ok: &bool| *ok, insert(1))
            .unwrap();
        let clean = writer
            .queue(
                Durability::Normal,
                |ok: &bool| *ok,
                |c: &Connection| c.execute("UPDATE t SET n = 0 WHERE n = 99", []).unwrap() == 1,
            )
            .unwrap();
        let midway = writer
            .queue(
                Durability::Normal,
                |ok: &bool| *ok,
                |c: &Connection| {
                    c.execute("INSERT INTO t VALUES (2)", []).unwrap();
                    false
                },
            )
            .unwrap();
        let after = writer
            .queue(Durability::Normal, |ok: &bool| *ok, insert(4))
            .unwrap();
        received(busy).await.unwrap();
        let error = received(kept).await.unwrap_err();
        assert!(error.is_transient(), "{error}");
        assert!(!received(clean).await.unwrap(), "its own value");
        assert!(!received(midway).await.unwrap(), "its own value");
        let error = received(after).await.unwrap_err();
        assert!(
            error.is_transient(),
            "not reached, to be tried again: {error}"
        );
        let count = writer
            .write(Durability::Normal, |_| true, rows)
            .await
            .unwrap();
        assert_eq!(count, 0, "nothing of the group was kept");
        assert!(
            writer
                .write(Durability::Full, |ok| *ok, insert(3))
                .await
                .unwrap()
        );
        assert_eq!(
            writer
                .write(Durability::Normal, |_| true, rows)
                .await
                .unwrap(),
            1
        );
    }
}
