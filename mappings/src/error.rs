//! Errors: a mapping file that does not load ([`MappingError`], with file:line:column) and a
//! mapping that fails on an input ([`MapError`], with the field path and its lineage).

use std::fmt;
use std::path::PathBuf;

use thiserror::Error;

/// What kind of problem a mapping file has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MappingErrorKind {
    /// The file (or its program file) cannot be read.
    Read,
    /// The TOML is malformed or a field is missing or wrong.
    Definition,
    /// The jq program does not compile.
    Compile,
    /// Two files define the same mapping id.
    DuplicateId,
}

/// A mapping file that cannot be loaded, with the position of the problem.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}:{line}:{column}: {message}", path.display())]
pub struct MappingError {
    /// The file at fault (the TOML file, or the `program_file` it names).
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What kind of problem.
    pub kind: MappingErrorKind,
    /// What is wrong.
    pub message: String,
}

impl MappingError {
    /// An error at byte `offset` of `text`, the content of `path`.
    pub(crate) fn at(
        path: impl Into<PathBuf>,
        text: &str,
        offset: usize,
        kind: MappingErrorKind,
        message: impl Into<String>,
    ) -> Self {
        let (line, column) = line_column(text, offset);
        Self {
            path: path.into(),
            line,
            column,
            kind,
            message: message.into(),
        }
    }
}

pub use transload_core::position::line_and_column as line_column;

/// Where an output value probably came from: input places holding the same value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldLineage {
    /// The output field, as a JSON pointer into the payload (`/data/raw_code`).
    pub path: String,
    /// The value, as JSON text.
    pub value: String,
    /// Input places with an equal value: X12 references (`0200[1]/0205[1]/AT7/AT701`),
    /// JSON pointers into the input, or `$partner/...`. Empty when none matched (a
    /// computed or constant value).
    pub sources: Vec<String>,
}

impl fmt::Display for FieldLineage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.path, self.value)?;
        if self.sources.is_empty() {
            f.write_str("  <- (no input value matches: computed or constant)")
        } else {
            write!(f, "  <- {}", self.sources.join(", "))
        }
    }
}

/// A mapping that failed on one input.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum MapError {
    /// The input could not be read as its format (bad JSON, refused XML, bad X12).
    #[error("{mapping}: input: {message}")]
    Input {
        /// The mapping's id.
        mapping: String,
        /// What is wrong.
        message: String,
    },
    /// The jq program raised an error.
    #[error("{mapping}: jq: {message}")]
    Runtime {
        /// The mapping's id.
        mapping: String,
        /// The error as jq reports it.
        message: String,
    },
    /// An output is not a valid canonical payload (inbound) or partner document (outbound).
    #[error("{mapping}: output {index}: {path}: {reason}{}", lineage_text(lineage))]
    Output {
        /// The mapping's id.
        mapping: String,
        /// Which output value (0-based).
        index: usize,
        /// The offending field as a JSON pointer (`/data/status`).
        path: String,
        /// Why it is refused.
        reason: String,
        /// Where the offending field and the payload's other leaf fields came from (a
        /// value-matching heuristic, see [`FieldLineage`]); the offending field first.
        lineage: Vec<FieldLineage>,
    },
    /// The mapping was given something it does not handle (wrong direction or event type).
    #[error("{mapping}: {message}")]
    Unsupported {
        /// The mapping's id.
        mapping: String,
        /// What does not fit.
        message: String,
    },
}

fn lineage_text(lineage: &[FieldLineage]) -> String {
    if lineage.is_empty() {
        return String::new();
    }
    let mut text = String::from("\n  lineage (heuristic: input values equal to the output's):");
    for line in lineage {
        text.push_str("\n    ");
        text.push_str(&line.to_string());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_lines_and_character_columns() {
        let text = "a = 1\nprogram = '''\n  .é | x\n'''";
        let at = text.find('x').unwrap();
        assert_eq!(line_column(text, at), (3, 8));
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 10_000), (4, 4));
    }
}
