//! Fault test of `AmqpBus` against the machine's real RabbitMQ: while a publisher pushes
//! 20,000 messages through `AmqpBus::publish` (batches, each retried until it returns
//! `Ok`, as the outbox relay does) and a consumer consumes them, the broker application
//! is stopped and started (`rabbitmqctl stop_app` / `start_app`, as root) at least 10
//! times, each time while publishing is under way, at random moments.
//!
//! Asserts: every message whose publish returned `Ok` was consumed at least once (none
//! lost), and the consumed ids, deduplicated, are exactly the confirmed ids. Prints
//! the figures (messages, restarts, lost, duplicates, duration); run with
//! `cargo test -p transload --test amqp_faults -- --nocapture` to see them.
//!
//! RabbitMQ is started again by a guard whatever happens. No RabbitMQ, or no
//! `rabbitmqctl`, is a failure, not a skip. The restarts disturb every other user of
//! the broker: run it alone (`cargo test` runs test binaries one after the other; a
//! runner that runs binaries in parallel, or another test suite using the same broker
//! at the same time, sees connections closed under it).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use transload::bus::amqp::{AmqpBus, AmqpConfig};
use transload_core::bus::{Bus, BusMessage, Consumer, ConsumerOptions, Stage};
use uuid::Uuid;

const MESSAGES: usize = 20_000;
const BATCH: usize = 100;
/// Pause between two batches.
const PACE: Duration = Duration::from_millis(250);
const RESTARTS: usize = 10;
/// The whole test, restarts included, must finish within this.
const BUDGET: Duration = Duration::from_secs(300);

