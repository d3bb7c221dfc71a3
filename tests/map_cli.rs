//! `transload map test` and `transload map run`, black-box on the built binary.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::process::{Command, Output};

fn transload(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_transload"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn map_test_runs_the_library_by_default() {
    let out = transload(&["map", "test"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("ok    x12-004010-214-in / "), "{stdout}");
    assert!(stdout.contains("15 mapping(s)"), "{stdout}");
    assert!(stdout.contains(" 0 failed"), "{stdout}");
}

#[test]
fn map_test_shows_a_diff_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let library = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/library");
    std::fs::write(
        dir.path().join("input.json"),
        br#"{"action": "cancelled", "order": {"number": "SO-9"}, "at": "2026-11-25T10:15:00Z"}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("expected.json"),
        br#"[{"type": "transload.order.cancelled", "data": {"order_id": "SO-8", "cancelled_at": "2026-11-25T10:15:00Z"}}]"#,
    )
    .unwrap();
    let mapping = std::fs::read_to_string(library.join("oms-order-in.toml")).unwrap();
    let mapping = mapping.split("[[tests]]").next().unwrap().to_owned()
        + "[[tests]]\nname = \"wrong order id\"\ninput = \"input.json\"\nexpected = \"expected.json\"\n";
    let file = dir.path().join("oms.toml");
    std::fs::write(&file, mapping).unwrap();
    let out = transload(&["map", "test", file.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL  oms-order-in / wrong order id"),
        "{stdout}"
    );
    assert!(stdout.contains("-      \"order_id\": \"SO-8\""), "{stdout}");
    assert!(stdout.contains("+      \"order_id\": \"SO-9\""), "{stdout}");
}

#[test]
fn map_run_prints_events_and_errors_with_lineage() {
    let out = transload(&[
        "map",
        "run",
        "mappings/library/x12-004010-214-in.toml",
        "mappings/library/fixtures/214-two-stops.edi",
        "--partner",
        "mappings/library/fixtures/partner-odfl.json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let events: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(events.as_array().unwrap().len(), 3);
    assert_eq!(events[0]["data"]["status"], "departed_pickup");
    assert!(text(&out.stderr).contains("mappingversion x12-004010-214-in@1.0.0+"));

    let out = transload(&[
        "map",
        "run",
        "mappings/library/oms-order-in.toml",
        "mappings/library/fixtures/oms-order-bad-quantity.json",
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("/data/lines/0/quantity: quantity must be positive"),
        "{stderr}"
    );
    assert!(
        stderr.contains("/data/lines/0/quantity = \"0\"  <- /order/items/0/qty"),
        "{stderr}"
    );
}

#[test]
fn map_run_reports_compile_errors_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "id = \"bad\"\nversion = \"1\"\ndirection = \"inbound\"\nformat = \"json\"\nprogram = '''\n.a | oops\n'''\n",
    )
    .unwrap();
    let out = transload(&["map", "run", file.to_str().unwrap(), "Cargo.toml"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("bad.toml:6:6: undefined filter `oops`"),
        "{stderr}"
    );
}

#[test]
fn map_run_writes_outbound_documents() {
    let out = transload(&[
        "map",
        "run",
        "mappings/library/x12-004010-990-out.toml",
        "mappings/library/fixtures/event-tender-responded.json",
        "--partner",
        "mappings/library/fixtures/partner-odfl.json",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        stdout,
        "B1*ODFL*LD-2026-000417*20261124*A~\nN9*TN*TND-000417-1~\n"
    );
}

#[test]
fn map_test_reports_broken_files_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken.toml"),
        "id = \"broken\"\nversion = \"1\"\ndirection = \"inbound\"\nformat = \"x12\"\nprogram = '.'\n",
    )
    .unwrap();
    let out = transload(&["map", "test", dir.path().to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("broken.toml:4:1: an x12 mapping names its set"),
        "{stdout}"
    );
}
