//! The pipeline's stages: what each does with the messages of its queue.
//!
//! - [`translate`]: partner messages (inbound) → canonical events (events), plus the
//!   acknowledgements the partner expects (outbound).

pub mod translate;

pub use translate::Translate;
