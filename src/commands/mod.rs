//! One module per subcommand.

pub(crate) mod bench;
pub(crate) mod demo;
pub(crate) mod dlq;
pub(crate) mod load;
pub(crate) mod map;
pub(crate) mod run;
pub(crate) mod schemas;
pub(crate) mod validate;
pub(crate) mod x12;
