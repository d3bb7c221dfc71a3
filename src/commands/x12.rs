//! `transload x12 …`: the X12 engine on files.
//!
//! `parse` and `validate` stream the file one transaction set at a time, so they work on
//! files of any size in bounded memory; `ack`, `to-json` and `from-json` hold the file.
//! Every subcommand exits with 1 when the input has errors (warnings do not count).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use transload_connectors::x12::ack::{self, AckKind};
use transload_connectors::x12::control_numbers::{
    ControlNumberStore, MemoryControlNumbers, SqliteControlNumbers,
};
use transload_connectors::x12::delimiters::Delimiters;
use transload_connectors::x12::document;
use transload_connectors::x12::envelope::Finding;
use transload_connectors::x12::error::{ErrorKind, Severity};
use transload_connectors::x12::segment::Segment;
use transload_connectors::x12::spec_check::{self, SpecValidator};
use transload_connectors::x12::stream::X12Reader;
use transload_connectors::x12::tree::{self, X12Tree};
use transload_connectors::x12::writer::{self, WriteOptions};

/// The `x12` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum X12Command {
    /// Parse FILE and print its interchanges, groups and transaction sets.
    Parse { file: PathBuf },
    /// Validate FILE's envelopes and transaction sets against the specs.
    Validate { file: PathBuf },
    /// Print the 997/999 (and TA1) acknowledging FILE.
    Ack {
        file: PathBuf,
        /// Write 999 implementation acknowledgements instead of 997s.
        #[arg(long = "999")]
        ia999: bool,
        /// SQLite database of outgoing control numbers (in memory, starting at 1, if absent).
        #[arg(long)]
        control_numbers: Option<PathBuf>,
    },
    /// Print FILE as the JSON document tree (loops nested as the transaction-set specs give
    /// them; shape documented in `transload_connectors::x12::tree`).
    ToJson { file: PathBuf },
    /// Write the JSON document tree in FILE back as X12 (nested or flat).
    FromJson { file: PathBuf },
}

/// Runs one `x12` subcommand.
pub(crate) fn run(command: &X12Command) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let ok = match command {
        X12Command::Parse { file } => parse(file, &mut out)?,
        X12Command::Validate { file } => validate(file, &mut out)?,
        X12Command::Ack {
            file,
            ia999,
            control_numbers,
        } => ack(file, *ia999, control_numbers.as_deref(), &mut out)?,
        X12Command::ToJson { file } => to_json(file, &mut out)?,
        X12Command::FromJson { file } => from_json(file, &mut out)?,
    };
    out.flush()?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn open(file: &Path) -> anyhow::Result<File> {
    File::open(file).with_context(|| format!("cannot open {}", file.display()))
}

fn read(file: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
}

fn ack_code(kind: &ErrorKind) -> String {
    kind.ta1_note()
        .map(|c| format!(" [TA105 {c}]"))
        .or_else(|| kind.ak5_code().map(|c| format!(" [AK502 {c}]")))
        .or_else(|| kind.ak9_code().map(|c| format!(" [AK905 {c}]")))
        .unwrap_or_default()
}

