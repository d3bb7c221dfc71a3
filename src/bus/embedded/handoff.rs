//! Messages handed to a consumer of this process as they are enqueued.
//!
//! Like RabbitMQ pushing deliveries to a consumer with room in its prefetch window, the
//! transaction that enqueues a message due at once leases it to a consumer of its stage
//! in this process that has room ([`LocalConsumers::reserve`]); once the transaction has
//! committed, the writer thread hands the row to that consumer in memory
//! ([`Handed::deliver`]). The
//! consumer then neither leases it (a write of the file) nor reads it. In the file the
//! row is what a lease would have left: the consumer's lease, one delivery counted,
//! invisible until the visibility timeout. So another process, a crash or a consumer
//! dropped with the message see what they would have seen had it been leased.
//!
//! A consumer is handed messages only while it is caught up ([`Inbox::is_caught_up`]):
//! its last lease found no more messages ready. A message due at once that no consumer
//! takes stays in the file, and its stage's consumers fall behind until a lease finds
//! nothing more, so that a message handed over never overtakes one waiting in the file.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use tokio::sync::Notify;
use tokio::sync::futures::Notified;
use transload_core::bus::Stage;

use super::LeasedRow;

/// The consumers of a bus's stages in this process: woken when messages are enqueued on
/// their stage, and handed those due at once while they have room.
#[derive(Debug, Default)]
pub(crate) struct LocalConsumers {
    inbound: StageConsumers,
    events: StageConsumers,
    outbound: StageConsumers,
}

#[derive(Debug, Default)]
struct StageConsumers {
    /// Wakes the consumers waiting for messages.
    enqueued: Notify,
    inboxes: Mutex<Vec<Weak<Inbox>>>,
    /// Where the next reservation starts looking, so that consumers take turns.
    turn: AtomicUsize,
}

impl LocalConsumers {
    fn of(&self, stage: Stage) -> &StageConsumers {
        match stage {
            Stage::Inbound => &self.inbound,
            Stage::Events => &self.events,
            Stage::Outbound => &self.outbound,
        }
    }

    /// Wakes the consumers of `stage` waiting for messages.
    pub(crate) fn notify(&self, stage: Stage) {
        self.of(stage).enqueued.notify_waiters();
    }

    /// Completes at the next [`LocalConsumers::notify`] of `stage` after this call.
    pub(crate) fn notified(&self, stage: Stage) -> Notified<'_> {
        self.of(stage).enqueued.notified()
    }

    /// The inbox of a new consumer of `stage` with a prefetch window of `window`
    /// deliveries, whose handed rows are leased as `lease` for `visibility_ms`.
    pub(crate) fn register(
        &self,
        stage: Stage,
        window: usize,
        lease: i64,
        visibility_ms: i64,
    ) -> Arc<Inbox> {
        let inbox = Arc::new(Inbox {
            lease,
            visibility_ms,
            window,
            room: AtomicUsize::new(window),
            // What an earlier run left in the file is leased first.
            caught_up: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            rows: Mutex::new(VecDeque::new()),
        });
        let mut inboxes = self
            .of(stage)
            .inboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        inboxes.retain(|inbox| inbox.strong_count() > 0);
        inboxes.push(Arc::downgrade(&inbox));
        inbox
    }

    /// For a message of `stage` due at once, on the writer thread: the inbox of a
    /// consumer that takes it, its place in the window reserved. `None` when no consumer
    /// of this process is caught up with room: the message waits in the file, and every
    /// consumer of the stage has fallen behind it.
    pub(crate) fn reserve(&self, stage: Stage) -> Option<Arc<Inbox>> {
        let inboxes = self
            .of(stage)
            .inboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let turn = self.of(stage).turn.fetch_add(1, Ordering::Relaxed);
        let start = turn.checked_rem(inboxes.len()).unwrap_or(0);
        let (before, after) = inboxes.split_at(start);
        let taker = after
            .iter()
            .chain(before)
            .filter_map(Weak::upgrade)
            .find(|inbox| inbox.try_reserve());
        if taker.is_none() {
            for inbox in inboxes.iter().filter_map(Weak::upgrade) {
                inbox.caught_up.store(false, Ordering::SeqCst);
            }
        }
        taker
    }
}

