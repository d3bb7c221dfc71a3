//! The X12 engine: tokenizer, envelope validation, transaction-set specs, acknowledgements,
//! the JSON document tree and the writer.

pub mod access;
pub mod spec;
