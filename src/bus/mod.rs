//! Implementations of [`transload_core::bus::Bus`]: `embedded` (SQLite) and `amqp`
//! (RabbitMQ through lapin).

pub mod embedded;

pub mod amqp;
