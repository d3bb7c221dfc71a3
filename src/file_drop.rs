//! The file-drop endpoint: partners (or an SFTP server in front of the hub) put files in a
//! folder per partner (`[file_drop]` of its profile); the hub takes each file once it is
//! completely written, checks it is well-formed, accepts it (raw message + inbound queue,
//! one transaction, see [`crate::ingest`]) and moves it out of the way.
//!
//! ```text
//! drop/odfl/
//!   214-0001.edi              waiting: taken once its size and mtime are stable
//!   .upload-in-progress       skipped: dotfiles, *.tmp and *.part are never taken
//!   done/214-0001.edi         accepted (or a duplicate of accepted content, see below)
//!   failed/bad.edi            refused, never queued
//!   failed/bad.edi.error      why: for X12 the code, segment index, line and byte offset
//! ```
//!
//! **Polling, not `notify`.** Each folder is listed every [`FileDropOptions::poll_interval`].
//! Change notifications do not work on the network shares drop folders often are (NFS,
//! SMB), and even where they do, the decision "completely written" needs two looks some
//! time apart anyway: a file is taken only when its size and modification time are the
//! same on two consecutive polls (and it is not empty). A listing per partner per second
//! is cheap, and it needs no further dependency.
//!
//! **Crash safety.** The order is: accept (commit), then rename into `done/`. A crash in
//! between leaves the file in place; the next poll takes it again, and its dedupe key
//! (SHA-256 of the content) makes that a duplicate: nothing is queued twice, nothing is
//! lost. **Duplicates go to `done/`**, not `failed/`: their content *was* accepted (by
//! the raw message named in the note), so nothing failed. Beside such a file a
//! `<name>.duplicate` note names the raw message it duplicates, which also tells a
//! partner's resend of the same content apart from a new file. `failed/` holds only what
//! was refused and never queued, each with its `<name>.error`.
//!
//! The `.error` (or `.duplicate`) note is written before the file is moved, so a crash
//! between the two leaves the file to be taken again, never a moved file without its
//! note. A name already used in `done/` or `failed/` gets a `-<uuid>` suffix before its
//! extension.
//!
//! **Store errors** leave the file where it is; it is taken again on the next poll.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use thiserror::Error;
use transload_connectors::partner::{DocumentFormat, PartnerDirectory};
use transload_connectors::x12::document::validate_envelopes;
use transload_connectors::x12::error::Severity;
use transload_core::ids::{DedupeKey, PartnerId, TenantId};
use transload_core::store::{Store, StoreError};
use uuid::Uuid;

use crate::ingest::{self, Accepted, Incoming};

/// Metadata key of a raw message naming the file it came from.
pub const FILE_NAME_METADATA: &str = "file_name";
/// The folder accepted files are moved to, inside the drop folder.
pub const DONE_DIR: &str = "done";
/// The folder refused files are moved to, inside the drop folder.
pub const FAILED_DIR: &str = "failed";

/// How the watcher polls.
#[derive(Debug, Clone, Copy)]
pub struct FileDropOptions {
    /// Time between two listings of every folder; a file must look the same on two
    /// listings in a row to be taken.
    pub poll_interval: Duration,
}

impl Default for FileDropOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// One watched folder.
#[derive(Debug, Clone)]
pub struct DropFolder {
    /// The tenant of the partner.
    pub tenant: TenantId,
    /// The partner whose files arrive here.
    pub partner: PartnerId,
    /// The folder.
    pub dir: PathBuf,
    /// The format the profile declares; detected from the content when `None`.
    pub format: Option<DocumentFormat>,
}

/// Why a file was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Refusal {
    /// The content is not X12, JSON or XML, and the profile names no format.
    #[error("unknown format: the file starts with neither ISA, `{{`, `[` nor `<`")]
    UnknownFormat,
    /// An X12 envelope error.
    #[error("X12 {code} {message} at segment {segment_index}, line {line}, byte offset {offset}")]
    X12 {
        /// The stable error code.
        code: &'static str,
        /// What is wrong.
        message: String,
        /// 1-based segment index in the file.
        segment_index: u64,
        /// 1-based line.
        line: u64,
        /// Byte offset from the start of the file.
        offset: u64,
    },
    /// Malformed JSON.
    #[error("JSON {message} at line {line}, column {column}")]
    Json {
        /// What is wrong.
        message: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// Malformed XML.
    #[error("XML {message} at byte offset {offset}")]
    Xml {
        /// What is wrong.
        message: String,
        /// Byte offset from the start of the file.
        offset: u64,
    },
}

