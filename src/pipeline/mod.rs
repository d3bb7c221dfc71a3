//! The pipeline machinery shared by every stage: the stage worker (consume a batch,
//! handle, commit, acknowledge), the outbox relay (publish what was committed), and the
//! retry policy, the pending state a batch's handler reads before its commit, and the
//! drain that moves what the bus gave up on into the store's dead letters.

pub mod dead_letter_drain;
pub mod pending_state;
pub mod relay;
pub mod retry;
pub mod worker;

pub use dead_letter_drain::DeadLetterDrain;
pub use pending_state::{PendingState, WithPendingState};
pub use relay::{OutboxRelay, RelayError};
pub use retry::RetryPolicy;
pub use worker::{Handler, HandlerError, StageWorker, WorkerOptions};
