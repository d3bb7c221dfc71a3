//! `transload demo`: plays a day of sample messages through a running hub.

use std::process::ExitCode;

/// `transload demo` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {}

/// Not built yet.
pub(crate) fn run(_args: DemoArgs) -> anyhow::Result<ExitCode> {
    Ok(crate::not_built_yet("#7 (quickstart, load tool)"))
}
