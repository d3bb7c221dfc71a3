//! `transload map …`: run the tests declared in mapping files, and run one mapping on a
//! file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use transload_mappings::testing::{RunResult, read_json_file, run_declared_tests, run_file};
use transload_mappings::{MappingSet, Partner, load_file};

/// The shipped library, where `map test` looks by default.
const DEFAULT_DIR: &str = "mappings/library";

/// Runs the declared tests of the mapping file or of every mapping under the directory;
/// prints each result and a diff for each failure; exit code 1 when any fails.
///
/// # Errors
/// Never for a failed test (that is the exit code); only for an unusable path.
pub(crate) fn test(target: Option<&Path>) -> anyhow::Result<ExitCode> {
    let target = target.map_or_else(|| PathBuf::from(DEFAULT_DIR), Path::to_path_buf);
    let loaded = if target.is_dir() {
        MappingSet::load(std::slice::from_ref(&target))
            .map(|set| set.iter().cloned().collect::<Vec<_>>())
    } else {
        load_file(&target).map(|mapping| vec![std::sync::Arc::new(mapping)])
    };
    let mappings = match loaded {
        Ok(mappings) => mappings,
        Err(errors) => {
            for error in &errors {
                println!("error: {error}");
            }
            println!(
                "{} mapping file error(s) in {}",
                errors.len(),
                target.display()
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    let (mut passed, mut failed) = (0, 0);
    for mapping in &mappings {
        if mapping.tests().is_empty() {
            println!("warn  {}: no declared test", mapping.id());
        }
        for outcome in run_declared_tests(mapping) {
            if outcome.passed {
                passed += 1;
                println!("ok    {} / {}", outcome.mapping, outcome.name);
            } else {
                failed += 1;
                println!("FAIL  {} / {}", outcome.mapping, outcome.name);
                for line in outcome.detail.lines() {
                    println!("      {line}");
                }
            }
        }
    }
    println!(
        "{} mapping(s), {passed} test(s) passed, {failed} failed",
        mappings.len()
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Runs `mapping` on `input` and prints the canonical events (inbound) or the document
/// (outbound); on failure prints the error with the lineage and exits 1.
///
/// # Errors
/// When the partner file cannot be read.
pub(crate) fn run(
    mapping: &Path,
    input: &Path,
    partner: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let mapping = match load_file(mapping) {
        Ok(mapping) => mapping,
        Err(errors) => {
            for error in errors {
                eprintln!("error: {error}");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let partner = match partner {
        Some(path) => Partner::new(
            read_json_file(path)
                .map_err(anyhow::Error::msg)
                .context("cannot read the partner profile")?,
        )?,
        None => Partner::empty(),
    };
    match run_file(&mapping, input, &partner, None) {
        Ok(RunResult::Events(events)) => {
            println!("{}", serde_json::to_string_pretty(&events)?);
            eprintln!("mappingversion {}", mapping.version_stamp());
            Ok(ExitCode::SUCCESS)
        }
        Ok(RunResult::Document(document)) => {
            print!("{}", document.to_text());
            eprintln!("mappingversion {}", mapping.version_stamp());
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("error: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}
