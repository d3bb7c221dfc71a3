//! transload-orchestrator: decisions as pure functions of (state, event).
//!
//! Empty until the orchestrator issue fills it; the crate exists so the workspace has
//! the layout of DESIGN.md from the start.