/// What became of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    /// Accepted as raw message `raw_id` and moved to `moved_to` (in `done/`).
    Accepted {
        /// The raw message id.
        raw_id: Uuid,
        /// Where the file is now.
        moved_to: PathBuf,
    },
    /// Its content was accepted before as raw message `of`: moved to `done/` with a
    /// `.duplicate` note.
    Duplicate {
        /// The raw message it duplicates.
        of: Uuid,
        /// Where the file is now.
        moved_to: PathBuf,
    },
    /// Refused: moved to `failed/` with a `.error` note.
    Refused {
        /// Why.
        reason: Refusal,
        /// Where the file is now.
        moved_to: PathBuf,
    },
}

/// A file the watcher could not finish with; it stays where it is and is taken again on
/// a later poll.
#[derive(Debug, Error)]
pub enum FileDropError {
    /// The store failed (transient or not): nothing was accepted.
    #[error("{path}: store: {source}")]
    Store {
        /// The file.
        path: PathBuf,
        /// The store's error.
        source: StoreError,
    },
    /// Reading, listing or moving failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// What one poll of every folder did.
#[derive(Debug, Default)]
pub struct PollReport {
    /// The files finished with, by their path in the drop folder.
    pub outcomes: Vec<(PathBuf, FileOutcome)>,
    /// Files seen but not yet stable.
    pub waiting: usize,
    /// Files left in place after an error, to be taken again.
    pub errors: Vec<FileDropError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Look {
    len: u64,
    modified: Option<SystemTime>,
}

/// Watches every partner's drop folder and accepts what arrives there.
#[derive(Debug)]
pub struct FileDropWatcher<S> {
    store: S,
    folders: Vec<DropFolder>,
    options: FileDropOptions,
    last_look: HashMap<PathBuf, Look>,
}

impl<S: Store> FileDropWatcher<S> {
    /// A watcher of the given folders.
    #[must_use]
    pub fn new(store: S, folders: Vec<DropFolder>, options: FileDropOptions) -> Self {
        Self {
            store,
            folders,
            options,
            last_look: HashMap::new(),
        }
    }

    /// A watcher of the folder of every partner profile with `[file_drop]`.
    #[must_use]
    pub fn for_partners(store: S, partners: &PartnerDirectory, options: FileDropOptions) -> Self {
        let folders = partners
            .iter()
            .filter_map(|profile| {
                profile.file_drop.as_ref().map(|drop| DropFolder {
                    tenant: profile.tenant.clone(),
                    partner: profile.id.clone(),
                    dir: drop.dir.clone(),
                    format: drop.format,
                })
            })
            .collect();
        Self::new(store, folders, options)
    }

    /// The folders watched.
    #[must_use]
    pub fn folders(&self) -> &[DropFolder] {
        &self.folders
    }

