//! The mapping file format (TOML) and its loading into a compiled [`Mapping`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{MappingError, MappingErrorKind};
use crate::mapping::Mapping;
use crate::program::Program;

/// Which way a mapping translates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// A partner document to canonical events.
    Inbound,
    /// A canonical event to a partner document.
    Outbound,
}

/// The partner-side format of a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// ANSI X12.
    X12,
    /// JSON.
    Json,
    /// XML.
    Xml,
}

impl Format {
    /// The lowercase name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Format::X12 => "x12",
            Format::Json => "json",
            Format::Xml => "xml",
        }
    }
}

/// The X12 transaction set a mapping reads or writes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct X12Key {
    /// The version (GS08 without the industry suffix), e.g. `004010`.
    pub version: String,
    /// The transaction set id (ST01), e.g. `214`.
    pub set: String,
}

/// A test declared in a mapping file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// What it checks.
    pub name: String,
    /// The input, relative to the mapping file: `.edi`/`.x12` (X12, every transaction set),
    /// `.json`, `.xml`; for an outbound mapping a canonical event (`.json`).
    pub input: PathBuf,
    /// The `$partner` profile as JSON, relative to the mapping file.
    #[serde(default)]
    pub partner: Option<PathBuf>,
    /// The expected output, relative to the mapping file: JSON (inbound: the array of
    /// payloads; outbound: the document as JSON), or `.edi`/`.xml` text for outbound.
    pub expected: PathBuf,
    /// `$now` for the test (RFC 3339); a fixed instant by default so tests repeat.
    #[serde(default)]
    pub now: Option<String>,
    /// `true` when the mapping is expected to fail; `expected` then holds a text that the
    /// error message must contain.
    #[serde(default)]
    pub expect_error: bool,
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMapping {
    id: String,
    version: String,
    direction: Direction,
    format: Format,
    #[serde(default)]
    x12: Option<X12Key>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    events: Vec<String>,
    #[serde(default)]
    program: Option<toml::Spanned<String>>,
    #[serde(default)]
    program_file: Option<PathBuf>,
    #[serde(default)]
    tests: Vec<TestCase>,
}

/// The stamp of a mapping version: `id@version+<12 hex digits of SHA-256>` over the bytes
/// of the mapping file (and of its program file, when it has one).
fn version_stamp(id: &str, version: &str, files: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for bytes in files {
        hasher.update(bytes);
    }
    let digest = hasher.finalize();
    let hex: String = digest
        .iter()
        .take(6)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("{id}@{version}+{hex}")
}

/// The byte offset where the value of a TOML string token starts (after its opening
/// quotes and, for a multi-line string, the newline right after them).
fn content_start(text: &str, span: &std::ops::Range<usize>) -> usize {
    let raw = text.get(span.clone()).unwrap_or_default();
    let quotes = if raw.starts_with("'''") || raw.starts_with("\"\"\"") {
        3
    } else {
        1
    };
    let after = span.start + quotes;
    let rest = text.get(after..).unwrap_or_default();
    if quotes == 3 {
        if rest.starts_with("\r\n") {
            return after + 2;
        }
        if rest.starts_with('\n') {
            return after + 1;
        }
    }
    after
}

fn definition_error(
    path: &Path,
    text: &str,
    offset: usize,
    message: impl Into<String>,
) -> MappingError {
    MappingError::at(path, text, offset, MappingErrorKind::Definition, message)
}

