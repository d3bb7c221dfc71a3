//! Group commit for the SQLite store: writes that arrive while a transaction is being
//! written wait, then go together in the next one, each inside its own savepoint. One
//! fsync serves them all, yet every caller hears back only once its own write is durable,
//! and a write that fails or decides not to keep its changes (a duplicate) rolls back
//! alone.
//!
//! One thread of its own owns the write connection: it takes every write queued, commits
//! them together, answers, and takes what queued meanwhile. (An earlier design started a
//! blocking task per write, and the first to take the connection committed for all;
//! waking a dozen threads per transaction, to find the queue empty, cost the writer a
//! quarter of its time.)

use std::sync::mpsc::{Receiver, Sender, channel};

use rusqlite::Connection;
use tokio::sync::oneshot;
use transload_core::store::StoreError;

use crate::sqlite::{
    Durability, WRITE_SAVEPOINT, open_savepoint, release_savepoint, roll_back_savepoint, set_sync,
};

/// One queued write: applies itself inside a savepoint, then hears how the transaction
/// ended.
trait QueuedWrite: Send {
    /// Whether its transaction must be fsync'd at commit.
    fn durable(&self) -> bool;
    /// Applies the write; `true` keeps its changes, `false` rolls its savepoint back.
    fn apply(&mut self, connection: &Connection) -> bool;
    /// Replaces the write's result with a failure of its savepoint.
    fn fail(&mut self, error: StoreError);
    /// Answers the caller once the transaction has committed (or failed).
    fn answer(self: Box<Self>, committed: Result<(), StoreError>);
}

type Work<T> = Box<dyn FnOnce(&Connection) -> Result<T, StoreError> + Send>;

struct Write<T> {
    durable: bool,
    work: Option<Work<T>>,
    keep: fn(&T) -> bool,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T: Send> QueuedWrite for Write<T> {
    fn durable(&self) -> bool {
        self.durable
    }

    fn apply(&mut self, connection: &Connection) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let result = work(connection);
        let keep = matches!(&result, Ok(value) if (self.keep)(value));
        self.result = Some(result);
        keep
    }

    fn fail(&mut self, error: StoreError) {
        self.result = Some(Err(error));
    }

    fn answer(self: Box<Self>, committed: Result<(), StoreError>) {
        let result = match (self.result, committed) {
            // A write's value stands once the transaction is committed; a write that
            // failed answers with its own error.
            (Some(Ok(value)), Ok(())) => Ok(value),
            (Some(Ok(_)), Err(error)) | (Some(Err(error)), _) => Err(error),
            (None, _) => Err(StoreError::Other(
                "the write was not applied (its savepoint could not be opened)".to_owned(),
            )),
        };
        drop(self.reply.send(result));
    }
}

/// The queue of the writer thread, which owns the write connection.
pub(crate) struct GroupCommit {
    queue: Sender<Box<dyn QueuedWrite>>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    /// Starts the writer thread on `connection`; it stops once the group commit is
    /// dropped.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub(crate) fn start(connection: Connection) -> Result<Self, StoreError> {
        let (queue, writes) = channel();
        std::thread::Builder::new()
            .name("transload-store-writer".to_owned())
            .spawn(move || run(connection, &writes))
            .map_err(|error| {
                StoreError::Other(format!("cannot start the store writer: {error}"))
            })?;
        Ok(Self { queue })
    }

    /// Runs `work` in the next group transaction; its changes are kept when it returns
    /// a value for which `keep` is true, and the value comes back once they are
    /// committed (fsync'd with [`Durability::Full`]; with [`Durability::Normal`] they survive a crash
    /// of the process but may be lost with the machine, unless a write of the same
    /// transaction asked for `Full`).
    ///
    /// # Errors
    /// The error of `work`, or of the transaction it was committed in.
    pub(crate) async fn write<T, F>(
        &self,
        sync: Durability,
        keep: fn(&T) -> bool,
        work: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Box::new(Write {
                durable: sync == Durability::Full,
                work: Some(Box::new(work)),
                keep,
                result: None,
                reply,
            }))
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Runs every work of `works` in the next group transaction, in order, each kept when
    /// `keep` is true of its value; the results come back in the same order.
    pub(crate) async fn write_all<T, F>(
        &self,
        keep: fn(&T) -> bool,
        works: Vec<F>,
    ) -> Vec<Result<T, StoreError>>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let mut answers = Vec::with_capacity(works.len());
        for work in works {
            let (reply, answer) = oneshot::channel();
            let queued = self.queue.send(Box::new(Write {
                durable: true,
                work: Some(Box::new(work)),
                keep,
                result: None,
                reply,
            }));
            answers.push(queued.ok().map(|()| answer));
        }
        let mut results = Vec::with_capacity(answers.len());
        for answer in answers {
            let result = match answer {
                Some(answer) => answer.await.unwrap_or_else(|_| Err(stopped())),
                None => Err(stopped()),
            };
            results.push(result);
        }
        results
    }
}

/// The writer thread: commits whatever is queued in one transaction, again and again,
/// until every sender is gone.
fn run(mut connection: Connection, writes: &Receiver<Box<dyn QueuedWrite>>) {
    let mut sync = Durability::Full;
    while let Ok(first) = writes.recv() {
        let mut batch = vec![first];
        batch.extend(writes.try_iter());
        let wanted = if batch.iter().any(|write| write.durable()) {
            Durability::Full
        } else {
            Durability::Normal
        };
        if let Err(error) = set_sync(&connection, &mut sync, wanted) {
            let error = crate::store::sqlite::store_error(error);
            for write in batch {
                write.answer(Err(error.clone()));
            }
            continue;
        }
        commit_batch(&mut connection, batch);
    }
    tracing::debug!("store writer stopped: the store is closed");
}

fn commit_batch(connection: &mut Connection, mut batch: Vec<Box<dyn QueuedWrite>>) {
    let transaction =
        match connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
            Ok(transaction) => transaction,
            Err(error) => {
                let error = crate::store::sqlite::store_error(error);
                for write in batch {
                    write.answer(Err(error.clone()));
                }
                return;
            }
        };
    let mut broken = None;
    for write in &mut batch {
        if let Err(error) = open_savepoint(&transaction, WRITE_SAVEPOINT) {
            write.fail(crate::store::sqlite::store_error(error));
            continue;
        }
        let ended = if write.apply(&transaction) {
            release_savepoint(&transaction, WRITE_SAVEPOINT)
        } else {
            roll_back_savepoint(&transaction, WRITE_SAVEPOINT)
        };
        if let Err(error) = ended {
            broken = Some(error);
            break;
        }
    }
    if let Some(error) = broken {
        // A write's changes may have stayed in the transaction: give up the whole batch.
        return abort(transaction, batch, &error);
    }
    let committed = transaction
        .commit()
        .map_err(crate::store::sqlite::store_error);
    for write in batch {
        write.answer(committed.clone());
    }
}

/// Rolls the whole transaction back and fails every write of it.
fn abort(
    transaction: rusqlite::Transaction<'_>,
    batch: Vec<Box<dyn QueuedWrite>>,
    error: &rusqlite::Error,
) {
    tracing::error!(%error, "store: a savepoint could not be ended; the group transaction is rolled back");
    drop(transaction.rollback());
    let error = crate::store::sqlite::store_error_ref(error);
    for mut write in batch {
        write.fail(error.clone());
        write.answer(Err(error.clone()));
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the store writer has stopped".to_owned())
}
