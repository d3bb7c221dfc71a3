//! What the embedded bus does beyond the shared conformance suite: its dead letters,
//! its delivery limit and its leases, and the drain of its dead letters into the store.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use transload::bus::dead_letters::{BusDeadLetter, BusDeadLetters};
use transload::bus::embedded::{EmbeddedBus, EmbeddedBusOptions, EmbeddedConsumer};
use transload::pipeline::DeadLetterDrain;
use transload::store::sqlite::SqliteStore;
use transload_core::bus::{
    AVAILABLE_AT_HEADER, Bus, BusError, BusMessage, Consumer, ConsumerOptions, Stage,
};
use transload_core::ids::{PartnerId, TenantId};
use transload_core::store::{DEAD_LETTER_HEADER, DeadLetterFilter, Redrive, Store, UnitOfWork};

/// A directory of its own for one test's files, removed when dropped.
fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("transload-embedded-")
        .tempdir()
        .unwrap()
}

/// A bus in a fresh file, with the directory that holds it (keep it while the bus is
/// used).
fn open(max_deliveries: u32) -> (tempfile::TempDir, EmbeddedBus) {
    // The process's metrics recorder, for the bus's dead-letter counter.
    transload::metrics::install().unwrap();
    let dir = temp_dir();
    let bus = EmbeddedBus::open(
        &dir.path().join("bus.sqlite3"),
        EmbeddedBusOptions { max_deliveries },
    )
    .unwrap();
    (dir, bus)
}

fn quick() -> ConsumerOptions {
    ConsumerOptions {
        prefetch: 10,
        visibility_timeout: Duration::from_millis(200),
    }
}

/// `transload-available-at`: held back until then when later, delivered at once when
/// past or unreadable (a hint, never a reason to lose a message).
#[tokio::test]
async fn a_message_available_later_is_held_back_until_then() {
    let (_dir, bus) = open(20);
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_millis(1200);
    let past = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(3600);
    let held = BusMessage::new("acme.timer", b"later".to_vec())
        .with_header(AVAILABLE_AT_HEADER, later.to_string());
    let at_once = [
        BusMessage::new("acme.timer", b"past".to_vec())
            .with_header(AVAILABLE_AT_HEADER, past.to_string()),
        BusMessage::new("acme.timer", b"garbled".to_vec())
            .with_header(AVAILABLE_AT_HEADER, "next tuesday"),
    ];
    bus.publish(
        Stage::Events,
        vec![held.clone(), at_once[0].clone(), at_once[1].clone()],
    )
    .await
    .unwrap();
    let mut consumer = bus.consumer(Stage::Events, quick()).await.unwrap();
    let first = consumer
        .next_batch(10, Duration::from_millis(500))
        .await
        .unwrap();
    let mut ids: Vec<_> = first.iter().map(|d| d.message.id).collect();
    ids.sort();
    let mut expected = vec![at_once[0].id, at_once[1].id];
    expected.sort();
    assert_eq!(ids, expected);
    consumer.ack(&first).await.unwrap();
    assert!(
        consumer
            .next_batch(10, Duration::from_millis(300))
            .await
            .unwrap()
            .is_empty(),
        "held back before its time"
    );
    let mut second = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while second.is_empty() && std::time::Instant::now() < deadline {
        second = consumer
            .next_batch(10, Duration::from_millis(200))
            .await
            .unwrap();
    }
    assert!(jiff::Timestamp::now() >= later);
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].message, held);
    consumer.ack(&second).await.unwrap();
}

