//! A broker that stops answering without closing anything (the case where lapin's own
//! recovery can wait forever, lapin issue 450): `AmqpBus` reaches the real RabbitMQ
//! through a TCP proxy in this test that can freeze, i.e. hold every byte in both
//! directions while keeping the sockets open. Heartbeats are disabled, so only the
//! bus's own timeouts and the consumer's watchdog can notice.
//!
//! Asserts: a publish during the freeze fails with `BusError::Timeout` in bounded time
//! (it does not hang); the consumer's `next_batch` returns in bounded time and the
//! consumer rebuilds its connection; once the proxy thaws, the batch published again
//! and the ones after it are consumed, deduplicated ids equal to the confirmed ids.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use transload::bus::amqp::{AmqpBus, AmqpConfig};
use transload_core::bus::{Bus, BusError, BusMessage, Consumer, ConsumerOptions, Stage};
use uuid::Uuid;

const BROKER: &str = "127.0.0.1:5672";

/// Forwards TCP to the broker; while frozen, holds all bytes (and new connections).
struct Proxy {
    port: u16,
    frozen: Arc<AtomicBool>,
}

impl Proxy {
    async fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let frozen = Arc::new(AtomicBool::new(false));
        let accept_frozen = Arc::clone(&frozen);
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let frozen = Arc::clone(&accept_frozen);
                tokio::spawn(async move {
                    thawed(&frozen).await;
                    let Ok(upstream) = tokio::net::TcpStream::connect(BROKER).await else {
                        return;
                    };
                    let (client_read, client_write) = inbound.into_split();
                    let (broker_read, broker_write) = upstream.into_split();
                    tokio::spawn(pump(client_read, broker_write, Arc::clone(&frozen)));
                    pump(broker_read, client_write, frozen).await;
                });
            }
        });
        Proxy { port, frozen }
    }

    fn freeze(&self, frozen: bool) {
        self.frozen.store(frozen, Ordering::SeqCst);
    }
}

async fn thawed(frozen: &AtomicBool) {
    while frozen.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Copies bytes from `from` to `to` until either side closes, pausing while frozen.
async fn pump(from: OwnedReadHalf, to: OwnedWriteHalf, frozen: Arc<AtomicBool>) {
    let mut buffer = vec![0_u8; 64 * 1024];
    loop {
        thawed(&frozen).await;
        if from.readable().await.is_err() {
            return;
        }
        let count = match from.try_read(&mut buffer) {
            Ok(0) => return,
            Ok(count) => count,
            Err(error) if error.kind() == ErrorKind::WouldBlock => continue,
            Err(_) => return,
        };
        let mut written = 0;
        while written < count {
            thawed(&frozen).await;
            if to.writable().await.is_err() {
                return;
            }
            match to.try_write(&buffer[written..count]) {
                Ok(n) => written += n,
                Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
    }
}

fn batch(count: usize) -> Vec<BusMessage> {
    (0..count)
        .map(|i| BusMessage::new("partner-1", format!("m{i}").into_bytes()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_broker_leads_to_timeouts_and_a_rebuilt_consumer() {
    let proxy = Proxy::start().await;
    let config = AmqpConfig {
        uri: format!("amqp://guest:guest@127.0.0.1:{}/%2f", proxy.port),
        prefix: format!("tl-stall-{}", Uuid::now_v7().simple()),
        heartbeat_secs: 0,
        connect_timeout: Duration::from_secs(2),
        operation_timeout: Duration::from_secs(2),
        confirm_timeout: Duration::from_secs(2),
        watchdog_interval: Duration::from_secs(1),
        reconnect_attempts: 1,
        reconnect_max_delay: Duration::from_millis(200),
        ..AmqpConfig::default()
    };
    let bus = AmqpBus::connect(config.clone())
        .await
        .unwrap_or_else(|error| {
            panic!(
                "RabbitMQ is not reachable at {BROKER} ({error}); this test needs a running broker"
            )
        });
    let mut consumer = bus
        .consumer(Stage::Inbound, ConsumerOptions::default())
        .await
        .unwrap();
    let mut confirmed = BTreeSet::new();
    let mut consumed = Vec::new();

    // Before: works.
    let first = batch(10);
    bus.publish(Stage::Inbound, first.clone()).await.unwrap();
    confirmed.extend(first.iter().map(|m| m.id));
    let got = consumer
        .next_batch(10, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(!got.is_empty());
    consumed.extend(got.iter().map(|d| d.message.id));
    consumer.ack(&got).await.unwrap();
    let generation_before = consumer.generation();

    proxy.freeze(true);

    // A publish into the silence fails in bounded time, with a timeout.
    let stalled = batch(5);
    let started = Instant::now();
    let result = bus.publish(Stage::Inbound, stalled.clone()).await;
    let publish_took = started.elapsed();
    assert!(matches!(result, Err(BusError::Timeout(..))), "{result:?}");
    assert!(
        publish_took < Duration::from_secs(6),
        "publish took {publish_took:?}"
    );

    // The consumer does not hang either; its watchdog drops the silent connection.
    let started = Instant::now();
    let during = consumer.next_batch(10, Duration::from_secs(4)).await;
    let wait_took = started.elapsed();
    assert!(
        wait_took < Duration::from_secs(12),
        "next_batch took {wait_took:?}"
    );
    match during {
        Ok(batch) => assert!(batch.is_empty(), "deliveries through a frozen proxy"),
        Err(error) => assert!(error.is_transient(), "{error:?}"),
    }

    proxy.freeze(false);

    // After: the batch is published again (as the outbox relay does), then more.
    bus.publish(Stage::Inbound, stalled.clone()).await.unwrap();
    confirmed.extend(stalled.iter().map(|m| m.id));
    let last = batch(10);
    bus.publish(Stage::Inbound, last.clone()).await.unwrap();
    confirmed.extend(last.iter().map(|m| m.id));

    let deadline = Instant::now() + Duration::from_secs(30);
    while !confirmed.is_subset(&consumed.iter().copied().collect()) {
        assert!(
            Instant::now() < deadline,
            "not every confirmed message came"
        );
        match consumer.next_batch(100, Duration::from_secs(1)).await {
            Ok(got) => {
                consumed.extend(got.iter().map(|d| d.message.id));
                let _ = consumer.ack(&got).await;
            }
            Err(error) => assert!(error.is_transient(), "{error:?}"),
        }
    }
    assert!(
        consumer.generation() > generation_before,
        "the consumer rebuilt its connection"
    );
    let unique: BTreeSet<Uuid> = consumed.iter().copied().collect();
    println!(
        "amqp_stall: publish timed out after {publish_took:?}, next_batch returned after \
         {wait_took:?}; {} deliveries for {} messages",
        consumed.len(),
        unique.len()
    );
    // The stalled publish may have reached the queue after the thaw: then its
    // messages came twice, and the dedupe on the id absorbs them.
    assert_eq!(unique, confirmed);

    drop(consumer);
    bus.delete_topology().await.unwrap();
    bus.close().await;
}
