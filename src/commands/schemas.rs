//! `transload schemas …`: the JSON Schemas of the canonical events.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use transload_core::schema::event_schemas;

/// Writes every event schema into `dir`.
///
/// # Errors
/// When a file cannot be written.
pub(crate) fn export(dir: &Path) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for file in event_schemas() {
        let path = dir.join(&file.file_name);
        std::fs::write(&path, file.render()?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Compares the schemas in `dir` with the model; exit code 1 when any is stale.
///
/// # Errors
/// When a schema cannot be rendered.
pub(crate) fn check(dir: &Path) -> anyhow::Result<ExitCode> {
    let mut stale = 0;
    for file in event_schemas() {
        let path = dir.join(&file.file_name);
        let expected = file.render()?;
        match std::fs::read_to_string(&path) {
            Ok(actual) if actual == expected => {}
            Ok(_) => {
                stale += 1;
                println!("stale: {}", path.display());
            }
            Err(error) => {
                stale += 1;
                println!("missing: {}: {error}", path.display());
            }
        }
    }
    if stale == 0 {
        println!("all event schemas in {} are up to date", dir.display());
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{stale} schema file(s) out of date: run `transload schemas export`");
        Ok(ExitCode::FAILURE)
    }
}
