//! An example Rust connector for a carrier's REST API, "Rapid Freight" (SCAC `RPDF`,
//! made up): the shape to copy when a partner is reached through its own API rather than
//! through EDI and a mapping file.
//!
//! - [`api`]: the carrier's JSON, as its documentation would describe it;
//! - [`mapping`]: pure functions between the canonical model and that JSON — a
//!   `transload.tender.offered` event becomes a tender request, the carrier's answer a
//!   `transload.tender.responded` payload, its status webhook a
//!   `transload.shipment.status` payload. Golden fixtures in `fixtures/` pin them byte
//!   for byte;
//! - [`service`]: the I/O, a [`transload_connectors::connector::Connector`] that sends
//!   through an [`transload_connectors::http_out::HttpSender`].

pub mod api;
pub mod mapping;
pub mod service;

pub use service::RapidFreightConnector;
