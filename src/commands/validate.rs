//! `transload validate`: checks the configuration, the partner profiles and the mappings,
//! and how they refer to each other; prints every problem with its file and position.

use std::path::Path;
use std::process::ExitCode;

use transload::check::{check_all, folders};
use transload::config::Config;

/// Exit status 0 when everything is usable, 1 with the list of problems otherwise.
///
/// # Errors
/// Only when the configuration file itself cannot be read or parsed (the message has its
/// line and column).
pub(crate) fn validate(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = Config::load(config_path)?;
    let report = check_all(&config);
    for error in &report.errors {
        println!("error: {error}");
    }
    let looked_at: Vec<String> = folders(&config)
        .iter()
        .map(|dir| dir.display().to_string())
        .collect();
    println!(
        "{}: {} partner(s), {} mapping(s) in {}: {} error(s)",
        config_path.display(),
        report.partners,
        report.mappings,
        looked_at.join(", "),
        report.errors.len()
    );
    Ok(if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
