//! Fault test: the hub process is killed with SIGKILL at random points while 20,000
//! messages flow through a two-stage pipeline on the embedded bus and the SQLite store.
//! Afterwards every confirmed message has exactly one effect: none lost, duplicates
//! absorbed by the processed markers.
//!
//! Figures are printed; run with `--nocapture` to see them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use transload::bus::embedded::{EmbeddedBus, EmbeddedBusOptions};
use transload_core::bus::{Bus, BusMessage, Stage};
use uuid::Uuid;

const MESSAGES: usize = 20_000;
const BATCH: usize = 50;
const MIN_KILLS: usize = 10;

fn start_soak(bus: &Path, store: &Path) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_transload-soak"))
        .arg("--bus-file")
        .arg(bus)
        .arg("--store-file")
        .arg(store)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "soak pipeline running");
    child
}

fn kill9(child: &mut Child) {
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .unwrap()
            .success()
    );
    child.wait().unwrap();
}

fn effects(store: &Path) -> BTreeSet<Uuid> {
    let connection = rusqlite::Connection::open(store).unwrap();
    connection.busy_timeout(Duration::from_secs(10)).unwrap();
    let mut statement = connection
        .prepare("SELECT key FROM state WHERE tenant = 'soak' AND kind = 'effect'")
        .unwrap();
    statement
        .query_map([], |row| row.get::<_, String>(0))
        .unwrap()
        .map(|key| Uuid::parse_str(&key.unwrap()).unwrap())
        .collect()
}

fn count(store: &Path, sql: &str) -> i64 {
    let connection = rusqlite::Connection::open(store).unwrap();
    connection.busy_timeout(Duration::from_secs(10)).unwrap();
    connection.query_row(sql, [], |row| row.get(0)).unwrap()
}

#[test]
fn kill_9_at_random_points_loses_nothing_and_duplicates_nothing() {
    let dir: PathBuf = std::env::temp_dir().join(format!("transload-kill-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let (bus_file, store_file) = (dir.join("bus.sqlite3"), dir.join("store.sqlite3"));
    let started = Instant::now();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let bus = EmbeddedBus::open(&bus_file, EmbeddedBusOptions::default()).unwrap();
    // The publisher: batches, each retried until confirmed; the confirmed ids are what
    // must come out at the end.
    let publisher = runtime.spawn({
        let bus = bus.clone();
        async move {
            let mut confirmed = Vec::with_capacity(MESSAGES);
            let mut failures = 0;
            for batch in 0..MESSAGES / BATCH {
                let messages: Vec<BusMessage> = (0..BATCH)
                    .map(|n| BusMessage::new("soak", format!("message {batch}-{n}").into_bytes()))
                    .collect();
                loop {
                    match bus.publish(Stage::Inbound, messages.clone()).await {
                        Ok(()) => break,
                        Err(_) => {
                            failures += 1;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
                confirmed.extend(messages.iter().map(|message| message.id));
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            (confirmed, failures)
        }
    });

    let mut soak = start_soak(&bus_file, &store_file);
    let mut kills = 0;
    while kills < MIN_KILLS || !publisher.is_finished() {
        std::thread::sleep(Duration::from_millis(fastrand::u64(150..900)));
        kill9(&mut soak);
        kills += 1;
        soak = start_soak(&bus_file, &store_file);
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "publishing took too long"
        );
    }
    let (confirmed, publish_failures) = runtime.block_on(publisher).unwrap();
    let confirmed: BTreeSet<Uuid> = confirmed.into_iter().collect();
    assert_eq!(confirmed.len(), MESSAGES);

    // Let the last incarnation finish the work.
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut done = effects(&store_file);
    while done.len() < confirmed.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        done = effects(&store_file);
    }
    kill9(&mut soak);

    let lost: Vec<&Uuid> = confirmed.difference(&done).collect();
    let unexpected: Vec<&Uuid> = done.difference(&confirmed).collect();
    let dead_letters = count(&store_file, "SELECT count(*) FROM dead_letters");
    let redelivered = bus.dead_letters(Stage::Inbound).unwrap().len()
        + bus.dead_letters(Stage::Events).unwrap().len();
    let forwarded = count(
        &store_file,
        "SELECT count(*) FROM processed WHERE consumer = 'soak-forward'",
    );
    let outbox = count(&store_file, "SELECT count(*) FROM outbox");
    println!(
        "kill -9 fault test: {MESSAGES} messages confirmed, {kills} kills, {} effects, {} lost, {} unexpected, \
         {forwarded} forwarded once, {outbox} outbox rows, {dead_letters} dead letters, {redelivered} bus dead letters, \
         {publish_failures} publish retries, {:.1} s",
        done.len(),
        lost.len(),
        unexpected.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(kills >= MIN_KILLS);
    assert!(
        lost.is_empty(),
        "{} confirmed messages lost, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    assert!(unexpected.is_empty());
    assert_eq!(
        dead_letters, 0,
        "a duplicate effect would have been a state conflict, then a dead letter"
    );
    assert_eq!(redelivered, 0);
    assert_eq!(
        forwarded,
        i64::try_from(MESSAGES).unwrap(),
        "each input forwarded exactly once"
    );
    assert_eq!(
        outbox, forwarded,
        "one outgoing message per forwarded input"
    );
    std::fs::remove_dir_all(&dir).ok();
}
