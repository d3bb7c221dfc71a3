//! The engine through its public API on real files: compile errors with positions, output
//! validation with lineage, hot reload, the watcher.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use transload_mappings::{
    Format, InboundInput, MapError, MappingErrorKind, MappingSet, Partner, Registry, library_dir,
    load_file, read_x12, validate_dir,
};

fn json_mapping(version: &str, program: &str) -> String {
    format!(
        "id = \"demo-in\"\nversion = \"{version}\"\ndirection = \"inbound\"\nformat = \"json\"\nprogram = '''\n{program}\n'''\n"
    )
}

const CANCEL: &str = r#"{type: "transload.order.cancelled", data: {order_id: .id, cancelled_at: "2026-11-25T10:15:00Z", reason: $partner.name}}"#;

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn compile_errors_point_into_the_toml_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.toml");
    write(&file, &json_mapping("1", ".id |\n  nosuch(1)"));
    let errors = load_file(&file).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].kind, MappingErrorKind::Compile);
    // Line 5 opens the program (`program = '''`); `nosuch` is on line 7, column 3.
    assert_eq!((errors[0].line, errors[0].column), (7, 3), "{}", errors[0]);
    assert!(
        errors[0]
            .to_string()
            .contains("broken.toml:7:3: undefined filter `nosuch`")
    );

    write(&file, &json_mapping("1", "{a: 1,, }"));
    let error = &load_file(&file).unwrap_err()[0];
    assert_eq!((error.line, error.column), (6, 7), "{error}");

    write(&file, "id = \"x\"\nversion = 1\n");
    let error = &load_file(&file).unwrap_err()[0];
    assert_eq!(error.kind, MappingErrorKind::Definition);
    assert_eq!(error.line, 2, "{error}");

    let errors = validate_dir(dir.path());
    assert_eq!(errors.len(), 1);
    assert!(validate_dir(&library_dir()).is_empty());
}

#[test]
fn program_files_get_their_own_positions_and_stamp() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("m.toml"),
        "id = \"m\"\nversion = \"2\"\ndirection = \"inbound\"\nformat = \"json\"\nprogram_file = \"m.jq\"\n",
    );
    write(&dir.path().join("m.jq"), "# comment\n.x | bad_fn");
    let error = &load_file(&dir.path().join("m.toml")).unwrap_err()[0];
    assert!(error.path.ends_with("m.jq"));
    assert_eq!((error.line, error.column), (2, 6), "{error}");
    write(&dir.path().join("m.jq"), CANCEL);
    let mapping = load_file(&dir.path().join("m.toml")).unwrap();
    let stamp = mapping.version_stamp().to_owned();
    assert!(
        stamp.starts_with("m@2+") && stamp.len() == "m@2+".len() + 12,
        "{stamp}"
    );
    write(&dir.path().join("m.jq"), &format!("{CANCEL} "));
    assert_ne!(
        load_file(&dir.path().join("m.toml"))
            .unwrap()
            .version_stamp(),
        stamp
    );
}

#[test]
fn invalid_output_names_the_field_and_its_x12_lineage() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad-214.toml");
    // Forgets to map the status code: the raw AT701 lands in `status`.
    write(
        &file,
        r#"id = "bad-214"
version = "1"
direction = "inbound"
format = "x12"
x12 = { version = "004010", set = "214" }
program = '''
.set | seg("B10") as $b10 | [loops("0205") | own_seg("AT7") as $at7 | {type: "transload.shipment.status", data: {
  shipper_load_id: ($b10 | el(2)), status: ($at7 | el(1)), raw_code: ($at7 | el(1)), origin: "edi",
  reported_by: "odfl", occurred_at: zoned(x12_local($at7 | el(5); $at7 | el(6)); "America/Chicago"; "stop_location")}}]
'''
"#,
    );
    let mapping = load_file(&file).unwrap();
    let inputs =
        read_x12(&std::fs::read(library_dir().join("fixtures/214-two-stops.edi")).unwrap())
            .unwrap();
    let error = mapping
        .run_inbound(&inputs[0], &Partner::empty())
        .unwrap_err();
    let MapError::Output {
        path,
        lineage,
        index,
        ..
    } = &error
    else {
        panic!("{error}")
    };
    assert_eq!(*index, 0);
    assert_eq!(path, "/data/status");
    assert_eq!(lineage[0].path, "/data/status");
    assert_eq!(lineage[0].sources, vec!["0200[1]/0205[1]/AT7/AT701"]);
    let load = lineage
        .iter()
        .find(|l| l.path == "/data/shipper_load_id")
        .unwrap();
    assert_eq!(load.sources, vec!["B10/B1002"]);
    let text = error.to_string();
    assert!(text.contains("bad-214: output 0: /data/status"), "{text}");
    assert!(text.contains("heuristic"), "{text}");
}