fn print_finding(out: &mut impl Write, f: &Finding) -> std::io::Result<()> {
    let p = f.error.position;
    let level = match f.error.severity() {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let in_set = if p.set_index > 0 {
        format!(" (#{} in set)", p.set_index)
    } else {
        String::new()
    };
    writeln!(
        out,
        "{level} {code}: line {line}, byte {offset}, segment {seg}{in_set}: {kind}{ack}",
        code = f.error.code(),
        line = p.line,
        offset = p.offset,
        seg = p.segment_index,
        kind = f.error.kind,
        ack = ack_code(&f.error.kind),
    )
}

fn text(s: Option<&Segment<'_>>, pos: usize) -> String {
    s.map(|s| s.text(pos)).unwrap_or_default()
}

#[derive(Default)]
struct Tally {
    errors: u64,
    warnings: u64,
}

impl Tally {
    fn add(&mut self, findings: &[Finding], out: &mut impl Write) -> std::io::Result<()> {
        for f in findings {
            match f.error.severity() {
                Severity::Error => self.errors += 1,
                Severity::Warning => self.warnings += 1,
            }
            print_finding(out, f)?;
        }
        Ok(())
    }
}

fn parse(file: &Path, out: &mut impl Write) -> anyhow::Result<bool> {
    let mut reader = X12Reader::new(std::io::BufReader::with_capacity(256 * 1024, open(file)?));
    let mut tally = Tally::default();
    let (mut last_isa, mut last_gs) = (None, None);
    let mut sets = 0u64;
    while let Some(set) = reader.next_set()? {
        tally.add(&set.findings, out)?;
        let isa_at = set.isa.map(|s| s.position.offset);
        if isa_at != last_isa {
            last_isa = isa_at;
            last_gs = None;
            match set.isa.as_ref() {
                Some(isa) => {
                    let d = isa.delimiters();
                    writeln!(
                        out,
                        "interchange {} from {}:{} to {}:{} (version {}, delimiters element {:?} component {:?} segment {:?} repetition {:?}) at line {}",
                        isa.text(13),
                        isa.text(5),
                        isa.text(6),
                        isa.text(7),
                        isa.text(8),
                        isa.text(12),
                        char::from(d.element),
                        char::from(d.component),
                        char::from(d.segment),
                        d.repetition.map(char::from),
                        isa.position.line,
                    )?;
                }
                None => writeln!(out, "data without ISA")?,
            }
        }
        let gs_at = set.gs.map(|s| s.position.offset);
        if gs_at != last_gs {
            last_gs = gs_at;
            if let Some(gs) = set.gs.as_ref() {
                writeln!(
                    out,
                    "  group {} {} version {} at line {}",
                    gs.text(6),
                    gs.text(1),
                    gs.text(8),
                    gs.position.line
                )?;
            }
        }
        let first = set.segments.first();
        let last = set.segments.last();
        writeln!(
            out,
            "    set {} {}: {} segments, lines {}-{}",
            text(first, 1),
            text(first, 2),
            set.segments.len(),
            first.map_or(0, |s| s.position.line),
            last.map_or(0, |s| s.position.line),
        )?;
        sets += 1;
    }
    tally.add(&reader.take_findings(), out)?;
    writeln!(
        out,
        "{sets} transaction sets, {} errors, {} warnings",
        tally.errors, tally.warnings
    )?;
    Ok(tally.errors == 0)
}

fn validate(file: &Path, out: &mut impl Write) -> anyhow::Result<bool> {
    let mut reader = X12Reader::new(std::io::BufReader::with_capacity(256 * 1024, open(file)?));
    let mut tally = Tally::default();
    let (mut sets, mut checked) = (0u64, 0u64);
    while let Some(set) = reader.next_set()? {
        tally.add(&set.findings, out)?;
        sets += 1;
        let version = text(set.gs.as_ref(), 8);
        let Some(errors) = spec_check::spec_errors(&version, &set.segments) else {
            continue;
        };
        checked += 1;
        for e in errors {
            tally.errors += 1;
            let at = set
                .segments
                .get(e.segment_index)
                .or(set.segments.last())
                .map(|s| s.position)
                .unwrap_or_default();
            let code = if e.code.is_segment_level() {
                e.code.ak304().map(|c| format!("AK304 {c}"))
            } else {
                e.code.ak403().map(|c| format!("AK403 {c}"))
            }
            .unwrap_or_default();
            writeln!(
                out,
                "error SPEC: line {}, byte {}, segment {} (#{} in set {} {}): {e} [{code}]",
                at.line,
                at.offset,
                at.segment_index,
                e.segment_index + 1,
                text(set.segments.first(), 1),
                text(set.segments.first(), 2),
            )?;
        }
    }
    tally.add(&reader.take_findings(), out)?;
    writeln!(
        out,
        "{sets} transaction sets ({checked} checked against a spec), {} errors, {} warnings",
        tally.errors, tally.warnings
    )?;
    Ok(tally.errors == 0)
}

fn ack(
    file: &Path,
    ia999: bool,
    control_numbers: Option<&Path>,
    out: &mut impl Write,
) -> anyhow::Result<bool> {
    let data = read(file)?;
    let doc = document::parse(&data);
    let mut store: Box<dyn ControlNumberStore> = match control_numbers {
        Some(path) => Box::new(SqliteControlNumbers::open(path)?),
        None => Box::new(MemoryControlNumbers::default()),
    };
    let kind = if ia999 {
        AckKind::Ia999
    } else {
        AckKind::Fa997
    };
    let results = ack::results(&doc, &SpecValidator);
    let mut bytes = Vec::new();
    for r in &results {
        let delimiters = Delimiters::default();
        if let Some(ix) = ack::render(r, kind, delimiters, store.as_mut(), writer::utc_now())? {
            writer::write_interchange(
                &mut bytes,
                &ix,
                tree::Encoding::Utf8,
                &WriteOptions {
                    delimiters: None,
                    newline: true,
                },
            )?;
        }
    }
    out.write_all(&bytes)?;
    let rejected = results
        .iter()
        .any(|r| r.code() == "R" || r.groups.iter().any(|g| g.code() != "A"));
    Ok(doc.is_envelope_valid() && !rejected)
}

fn to_json(file: &Path, out: &mut impl Write) -> anyhow::Result<bool> {
    let data = read(file)?;
    let doc = document::parse(&data);
    for f in doc.errors() {
        let mut err = std::io::stderr().lock();
        print_finding(&mut err, f)?;
    }
    serde_json::to_writer_pretty(&mut *out, &tree::to_tree(&doc, &data))?;
    writeln!(out)?;
    Ok(doc.is_envelope_valid())
}

fn from_json(file: &Path, out: &mut impl Write) -> anyhow::Result<bool> {
    let tree: X12Tree = serde_json::from_reader(std::io::BufReader::new(open(file)?))
        .with_context(|| format!("{} is not an X12 JSON tree", file.display()))?;
    let bytes = writer::write_tree(
        &tree,
        &WriteOptions {
            delimiters: None,
            newline: true,
        },
    )?;
    out.write_all(&bytes)?;
    Ok(true)
}
