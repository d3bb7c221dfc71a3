//! The X12 engine: tokenizer, envelope validation, transaction-set specs, acknowledgements,
//! the JSON document tree and the writer.

pub mod access;
pub mod ack;
pub mod control_numbers;
pub mod delimiters;
pub mod document;
pub mod envelope;
pub mod error;
pub mod segment;
pub mod spec;
pub mod spec_check;
pub mod stream;
pub mod tokenizer;
pub mod tree;
pub mod writer;
