//! Group commit for the SQLite store: writes that arrive while a transaction is being
//! written wait, then go together in the next one, each inside its own savepoint. One
//! fsync serves them all, yet every caller hears back only once its own write is durable,
//! and a write that fails or decides not to keep its changes (a duplicate) rolls back
//! alone.
//!
//! There is no dedicated thread: each write queues itself and starts a blocking task;
//! whichever task takes the connection first commits everything queued so far, and the
//! tasks that find the queue empty return at once.

use std::sync::{Arc, Mutex};

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

/// The write connection (with how its transactions end now) and the writes waiting for
/// it.
pub(crate) struct GroupCommit {
    connection: Mutex<(Connection, Durability)>,
    queue: Mutex<Vec<Box<dyn QueuedWrite>>>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    pub(crate) fn new(connection: Connection) -> Self {
        Self {
            connection: Mutex::new((connection, Durability::Full)),
            queue: Mutex::new(Vec::new()),
        }
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
        self: &Arc<Self>,
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
            .lock()
            .map_err(|_| poisoned())?
            .push(Box::new(Write {
                durable: sync == Durability::Full,
                work: Some(Box::new(work)),
                keep,
                result: None,
                reply,
            }));
        let group = Arc::clone(self);
        tokio::task::spawn_blocking(move || group.commit_queued())
            .await
            .map_err(|error| StoreError::Other(format!("store task failed: {error}")))?;
        answer.await.map_err(|_| {
            StoreError::Other("the store dropped a write without answering".to_owned())
        })?
    }

    /// Runs every work of `works` in the next group transaction, in order, each kept when
    /// `keep` is true of its value; the results come back in the same order.
    pub(crate) async fn write_all<T, F>(
        self: &Arc<Self>,
        keep: fn(&T) -> bool,
        works: Vec<F>,
    ) -> Vec<Result<T, StoreError>>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let mut answers = Vec::with_capacity(works.len());
        match self.queue.lock() {
            Ok(mut queue) => {
                for work in works {
                    let (reply, answer) = oneshot::channel();
                    queue.push(Box::new(Write {
                        durable: true,
                        work: Some(Box::new(work)),
                        keep,
                        result: None,
                        reply,
                    }));
                    answers.push(answer);
                }
            }
            Err(_) => return works.iter().map(|_| Err(poisoned())).collect(),
        }
        let group = Arc::clone(self);
        if let Err(error) = tokio::task::spawn_blocking(move || group.commit_queued()).await {
            tracing::error!(%error, "store task failed");
        }
        let mut results = Vec::with_capacity(answers.len());
        for answer in answers {
            results.push(answer.await.unwrap_or_else(|_| {
                Err(StoreError::Other(
                    "the store dropped a write without answering".to_owned(),
                ))
            }));
        }
        results
    }

    /// Commits every queued write in one transaction (nothing when another task took
    /// them first).
    fn commit_queued(&self) {
        let Ok(mut guard) = self.connection.lock() else {
            self.fail_queued(&poisoned());
            return;
        };
        let (connection, sync) = &mut *guard;
        let batch = match self.queue.lock() {
            Ok(mut queue) => std::mem::take(&mut *queue),
            Err(_) => return,
        };
        if batch.is_empty() {
            return;
        }
        let wanted = if batch.iter().any(|write| write.durable()) {
            Durability::Full
        } else {
            Durability::Normal
        };
        if let Err(error) = set_sync(connection, sync, wanted) {
            let error = crate::store::sqlite::store_error(error);
            for write in batch {
                write.answer(Err(error.clone()));
            }
            return;
        }
        commit_batch(connection, batch);
    }

    fn fail_queued(&self, error: &StoreError) {
        if let Ok(mut queue) = self.queue.lock() {
            for write in std::mem::take(&mut *queue) {
                write.answer(Err(error.clone()));
            }
        }
    }
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

fn poisoned() -> StoreError {
    StoreError::Other("store connection poisoned by a panic".to_owned())
}