    /// Polls until `shutdown` completes.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut ticker = tokio::time::interval(self.options.poll_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                _ = ticker.tick() => {
                    let report = self.poll_once().await;
                    for error in &report.errors {
                        tracing::warn!(%error, "file drop: left in place, will retry");
                    }
                }
            }
        }
    }

    /// Lists every folder once and takes the files that were stable since the last poll.
    pub async fn poll_once(&mut self) -> PollReport {
        let mut report = PollReport::default();
        let mut still_there = HashMap::new();
        for folder in self.folders.clone() {
            let candidates = match list_candidates(&folder.dir) {
                Ok(candidates) => candidates,
                Err(source) => {
                    report.errors.push(FileDropError::Io {
                        path: folder.dir.clone(),
                        source,
                    });
                    continue;
                }
            };
            for (path, look) in candidates {
                let stable = self.last_look.get(&path) == Some(&look) && look.len > 0;
                if !stable {
                    report.waiting += 1;
                    still_there.insert(path, look);
                    continue;
                }
                match self.take(&folder, &path).await {
                    Ok(outcome) => {
                        log_outcome(&folder, &path, &outcome);
                        report.outcomes.push((path, outcome));
                    }
                    Err(error) => {
                        report.errors.push(error);
                        still_there.insert(path, look);
                    }
                }
            }
        }
        self.last_look = still_there;
        report
    }

    /// Reads, checks, accepts and moves one file.
    async fn take(&self, folder: &DropFolder, path: &Path) -> Result<FileOutcome, FileDropError> {
        let io = |source| FileDropError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Reading, checking and hashing a large file is blocking work.
        let (read_path, declared) = (path.to_path_buf(), folder.format);
        let examined = tokio::task::spawn_blocking(move || examine(&read_path, declared))
            .await
            .map_err(|join| io(std::io::Error::other(join.to_string())))?
            .map_err(io)?;
        let (body, format, dedupe_key) = match examined {
            Examined::Refused(refusal) => return refuse(folder, path, &file_name, refusal),
            Examined::WellFormed {
                body,
                format,
                dedupe_key,
            } => (body, format, dedupe_key),
        };
        let incoming = Incoming {
            tenant: folder.tenant.clone(),
            partner: folder.partner.clone(),
            format: format.as_str(),
            kind: None,
            endpoint: "file",
            dedupe_key: dedupe_key.clone(),
            metadata: BTreeMap::from([(FILE_NAME_METADATA.to_owned(), file_name.clone())]),
            body,
        };
        let accepted = ingest::accept(&self.store, incoming)
            .await
            .map_err(|source| FileDropError::Store {
                path: path.to_path_buf(),
                source,
            })?;
        let done = folder.dir.join(DONE_DIR);
        match accepted {
            Accepted::New(raw_id) => {
                let moved_to = move_with_note(path, &done, &file_name, None).map_err(io)?;
                Ok(FileOutcome::Accepted { raw_id, moved_to })
            }
            Accepted::Duplicate(of) => {
                let note = format!(
                    "duplicate of raw message {of} ({dedupe_key}): this content was accepted \
                     before and is not queued again\n"
                );
                let moved_to = move_with_note(path, &done, &file_name, Some(("duplicate", &note)))
                    .map_err(io)?;
                Ok(FileOutcome::Duplicate { of, moved_to })
            }
        }
    }
}

/// What reading and checking a file found.
enum Examined {
    Refused(Refusal),
    WellFormed {
        body: Vec<u8>,
        format: DocumentFormat,
        dedupe_key: DedupeKey,
    },
}

/// Reads `path`, finds its format (`declared`, else detected), checks it is well-formed
/// and computes its dedupe key.
fn examine(path: &Path, declared: Option<DocumentFormat>) -> std::io::Result<Examined> {
    let body = std::fs::read(path)?;
    let Some(format) = declared.or_else(|| detect_format(&body)) else {
        return Ok(Examined::Refused(Refusal::UnknownFormat));
    };
    if let Err(refusal) = check_well_formed(format, &body) {
        return Ok(Examined::Refused(refusal));
    }
    // A SHA-256 in hex is always a valid key.
    let dedupe_key = ingest::content_dedupe_key(&body)
        .ok_or_else(|| std::io::Error::other("no dedupe key for the content"))?;
    Ok(Examined::WellFormed {
        body,
        format,
        dedupe_key,
    })
}

fn refuse(
    folder: &DropFolder,
    path: &Path,
    file_name: &str,
    reason: Refusal,
) -> Result<FileOutcome, FileDropError> {
    let note = format!("refused: {reason}\n");
    let moved_to = move_with_note(
        path,
        &folder.dir.join(FAILED_DIR),
        file_name,
        Some(("error", &note)),
    )
    .map_err(|source| FileDropError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(FileOutcome::Refused { reason, moved_to })
}

fn log_outcome(folder: &DropFolder, path: &Path, outcome: &FileOutcome) {
    let partner = folder.partner.as_str();
    let file = path.display();
    match outcome {
        FileOutcome::Accepted { raw_id, .. } => {
            tracing::info!(partner, %file, %raw_id, "file drop: accepted");
        }
        FileOutcome::Duplicate { of, .. } => {
            tracing::info!(partner, %file, %of, "file drop: duplicate of accepted content");
        }
        FileOutcome::Refused { reason, .. } => {
            tracing::warn!(partner, %file, %reason, "file drop: refused");
        }
    }
}

/// Whether a file in a drop folder is one to take: not a dotfile, not `*.tmp`/`*.part`.
#[must_use]
pub fn is_candidate_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !(name.starts_with('.') || lower.ends_with(".tmp") || lower.ends_with(".part"))
}

