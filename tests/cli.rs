//! The `transload` binary, run as a user runs it, over real sockets.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

fn transload() -> Command {
    Command::new(env!("CARGO_BIN_EXE_transload"))
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> Output {
    transload().args(args).current_dir(repo()).output().unwrap()
}

/// A running hub, killed when dropped.
struct Hub {
    child: Child,
    address: String,
}

impl Hub {
    fn start(config: &Path) -> Hub {
        let mut child = transload()
            .args(["run", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let address = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Hub { child, address }
    }

    fn get(&self, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.address
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response.split(' ').nth(1).unwrap().parse().unwrap();
        let body = response
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        (status, body)
    }

    /// Sends SIGTERM and waits for the exit status.
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        for _ in 0..100 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("hub did not stop within 5 s of SIGTERM");
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `transload.toml` with `body` in a directory of its own, removed when the returned
/// [`tempfile::TempDir`] is dropped (keep it until the test is done).
fn temp_config(name: &str, body: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix(&format!("transload-cli-{name}-"))
        .tempdir()
        .unwrap();
    let path = dir.path().join("transload.toml");
    std::fs::write(&path, body).unwrap();
    (dir, path)
}

#[test]
fn version_names_the_package_version() {
    let output = run(&["--version"]);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().trim(),
        format!("transload {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn quickstart_hub_serves_health_and_stops_cleanly_on_sigterm() {
    let hub = Hub::start(&repo().join("examples/quickstart/transload.toml"));
    let (status, body) = hub.get("/health");
    assert_eq!(status, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));

    let (status, body) = hub.get("/ready");
    assert_eq!(status, 200, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["bus"], "embedded");
    assert_eq!(ready["store"], "sqlite");

    let (status, _) = hub.get("/no-such-thing");
    assert_eq!(status, 404);

    assert!(hub.terminate().success(), "a SIGTERM is a clean shutdown");
}

#[test]
fn the_data_directory_is_created_relative_to_the_config_file() {
    let (_temp, config) = temp_config(
        "datadir",
        "data_dir = \"state/hub\"\n[http]\nlisten = \"127.0.0.1:0\"\n",
    );
    let hub = Hub::start(&config);
    assert!(config.parent().unwrap().join("state/hub").is_dir());
    assert!(hub.terminate().success());
}

#[test]
fn a_bad_configuration_is_refused_with_its_line() {
    let (_temp, config) = temp_config("bad", "data_dir = \"d\"\n[http]\nlisten = 8080\n");
    let output = transload()
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains(&format!("{}:3:10", config.display())),
        "{stderr}"
    );
}

#[test]
fn bench_on_the_embedded_backend_reports_throughput_and_latency() {
    // `demo` is built (tests/demo.rs) and so is `bench`: no subcommand is a stub any more.
    let dir = tempfile::tempdir().unwrap();
    for path in ["x12-ack", "pick-tender"] {
        let metrics = dir.path().join(format!("{path}.prom"));
        let output = run(&[
            "bench",
            "--metrics-out",
            metrics.to_str().unwrap(),
            "--path",
            path,
            "--bus",
            "embedded",
            "--store",
            "sqlite",
            "--rate",
            "20",
            "--warmup",
            "0",
            "--duration",
            "2",
            "--drain",
            "60",
            "--no-baseline",
            "--json",
        ]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{path}: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(report["bus"], "embedded", "{report}");
        let hub = &report["runs"][0];
        assert_eq!(hub["name"], "hub", "{report}");
        assert_eq!(hub["sent"], 40, "{report}");
        assert_eq!(hub["received"], 40, "{report}");
        assert!(hub["throughput_per_s"].as_f64().unwrap() > 0.0, "{report}");
        let latency = &hub["latency"];
        for percentile in ["p50_ms", "p90_ms", "p99_ms", "max_ms"] {
            assert!(latency[percentile].as_f64().unwrap() > 0.0, "{report}");
        }
        assert!(
            latency["p50_ms"].as_f64() <= latency["max_ms"].as_f64(),
            "{report}"
        );
        // The metrics at the end, and before the first timed message (after the pick
        // path's 40 pre-loaded orders): their difference is the 40 timed messages.
        let translated = |file: &Path| -> f64 {
            std::fs::read_to_string(file)
                .unwrap()
                .lines()
                .filter(|line| {
                    line.starts_with("transload_messages_processed_total{stage=\"translate\"")
                })
                .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
                .sum()
        };
        let before = metrics.with_extension("prom.before");
        let preloaded = if path == "pick-tender" { 40.0 } else { 0.0 };
        assert_eq!(translated(&before), preloaded, "{path}");
        assert_eq!(translated(&metrics), preloaded + 40.0, "{path}");
    }
}

#[test]
fn schemas_check_passes_on_the_repository_and_export_writes_every_file() {
    let output = run(&["schemas", "check"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );

    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("schemas");
    let output = transload()
        .args(["schemas", "export"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(output.status.success());
    let count = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(count, 11, "the envelope and one schema per event type");
    std::fs::write(dir.join("event.schema.json"), "{}\n").unwrap();
    let output = transload()
        .args(["schemas", "check"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8(output.stdout).unwrap().contains("stale:"));
}

/// A dead letter in the SQLite store of a hub configured in a temporary folder (removed
/// when the returned [`tempfile::TempDir`] is dropped).
fn hub_with_a_dead_letter(
    name: &str,
) -> (
    tempfile::TempDir,
    PathBuf,
    uuid::Uuid,
    tokio::runtime::Runtime,
) {
    use transload::store::sqlite::SqliteStore;
    use transload_core::bus::{BusMessage, Stage};
    use transload_core::ids::{PartnerId, TenantId};
    use transload_core::store::{DeadLetter, Store, UnitOfWork};

    let (temp, config) = temp_config(
        name,
        "data_dir = \"data\"\n[http]\nlisten = \"127.0.0.1:0\"\n",
    );
    let data = config.parent().unwrap().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let store = SqliteStore::open(&data.join("store.sqlite3")).unwrap();
    let id = uuid::Uuid::now_v7();
    let letter = DeadLetter {
        id,
        stage: Stage::Inbound,
        tenant: Some(TenantId::new("acme").unwrap()),
        partner: Some(PartnerId::new("odfl").unwrap()),
        reason: "segment 4 (N1): element N101 code ZZ is not valid".to_owned(),
        attempts: 1,
        message: BusMessage::new("odfl", b"ISA*00*bad~".to_vec()).with_header("partner", "odfl"),
        failed_at: jiff::Timestamp::now(),
        redriven: None,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(store.commit(UnitOfWork {
            dead_letters: vec![letter],
            ..UnitOfWork::default()
        }))
        .unwrap();
    (temp, config, id, runtime)
}

#[test]
fn dlq_lists_shows_and_redrives_once() {
    use transload::bus::embedded::EmbeddedBusOptions;
    use transload::store::sqlite::SqliteStore;
    use transload_core::bus::{Bus, Consumer, ConsumerOptions, Stage};
    use transload_core::store::Store;

    let (_temp, config, id, runtime) = hub_with_a_dead_letter("dlq");
    let dlq = |args: &[&str]| {
        transload()
            .arg("dlq")
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .unwrap()
    };

    let list = dlq(&["list"]);
    assert!(list.status.success());
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(
        list.contains(&id.to_string()) && list.contains("odfl") && list.contains("N101 code ZZ"),
        "{list}"
    );

    let show = dlq(&["show", &id.to_string()]);
    let show = String::from_utf8(show.stdout).unwrap();
    assert!(show.contains("body (11 bytes):\nISA*00*bad~"), "{show}");
    assert!(show.contains("redriven:    no"), "{show}");

    // --edit runs $EDITOR on the body: here a sed that fixes it.
    let redrive = transload()
        .args(["dlq", "--config"])
        .arg(&config)
        .args(["redrive", &id.to_string(), "--edit", "--by", "alice"])
        .env("VISUAL", "sed -i s/bad/good/")
        .output()
        .unwrap();
    assert!(
        redrive.status.success(),
        "{}",
        String::from_utf8_lossy(&redrive.stderr)
    );
    assert!(
        String::from_utf8(redrive.stdout)
            .unwrap()
            .contains("with the edited body")
    );

    let again = dlq(&["redrive", &id.to_string()]);
    assert!(!again.status.success(), "a dead letter is redriven once");
    assert!(
        String::from_utf8(again.stderr)
            .unwrap()
            .contains("redriven already")
    );

    // The default configuration: the embedded bus in the store's file, where the
    // redrive put the message straight back on its stage.
    let (store, bus) = SqliteStore::open_with_embedded_bus(
        &config.parent().unwrap().join("data/store.sqlite3"),
        EmbeddedBusOptions::default(),
    )
    .unwrap();
    assert!(
        runtime
            .block_on(store.pending_outbox(10))
            .unwrap()
            .is_empty()
    );
    let redriven = runtime.block_on(async {
        let mut inbound = bus
            .consumer(Stage::Inbound, ConsumerOptions::default())
            .await
            .unwrap();
        inbound
            .next_batch(10, Duration::from_millis(500))
            .await
            .unwrap()
    });
    assert_eq!(
        redriven.len(),
        1,
        "the redrive put the message back on its stage"
    );
    assert_eq!(redriven[0].message.body, b"ISA*00*good~");
    assert_eq!(
        redriven[0].message.headers["transload-dead-letter"],
        id.to_string()
    );
    let audit = runtime
        .block_on(store.audit_log(
            &transload_core::ids::TenantId::new("acme").unwrap(),
            &id.to_string(),
        ))
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].actor, "operator:alice");
    assert_eq!(audit[0].details["edited"], true);

    let all = String::from_utf8(dlq(&["list"]).stdout).unwrap();
    assert_eq!(
        all.trim(),
        "no dead letters",
        "redriven letters are hidden without --all"
    );
    let all = String::from_utf8(dlq(&["list", "--all"]).stdout).unwrap();
    assert!(all.contains("[redriven]"), "{all}");
}

/// After a partner's outage an operator sends what failed for it through again, in
/// one command: first a dry run, then with --yes; each letter once, each audited.
#[test]
fn dlq_redrive_all_sends_what_matches_once_after_a_dry_run() {
    use transload::bus::embedded::EmbeddedBusOptions;
    use transload::store::sqlite::SqliteStore;
    use transload_core::bus::{Bus, BusMessage, Consumer, ConsumerOptions, Stage};
    use transload_core::ids::{PartnerId, TenantId};
    use transload_core::store::{DeadLetter, DeadLetterFilter, Store, UnitOfWork};

    let (_temp, config) = temp_config(
        "redrive-all",
        "data_dir = \"data\"\n[http]\nlisten = \"127.0.0.1:0\"\n",
    );
    let data = config.parent().unwrap().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let letter = |partner: &str, reason: &str, body: &str| DeadLetter {
        id: uuid::Uuid::now_v7(),
        stage: Stage::Outbound,
        tenant: Some(TenantId::new("acme").unwrap()),
        partner: Some(PartnerId::new(partner).unwrap()),
        reason: reason.to_owned(),
        attempts: 8,
        message: BusMessage::new(partner, body.as_bytes().to_vec()),
        failed_at: jiff::Timestamp::now(),
        redriven: None,
    };
    let letters = vec![
        letter(
            "odfl",
            "gave up after 8 attempts: HTTP 503 Service Unavailable",
            "204 one",
        ),
        letter(
            "odfl",
            "gave up after 8 attempts: HTTP 503 Service Unavailable",
            "204 two",
        ),
        letter("odfl", "mapping failed: element B206 missing", "204 three"),
        letter(
            "saia",
            "gave up after 8 attempts: HTTP 503 Service Unavailable",
            "204 four",
        ),
    ];
    let (store, bus) = SqliteStore::open_with_embedded_bus(
        &data.join("store.sqlite3"),
        EmbeddedBusOptions::default(),
    )
    .unwrap();
    runtime
        .block_on(store.commit(UnitOfWork {
            dead_letters: letters.clone(),
            ..UnitOfWork::default()
        }))
        .unwrap();
    let redrive_all = |extra: &[&str]| {
        let output = transload()
            .args(["dlq", "--config"])
            .arg(&config)
            .args([
                "redrive-all",
                "--partner",
                "odfl",
                "--reason",
                "HTTP 503",
                "--by",
                "alice",
            ])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };

    let dry = redrive_all(&[]);
    assert!(
        dry.contains(&format!("would redrive {}", letters[0].id)),
        "{dry}"
    );
    assert!(
        dry.contains(&format!("would redrive {}", letters[1].id)),
        "{dry}"
    );
    assert!(
        !dry.contains(&letters[2].id.to_string()),
        "another reason: {dry}"
    );
    assert!(
        !dry.contains(&letters[3].id.to_string()),
        "another partner: {dry}"
    );
    assert!(
        dry.contains("2 dead letters match; nothing was sent"),
        "{dry}"
    );
    let open = |store: &SqliteStore| {
        runtime
            .block_on(store.dead_letters(&DeadLetterFilter::default()))
            .unwrap()
            .len()
    };
    assert_eq!(open(&store), 4, "a dry run sends nothing");

    let sent = redrive_all(&["--yes"]);
    assert!(
        sent.contains("2 dead letters sent through their stages again"),
        "{sent}"
    );
    assert_eq!(open(&store), 2);
    let again = redrive_all(&["--yes"]);
    assert!(
        again.contains("no dead letters match"),
        "each letter once: {again}"
    );

    let redriven = runtime.block_on(async {
        let mut outbound = bus
            .consumer(Stage::Outbound, ConsumerOptions::default())
            .await
            .unwrap();
        outbound
            .next_batch(10, Duration::from_millis(500))
            .await
            .unwrap()
    });
    let bodies: Vec<&[u8]> = redriven.iter().map(|d| d.message.body.as_slice()).collect();
    assert_eq!(
        bodies,
        vec![b"204 one".as_slice(), b"204 two"],
        "oldest first"
    );
    for letter in &letters[..2] {
        let audit = runtime
            .block_on(store.audit_log(&TenantId::new("acme").unwrap(), &letter.id.to_string()))
            .unwrap();
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].actor, "operator:alice");
        assert_eq!(audit[0].action, "redrive");
    }
}

/// A message the embedded bus gave up on by itself (here: rejected by its consumer)
/// reaches `transload dlq` once a hub runs on the data directory.
#[test]
fn the_hub_moves_what_the_bus_gave_up_on_into_transload_dlq() {
    use transload::bus::embedded::EmbeddedBusOptions;
    use transload::store::sqlite::SqliteStore;
    use transload_core::bus::{Bus, BusMessage, Consumer, ConsumerOptions, Stage};

    let (_temp, config) = temp_config(
        "bus-dlq",
        "data_dir = \"data\"\n[http]\nlisten = \"127.0.0.1:0\"\n",
    );
    let data = config.parent().unwrap().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (_store, bus) = SqliteStore::open_with_embedded_bus(
            &data.join("store.sqlite3"),
            EmbeddedBusOptions::default(),
        )
        .unwrap();
        let message = BusMessage::new("odfl", b"poison pill".to_vec());
        bus.publish(Stage::Outbound, vec![message]).await.unwrap();
        let mut outbound = bus
            .consumer(Stage::Outbound, ConsumerOptions::default())
            .await
            .unwrap();
        let got = outbound
            .next_batch(1, Duration::from_secs(2))
            .await
            .unwrap();
        outbound
            .reject(&got[0], "it crashes the carrier mapping")
            .await
            .unwrap();
    });
    let list = || {
        let output = transload()
            .args(["dlq", "--config"])
            .arg(&config)
            .arg("list")
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap()
    };
    assert_eq!(list().trim(), "no dead letters", "before the hub ran");

    let hub = Hub::start(&config);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut listed = list();
    while !listed.contains("it crashes the carrier mapping") && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
        listed = list();
    }
    assert!(
        listed.contains("outbound")
            && listed.contains("the bus gave up on it: it crashes the carrier mapping"),
        "{listed}"
    );
    assert!(hub.terminate().success());
}

#[test]
fn validate_passes_on_the_quickstart() {
    let output = run(&["validate", "--config", "examples/quickstart/transload.toml"]);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains(" 0 error(s)"), "{stdout}");
}

#[test]
fn validate_checks_the_orchestrator_against_the_partners() {
    let (_temp, config) = temp_config(
        "validate-orchestrator",
        "data_dir = \"data\"\n[http]\nlisten = \"127.0.0.1:0\"\n\
         [orchestrator]\ncarriers_dir = \"carriers\"\n\
         [orchestrator.notify]\nwms = \"wms\"\nerp = \"erp\"\n",
    );
    let dir = config.parent().unwrap().to_path_buf();
    std::fs::create_dir_all(dir.join("partners")).unwrap();
    std::fs::create_dir_all(dir.join("carriers")).unwrap();
    std::fs::copy(
        repo().join("examples/quickstart/carriers/odfl.toml"),
        dir.join("carriers/odfl.toml"),
    )
    .unwrap();
    // The WMS gets nothing routed out; odfl and the ERP have no profile at all.
    std::fs::write(
        dir.join("partners/wms.toml"),
        "id = \"wms\"\ntenant = \"acme\"\ntime_zone = \"America/Chicago\"\n",
    )
    .unwrap();
    let output = run(&["validate", "--config", config.to_str().unwrap()]);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("carrier `odfl` has no partner profile to send its tenders to"),
        "{stdout}"
    );
    assert!(
        stdout.contains("wms = `wms`: no [[outbound]] route for transload.shipment.planned"),
        "{stdout}"
    );
    assert!(stdout.contains("erp = `erp`: no such partner"), "{stdout}");
    assert!(stdout.contains(" 5 error(s)"), "{stdout}");
}

