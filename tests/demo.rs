//! `transload demo` against the quickstart hub, both run as a user runs them: a copy of
//! `examples/quickstart` (its own data folder, drop folders and simulator port), the hub
//! binary started with `run`, then `demo --orders 4`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn transload() -> Command {
    Command::new(env!("CARGO_BIN_EXE_transload"))
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The quickstart copied to a fresh folder: its data there, the mapping library of the
/// repository, the REST carrier's endpoint on a free port.
fn quickstart_copy() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("transload-demo-{}", uuid::Uuid::now_v7()));
    let source = repo().join("examples/quickstart");
    for folder in ["partners", "carriers"] {
        std::fs::create_dir_all(dir.join(folder)).unwrap();
        for entry in std::fs::read_dir(source.join(folder)).unwrap() {
            let entry = entry.unwrap();
            if entry.path().extension().is_some_and(|e| e == "toml") {
                std::fs::copy(entry.path(), dir.join(folder).join(entry.file_name())).unwrap();
            }
        }
    }
    let config = std::fs::read_to_string(source.join("transload.toml")).unwrap();
    let config = config
        .replace(
            "data_dir = \"../../.transload-data/quickstart\"",
            "data_dir = \"data\"",
        )
        .replace(
            "mappings_dirs = [\"../../mappings/library\"]",
            &format!(
                "mappings_dirs = [{:?}]",
                repo().join("mappings/library").display().to_string()
            ),
        );
    assert!(config.contains("data_dir = \"data\""), "{config}");
    std::fs::write(dir.join("transload.toml"), config).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let jb = dir.join("partners/jb-hunt.toml");
    let profile = std::fs::read_to_string(&jb).unwrap();
    assert!(profile.contains("http://127.0.0.1:8091/"), "{profile}");
    std::fs::write(
        &jb,
        profile.replace(
            "http://127.0.0.1:8091/",
            &format!("http://127.0.0.1:{port}/"),
        ),
    )
    .unwrap();
    dir
}

/// A running hub, killed when dropped.
struct Hub {
    child: Child,
    url: String,
}

impl Hub {
    fn start(config: &Path) -> Hub {
        let mut child = transload()
            .args(["run", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let address = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Hub {
            child,
            url: address,
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The number after `label` on the summary line that starts with it.
fn figure(summary: &str, label: &str) -> usize {
    let line = summary
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with(label))
        .unwrap_or_else(|| panic!("no {label} line in:\n{summary}"));
    line[label.len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no figure on {line:?}"))
}

#[test]
fn demo_plays_a_day_through_the_quickstart_hub() {
    let dir = quickstart_copy();
    let config = dir.join("transload.toml");
    let validate = transload()
        .args(["validate", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        validate.status.success(),
        "{}",
        String::from_utf8_lossy(&validate.stdout)
    );
    let hub = Hub::start(&config);
    let started = Instant::now();
    let demo = transload()
        .args(["demo", "--config"])
        .arg(&config)
        .args([
            "--url",
            &hub.url,
            "--orders",
            "4",
            "--speed",
            "4",
            "--timeout-secs",
            "90",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8(demo.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&demo.stderr);
    assert!(
        demo.status.success(),
        "demo failed:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(100));
    assert!(
        stdout.contains("summary (read back from the store)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("loads:      4 (delivered 4)"),
        "every load delivered:\n{stdout}"
    );
    assert!(
        figure(&stdout, "tenders:") >= 5,
        "a decline and the waterfall:\n{stdout}"
    );
    assert!(stdout.contains("declined 1"), "{stdout}");
    assert_eq!(figure(&stdout, "invoices:"), 4, "{stdout}");
    assert!(
        stdout.contains("short_pay 1"),
        "fuel over tolerance:\n{stdout}"
    );
    assert!(figure(&stdout, "statuses:") >= 8, "{stdout}");
    assert!(stdout.contains("running_late 1"), "{stdout}");
    assert!(stdout.contains("approval_required 1"), "{stdout}");
    assert!(
        stdout.contains("jb-hunt 1"),
        "the REST carrier won a load:\n{stdout}"
    );
    assert!(stdout.contains("approves it"), "{stdout}");
    drop(hub);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn demo_without_a_running_hub_fails() {
    let dir = quickstart_copy();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = transload()
        .args(["demo", "--config"])
        .arg(dir.join("transload.toml"))
        .args([
            "--url",
            &format!("http://127.0.0.1:{port}"),
            "--orders",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no hub answers"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