fn list_candidates(dir: &Path) -> std::io::Result<Vec<(PathBuf, Look)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        if !is_candidate_name(&name.to_string_lossy()) {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        found.push((
            entry.path(),
            Look {
                len: meta.len(),
                modified: meta.modified().ok(),
            },
        ));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// The format of `body` by its first character after a UTF-8 BOM and whitespace: X12 for
/// `ISA`, JSON for `{` or `[`, XML for `<`.
#[must_use]
pub fn detect_format(body: &[u8]) -> Option<DocumentFormat> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = body.get(start..)?;
    if rest.starts_with(b"ISA") {
        Some(DocumentFormat::X12)
    } else if rest.starts_with(b"{") || rest.starts_with(b"[") {
        Some(DocumentFormat::Json)
    } else if rest.starts_with(b"<") {
        Some(DocumentFormat::Xml)
    } else {
        None
    }
}

/// Checks that `body` is well-formed `format`: X12 envelopes without errors (warnings
/// are tolerated), JSON that parses, XML with one root element and matching tags.
///
/// # Errors
/// The first problem, with its position.
pub fn check_well_formed(format: DocumentFormat, body: &[u8]) -> Result<(), Refusal> {
    match format {
        DocumentFormat::X12 => check_x12(body),
        DocumentFormat::Json => check_json(body),
        DocumentFormat::Xml => check_xml(body),
    }
}

fn check_x12(body: &[u8]) -> Result<(), Refusal> {
    let findings = validate_envelopes(body);
    match findings
        .into_iter()
        .find(|f| f.error.severity() == Severity::Error)
    {
        None => Ok(()),
        Some(finding) => Err(Refusal::X12 {
            code: finding.error.code(),
            message: finding.error.kind.to_string(),
            segment_index: finding.error.position.segment_index,
            line: finding.error.position.line,
            offset: finding.error.position.offset,
        }),
    }
}

fn check_json(body: &[u8]) -> Result<(), Refusal> {
    serde_json::from_slice::<serde::de::IgnoredAny>(body)
        .map(|_| ())
        .map_err(|e| Refusal::Json {
            message: e.to_string(),
            line: e.line(),
            column: e.column(),
        })
}

fn check_xml(body: &[u8]) -> Result<(), Refusal> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(body);
    reader.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let mut depth: usize = 0;
    let mut roots: usize = 0;
    loop {
        let offset = reader.buffer_position();
        let event = reader.read_event_into(&mut buf).map_err(|e| Refusal::Xml {
            message: e.to_string(),
            offset: reader.error_position(),
        })?;
        match event {
            Event::Start(_) => {
                if depth == 0 {
                    roots += 1;
                }
                depth += 1;
            }
            Event::Empty(_) if depth == 0 => roots += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Eof => {
                return if depth > 0 {
                    Err(Refusal::Xml {
                        message: "the document ends inside an element".to_owned(),
                        offset,
                    })
                } else if roots == 0 {
                    Err(Refusal::Xml {
                        message: "no root element".to_owned(),
                        offset,
                    })
                } else {
                    Ok(())
                };
            }
            _ => {}
        }
        if roots > 1 {
            return Err(Refusal::Xml {
                message: "content after the root element".to_owned(),
                offset,
            });
        }
        buf.clear();
    }
}

/// A free name for `file_name` in `dir`: the name itself, or `<stem>-<uuid>.<ext>`.
fn free_name(dir: &Path, file_name: &str) -> PathBuf {
    let plain = dir.join(file_name);
    if !plain.exists() {
        return plain;
    }
    let suffix = Uuid::now_v7().simple().to_string();
    let (stem, ext) = match file_name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, Some(ext)),
        _ => (file_name, None),
    };
    match ext {
        Some(ext) => dir.join(format!("{stem}-{suffix}.{ext}")),
        None => dir.join(format!("{stem}-{suffix}")),
    }
}

