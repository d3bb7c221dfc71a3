//! transload-connectors: formats (bytes <-> document tree) and endpoints.
pub mod connector;
pub mod http_out;
pub mod partner;
pub mod webhook;
pub mod x12;
