//! `transload x12 to-json` / `from-json`, run as a user runs them: the nested JSON tree of a
//! corpus file, and back to the same X12.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::process::Command;

fn corpus_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/x12")
        .join(name)
}

/// The X12 segments of `bytes` without line breaks between them.
fn segments(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .split('~')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

#[test]
fn to_json_prints_nested_loops_and_from_json_writes_the_same_x12() {
    let input = corpus_file("GT-Logistics__edi-x12/204.edi");
    let output = Command::new(env!("CARGO_BIN_EXE_transload"))
        .args(["x12", "to-json"])
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let set = &json["interchanges"][0]["groups"][0]["transaction_sets"][0]["segments"];
    let stops: Vec<&serde_json::Value> = set
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["loop"] == "0300")
        .collect();
    assert_eq!(stops.len(), 2, "{set}");
    assert_eq!(stops[1]["segments"][0]["tag"], "S5");
    assert_eq!(stops[1]["segments"][0]["elements"][1], "CU");
    assert_eq!(set[0]["tag"], "ST");

    let tree_file = std::env::temp_dir().join(format!("x12_cli_{}.json", std::process::id()));
    std::fs::write(&tree_file, &output.stdout).unwrap();
    let back = Command::new(env!("CARGO_BIN_EXE_transload"))
        .args(["x12", "from-json"])
        .arg(&tree_file)
        .output()
        .unwrap();
    std::fs::remove_file(&tree_file).unwrap();
    assert!(
        back.status.success(),
        "{}",
        String::from_utf8_lossy(&back.stderr)
    );
    assert_eq!(
        segments(&back.stdout),
        segments(&std::fs::read(&input).unwrap())
    );
}