#[tokio::test]
async fn a_rejected_message_is_kept_with_its_reason_and_bytes() {
    let (_dir, bus) = open(20);
    let message =
        BusMessage::new("acme.x12", b"ISA*00*...~".to_vec()).with_header("partner", "odfl");
    bus.publish(Stage::Inbound, vec![message.clone()])
        .await
        .unwrap();
    let mut consumer = bus.consumer(Stage::Inbound, quick()).await.unwrap();
    let got = consumer
        .next_batch(1, Duration::from_secs(2))
        .await
        .unwrap();
    consumer
        .reject(&got[0], "ISA segment truncated at byte 11")
        .await
        .unwrap();
    let dead = bus.dead_letters(Stage::Inbound).unwrap();
    assert_eq!(
        dead,
        vec![(message, 1, "ISA segment truncated at byte 11".to_owned())]
    );
    assert_eq!(bus.depth(Stage::Inbound).unwrap(), 0);
    assert!(bus_dead_lettered("inbound", "rejected") >= 1);
}

/// The bus's own dead-letter counter for `stage` and `reason` in the process's metrics
/// (other tests of this binary may count too).
fn bus_dead_lettered(stage: &str, reason: &str) -> u64 {
    let text = transload::metrics::render().unwrap();
    let prefix =
        format!(r#"transload_bus_dead_lettered_total{{stage="{stage}",reason="{reason}"}} "#);
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map_or(0, |count| count.trim().parse().unwrap())
}

#[tokio::test]
async fn a_message_delivered_max_times_goes_to_the_dead_letters() {
    let (_dir, bus) = open(3);
    let message = BusMessage::new("acme.poison", b"poison".to_vec());
    bus.publish(Stage::Events, vec![message.clone()])
        .await
        .unwrap();
    let mut consumer = bus.consumer(Stage::Events, quick()).await.unwrap();
    let mut attempts = Vec::new();
    for _ in 0..6 {
        // Never answered: each lease expires and the message comes again, until the limit.
        for delivery in consumer
            .next_batch(1, Duration::from_millis(400))
            .await
            .unwrap()
        {
            attempts.push(delivery.attempt);
        }
    }
    assert_eq!(attempts, vec![1, 2, 3]);
    let dead = bus.dead_letters(Stage::Events).unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].0, message);
    assert_eq!(dead[0].1, 3);
    assert_eq!(dead[0].2, "delivery limit reached");
    assert!(bus_dead_lettered("events", "delivery limit reached") >= 1);
}