/// What one consumer of this process is handed, and the room left in its prefetch
/// window: deliveries it may take before some are settled, less those handed to it or
/// leased by it and not settled yet.
#[derive(Debug)]
pub(crate) struct Inbox {
    /// The lease of the rows handed to it.
    pub(crate) lease: i64,
    /// How long a handed row stays leased (the consumer's visibility timeout).
    pub(crate) visibility_ms: i64,
    window: usize,
    room: AtomicUsize,
    caught_up: AtomicBool,
    closed: AtomicBool,
    rows: Mutex<VecDeque<LeasedRow>>,
}

impl Inbox {
    fn try_reserve(&self) -> bool {
        !self.closed.load(Ordering::SeqCst)
            && self.caught_up.load(Ordering::SeqCst)
            && self
                .room
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |room| {
                    room.checked_sub(1)
                })
                .is_ok()
    }

    /// Room left in the window.
    pub(crate) fn room(&self) -> usize {
        self.room.load(Ordering::SeqCst)
    }

    /// Counts `count` deliveries leased by the consumer itself against the window.
    pub(crate) fn take_room(&self, count: usize) {
        // Never fails: the closure always answers.
        let _ = self
            .room
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |room| {
                Some(room.saturating_sub(count))
            });
    }

    /// Gives `count` places back to the window (deliveries settled, a reservation
    /// rolled back).
    pub(crate) fn give_room(&self, count: usize) {
        let window = self.window;
        let _ = self
            .room
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |room| {
                Some(room.saturating_add(count).min(window))
            });
    }

    /// Whether the consumer's last lease found no more ready messages, and none due at
    /// once has been left in the file since.
    pub(crate) fn is_caught_up(&self) -> bool {
        self.caught_up.load(Ordering::SeqCst)
    }

    /// Records, on the writer thread, that a lease of the consumer found no more ready
    /// messages.
    pub(crate) fn caught_up(&self) {
        self.caught_up.store(true, Ordering::SeqCst);
    }

    /// Takes no more rows (the consumer is gone); returns those handed and not taken.
    pub(crate) fn close(&self) -> Vec<LeasedRow> {
        self.closed.store(true, Ordering::SeqCst);
        self.rows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
            .collect()
    }

    /// Up to `max` of the rows handed over, oldest first.
    pub(crate) fn take(&self, max: usize) -> Vec<LeasedRow> {
        let mut rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        let count = max.min(rows.len());
        rows.drain(..count).collect()
    }
}

/// Rows a transaction leased to consumers of this process, to be handed over once it
/// has committed. Dropped undelivered (the transaction rolled back), their places in
/// the windows are given back.
#[derive(Debug, Default)]
pub(crate) struct Handed {
    rows: Vec<(Arc<Inbox>, LeasedRow)>,
}

impl Handed {
    pub(crate) fn push(&mut self, inbox: Arc<Inbox>, row: LeasedRow) {
        self.rows.push((inbox, row));
    }

    /// Hands every row to its consumer, on the writer thread once the transaction has
    /// committed ([`crate::sqlite::group_commit::GroupCommit::queue_then`]); the caller
    /// then wakes the consumers (who otherwise find the rows within [`super::IDLE_POLL`]).
    pub(crate) fn deliver(&mut self) {
        for (inbox, row) in self.rows.drain(..) {
            inbox
                .rows
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push_back(row);
        }
    }
}

impl Drop for Handed {
    fn drop(&mut self) {
        for (inbox, _) in &self.rows {
            inbox.give_room(1);
        }
    }
}