fn uri() -> String {
    std::env::var("TRANSLOAD_AMQP_URI")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

fn rabbitmqctl(args: &[&str]) -> Result<(), String> {
    let output = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .map_err(|error| format!("cannot run rabbitmqctl {args:?}: {error} (it needs root)"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "rabbitmqctl {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Starts the broker application again when dropped, whatever happened.
struct BrokerGuard;

impl Drop for BrokerGuard {
    fn drop(&mut self) {
        if let Err(error) = rabbitmqctl(&["start_app"]) {
            eprintln!("amqp_faults: could not start RabbitMQ again: {error}");
        }
    }
}

async fn ctl(args: &'static [&'static str]) {
    tokio::task::spawn_blocking(move || rabbitmqctl(args))
        .await
        .unwrap()
        .unwrap_or_else(|error| panic!("{error}"));
}

fn random_pause(min_ms: u64, max_ms: u64) -> Duration {
    Duration::from_millis(fastrand::u64(min_ms..=max_ms))
}

#[derive(Default)]
struct Figures {
    confirmed: BTreeSet<Uuid>,
    failed_publishes: usize,
    errors: BTreeMap<String, usize>,
}

fn error_kind(error: &transload_core::bus::BusError) -> String {
    let text = format!("{error:?}");
    text.split('(').next().unwrap_or("?").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_confirmed_message_is_lost_across_broker_restarts() {
    let started = Instant::now();
    let config = AmqpConfig {
        uri: uri(),
        prefix: format!("tl-faults-{}", Uuid::now_v7().simple()),
        connect_timeout: Duration::from_secs(3),
        operation_timeout: Duration::from_secs(3),
        confirm_timeout: Duration::from_secs(5),
        watchdog_interval: Duration::from_secs(1),
        reconnect_max_delay: Duration::from_millis(500),
        reconnect_attempts: 2,
        ..AmqpConfig::default()
    };
    let bus = match AmqpBus::connect(config.clone()).await {
        Ok(bus) => bus,
        Err(error) => panic!(
            "RabbitMQ is not reachable at {} ({error}); this test needs a running broker and \
             rabbitmqctl as root",
            config.uri
        ),
    };
    rabbitmqctl(&["-q", "status"]).unwrap_or_else(|error| panic!("{error}"));
    let guard = BrokerGuard;

    let messages: Vec<BusMessage> = (0..MESSAGES)
        .map(|i| {
            BusMessage::new(format!("partner-{}", i % 7), vec![b'x'; 256])
                .with_header("seq", i.to_string())
        })
        .collect();
    let all_ids: BTreeSet<Uuid> = messages.iter().map(|m| m.id).collect();
    let batches: Vec<Vec<BusMessage>> = messages.chunks(BATCH).map(<[_]>::to_vec).collect();
    let batch_count = batches.len();
    // Publishing is released window by window, one window per restart, so that every
    // restart happens while publishing is under way.
    let per_window = batch_count.div_ceil(RESTARTS + 1);

    let restarts_done = Arc::new(AtomicUsize::new(0));
    let batches_started = Arc::new(AtomicUsize::new(0));
    let publishing_done = Arc::new(AtomicBool::new(false));
    let figures = Arc::new(Mutex::new(Figures::default()));
    let deadline = started + BUDGET;

    let publisher = {
        let bus = bus.clone();
        let restarts_done = Arc::clone(&restarts_done);
        let batches_started = Arc::clone(&batches_started);
        let publishing_done = Arc::clone(&publishing_done);
        let figures = Arc::clone(&figures);
        tokio::spawn(async move {
            for (index, batch) in batches.into_iter().enumerate() {
                while index >= (restarts_done.load(Ordering::SeqCst) + 1) * per_window {
                    assert!(Instant::now() < deadline, "publisher: out of time");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                batches_started.store(index + 1, Ordering::SeqCst);
                loop {
                    assert!(Instant::now() < deadline, "publisher: out of time");
                    match bus.publish(Stage::Inbound, batch.clone()).await {
                        Ok(()) => {
                            figures
                                .lock()
                                .await
                                .confirmed
                                .extend(batch.iter().map(|m| m.id));
                            break;
                        }
                        Err(error) => {
                            let mut figures = figures.lock().await;
                            figures.failed_publishes += 1;
                            *figures.errors.entry(error_kind(&error)).or_default() += 1;
                            drop(figures);
                            tokio::time::sleep(random_pause(50, 250)).await;
                        }
                    }
                }
                // Paced, so a window lasts longer than `rabbitmqctl stop_app` takes to
                // act: the stop lands while batches are being published.
                tokio::time::sleep(PACE).await;
            }
            publishing_done.store(true, Ordering::SeqCst);
        })
    };

    let chaos = {
        let restarts_done = Arc::clone(&restarts_done);
        let batches_started = Arc::clone(&batches_started);
        let figures = Arc::clone(&figures);
        tokio::spawn(async move {
            let mut hits = 0_usize;
            for restart in 0..RESTARTS {
                // Wait until the publisher is into this restart's window...
                while batches_started.load(Ordering::SeqCst) <= restart * per_window {
                    assert!(Instant::now() < deadline, "chaos: publisher never started");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                // ...then stop the broker at a random moment of it.
                tokio::time::sleep(random_pause(0, 1500)).await;
                let failures_before = figures.lock().await.failed_publishes;
                ctl(&["-q", "stop_app"]).await;
                tokio::time::sleep(random_pause(100, 1500)).await;
                ctl(&["-q", "start_app"]).await;
                if figures.lock().await.failed_publishes > failures_before {
                    hits += 1;
                }
                restarts_done.store(restart + 1, Ordering::SeqCst);
            }
            hits
        })
    };

    let consumer = {
        let bus = bus.clone();
        let publishing_done = Arc::clone(&publishing_done);
        let figures = Arc::clone(&figures);
        tokio::spawn(async move {
            let options = ConsumerOptions {
                prefetch: 200,
                ..ConsumerOptions::default()
            };
            let mut consumer = loop {
                match bus.consumer(Stage::Inbound, options.clone()).await {
                    Ok(consumer) => break consumer,
                    Err(error) => {
                        assert!(
                            Instant::now() < deadline,
                            "consumer never connected: {error}"
                        );
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            };
            let mut consumed: Vec<Uuid> = Vec::with_capacity(MESSAGES * 11 / 10);
            let mut seen = BTreeSet::new();
            let mut consumer_errors = 0_usize;
            loop {
                if publishing_done.load(Ordering::SeqCst) {
                    let confirmed = figures.lock().await.confirmed.clone();
                    if confirmed.is_subset(&seen) {
                        break;
                    }
                }
                if Instant::now() >= deadline {
                    break;
                }
                match consumer.next_batch(200, Duration::from_millis(500)).await {
                    Ok(batch) => {
                        for delivery in &batch {
                            consumed.push(delivery.message.id);
                            seen.insert(delivery.message.id);
                        }
                        if consumer.ack(&batch).await.is_err() {
                            consumer_errors += 1;
                        }
                    }
                    Err(_) => {
                        consumer_errors += 1;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
            (consumed, consumer_errors)
        })
    };

    let chaos_result = chaos.await;
    let publisher_result = publisher.await;
    let (consumed, consumer_errors) = consumer.await.expect("consumer task");
    drop(guard); // start_app (a no-op if running) before judging and cleaning up
    let hits = chaos_result.expect("chaos task");
    publisher_result.expect("publisher task");

    let figures = figures.lock().await;
    let mut counts: BTreeMap<Uuid, usize> = BTreeMap::new();
    for id in &consumed {
        *counts.entry(*id).or_default() += 1;
    }
    let consumed_unique: BTreeSet<Uuid> = counts.keys().copied().collect();
    let lost: Vec<&Uuid> = figures.confirmed.difference(&consumed_unique).collect();
    let duplicated = counts.values().filter(|&&n| n > 1).count();
    let extra_deliveries: usize = counts.values().map(|n| n - 1).sum();
    let restarts = restarts_done.load(Ordering::SeqCst);
    let duration = started.elapsed();

    println!(
        "amqp_faults: messages published (confirmed): {}",
        figures.confirmed.len()
    );
    println!("amqp_faults: broker restarts (stop_app/start_app) mid-publish: {restarts}");
    println!(
        "amqp_faults: restarts during which a publish call failed (in flight at the stop): {hits}"
    );
    println!(
        "amqp_faults: publish calls that returned an error and were retried: {} {:?}",
        figures.failed_publishes, figures.errors
    );
    println!("amqp_faults: deliveries consumed: {}", consumed.len());
    println!(
        "amqp_faults: lost (confirmed, never consumed): {}",
        lost.len()
    );
    println!(
        "amqp_faults: duplicates: {duplicated} messages consumed more than once ({extra_deliveries} extra deliveries)"
    );
    println!("amqp_faults: consumer errors (stale acks, reconnects): {consumer_errors}");
    println!("amqp_faults: duration: {:.1} s", duration.as_secs_f64());

    let cleanup = bus.delete_topology().await;
    bus.close().await;

    assert_eq!(restarts, RESTARTS, "every restart happened");
    assert!(
        hits * 2 >= RESTARTS,
        "only {hits} of {RESTARTS} restarts caught a publish in flight: the test lost its point"
    );
    assert_eq!(
        figures.confirmed, all_ids,
        "every batch was eventually confirmed"
    );
    assert!(lost.is_empty(), "{} confirmed messages lost", lost.len());
    assert_eq!(
        consumed_unique, figures.confirmed,
        "the deduplicated consumed ids are exactly the confirmed ids"
    );
    assert!(duration < BUDGET, "took {duration:?}");
    cleanup.expect("deleting the test topology");
}