#[tokio::test]
async fn answering_after_the_lease_expired_is_refused_as_stale() {
    let (_dir, bus) = open(20);
    bus.publish(
        Stage::Outbound,
        vec![BusMessage::new("odfl", b"204".to_vec())],
    )
    .await
    .unwrap();
    let mut slow = bus.consumer(Stage::Outbound, quick()).await.unwrap();
    let first = slow.next_batch(1, Duration::from_secs(2)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut fast = bus.consumer(Stage::Outbound, quick()).await.unwrap();
    let second = fast.next_batch(1, Duration::from_secs(2)).await.unwrap();
    assert_eq!(second[0].attempt, 2);
    let error = slow.ack(&first).await.unwrap_err();
    assert!(matches!(error, BusError::StaleDelivery(_)), "{error}");
    assert!(matches!(
        slow.retry(&first[0], Duration::ZERO).await,
        Err(BusError::StaleDelivery(_))
    ));
    fast.ack(&second).await.unwrap();
    assert_eq!(bus.depth(Stage::Outbound).unwrap(), 0);
}

#[tokio::test]
async fn many_concurrent_publishers_share_commits_and_lose_nothing() {
    let (_dir, bus) = open(20);
    let mut publishers = Vec::new();
    for publisher in 0..8 {
        let bus = bus.clone();
        publishers.push(tokio::spawn(async move {
            for n in 0..50 {
                let message = BusMessage::new("acme", format!("{publisher}-{n}").into_bytes());
                bus.publish(Stage::Inbound, vec![message]).await.unwrap();
            }
        }));
    }
    for publisher in publishers {
        publisher.await.unwrap();
    }
    assert_eq!(bus.depth(Stage::Inbound).unwrap(), 400);
}

/// Once its caller has handled a batch, a consumer leases the next one while the batch is
/// committed, as far as its prefetch window allows; the next call hands that batch out
/// without waiting.
#[tokio::test]
async fn a_consumer_leases_its_next_batch_ahead_within_its_prefetch_window() {
    let (_dir, bus) = open(20);
    let messages: Vec<BusMessage> = (0..10u8)
        .map(|index| BusMessage::new("acme.pick", vec![index]))
        .collect();
    bus.publish(Stage::Inbound, messages).await.unwrap();
    let bodies = |batch: &[transload_core::bus::Delivery]| -> Vec<u8> {
        batch
            .iter()
            .flat_map(|delivery| delivery.message.body.clone())
            .collect()
    };
    let window = ConsumerOptions {
        prefetch: 6,
        visibility_timeout: Duration::from_secs(30),
    };
    let mut ahead = bus.consumer(Stage::Inbound, window.clone()).await.unwrap();
    let first = ahead.next_batch(4, Duration::from_secs(1)).await.unwrap();
    assert_eq!(bodies(&first), vec![0, 1, 2, 3]);
    ahead.lease_ahead();

    // The lease ahead went to the writer before this consumer's: it took 4 and 5, the
    // rest of the window, and nothing beyond.
    let mut other = bus.consumer(Stage::Inbound, window).await.unwrap();
    let others = other.next_batch(10, Duration::from_secs(1)).await.unwrap();
    assert_eq!(bodies(&others), vec![6, 7, 8, 9]);

    ahead.ack(&first).await.unwrap();
    let second = ahead.next_batch(4, Duration::ZERO).await.unwrap();
    assert_eq!(bodies(&second), vec![4, 5]);
    ahead.ack(&second).await.unwrap();
    other.ack(&others).await.unwrap();
    assert_eq!(bus.depth(Stage::Inbound).unwrap(), 0);
}

/// A lease looks at the next messages only (so that it costs the same whatever the
/// backlog), yet a message past its delivery limit further back is not delivered again:
/// it waits until it is at the front, then goes to the dead letters.
#[tokio::test]
async fn messages_past_the_limit_behind_the_lease_window_are_never_delivered_again() {
    let (_dir, bus) = open(1);
    let messages = vec![
        BusMessage::new("acme.poison", b"a".to_vec()),
        BusMessage::new("acme.poison", b"b".to_vec()),
    ];
    bus.publish(Stage::Events, messages.clone()).await.unwrap();
    let mut consumer = bus.consumer(Stage::Events, quick()).await.unwrap();
    let first = consumer
        .next_batch(2, Duration::from_millis(400))
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    // Never answered: both leases expire with the one delivery each may have.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut later = Vec::new();
    for _ in 0..3 {
        later.extend(
            consumer
                .next_batch(1, Duration::from_millis(100))
                .await
                .unwrap(),
        );
    }
    assert!(later.is_empty(), "delivered past the limit: {later:?}");
    let mut dead: Vec<BusMessage> = bus
        .dead_letters(Stage::Events)
        .unwrap()
        .into_iter()
        .map(|(message, _, _)| message)
        .collect();
    dead.reverse();
    assert_eq!(dead, messages);
    assert_eq!(bus.depth(Stage::Events).unwrap(), 0);
}

/// A message whose row cannot be read back (a damaged file) does not hold up the
/// messages leased with it: they are delivered, and it goes to the dead letters at its
/// delivery limit.
#[tokio::test]
async fn an_unreadable_message_is_dead_lettered_without_holding_up_the_others() {
    let (_dir, bus) = open(2);
    bus.publish(
        Stage::Inbound,
        vec![
            BusMessage::new("acme.damaged", b"a".to_vec()),
            BusMessage::new("acme.fine", b"b".to_vec()),
        ],
    )
    .await
    .unwrap();
    let file = rusqlite::Connection::open(bus.path()).unwrap();
    file.execute(
        "UPDATE bus_messages SET headers = 'not json' WHERE routing_key = 'acme.damaged'",
        [],
    )
    .unwrap();
    let mut consumer = bus.consumer(Stage::Inbound, quick()).await.unwrap();
    let mut delivered = Vec::new();
    for _ in 0..8 {
        let batch = consumer
            .next_batch(10, Duration::from_millis(100))
            .await
            .unwrap();
        consumer.ack(&batch).await.unwrap();
        delivered.extend(
            batch
                .into_iter()
                .map(|delivery| delivery.message.routing_key),
        );
        if bus.depth(Stage::Inbound).unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(delivered, vec!["acme.fine".to_owned()]);
    assert_eq!(bus.depth(Stage::Inbound).unwrap(), 0);
    let reason: String = file
        .query_row(
            "SELECT reason FROM bus_dead_letters WHERE routing_key = 'acme.damaged'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(reason, "delivery limit reached");
}

/// A window of `prefetch` deliveries and a visibility timeout longer than any test.
fn window(prefetch: u16) -> ConsumerOptions {
    ConsumerOptions {
        prefetch,
        visibility_timeout: Duration::from_secs(60),
    }
}

/// A consumer of `stage` with a window of `prefetch` that has caught up: its first
/// lease found nothing.
async fn caught_up(bus: &EmbeddedBus, stage: Stage, prefetch: u16) -> EmbeddedConsumer {
    let mut consumer = bus.consumer(stage, window(prefetch)).await.unwrap();
    assert!(
        consumer
            .next_batch(10, Duration::from_millis(50))
            .await
            .unwrap()
            .is_empty()
    );
    consumer
}

/// `(attempts, leased)` of each message of `stage` in the bus's file, in publish order.
fn rows_in_file(bus: &EmbeddedBus, stage: Stage) -> Vec<(u32, bool)> {
    let connection = rusqlite::Connection::open(bus.path()).unwrap();
    let mut statement = connection
        .prepare(
            "SELECT attempts, lease IS NOT NULL FROM bus_messages WHERE stage = ?1 ORDER BY seq",
        )
        .unwrap();
    statement
        .query_map([stage.name()], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A consumer that has caught up (its last lease found nothing more) is handed what is
/// published on its stage in the publishing transaction, as far as its window allows: in
/// the file those messages are leased to it, one delivery counted, before it asks; the
/// rest waits in the file, unleased, and comes in order after the handed ones.
#[tokio::test]
async fn a_caught_up_consumer_is_handed_what_is_published_within_its_window() {
    let (_dir, bus) = open(20);
    let mut consumer = caught_up(&bus, Stage::Events, 3).await;
    let messages: Vec<BusMessage> = (0..5u8)
        .map(|index| BusMessage::new("acme.pick", vec![index]))
        .collect();
    bus.publish(Stage::Events, messages).await.unwrap();
    assert_eq!(
        rows_in_file(&bus, Stage::Events),
        vec![(1, true), (1, true), (1, true), (0, false), (0, false)],
        "the first three are leased to the consumer by the publish itself"
    );

    let handed = consumer.next_batch(10, Duration::ZERO).await.unwrap();
    assert_eq!(
        handed
            .iter()
            .map(|delivery| (delivery.message.body[0], delivery.attempt))
            .collect::<Vec<_>>(),
        vec![(0, 1), (1, 1), (2, 1)]
    );
    consumer.ack(&handed).await.unwrap();
    let mut rest = Vec::new();
    while rest.len() < 2 {
        let batch = consumer
            .next_batch(10, Duration::from_secs(1))
            .await
            .unwrap();
        assert!(!batch.is_empty(), "the rest comes from the file");
        consumer.ack(&batch).await.unwrap();
        rest.extend(batch.iter().map(|delivery| delivery.message.body[0]));
    }
    assert_eq!(rest, vec![3, 4]);
    assert_eq!(bus.depth(Stage::Events).unwrap(), 0);
}

/// Messages waiting in the file are not overtaken: a consumer that has not caught up
/// with them is handed nothing, and takes everything in publish order.
#[tokio::test]
async fn nothing_is_handed_over_ahead_of_messages_waiting_in_the_file() {
    let (_dir, bus) = open(20);
    let batch = |from: u8| -> Vec<BusMessage> {
        (from..from + 4)
            .map(|index| BusMessage::new("acme.pick", vec![index]))
            .collect()
    };
    bus.publish(Stage::Inbound, batch(0)).await.unwrap();
    let mut consumer = bus.consumer(Stage::Inbound, quick()).await.unwrap();
    bus.publish(Stage::Inbound, batch(4)).await.unwrap();
    assert!(
        rows_in_file(&bus, Stage::Inbound)
            .iter()
            .all(|(attempts, leased)| *attempts == 0 && !leased),
        "nothing is handed to a consumer that has not leased what waits"
    );
    let mut order = Vec::new();
    while order.len() < 8 {
        let got = consumer
            .next_batch(3, Duration::from_secs(1))
            .await
            .unwrap();
        assert!(!got.is_empty());
        consumer.ack(&got).await.unwrap();
        order.extend(got.iter().map(|delivery| delivery.message.body[0]));
        // Published meanwhile, once the consumer may have caught up: still in order.
        if order.len() == 3 {
            bus.publish(Stage::Inbound, batch(8)).await.unwrap();
        }
    }
    while order.len() < 12 {
        let got = consumer
            .next_batch(3, Duration::from_secs(1))
            .await
            .unwrap();
        assert!(!got.is_empty());
        consumer.ack(&got).await.unwrap();
        order.extend(got.iter().map(|delivery| delivery.message.body[0]));
    }
    assert_eq!(order, (0..12).collect::<Vec<u8>>());
}

/// A consumer dropped gives back at once what was handed to it and not handed out: another
/// consumer (here of a second handle on the file, as another process) takes it without
/// waiting for the visibility timeout, as a first delivery.
#[tokio::test]
async fn a_dropped_consumer_gives_back_what_it_was_handed() {
    let (_dir, bus) = open(20);
    let consumer = caught_up(&bus, Stage::Outbound, 10).await;
    bus.publish(
        Stage::Outbound,
        vec![
            BusMessage::new("odfl", b"a".to_vec()),
            BusMessage::new("odfl", b"b".to_vec()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(rows_in_file(&bus, Stage::Outbound), vec![(1, true); 2]);
    drop(consumer);

    let other = EmbeddedBus::open(bus.path(), EmbeddedBusOptions::default()).unwrap();
    let mut next = other.consumer(Stage::Outbound, window(10)).await.unwrap();
    let mut got = Vec::new();
    while got.len() < 2 {
        let batch = next.next_batch(10, Duration::from_secs(2)).await.unwrap();
        assert!(
            !batch.is_empty(),
            "given back, not held for the visibility timeout"
        );
        got.extend(batch);
    }
    assert!(got.iter().all(|delivery| delivery.attempt == 1));
    next.ack(&got).await.unwrap();
    assert_eq!(bus.depth(Stage::Outbound).unwrap(), 0);
}

/// The hub moves what the bus gave up on into the store's dead letters, where
/// `transload dlq` finds it: here the bus in the store's own file, as the hub runs it.
#[tokio::test]
async fn the_drain_moves_what_the_bus_gave_up_on_into_the_store() {
    let dir = temp_dir();
    let (store, bus) = SqliteStore::open_with_embedded_bus(
        &dir.path().join("store.sqlite3"),
        EmbeddedBusOptions { max_deliveries: 2 },
    )
    .unwrap();
    let poison = BusMessage::new("acme.wms.pick", b"{\"crashes\":true}".to_vec())
        .with_header("transload-tenant", "acme")
        .with_header("transload-partner", "wms");
    let refused = BusMessage::new("acme.odfl.214", b"\xffnot a 214".to_vec());
    bus.publish(Stage::Inbound, vec![poison.clone()])
        .await
        .unwrap();
    bus.publish(Stage::Outbound, vec![refused.clone()])
        .await
        .unwrap();
    let mut inbound = bus.consumer(Stage::Inbound, quick()).await.unwrap();
    for _ in 0..4 {
        // Never answered: delivered twice, then dead-lettered by the bus.
        inbound
            .next_batch(1, Duration::from_millis(400))
            .await
            .unwrap();
    }
    let mut outbound = bus.consumer(Stage::Outbound, quick()).await.unwrap();
    let got = outbound
        .next_batch(1, Duration::from_secs(2))
        .await
        .unwrap();
    outbound.reject(&got[0], "cannot be decoded").await.unwrap();
    assert_eq!(bus.dead_letters(Stage::Inbound).unwrap().len(), 1);

    let mut drain = DeadLetterDrain::new(BusDeadLetters::Embedded(bus.clone()), store.clone());
    assert_eq!(drain.drain_once().await.unwrap(), 2);
    assert!(bus.dead_letters(Stage::Inbound).unwrap().is_empty());
    assert!(bus.dead_letters(Stage::Outbound).unwrap().is_empty());
    assert_eq!(drain.drain_once().await.unwrap(), 0);

    let letters = store
        .dead_letters(&DeadLetterFilter::default())
        .await
        .unwrap();
    assert_eq!(letters.len(), 2, "{letters:?}");
    let crashed = letters.iter().find(|l| l.stage == Stage::Inbound).unwrap();
    assert_eq!(crashed.message, poison, "the original bytes and headers");
    assert_eq!(crashed.attempts, 2);
    assert_eq!(
        crashed.reason,
        "the bus gave up on it: delivery limit reached"
    );
    assert_eq!(crashed.tenant.as_ref().map(TenantId::as_str), Some("acme"));
    assert_eq!(crashed.partner.as_ref().map(PartnerId::as_str), Some("wms"));
    let rejected = letters.iter().find(|l| l.stage == Stage::Outbound).unwrap();
    assert_eq!(rejected.message, refused);
    assert_eq!(rejected.reason, "the bus gave up on it: cannot be decoded");

    // An operator redrives it: the message goes through its stage again, under a new id.
    store
        .commit(UnitOfWork {
            redrives: vec![Redrive {
                dead_letter_id: crashed.id,
                by: "alice".to_owned(),
                edited_body: None,
            }],
            ..UnitOfWork::default()
        })
        .await
        .unwrap();
    let again = inbound.next_batch(1, Duration::from_secs(2)).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message.body, poison.body);
    assert_eq!(
        again[0].message.headers.get(DEAD_LETTER_HEADER),
        Some(&crashed.id.to_string())
    );
}

/// A drain that stopped after the store took its letters, before the bus forgot them,
/// reads them again: the store keeps one entry each.
#[tokio::test]
async fn letters_read_again_are_stored_once() {
    let dir = temp_dir();
    let store = SqliteStore::open(&dir.path().join("store.sqlite3")).unwrap();
    let (_bus_dir, bus) = open(20);
    bus.publish(
        Stage::Events,
        vec![BusMessage::new("acme.event", b"{}".to_vec())],
    )
    .await
    .unwrap();
    let mut consumer = bus.consumer(Stage::Events, quick()).await.unwrap();
    let got = consumer
        .next_batch(1, Duration::from_secs(2))
        .await
        .unwrap();
    consumer.reject(&got[0], "poison").await.unwrap();

    let mut letters = BusDeadLetters::Embedded(bus.clone());
    let taken = letters.take(10).await.unwrap();
    assert_eq!(taken.len(), 1);
    let entries = taken
        .into_iter()
        .map(BusDeadLetter::into_store_entry)
        .collect();
    store
        .commit(UnitOfWork {
            dead_letters: entries,
            ..UnitOfWork::default()
        })
        .await
        .unwrap();
    // Stopped here: not forgotten.
    let mut drain = DeadLetterDrain::new(letters, store.clone());
    assert_eq!(drain.drain_once().await.unwrap(), 0, "nothing new to store");
    assert!(bus.dead_letters(Stage::Events).unwrap().is_empty());
    let stored = store
        .dead_letters(&DeadLetterFilter::default())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
}
