//! transload-mappings: the mapping-file engine and the shipped mapping library.
//!
//! Empty until the connectors-and-mappings issue fills it; the crate exists so the
//! workspace has the layout of DESIGN.md from the start.
