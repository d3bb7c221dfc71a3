//! transload-core: the canonical logistics model and the event envelope.
