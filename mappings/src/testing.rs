//! Running the tests declared in mapping files (`[[tests]]`).

use std::path::{Path, PathBuf};

use serde_json::Value;
use transload_core::event::Event;

use crate::definition::{Direction, Format, TestCase};
use crate::input::{InboundInput, read_inbound};
use crate::mapping::{Mapping, OutboundDocument};
use crate::partner::Partner;

/// `$now` in declared tests unless a test gives its own.
pub const TEST_NOW: &str = "2026-11-25T12:00:00Z";

/// The result of one declared test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestOutcome {
    /// The mapping's id.
    pub mapping: String,
    /// The test's name.
    pub name: String,
    /// Whether the output was the expected one.
    pub passed: bool,
    /// Why it failed: an error, or a unified diff of expected (`-`) and actual (`+`).
    pub detail: String,
}

/// Reads an input file as `format` (X12: every transaction set).
///
/// # Errors
/// When the file cannot be read or parsed.
pub fn read_input_file(path: &Path, format: Format) -> Result<Vec<InboundInput>, String> {
    let bytes = std::fs::read(path).map_err(|error| format!("{}: {error}", path.display()))?;
    read_inbound(format, &bytes).map_err(|error| format!("{}: {error}", path.display()))
}

/// The format a file's extension implies (`.edi`/`.x12`, `.xml`, else JSON); used for
/// expected outputs.
#[must_use]
pub fn format_of(path: &Path) -> Format {
    match path.extension().and_then(|ext| ext.to_str()) {
        Some("edi" | "x12" | "EDI" | "X12") => Format::X12,
        Some("xml" | "XML") => Format::Xml,
        _ => Format::Json,
    }
}

/// Reads a JSON file.
///
/// # Errors
/// When it cannot be read or is not JSON.
pub fn read_json_file(path: &Path) -> Result<Value, String> {
    let bytes = std::fs::read(path).map_err(|error| format!("{}: {error}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|error| format!("{}: {error}", path.display()))
}

/// Runs `mapping` on the file `input` as `map run` does: for an inbound mapping the file
/// is read in the mapping's format and the payloads of every input (X12: every set) come
/// as one JSON array; for an outbound mapping the file is a canonical event and the result
/// the document.
///
/// # Errors
/// The error text (with the lineage for an invalid output).
pub fn run_file(
    mapping: &Mapping,
    input: &Path,
    partner: &Partner,
    now: Option<&str>,
) -> Result<RunResult, String> {
    let now = now.map_or_else(|| jiff::Timestamp::now().to_string(), str::to_owned);
    match mapping.direction() {
        Direction::Inbound => {
            let inputs = read_input_file(input, mapping.format())?;
            let mut all = Vec::new();
            for one in &inputs {
                let payloads = mapping
                    .run_inbound_at(one, partner, &now)
                    .map_err(|error| error.to_string())?;
                for payload in payloads {
                    all.push(serde_json::to_value(&payload).map_err(|error| error.to_string())?);
                }
            }
            Ok(RunResult::Events(Value::Array(all)))
        }
        Direction::Outbound => {
            let event: Event = serde_json::from_value(read_json_file(input)?)
                .map_err(|error| format!("{}: not a canonical event: {error}", input.display()))?;
            mapping
                .run_outbound_at(&event, partner, &now)
                .map(RunResult::Document)
                .map_err(|error| error.to_string())
        }
    }
}

/// What [`run_file`] produced.
#[derive(Debug, Clone, PartialEq)]
pub enum RunResult {
    /// The canonical payloads, as a JSON array of `{"type", "data"}`.
    Events(Value),
    /// An outbound document.
    Document(OutboundDocument),
}

fn diff(expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(3)
        .header("expected", "actual")
        .to_string()
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

fn run_case(mapping: &Mapping, base: &Path, case: &TestCase) -> Result<(), String> {
    let partner = match &case.partner {
        Some(file) => Partner::new(read_json_file(&base.join(file))?)
            .map_err(|error| format!("{}: {error}", file.display()))?,
        None => Partner::empty(),
    };
    let now = case.now.as_deref().unwrap_or(TEST_NOW);
    let expected_path = base.join(&case.expected);
    let result = run_file(mapping, &base.join(&case.input), &partner, Some(now));
    if case.expect_error {
        let wanted = std::fs::read_to_string(&expected_path)
            .map_err(|error| format!("{}: {error}", expected_path.display()))?;
        return match result {
            Ok(_) => Err(format!(
                "expected an error containing {:?}, but the mapping succeeded",
                wanted.trim()
            )),
            Err(message) if message.contains(wanted.trim()) => Ok(()),
            Err(message) => Err(format!(
                "expected an error containing {:?}, got:\n{message}",
                wanted.trim()
            )),
        };
    }
    let result = result?;
    let json_expected = format_of(&expected_path) == Format::Json;
    let (expected, actual) = match (&result, json_expected) {
        (RunResult::Events(actual), _) => {
            (pretty(&read_json_file(&expected_path)?), pretty(actual))
        }
        (RunResult::Document(document), true) => (
            pretty(&read_json_file(&expected_path)?),
            pretty(&document.to_json()),
        ),
        (RunResult::Document(document), false) => (
            std::fs::read_to_string(&expected_path)
                .map_err(|error| format!("{}: {error}", expected_path.display()))?,
            document.to_text(),
        ),
    };
    if expected == actual {
        Ok(())
    } else {
        Err(diff(&expected, &actual))
    }
}

/// Runs every test declared in `mapping`.
#[must_use]
pub fn run_declared_tests(mapping: &Mapping) -> Vec<TestOutcome> {
    let base: PathBuf = mapping
        .path()
        .parent()
        .map_or_else(PathBuf::new, Path::to_path_buf);
    mapping
        .tests()
        .iter()
        .map(|case| {
            let result = run_case(mapping, &base, case);
            TestOutcome {
                mapping: mapping.id().to_owned(),
                name: case.name.clone(),
                passed: result.is_ok(),
                detail: result.err().unwrap_or_default(),
            }
        })
        .collect()
}
