//! transload-connectors: formats (bytes <-> document tree) and endpoints.
pub mod x12;
