//! transload-mappings: the mapping-file engine and the shipped mapping library.
//!
//! A mapping file (TOML, see `mappings/README.md`) holds a jq program, run by jaq, that
//! translates one partner document into canonical events (inbound) or one canonical event
//! into a partner document (outbound), and the tests that show it works.
//!
//! - [`load_file`] / [`MappingSet::load`]: compile mapping files; errors carry
//!   file:line:column ([`MappingError`]). [`validate_dir`] for `transload validate`.
//! - [`Mapping::run_inbound`] / [`Mapping::run_outbound`]: run one; outputs are validated
//!   against the canonical model, failures name the field and its lineage ([`MapError`]).
//! - [`Registry`]: the live set, reloaded atomically (and watched) as files change.
//! - [`read_inbound`]: X12 (one input per transaction set), JSON and XML ([`xml`]) inputs.
//! - [`testing`]: the declared tests, for `transload map test`.

mod definition;
mod error;
mod input;
mod lineage;
pub mod lookup;
mod mapping;
mod partner;
mod program;
mod registry;
mod set;
pub mod testing;
pub mod time;
mod x12_natives;
pub mod xml;

pub use definition::{Direction, Format, TestCase, X12Key, load_file};
pub use error::{FieldLineage, MapError, MappingError, MappingErrorKind, line_column};
pub use input::{InboundInput, InputError, read_inbound, read_x12, read_x12_parsed};
pub use mapping::{Mapping, OutboundDocument};
pub use partner::{Partner, PartnerError};
pub use program::PRELUDE;
pub use registry::{Registry, Reloaded, Watcher};
pub use set::{MappingSet, mapping_files, validate_dir};

/// The directory of the shipped mapping library, in the source tree.
#[must_use]
pub fn library_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("library")
}
