//! `AmqpBus` against the machine's real RabbitMQ (127.0.0.1:5672, guest/guest, or
//! `TRANSLOAD_AMQP_URI`). Every test uses its own prefix and deletes its exchanges and
//! queues at the end, also when it fails. No RabbitMQ is a failure, not a skip.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use lapin::options::{BasicGetOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Connection, ConnectionProperties};
use transload::bus::amqp::{AmqpBus, AmqpConfig};
use transload_core::bus::{
    AVAILABLE_AT_HEADER, Bus, BusError, BusMessage, Consumer, ConsumerOptions, Delivery, Stage,
};
use uuid::Uuid;

fn uri() -> String {
    std::env::var("TRANSLOAD_AMQP_URI")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

fn config(name: &str) -> AmqpConfig {
    AmqpConfig {
        uri: uri(),
        prefix: format!("tl-test-{name}-{}", Uuid::now_v7().simple()),
        retry_tiers: vec![
            Duration::from_secs(1),
            Duration::from_secs(2),
            Duration::from_secs(5),
        ],
        watchdog_interval: Duration::from_secs(1),
        confirm_timeout: Duration::from_secs(5),
        operation_timeout: Duration::from_secs(5),
        ..AmqpConfig::default()
    }
}

async fn connect(config: AmqpConfig) -> AmqpBus {
    match AmqpBus::connect(config.clone()).await {
        Ok(bus) => bus,
        Err(error) => panic!(
            "RabbitMQ is not reachable at {} ({error}); these tests need a running broker \
             (`rabbitmq-server`, or set TRANSLOAD_AMQP_URI)",
            config.uri
        ),
    }
}

/// Runs `body` on a bus with a fresh prefix, then deletes the topology, also when
/// `body` panics.
async fn with_bus<F, Fut>(name: &str, config_fn: impl FnOnce(AmqpConfig) -> AmqpConfig, body: F)
where
    F: FnOnce(AmqpBus) -> Fut,
    Fut: Future<Output = ()>,
{
    let bus = connect(config_fn(config(name))).await;
    let outcome = AssertUnwindSafe(body(bus.clone())).catch_unwind().await;
    bus.delete_topology()
        .await
        .expect("deleting the test topology");
    bus.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn raw_connection() -> Connection {
    Connection::connect(&uri(), ConnectionProperties::default())
        .await
        .expect("raw lapin connection")
}

/// Messages ready in `queue` (passive declare).
async fn ready_count(queue: &str) -> u32 {
    let connection = raw_connection().await;
    let channel = connection.create_channel().await.unwrap();
    let options = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(queue.into(), options, FieldTable::default())
        .await
        .unwrap()
        .message_count()
}

/// Takes every message from `queue` with basic.get (acknowledged).
async fn drain(queue: &str) -> Vec<lapin::message::BasicGetMessage> {
    let connection = raw_connection().await;
    let channel = connection.create_channel().await.unwrap();
    let mut messages = Vec::new();
    while let Some(message) = channel
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
    {
        messages.push(message);
    }
    messages
}

fn header_text(message: &lapin::message::BasicGetMessage, name: &str) -> Option<String> {
    let headers = message.delivery.properties.headers().as_ref()?;
    match headers.inner().get(name)? {
        AMQPValue::LongString(text) => Some(String::from_utf8_lossy(text.as_bytes()).into_owned()),
        AMQPValue::ShortString(text) => Some(text.as_str().to_owned()),
        _ => None,
    }
}

fn message_id(message: &lapin::message::BasicGetMessage) -> Option<String> {
    message
        .delivery
        .properties
        .message_id()
        .as_ref()
        .map(|id| id.as_str().to_owned())
}

/// Collects deliveries until `count` arrived or `within` ran out.
async fn collect(consumer: &mut impl Consumer, count: usize, within: Duration) -> Vec<Delivery> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    while got.len() < count {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let batch = consumer.next_batch(count - got.len(), left).await.unwrap();
        got.extend(batch);
    }
    got
}

fn messages(count: usize, routing_key: &str) -> Vec<BusMessage> {
    (0..count)
        .map(|i| {
            BusMessage::new(routing_key, format!("body {i}").into_bytes())
                .with_header("tenant", "acme")
                .with_header("seq", i.to_string())
        })
        .collect()
}

#[tokio::test]
async fn publish_consume_ack() {
    with_bus(
        "pca",
        |c| c,
        |bus| async move {
            let sent = messages(50, "acme.load_tendered");
            bus.publish(Stage::Events, sent.clone()).await.unwrap();

            let mut consumer = bus
                .consumer(Stage::Events, ConsumerOptions::default())
                .await
                .unwrap();
            let got = collect(&mut consumer, 50, Duration::from_secs(10)).await;
            assert_eq!(got.len(), 50);
            for (delivery, message) in got.iter().zip(&sent) {
                assert_eq!(
                    &delivery.message, message,
                    "id, routing key, headers and body"
                );
                assert_eq!(delivery.attempt, 1);
            }
            consumer.ack(&got).await.unwrap();
            // Nothing more comes, and nothing is left in the queue once the acks landed.
            let more = consumer
                .next_batch(10, Duration::from_millis(500))
                .await
                .unwrap();
            assert!(more.is_empty());
            drop(consumer);
            let queue = bus.topology().stage_queue(Stage::Events);
            assert_eq!(ready_count(&queue).await, 0);
            let mut again = bus
                .consumer(Stage::Events, ConsumerOptions::default())
                .await
                .unwrap();
            let redelivered = again.next_batch(10, Duration::from_secs(1)).await.unwrap();
            assert!(redelivered.is_empty(), "acknowledged messages came again");
        },
    )
    .await;
}

#[tokio::test]
async fn next_batch_honours_max_and_wait() {
    with_bus(
        "batch",
        |c| c,
        |bus| async move {
            let mut consumer = bus
                .consumer(Stage::Inbound, ConsumerOptions::default())
                .await
                .unwrap();
            let started = Instant::now();
            let empty = consumer
                .next_batch(10, Duration::from_millis(300))
                .await
                .unwrap();
            assert!(empty.is_empty());
            assert!(started.elapsed() >= Duration::from_millis(300));

            bus.publish(Stage::Inbound, messages(30, "partner-1"))
                .await
                .unwrap();
            let mut total = Vec::new();
            while total.len() < 30 {
                let batch = consumer
                    .next_batch(7, Duration::from_secs(5))
                    .await
                    .unwrap();
                assert!(
                    !batch.is_empty() && batch.len() <= 7,
                    "batch of {}",
                    batch.len()
                );
                total.extend(batch);
            }
            consumer.ack(&total).await.unwrap();
        },
    )
    .await;
}

#[tokio::test]
async fn unacked_deliveries_come_again_with_attempt_counted() {
    with_bus(
        "redeliver",
        |c| c,
        |bus| async move {
            let sent = messages(3, "partner-9");
            bus.publish(Stage::Outbound, sent.clone()).await.unwrap();
            let mut first = bus
                .consumer(Stage::Outbound, ConsumerOptions::default())
                .await
                .unwrap();
            let got = collect(&mut first, 3, Duration::from_secs(10)).await;
            assert_eq!(got.len(), 3);
            assert!(got.iter().all(|d| d.attempt == 1));
            drop(first); // dies without answering

            let mut second = bus
                .consumer(Stage::Outbound, ConsumerOptions::default())
                .await
                .unwrap();
            let again = collect(&mut second, 3, Duration::from_secs(10)).await;
            let ids: BTreeSet<Uuid> = again.iter().map(|d| d.message.id).collect();
            let sent_ids: BTreeSet<Uuid> = sent.iter().map(|m| m.id).collect();
            assert_eq!(ids, sent_ids);
            assert!(
                again.iter().all(|d| d.attempt == 2),
                "attempts: {:?}",
                again.iter().map(|d| d.attempt).collect::<Vec<_>>()
            );
            // An answer through another consumer's channel is stale.
            let err = first_stale_answer(&mut second, &got[0]).await;
            assert!(matches!(err, BusError::StaleDelivery(_)), "{err:?}");
            second.ack(&again).await.unwrap();
        },
    )
    .await;
}

async fn first_stale_answer(consumer: &mut impl Consumer, delivery: &Delivery) -> BusError {
    consumer
        .ack(std::slice::from_ref(delivery))
        .await
        .expect_err("an answer to a delivery of a closed channel must fail")
}

#[tokio::test]
async fn ack_of_a_subset_leaves_the_rest_owned() {
    with_bus(
        "subset",
        |c| c,
        |bus| async move {
            bus.publish(Stage::Inbound, messages(10, "p"))
                .await
                .unwrap();
            let mut consumer = bus
                .consumer(Stage::Inbound, ConsumerOptions::default())
                .await
                .unwrap();
            let got = collect(&mut consumer, 10, Duration::from_secs(10)).await;
            assert_eq!(got.len(), 10);
            // The even ones: not contiguous, so no multiple-ack may swallow the odd ones.
            let even: Vec<Delivery> = got.iter().step_by(2).cloned().collect();
            consumer.ack(&even).await.unwrap();
            // The last one alone: a multiple-ack up to its tag would take the odd ones
            // still owned below it, so it must be acknowledged on its own.
            let last = vec![got[9].clone()];
            consumer.ack(&last).await.unwrap();
            drop(consumer);

            let mut next = bus
                .consumer(Stage::Inbound, ConsumerOptions::default())
                .await
                .unwrap();
            let rest = collect(&mut next, 10, Duration::from_secs(3)).await;
            let expected: BTreeSet<Uuid> =
                [1, 3, 5, 7].iter().map(|&i| got[i].message.id).collect();
            let rest_ids: BTreeSet<Uuid> = rest.iter().map(|d| d.message.id).collect();
            assert_eq!(rest_ids, expected);
            next.ack(&rest).await.unwrap();
        },
    )
    .await;
}

#[tokio::test]
async fn retry_honours_the_delay() {
    with_bus(
        "retry",
        |c| c,
        |bus| async move {
            let sent = messages(1, "acme.status").remove(0);
            bus.publish(Stage::Events, vec![sent.clone()])
                .await
                .unwrap();
            let mut consumer = bus
                .consumer(Stage::Events, ConsumerOptions::default())
                .await
                .unwrap();
            let got = collect(&mut consumer, 1, Duration::from_secs(10)).await;
            assert_eq!(got.len(), 1);
            let delay = Duration::from_millis(1500); // rounds up to the 2 s tier
            let retried_at = Instant::now();
            consumer.retry(&got[0], delay).await.unwrap();

            let again = collect(&mut consumer, 1, Duration::from_secs(15)).await;
            let waited = retried_at.elapsed();
            assert_eq!(again.len(), 1, "the retried message did not come back");
            assert!(
                waited >= delay,
                "came back after {waited:?}, before the delay {delay:?}"
            );
            assert!(
                waited >= Duration::from_secs(2),
                "came back after {waited:?}, before its 2 s tier"
            );
            assert_eq!(
                again[0].message, sent,
                "id, routing key, headers and body are kept"
            );
            assert_eq!(again[0].attempt, 2);

            // A second retry counts on.
            consumer
                .retry(&again[0], Duration::from_millis(10))
                .await
                .unwrap();
            let third = collect(&mut consumer, 1, Duration::from_secs(10)).await;
            assert_eq!(third.len(), 1);
            assert_eq!(third[0].attempt, 3);
            assert_eq!(third[0].message.id, sent.id);
            consumer.ack(&third).await.unwrap();
        },
    )
    .await;
}

#[tokio::test]
async fn retry_longer_than_the_longest_tier_waits_the_whole_delay() {
    with_bus(
        "longretry",
        |c| AmqpConfig {
            retry_tiers: vec![Duration::from_secs(1), Duration::from_secs(2)],
            ..c
        },
        |bus| async move {
            let sent = messages(1, "partner-2").remove(0);
            bus.publish(Stage::Outbound, vec![sent.clone()])
                .await
                .unwrap();
            let mut consumer = bus
                .consumer(Stage::Outbound, ConsumerOptions::default())
                .await
                .unwrap();
            let got = collect(&mut consumer, 1, Duration::from_secs(10)).await;
            assert_eq!(got.len(), 1);
            let delay = Duration::from_millis(3500); // 2 s tier, then again for the rest
            let retried_at = Instant::now();
            consumer.retry(&got[0], delay).await.unwrap();
            let again = collect(&mut consumer, 1, Duration::from_secs(15)).await;
            let waited = retried_at.elapsed();
            assert_eq!(again.len(), 1, "the retried message did not come back");
            assert!(
                waited >= delay,
                "came back after {waited:?}, before {delay:?}"
            );
            assert_eq!(again[0].message, sent);
            assert_eq!(again[0].attempt, 2, "the extra round is not an attempt");
            consumer.ack(&again).await.unwrap();
        },
    )
    .await;
}

/// A message published with a later `transload-available-at` (a timer) waits in the
/// delay tiers, not in the stage's queue: no consumer reads it before it is due.
#[tokio::test]
async fn a_message_available_later_waits_in_the_delay_tiers() {
    with_bus(
        "later",
        |c| c,
        |bus| async move {
            let mut consumer = bus
                .consumer(Stage::Events, ConsumerOptions::default())
                .await
                .unwrap();
            let due = jiff::Timestamp::now() + jiff::SignedDuration::from_millis(1500);
            let mut batch = messages(2, "acme.timer");
            let timer = batch
                .remove(1)
                .with_header(AVAILABLE_AT_HEADER, due.to_string());
            let now = batch.remove(0);
            let published = Instant::now();
            bus.publish(Stage::Events, vec![now.clone(), timer.clone()])
                .await
                .unwrap();

            // Only the message due now comes at once (before the 2 s tier the timer went to).
            let first = collect(&mut consumer, 2, Duration::from_millis(1000)).await;
            assert_eq!(
                first.iter().map(|d| d.message.id).collect::<Vec<_>>(),
                [now.id]
            );
            let later = collect(&mut consumer, 1, Duration::from_secs(10)).await;
            let waited = published.elapsed();
            assert_eq!(later.len(), 1, "the timer did not come");
            assert_eq!(later[0].message, timer);
            assert_eq!(later[0].attempt, 1, "waiting is not an attempt");
            assert!(
                waited >= Duration::from_millis(1500),
                "came after {waited:?}, before it was due"
            );
            consumer.ack(&first).await.unwrap();
            consumer.ack(&later).await.unwrap();
        },
    )
    .await;
}

#[tokio::test]
async fn reject_lands_in_the_dead_letter_queue() {
    with_bus(
        "reject",
        |c| c,
        |bus| async move {
            let sent = messages(1, "partner-3").remove(0);
            bus.publish(Stage::Inbound, vec![sent.clone()])
                .await
                .unwrap();
            let mut consumer = bus
                .consumer(Stage::Inbound, ConsumerOptions::default())
                .await
                .unwrap();
            let got = collect(&mut consumer, 1, Duration::from_secs(10)).await;
            assert_eq!(got.len(), 1);
            consumer
                .reject(&got[0], "ISA segment missing")
                .await
                .unwrap();
            assert!(
                consumer
                    .next_batch(1, Duration::from_secs(1))
                    .await
                    .unwrap()
                    .is_empty()
            );

            let dead = drain(&bus.topology().dead_letter_queue()).await;
            assert_eq!(dead.len(), 1);
            assert_eq!(message_id(&dead[0]), Some(sent.id.to_string()));
            assert_eq!(
                header_text(&dead[0], "transload-bus-reason").as_deref(),
                Some("ISA segment missing")
            );
            assert_eq!(
                header_text(&dead[0], "transload-bus-rejected-from").as_deref(),
                Some("inbound")
            );
            assert_eq!(header_text(&dead[0], "tenant").as_deref(), Some("acme"));
            assert_eq!(dead[0].delivery.routing_key.as_str(), "partner-3");
            assert_eq!(dead[0].delivery.data, sent.body);
        },
    )
    .await;
}

#[tokio::test]
async fn delivery_limit_dead_letters_a_poison_message() {
    let limit = 2;
    with_bus(
        "poison",
        |c| AmqpConfig {
            delivery_limit: limit,
            ..c
        },
        |bus| async move {
            let poison = messages(1, "partner-x").remove(0);
            bus.publish(Stage::Outbound, vec![poison.clone()])
                .await
                .unwrap();
            let mut attempts = Vec::new();
            for _ in 0..(limit + 3) {
                let mut consumer = bus
                    .consumer(Stage::Outbound, ConsumerOptions::default())
                    .await
                    .unwrap();
                let got = consumer
                    .next_batch(1, Duration::from_secs(2))
                    .await
                    .unwrap();
                match got.first() {
                    Some(delivery) => attempts.push(delivery.attempt),
                    None => break,
                }
                drop(consumer); // the worker crashes on it, every time
            }
            // Delivered limit + 1 times (1, 2, 3 with a limit of 2), then dead-lettered.
            let expected: Vec<u32> = (1..=limit + 1).collect();
            assert_eq!(attempts, expected);
            let dead = drain(&bus.topology().dead_letter_queue()).await;
            assert_eq!(dead.len(), 1);
            assert_eq!(message_id(&dead[0]), Some(poison.id.to_string()));
            assert_eq!(
                header_text(&dead[0], "x-first-death-reason").as_deref(),
                Some("delivery_limit")
            );
        },
    )
    .await;
}

#[tokio::test]
async fn unroutable_publish_is_refused() {
    with_bus(
        "unroutable",
        |c| c,
        |bus| async move {
            let topology = bus.topology().clone();
            let connection = raw_connection().await;
            let channel = connection.create_channel().await.unwrap();
            channel
                .queue_unbind(
                    topology.stage_queue(Stage::Events).as_str().into(),
                    topology.stage_exchange(Stage::Events).as_str().into(),
                    "#".into(),
                    FieldTable::default(),
                )
                .await
                .unwrap();
            let result = bus.publish(Stage::Events, messages(3, "acme.x")).await;
            assert!(matches!(result, Err(BusError::Refused(_))), "{result:?}");
            // The publisher stays usable for routable messages.
            bus.publish(Stage::Inbound, messages(1, "p")).await.unwrap();
            assert_eq!(ready_count(&topology.stage_queue(Stage::Inbound)).await, 1);
        },
    )
    .await;
}

#[tokio::test]
async fn topology_is_idempotent() {
    with_bus(
        "idem",
        |c| c,
        |bus| async move {
            bus.publish(Stage::Events, messages(2, "acme.a"))
                .await
                .unwrap();
            // Declared again, by this bus and by a second one with the same prefix: the
            // queued messages stay.
            bus.declare_topology().await.unwrap();
            let second = connect(bus.config().clone()).await;
            let queue = bus.topology().stage_queue(Stage::Events);
            assert_eq!(ready_count(&queue).await, 2);
            let mut consumer = second
                .consumer(Stage::Events, ConsumerOptions::default())
                .await
                .unwrap();
            let got = collect(&mut consumer, 2, Duration::from_secs(10)).await;
            assert_eq!(got.len(), 2);
            consumer.ack(&got).await.unwrap();
            second.close().await;

            // The same names with other arguments are refused, not silently changed.
            let conflicting = AmqpConfig {
                delivery_limit: bus.config().delivery_limit + 1,
                ..bus.config().clone()
            };
            let error = AmqpBus::connect(conflicting)
                .await
                .expect_err("conflicting declaration");
            assert!(
                matches!(&error, BusError::Other(text) if text.contains("PRECONDITION_FAILED")),
                "{error:?}"
            );
        },
    )
    .await;
}

#[tokio::test]
async fn consumer_reconnects_after_its_connection_is_closed() {
    with_bus(
        "reconnect",
        |c| c,
        |bus| async move {
            bus.publish(Stage::Inbound, messages(5, "p")).await.unwrap();
            let mut consumer = bus
                .consumer(Stage::Inbound, ConsumerOptions::default())
                .await
                .unwrap();
            let got = collect(&mut consumer, 5, Duration::from_secs(10)).await;
            assert_eq!(got.len(), 5);

            // The broker closes the consumer's connection (as on a node restart).
            let name = format!("transload-{}-consumer", bus.config().prefix);
            close_connections_named(&name);

            // Answers on the dead channel are stale...
            let deadline = Instant::now() + Duration::from_secs(10);
            let error = loop {
                // Give lapin the moment to read the close.
                tokio::time::sleep(Duration::from_millis(200)).await;
                match consumer.ack(&got[..1]).await {
                    Err(error) => break error,
                    Ok(()) => assert!(Instant::now() < deadline, "ack kept succeeding"),
                }
            };
            assert!(matches!(error, BusError::StaleDelivery(_)), "{error:?}");
            // ...and the next batch comes from a new connection: all 5 again (the one
            // possibly acknowledged before the close was noticed excepted), attempt 2.
            let again = collect(&mut consumer, 5, Duration::from_secs(20)).await;
            assert!(again.len() >= 4, "got {} back", again.len());
            assert!(again.iter().all(|d| d.attempt == 2));
            consumer.ack(&again).await.unwrap();
        },
    )
    .await;
}

/// Closes the broker connections whose client-provided `connection_name` is `name`
/// (rabbitmqctl, as root).
fn close_connections_named(name: &str) {
    let output = Command::new("rabbitmqctl")
        .args([
            "-q",
            "list_connections",
            "--no-table-headers",
            "pid",
            "client_properties",
        ])
        .output()
        .expect("rabbitmqctl list_connections (needs root)");
    let listing = String::from_utf8_lossy(&output.stdout);
    let quoted = format!("\"{name}\"");
    let mut closed = 0;
    for line in listing.lines().filter(|line| line.contains(&quoted)) {
        let Some(pid) = line.split('\t').next() else {
            continue;
        };
        let status = Command::new("rabbitmqctl")
            .args(["-q", "close_connection", pid.trim(), "test closes it"])
            .status()
            .expect("rabbitmqctl close_connection");
        assert!(status.success());
        closed += 1;
    }
    assert!(closed > 0, "no connection named {name} in:\n{listing}");
}

/// A message the bus refuses does not hold up the outbox: the relay dead-letters it and
/// publishes the rest.
#[tokio::test]
async fn relay_dead_letters_a_message_the_bus_refuses() {
    use transload::pipeline::OutboxRelay;
    use transload::store::sqlite::SqliteStore;
    use transload_core::store::{DeadLetterFilter, Store, UnitOfWork};

    with_bus(
        "relay-refused",
        |c| c,
        |bus| async move {
            let temp = tempfile::Builder::new()
                .prefix("transload-relay-")
                .tempdir()
                .unwrap();
            let dir = temp.path();
            let store = SqliteStore::open(&dir.join("store.sqlite3")).unwrap();
            let mut outgoing = messages(3, "acme.load_tendered");
            outgoing[1] = outgoing[1]
                .clone()
                .with_header("transload-bus-attempt", "7");
            let refused_id = outgoing[1].id;
            store
                .commit(UnitOfWork {
                    outbox: outgoing.into_iter().map(|m| (Stage::Events, m)).collect(),
                    ..UnitOfWork::default()
                })
                .await
                .unwrap();
            let relay = OutboxRelay::new(bus.clone(), store.clone());
            assert_eq!(relay.relay_once().await.unwrap(), 3);
            assert!(store.pending_outbox(10).await.unwrap().is_empty());
            let dead = store
                .dead_letters(&DeadLetterFilter::default())
                .await
                .unwrap();
            assert_eq!(dead.len(), 1);
            assert_eq!(dead[0].message.id, refused_id);
            assert!(dead[0].reason.contains("reserved"), "{}", dead[0].reason);
            let mut consumer = bus
                .consumer(Stage::Events, ConsumerOptions::default())
                .await
                .unwrap();
            let got = collect(&mut consumer, 2, Duration::from_secs(10)).await;
            assert_eq!(got.len(), 2);
            assert!(got.iter().all(|d| d.message.id != refused_id));
            consumer.ack(&got).await.unwrap();
        },
    )
    .await;
}

/// What RabbitMQ dead-lettered (a reject, the delivery limit, an undecodable message)
/// leaves `{prefix}.dlq` for the store's dead letters, where `transload dlq` finds it,
/// once, with its bytes, stage and reason.
#[tokio::test]
async fn the_drain_moves_the_dead_letter_queue_into_the_store() {
    use lapin::BasicProperties;
    use lapin::options::BasicPublishOptions;
    use transload::bus::dead_letters::BusDeadLetters;
    use transload::pipeline::DeadLetterDrain;
    use transload::store::sqlite::SqliteStore;
    use transload_core::store::{DeadLetterFilter, Store};

    with_bus(
        "drain",
        |c| AmqpConfig {
            delivery_limit: 1,
            ..c
        },
        |bus| async move {
            let [rejected, poison] = <[BusMessage; 2]>::try_from(messages(2, "acme.x12")).unwrap();
            let poison = poison.with_header("transload-partner", "odfl");
            bus.publish(Stage::Inbound, vec![rejected.clone()])
                .await
                .unwrap();
            bus.publish(Stage::Outbound, vec![poison.clone()])
                .await
                .unwrap();
            // No message id: the consumer cannot decode it and rejects it.
            let connection = raw_connection().await;
            let channel = connection.create_channel().await.unwrap();
            channel
                .basic_publish(
                    bus.topology().stage_exchange(Stage::Events).as_str().into(),
                    "acme.event".into(),
                    BasicPublishOptions::default(),
                    b"\x00raw bytes",
                    BasicProperties::default().with_delivery_mode(2),
                )
                .await
                .unwrap()
                .await
                .unwrap();

            let mut inbound = bus
                .consumer(Stage::Inbound, ConsumerOptions::default())
                .await
                .unwrap();
            let got = collect(&mut inbound, 1, Duration::from_secs(10)).await;
            inbound
                .reject(&got[0], "ISA segment missing")
                .await
                .unwrap();
            for _ in 0..2 {
                // The worker crashes on it: delivered twice (a limit of 1), then dead-lettered.
                let mut outbound = bus
                    .consumer(Stage::Outbound, ConsumerOptions::default())
                    .await
                    .unwrap();
                assert_eq!(
                    collect(&mut outbound, 1, Duration::from_secs(10))
                        .await
                        .len(),
                    1
                );
            }
            let mut events = bus
                .consumer(Stage::Events, ConsumerOptions::default())
                .await
                .unwrap();
            assert!(
                events
                    .next_batch(1, Duration::from_secs(1))
                    .await
                    .unwrap()
                    .is_empty()
            );
            let dlq = bus.topology().dead_letter_queue();
            let deadline = Instant::now() + Duration::from_secs(10);
            while ready_count(&dlq).await < 3 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert_eq!(ready_count(&dlq).await, 3);

            let temp = tempfile::Builder::new()
                .prefix("transload-drain-")
                .tempdir()
                .unwrap();
            let dir = temp.path();
            let store = SqliteStore::open(&dir.join("store.sqlite3")).unwrap();
            // A first reader takes the letters and stops before forgetting them: the
            // broker gives them back when its connection goes.
            let mut first = BusDeadLetters::Amqp(Box::new(bus.dead_letter_queue()));
            assert_eq!(first.take(10).await.unwrap().len(), 3);
            drop(first);
            let mut drain = DeadLetterDrain::new(
                BusDeadLetters::Amqp(Box::new(bus.dead_letter_queue())),
                store.clone(),
            );
            let mut moved = 0;
            while moved < 3 && Instant::now() < deadline + Duration::from_secs(10) {
                moved += drain.drain_once().await.unwrap();
            }
            assert_eq!(moved, 3);
            assert_eq!(drain.drain_once().await.unwrap(), 0);
            assert_eq!(ready_count(&dlq).await, 0);

            let letters = store
                .dead_letters(&DeadLetterFilter::default())
                .await
                .unwrap();
            assert_eq!(letters.len(), 3, "{letters:?}");
            let by_stage = |stage| letters.iter().find(|l| l.stage == stage).unwrap();
            let inbound = by_stage(Stage::Inbound);
            assert_eq!(inbound.message, rejected);
            assert_eq!(inbound.reason, "the bus gave up on it: ISA segment missing");
            let outbound = by_stage(Stage::Outbound);
            assert_eq!(outbound.message, poison);
            assert_eq!(outbound.attempts, 2);
            assert!(
                outbound
                    .reason
                    .contains("delivered 2 times without an answer"),
                "{}",
                outbound.reason
            );
            assert_eq!(
                outbound
                    .partner
                    .as_ref()
                    .map(transload_core::ids::PartnerId::as_str),
                Some("odfl")
            );
            let events = by_stage(Stage::Events);
            assert_eq!(events.message.body, b"\x00raw bytes");
            assert_eq!(events.message.routing_key, "acme.event");
            assert!(
                events.reason.contains("could not be decoded"),
                "{}",
                events.reason
            );
            assert!(
                events.reason.contains("no usable message id"),
                "{}",
                events.reason
            );
        },
    )
    .await;
}
