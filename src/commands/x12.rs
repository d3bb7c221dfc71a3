//! `transload x12 …`: the X12 engine on files.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

/// The `x12` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum X12Command {
    /// Parse FILE and print its interchanges, groups and transaction sets.
    Parse { file: PathBuf },
    /// Validate FILE's envelopes and transaction sets against the specs.
    Validate { file: PathBuf },
    /// Print the 997/999 (and TA1) acknowledging FILE.
    Ack { file: PathBuf },
    /// Print FILE as the JSON document tree.
    ToJson { file: PathBuf },
    /// Write the JSON document tree in FILE back as X12.
    FromJson { file: PathBuf },
}

/// Runs one `x12` subcommand.
pub(crate) fn run(command: &X12Command) -> anyhow::Result<ExitCode> {
    let _ = command;
    anyhow::bail!(
        "`transload x12` is not implemented yet: it arrives with issue #3 (the X12 engine)"
    )
}