#[test]
fn validate_lists_every_problem_with_its_file() {
    let (_temp, config) = temp_config(
        "validate",
        "data_dir = \"data\"\nmappings_dirs = [\"mappings\"]\n[http]\nlisten = \"127.0.0.1:0\"\n",
    );
    let dir = config.parent().unwrap().to_path_buf();
    std::fs::create_dir_all(dir.join("partners")).unwrap();
    std::fs::create_dir_all(dir.join("mappings")).unwrap();
    // A route to a mapping that does not exist, and one whose program does not compile.
    std::fs::write(
        dir.join("partners/wms.toml"),
        "id = \"wms\"\ntenant = \"acme\"\ntime_zone = \"America/Chicago\"\n\
         [[routes]]\nformat = \"json\"\nmapping = \"nowhere\"\n\
         [[routes]]\nformat = \"json\"\nkind = \"broken\"\nmapping = \"broken\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("mappings/broken.toml"),
        "id = \"broken\"\nversion = \"1.0.0\"\ndirection = \"inbound\"\nformat = \"json\"\n\
         program = '''\n{type: \"transload.order.picked\", data: .x | nosuchfunction}\n'''\n",
    )
    .unwrap();
    let output = run(&["validate", "--config", config.to_str().unwrap()]);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("wms.toml (partner `wms`): route to `nowhere`: no such mapping"),
        "{stdout}"
    );
    assert!(stdout.contains("broken.toml:6:"), "{stdout}");
    assert!(stdout.contains("nosuchfunction"), "{stdout}");
    assert!(stdout.contains(" 3 error(s)"), "{stdout}");
}
