//! The file-drop endpoint with a real SQLite store in a temporary folder.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use transload::file_drop::{DropFolder, FileDropOptions, FileDropWatcher, FileOutcome, Refusal};
use transload::ingest;
use transload::store::sqlite::SqliteStore;
use transload_connectors::partner::DocumentFormat;
use transload_core::bus::Stage;
use transload_core::ids::{PartnerId, TenantId};
use transload_core::store::Store;
use uuid::Uuid;

/// A real 214 of the corpus whose only envelope error is IEA02 (000002510) differing
/// from ISA13 (000003438); see SOURCES.tsv.
const CORPUS_214: &str = "apimeister__x12-types/test_214.rs__parse_214_1.edi";

fn corpus_214() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/x12")
        .join(CORPUS_214);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The same 214 with IEA02 corrected: envelope-valid.
fn valid_214() -> Vec<u8> {
    let text = String::from_utf8(corpus_214()).unwrap();
    assert!(text.contains("IEA*1*000002510~"));
    text.replace("IEA*1*000002510~", "IEA*1*000003438~")
        .into_bytes()
}

struct Fixture {
    root: PathBuf,
    drop: PathBuf,
    store: SqliteStore,
    watcher: FileDropWatcher<SqliteStore>,
}

fn fixture() -> Fixture {
    let root = std::env::temp_dir().join(format!("transload-file-drop-{}", Uuid::now_v7()));
    let drop = root.join("drop/odfl");
    std::fs::create_dir_all(&drop).unwrap();
    let store = SqliteStore::open(&root.join("store.sqlite3")).unwrap();
    let watcher = FileDropWatcher::new(
        store.clone(),
        vec![DropFolder {
            tenant: TenantId::new("acme").unwrap(),
            partner: PartnerId::new("odfl").unwrap(),
            dir: drop.clone(),
            format: None,
        }],
        FileDropOptions::default(),
    );
    Fixture {
        root,
        drop,
        store,
        watcher,
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Polls until a file is finished with (at most 5 polls).
async fn settle(watcher: &mut FileDropWatcher<SqliteStore>) -> Vec<(PathBuf, FileOutcome)> {
    for _ in 0..5 {
        let report = watcher.poll_once().await;
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        if !report.outcomes.is_empty() {
            return report.outcomes;
        }
    }
    panic!("no file was taken in 5 polls");
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn an_x12_214_is_stored_queued_and_moved_to_done() {
    let mut f = fixture();
    let body = valid_214();
    std::fs::write(f.drop.join("214-0001.edi"), &body).unwrap();
    std::fs::write(f.drop.join(".hidden.edi"), &body).unwrap();
    std::fs::write(f.drop.join("upload.edi.part"), &body).unwrap();

    let first = f.watcher.poll_once().await;
    assert!(first.outcomes.is_empty(), "nothing is taken on first sight");
    assert_eq!(
        first.waiting, 1,
        "dotfiles and partial uploads are not candidates"
    );
    let outcomes = settle(&mut f.watcher).await;
    assert_eq!(outcomes.len(), 1);
    let FileOutcome::Accepted { raw_id, moved_to } = &outcomes[0].1 else {
        panic!("{outcomes:?}")
    };
    assert_eq!(moved_to, &f.drop.join("done/214-0001.edi"));
    assert_eq!(std::fs::read(moved_to).unwrap(), body);
    assert_eq!(
        names(&f.drop),
        vec![".hidden.edi", "done", "upload.edi.part"]
    );

    let raw = f.store.raw_message(*raw_id).await.unwrap().unwrap();
    assert_eq!(raw.body, body);
    assert_eq!(raw.format, "x12");
    assert_eq!(raw.partner.as_str(), "odfl");
    assert_eq!(raw.metadata["file_name"], "214-0001.edi");
    assert_eq!(
        raw.dedupe_key,
        ingest::content_dedupe_key(&body).unwrap(),
        "the dedupe key is the content's SHA-256"
    );
    let outbox = f.store.pending_outbox(10).await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].stage, Stage::Inbound);
    assert_eq!(outbox[0].message.body, body);
    assert_eq!(
        outbox[0].message.headers[ingest::RAW_ID_HEADER],
        raw_id.to_string()
    );
    assert_eq!(outbox[0].message.headers[ingest::ENDPOINT_HEADER], "file");
}

#[tokio::test]
async fn a_malformed_x12_file_goes_to_failed_with_its_position() {
    let mut f = fixture();
    std::fs::write(f.drop.join("bad.edi"), corpus_214()).unwrap();
    let outcomes = settle(&mut f.watcher).await;
    let FileOutcome::Refused { reason, moved_to } = &outcomes[0].1 else {
        panic!("{outcomes:?}")
    };
    let Refusal::X12 {
        segment_index,
        offset,
        ..
    } = reason
    else {
        panic!("{reason:?}")
    };
    assert_eq!(moved_to, &f.drop.join("failed/bad.edi"));
    let text = String::from_utf8(corpus_214()).unwrap();
    let iea_offset = u64::try_from(text.find("IEA*").unwrap()).unwrap();
    assert_eq!(*offset, iea_offset, "{reason}");
    let segments = u64::try_from(text.matches('~').count()).unwrap();
    assert_eq!(
        *segment_index, segments,
        "the IEA is the last segment: {reason}"
    );
    let error = std::fs::read_to_string(f.drop.join("failed/bad.edi.error")).unwrap();
    assert!(
        error.contains(&format!("byte offset {iea_offset}")),
        "{error}"
    );
    assert!(error.contains(&format!("segment {segments}")), "{error}");
    assert!(f.store.pending_outbox(10).await.unwrap().is_empty());

    std::fs::write(f.drop.join("bad.json"), b"{\"a\": [1, 2}").unwrap();
    std::fs::write(f.drop.join("bad.xml"), b"<a><b></a>").unwrap();
    std::fs::write(f.drop.join("notes.txt"), b"hello").unwrap();
    let mut refused = Vec::new();
    for _ in 0..3 {
        refused.extend(f.watcher.poll_once().await.outcomes);
    }
    assert_eq!(refused.len(), 3, "{refused:?}");
    assert!(
        refused
            .iter()
            .all(|(_, o)| matches!(o, FileOutcome::Refused { .. })),
        "{refused:?}"
    );
    let json_error = std::fs::read_to_string(f.drop.join("failed/bad.json.error")).unwrap();
    assert!(json_error.contains("line 1, column 12"), "{json_error}");
    let txt_error = std::fs::read_to_string(f.drop.join("failed/notes.txt.error")).unwrap();
    assert!(txt_error.contains("unknown format"), "{txt_error}");
    assert!(f.drop.join("failed/bad.xml.error").exists());
    assert!(f.store.pending_outbox(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_file_written_slowly_is_not_taken_half_written() {
    let mut f = fixture();
    let body = valid_214();
    let (head, tail) = body.split_at(body.len() / 2);
    let path = f.drop.join("slow.edi");
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(head).unwrap();
    file.flush().unwrap();
    let report = f.watcher.poll_once().await;
    assert!(report.outcomes.is_empty());
    assert_eq!(report.waiting, 1);
    // Part two arrives between two polls: the file changed, so it is not stable yet.
    tokio::time::sleep(Duration::from_millis(20)).await;
    file.write_all(tail).unwrap();
    file.flush().unwrap();
    drop(file);
    let report = f.watcher.poll_once().await;
    assert!(report.outcomes.is_empty(), "{:?}", report.outcomes);
    assert_eq!(report.waiting, 1);
    let outcomes = settle(&mut f.watcher).await;
    let FileOutcome::Accepted { raw_id, .. } = &outcomes[0].1 else {
        panic!("{outcomes:?}")
    };
    let raw = f.store.raw_message(*raw_id).await.unwrap().unwrap();
    assert_eq!(raw.body, body, "the whole file, not its first half");
}

#[tokio::test]
async fn the_same_file_twice_is_a_duplicate_of_the_first() {
    let mut f = fixture();
    let body = valid_214();
    std::fs::write(f.drop.join("214.edi"), &body).unwrap();
    let outcomes = settle(&mut f.watcher).await;
    let FileOutcome::Accepted { raw_id, .. } = outcomes[0].1.clone() else {
        panic!("{outcomes:?}")
    };
    // The partner sends it again, under the same name.
    std::fs::write(f.drop.join("214.edi"), &body).unwrap();
    let outcomes = settle(&mut f.watcher).await;
    let FileOutcome::Duplicate { of, moved_to } = &outcomes[0].1 else {
        panic!("{outcomes:?}")
    };
    assert_eq!(*of, raw_id);
    assert_eq!(moved_to.parent().unwrap(), f.drop.join("done"));
    assert_ne!(
        moved_to,
        &f.drop.join("done/214.edi"),
        "the name clash gets a suffix"
    );
    let moved_name = moved_to.file_name().unwrap().to_string_lossy().into_owned();
    assert!(moved_name.starts_with("214-") && moved_name.ends_with(".edi"));
    let note = std::fs::read_to_string(format!("{}.duplicate", moved_to.display())).unwrap();
    assert!(note.contains(&raw_id.to_string()), "{note}");
    assert_eq!(
        f.store.pending_outbox(10).await.unwrap().len(),
        1,
        "queued once"
    );
    assert!(!f.drop.join("failed").exists());
}

#[tokio::test]
async fn the_profile_format_overrides_detection() {
    let f = fixture();
    let folder = DropFolder {
        format: Some(DocumentFormat::X12),
        ..f.watcher.folders()[0].clone()
    };
    let mut watcher =
        FileDropWatcher::new(f.store.clone(), vec![folder], FileDropOptions::default());
    std::fs::write(f.drop.join("x.json"), b"{}").unwrap();
    let outcomes = settle(&mut watcher).await;
    assert!(
        matches!(
            &outcomes[0].1,
            FileOutcome::Refused {
                reason: Refusal::X12 { .. },
                ..
            }
        ),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn a_crash_between_accept_and_move_gives_a_duplicate_in_done_not_a_second_message() {
    let mut f = fixture();
    let body = valid_214();
    std::fs::write(f.drop.join("214.edi"), &body).unwrap();
    // A previous run accepted the file and died before moving it.
    let accepted = ingest::accept(
        &f.store,
        ingest::Incoming {
            tenant: TenantId::new("acme").unwrap(),
            partner: PartnerId::new("odfl").unwrap(),
            format: "x12",
            kind: None,
            endpoint: "file",
            dedupe_key: ingest::content_dedupe_key(&body).unwrap(),
            metadata: std::collections::BTreeMap::new(),
            body: body.clone(),
        },
    )
    .await
    .unwrap();
    let ingest::Accepted::New(first) = accepted else {
        panic!("{accepted:?}")
    };
    let outcomes = settle(&mut f.watcher).await;
    let FileOutcome::Duplicate { of, moved_to } = &outcomes[0].1 else {
        panic!("{outcomes:?}")
    };
    assert_eq!(*of, first);
    assert_eq!(moved_to, &f.drop.join("done/214.edi"));
    assert_eq!(f.store.pending_outbox(10).await.unwrap().len(), 1);
    assert!(!f.drop.join("failed").exists());
}
