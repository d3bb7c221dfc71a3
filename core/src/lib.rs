//! transload-core: the canonical logistics model, the event envelope and the error types
//! every other part of transload shares. No I/O.
//!
//! - [`model`]: orders, shipments and stops, tenders, statuses, invoices, acks.
//! - [`event`]: the CloudEvents envelope with a typed payload.
//! - [`ids`]: validated identifiers.
//! - [`schema`]: JSON Schemas generated from these types.
//! - [`position`]: line and column of an offset, for error messages.
//! - [`bus`] and [`store`]: the traits the durable bus and the store implement.

pub mod bus;
pub mod error;
pub mod event;
pub mod ids;
pub mod model;
pub mod position;
pub mod schema;
mod schema_types;
pub mod store;

pub use error::{InvalidValue, ModelViolation};
pub use event::{Event, EventId, EventPayload, EventType, SCHEMA_VERSION};
