//! Implementations of [`transload_core::store::Store`]: `sqlite` (embedded) and
//! `postgres` (several hub processes).

pub mod sqlite;
pub mod postgres;