#[test]
fn lookups_by_format_set_and_id() {
    let set = MappingSet::load(&[library_dir()]).unwrap();
    let inbound = set
        .get_inbound(Format::X12, Some(("004010", "214")))
        .unwrap();
    assert_eq!(inbound.id(), "x12-004010-214-in");
    assert!(
        set.get_inbound(Format::X12, Some(("005010", "214")))
            .is_none()
    );
    let outbound = set
        .get_outbound(
            Format::X12,
            Some(("004010", "990")),
            "transload.tender.responded",
        )
        .unwrap();
    assert_eq!(outbound.id(), "x12-004010-990-out");
    assert!(set.by_id("xml-asn-in").is_some());
    // An inbound mapping refuses an input of another format.
    let error = inbound
        .run_inbound(&InboundInput::Json(json!({})), &Partner::empty())
        .unwrap_err();
    assert!(matches!(error, MapError::Unsupported { .. }), "{error}");
}

fn run_demo(registry: &Registry) -> serde_json::Value {
    let set = registry.current();
    let mapping = set.by_id("demo-in").unwrap();
    let payloads = mapping
        .run_inbound(
            &InboundInput::Json(json!({"id": "SO-1"})),
            &Partner::new(json!({"name": "acme"})).unwrap(),
        )
        .unwrap();
    serde_json::to_value(&payloads[0]).unwrap()
}

#[test]
fn reload_swaps_in_new_versions_and_keeps_the_old_set_on_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("demo.toml");
    write(&file, &json_mapping("1", CANCEL));
    let registry = Registry::open(vec![dir.path().to_path_buf()]).unwrap();
    assert_eq!(run_demo(&registry)["data"]["reason"], "acme");
    let first_stamp = registry
        .current()
        .by_id("demo-in")
        .unwrap()
        .version_stamp()
        .to_owned();

    write(
        &file,
        &json_mapping("2", &CANCEL.replace("$partner.name", "\"changed\"")),
    );
    registry.reload().unwrap();
    assert_eq!(run_demo(&registry)["data"]["reason"], "changed");
    let second = registry.current().by_id("demo-in").unwrap();
    assert!(second.version_stamp().starts_with("demo-in@2+"));
    assert_ne!(second.version_stamp(), first_stamp);

    write(&file, &json_mapping("3", "{type: "));
    let errors = registry.reload().unwrap_err();
    assert!(
        errors[0].to_string().contains("demo.toml:7:1:"),
        "{}",
        errors[0]
    );
    assert_eq!(registry.last_errors(), errors);
    assert_eq!(
        run_demo(&registry)["data"]["reason"],
        "changed",
        "the old set stays"
    );
}

#[test]
fn the_watcher_reloads_changed_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("demo.toml");
    write(&file, &json_mapping("1", CANCEL));
    let registry = Arc::new(Registry::open(vec![dir.path().to_path_buf()]).unwrap());
    let _watcher = registry.watch(Duration::from_millis(50)).unwrap();
    let wait_for = |what: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !what() {
            assert!(
                Instant::now() < deadline,
                "the watcher did not reload in time"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    write(
        &file,
        &json_mapping("2", &CANCEL.replace("$partner.name", "\"watched\"")),
    );
    wait_for(&|| run_demo(&registry)["data"]["reason"] == "watched");
    write(&file, &json_mapping("3", "nope("));
    wait_for(&|| !registry.last_errors().is_empty());
    assert_eq!(run_demo(&registry)["data"]["reason"], "watched");
}