/// Loads and compiles the mapping file at `path`.
///
/// # Errors
/// Every problem found, each with its file, line and column.
pub fn load_file(path: &Path) -> Result<Mapping, Vec<MappingError>> {
    let bytes = std::fs::read(path).map_err(|error| {
        vec![MappingError {
            path: path.to_owned(),
            line: 1,
            column: 1,
            kind: MappingErrorKind::Read,
            message: format!("cannot read: {error}"),
        }]
    })?;
    let text = String::from_utf8(bytes.clone())
        .map_err(|error| vec![definition_error(path, "", 0, format!("not UTF-8: {error}"))])?;
    let raw: RawMapping = toml::from_str(&text).map_err(|error| {
        let offset = error.span().map_or(0, |span| span.start);
        vec![definition_error(
            path,
            &text,
            offset,
            error.message().trim().to_owned(),
        )]
    })?;
    check_fields(path, &text, &raw)?;
    let base = path.parent().map_or_else(PathBuf::new, Path::to_path_buf);
    let (program, stamp) = match (&raw.program, &raw.program_file) {
        (Some(program), None) => {
            let start = content_start(&text, &program.span());
            let compiled = Program::compile(program.get_ref()).map_err(|errors| {
                errors
                    .into_iter()
                    .map(|error| {
                        MappingError::at(
                            path,
                            &text,
                            start + error.offset,
                            MappingErrorKind::Compile,
                            error.message,
                        )
                    })
                    .collect::<Vec<_>>()
            })?;
            (compiled, version_stamp(&raw.id, &raw.version, &[&bytes]))
        }
        (None, Some(file)) => {
            let program_path = base.join(file);
            let code = std::fs::read_to_string(&program_path).map_err(|error| {
                vec![MappingError {
                    path: program_path.clone(),
                    line: 1,
                    column: 1,
                    kind: MappingErrorKind::Read,
                    message: format!("cannot read the program file: {error}"),
                }]
            })?;
            let compiled = Program::compile(&code).map_err(|errors| {
                errors
                    .into_iter()
                    .map(|error| {
                        MappingError::at(
                            &program_path,
                            &code,
                            error.offset,
                            MappingErrorKind::Compile,
                            error.message,
                        )
                    })
                    .collect::<Vec<_>>()
            })?;
            let stamp = version_stamp(&raw.id, &raw.version, &[&bytes, code.as_bytes()]);
            (compiled, stamp)
        }
        _ => {
            return Err(vec![definition_error(
                path,
                &text,
                0,
                "a mapping has exactly one of `program` and `program_file`",
            )]);
        }
    };
    Ok(Mapping::new(
        crate::mapping::MappingInfo {
            id: raw.id,
            version: raw.version,
            direction: raw.direction,
            format: raw.format,
            x12: raw.x12,
            description: raw.description,
            events: raw.events,
            path: path.to_owned(),
            stamp,
            tests: raw.tests,
        },
        program,
    ))
}

fn check_fields(path: &Path, text: &str, raw: &RawMapping) -> Result<(), Vec<MappingError>> {
    let at_key = |key: &str| text.find(&format!("\n{key}")).map_or(0, |at| at + 1);
    let mut errors = Vec::new();
    let is_slug = |value: &str| {
        !value.is_empty()
            && value.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_' || b == b'.'
            })
    };
    if !is_slug(&raw.id) {
        errors.push(definition_error(
            path,
            text,
            at_key("id"),
            format!("id {:?}: lowercase letters, digits, `-`, `_`, `.`", raw.id),
        ));
    }
    if raw.version.trim().is_empty() || raw.version.contains(char::is_whitespace) {
        errors.push(definition_error(
            path,
            text,
            at_key("version"),
            "version must be a non-empty word",
        ));
    }
    match (raw.format, &raw.x12) {
        (Format::X12, None) => errors.push(definition_error(
            path,
            text,
            at_key("format"),
            "an x12 mapping names its set: x12 = { version = \"004010\", set = \"214\" }",
        )),
        (Format::Json | Format::Xml, Some(_)) => errors.push(definition_error(
            path,
            text,
            at_key("x12"),
            "`x12` is for format = \"x12\" only",
        )),
        _ => {}
    }
    for name in &raw.events {
        if transload_core::EventType::from_name(name).is_none() {
            errors.push(definition_error(
                path,
                text,
                at_key("events"),
                format!("unknown event type {name:?}"),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_hash_the_file_bytes() {
        let one = version_stamp("x12-214-in", "1.0.0", &[b"abc"]);
        assert_eq!(one, "x12-214-in@1.0.0+ba7816bf8f01");
        assert_ne!(one, version_stamp("x12-214-in", "1.0.0", &[b"abd"]));
    }

    #[test]
    fn program_content_starts_after_quotes_and_newline() {
        let text = "program = '''\n.a\n'''";
        let span = 10..text.len();
        assert_eq!(content_start(text, &span), 14);
        let text = "program = \".a\"";
        assert_eq!(content_start(text, &(10..14)), 11);
    }
}
