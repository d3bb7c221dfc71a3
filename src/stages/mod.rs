//! The pipeline's stages: what each does with the messages of its queue.
//!
//! - [`translate`]: partner messages (inbound) → canonical events (events), plus the
//!   acknowledgements the partner expects (outbound).
//! - [`decide`]: canonical events (events) → the orchestrator's decisions: state, audit
//!   log, events for partners (outbound) and timers (events).
//! - [`deliver`]: documents and events for a partner (outbound) → the partner's format,
//!   through its HTTP endpoint or folder.

pub mod decide;
pub mod deliver;
mod mapping_partners;
pub mod translate;

pub use decide::Decide;
pub use deliver::Deliver;
pub use translate::Translate;