/// Moves `path` into `dir` (created if needed) under a free name, after writing the note
/// `(extension, text)` as `<final name>.<extension>` beside where it goes.
fn move_with_note(
    path: &Path,
    dir: &Path,
    file_name: &str,
    note: Option<(&str, &str)>,
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let target = free_name(dir, file_name);
    if let Some((extension, text)) = note {
        let mut note_name = target.clone().into_os_string();
        note_name.push(".");
        note_name.push(extension);
        let note_path = PathBuf::from(note_name);
        let mut temp_name = note_path.clone().into_os_string();
        temp_name.push(".tmp");
        let temp = PathBuf::from(temp_name);
        std::fs::write(&temp, text)?;
        std::fs::rename(&temp, &note_path)?;
    }
    std::fs::rename(path, &target)?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    use crate::store::flaky::FlakyStore;

    #[tokio::test]
    async fn a_store_error_leaves_the_file_in_place_and_it_is_taken_later() {
        let root =
            std::env::temp_dir().join(format!("transload-file-drop-unit-{}", Uuid::now_v7()));
        let drop_dir = root.join("drop");
        std::fs::create_dir_all(&drop_dir).unwrap();
        let store = FlakyStore::open(&root.join("store.sqlite3"));
        store.down.store(true, Ordering::SeqCst);
        let mut watcher = FileDropWatcher::new(
            store.clone(),
            vec![DropFolder {
                tenant: TenantId::new("acme").unwrap(),
                partner: PartnerId::new("wms").unwrap(),
                dir: drop_dir.clone(),
                format: None,
            }],
            FileDropOptions::default(),
        );
        let file = drop_dir.join("pick.json");
        std::fs::write(&file, br#"{"order":"SO-1"}"#).unwrap();
        assert_eq!(watcher.poll_once().await.waiting, 1);
        let report = watcher.poll_once().await;
        assert!(report.outcomes.is_empty());
        assert!(
            matches!(report.errors.as_slice(), [FileDropError::Store { .. }]),
            "{:?}",
            report.errors
        );
        assert!(file.exists(), "left in place");
        assert!(!drop_dir.join(FAILED_DIR).exists());

        store.down.store(false, Ordering::SeqCst);
        let report = watcher.poll_once().await;
        assert!(
            matches!(
                report.outcomes.as_slice(),
                [(_, FileOutcome::Accepted { .. })]
            ),
            "taken on the next poll: {:?}",
            report.outcomes
        );
        assert!(drop_dir.join(DONE_DIR).join("pick.json").exists());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn detects_formats_after_bom_and_whitespace() {
        assert_eq!(
            detect_format(b"\xEF\xBB\xBF \r\nISA*00*"),
            Some(DocumentFormat::X12)
        );
        assert_eq!(detect_format(b"  [1]"), Some(DocumentFormat::Json));
        assert_eq!(detect_format(b"{}"), Some(DocumentFormat::Json));
        assert_eq!(detect_format(b"\n<a/>"), Some(DocumentFormat::Xml));
        assert_eq!(detect_format(b"hello"), None);
        assert_eq!(detect_format(b"   "), None);
    }

    #[test]
    fn skips_dotfiles_and_partial_uploads() {
        assert!(is_candidate_name("214.edi"));
        assert!(!is_candidate_name(".hidden.edi"));
        assert!(!is_candidate_name("214.edi.tmp"));
        assert!(!is_candidate_name("214.edi.PART"));
    }

    #[test]
    fn checks_json_and_xml_with_positions() {
        assert!(check_json(br#"{"a":[1,2]}"#).is_ok());
        let Err(Refusal::Json { line, column, .. }) = check_json(b"{\n\"a\": }") else {
            panic!("malformed JSON accepted")
        };
        assert_eq!((line, column), (2, 6));
        assert!(check_xml(b"<?xml version=\"1.0\"?><a><b/></a>").is_ok());
        assert!(matches!(check_xml(b"<a><b></a>"), Err(Refusal::Xml { .. })));
        assert!(matches!(check_xml(b"<a>"), Err(Refusal::Xml { .. })));
        assert!(matches!(check_xml(b"<a/><b/>"), Err(Refusal::Xml { .. })));
        assert!(matches!(check_xml(b"just text"), Err(Refusal::Xml { .. })));
    }
}
