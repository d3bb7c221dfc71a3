//! transload-connectors: formats (bytes <-> document tree) and endpoints.
pub mod partner;
pub mod webhook;
pub mod x12;
