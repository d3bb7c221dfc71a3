//! `transload bench`: a load generator against a running hub, beside a raw lapin baseline.

use std::process::ExitCode;

/// `transload bench` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {}

/// Not built yet.
pub(crate) fn run(_args: BenchArgs) -> anyhow::Result<ExitCode> {
    Ok(crate::not_built_yet("#7 (quickstart, load tool)"))
}
