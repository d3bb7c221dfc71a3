//! The `transload` hub: configuration, the HTTP server, the bus and store
//! implementations, and the pipeline workers. The `transload` binary (src/main.rs) is
//! the command line over this library.

pub mod backends;
pub mod bus;
pub mod check;
pub mod config;
pub mod file_drop;
pub mod http;
pub mod hub;
pub mod ingest;
pub mod intake;
pub mod loads_api;
pub mod metrics;
pub mod pipeline;
pub mod retention;
pub mod sqlite;
pub mod stages;
pub mod store;
