//! The JSON Schemas in `schemas/events/` must be what the Rust types generate.
//!
//! After changing the model, regenerate them with `cargo run -- schemas export`
//! (or `UPDATE_SCHEMAS=1 cargo test -p transload-core --test schemas_up_to_date`).

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use transload_core::schema::event_schemas;

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas/events")
}

#[test]
fn checked_in_schemas_match_the_model() {
    let dir = schema_dir();
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    let mut stale = Vec::new();
    for file in event_schemas() {
        let path = dir.join(&file.file_name);
        let expected = file.render().unwrap();
        if update {
            std::fs::write(&path, &expected).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(actual) if actual == expected => {}
            Ok(_) => stale.push(format!("{} differs from the model", file.file_name)),
            Err(error) => stale.push(format!("{}: {error}", file.file_name)),
        }
    }
    assert!(
        stale.is_empty(),
        "stale JSON Schemas in schemas/events/:\n  {}\nregenerate with `cargo run -- schemas export`",
        stale.join("\n  ")
    );
}

#[test]
fn no_schema_file_is_left_over_from_a_removed_type() {
    let generated: BTreeSet<String> = event_schemas()
        .into_iter()
        .map(|file| file.file_name)
        .collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(schema_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".schema.json"))
        .collect();
    assert_eq!(on_disk, generated);
}
