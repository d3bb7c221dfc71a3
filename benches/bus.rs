//! Bus throughput, publish → consume → ack, 1 KiB persistent messages, in rounds of
//! `ROUND` messages (published in one batch with confirms, then consumed and
//! acknowledged):
//!
//! - `raw_lapin`: the baseline, plain lapin on a quorum queue: persistent messages,
//!   publisher confirms (all in flight, then awaited), manual acks (multiple), prefetch
//!   200, separate publisher and consumer connections;
//! - `amqp_bus`: `AmqpBus` on the same broker, same message size and prefetch;
//! - `embedded_bus`: `EmbeddedBus` (SQLite) in a temporary directory.
//!
//! Needs RabbitMQ on 127.0.0.1:5672 (or `TRANSLOAD_AMQP_URI`); run with
//! `cargo bench -p transload --bench bus`. Queues and exchanges it creates are deleted
//! at the end.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use tokio::runtime::Runtime;
use transload::bus::amqp::{AmqpBus, AmqpConfig};
use transload::bus::embedded::{EmbeddedBus, EmbeddedBusOptions};
use transload_core::bus::{Bus, BusMessage, Consumer, ConsumerOptions, Stage};
use uuid::Uuid;

/// Messages per round.
const ROUND: usize = 1000;
/// Payload size.
const SIZE: usize = 1024;
/// Consumer prefetch, as `ConsumerOptions::default()`.
const PREFETCH: u16 = 200;

fn uri() -> String {
    std::env::var("TRANSLOAD_AMQP_URI")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

struct Raw {
    publisher: Channel,
    consumer: lapin::Consumer,
    consumer_channel: Channel,
    queue: String,
    _connections: (Connection, Connection),
}

async fn raw_setup() -> Raw {
    let publisher_connection = Connection::connect(&uri(), ConnectionProperties::default())
        .await
        .expect("RabbitMQ must be reachable for the bus benchmark");
    let consumer_connection = Connection::connect(&uri(), ConnectionProperties::default())
        .await
        .unwrap();
    let publisher = publisher_connection.create_channel().await.unwrap();
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let queue = format!("bench-raw-{}", Uuid::now_v7().simple());
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    publisher
        .queue_declare(queue.as_str().into(), QueueDeclareOptions::durable(), args)
        .await
        .unwrap();
    let consumer_channel = consumer_connection.create_channel().await.unwrap();
    consumer_channel
        .basic_qos(PREFETCH, BasicQosOptions::default())
        .await
        .unwrap();
    let consumer = consumer_channel
        .basic_consume(
            queue.as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    Raw {
        publisher,
        consumer,
        consumer_channel,
        queue,
        _connections: (publisher_connection, consumer_connection),
    }
}

async fn raw_round(raw: &mut Raw, body: &[u8]) {
    let mut confirms = Vec::with_capacity(ROUND);
    for _ in 0..ROUND {
        let properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_message_id(Uuid::now_v7().to_string().into());
        let confirm = raw
            .publisher
            .basic_publish(
                "".into(),
                raw.queue.as_str().into(),
                BasicPublishOptions {
                    mandatory: true,
                    immediate: false,
                },
                body,
                properties,
            )
            .await
            .unwrap();
        confirms.push(confirm);
    }
    for confirm in confirms {
        assert_eq!(confirm.await.unwrap(), Confirmation::Ack(None));
    }
    let mut received = 0;
    while received < ROUND {
        let delivery = raw.consumer.next().await.unwrap().unwrap();
        received += 1;
        // Acknowledge in batches, as the pipeline does after a durable commit.
        if received % usize::from(PREFETCH / 2) == 0 || received == ROUND {
            raw.consumer_channel
                .basic_ack(delivery.delivery_tag, BasicAckOptions { multiple: true })
                .await
                .unwrap();
        }
        black_box(&delivery.data);
    }
}

fn messages(body: &[u8]) -> Vec<BusMessage> {
    (0..ROUND)
        .map(|i| BusMessage::new(format!("partner-{}", i % 7), body.to_vec()))
        .collect()
}

async fn bus_round<B: Bus>(bus: &B, consumer: &mut B::Consumer, body: &[u8]) {
    bus.publish(Stage::Inbound, messages(body)).await.unwrap();
    let mut received = 0;
    while received < ROUND {
        let batch = consumer
            .next_batch(usize::from(PREFETCH), Duration::from_secs(10))
            .await
            .unwrap();
        assert!(!batch.is_empty(), "messages did not arrive");
        received += batch.len();
        consumer.ack(&batch).await.unwrap();
        black_box(&batch);
    }
}

fn bench_bus(c: &mut Criterion) {
    let runtime = runtime();
    let body = vec![b'x'; SIZE];
    let mut group = c.benchmark_group("bus_publish_consume_1KiB");
    group.throughput(Throughput::Elements(ROUND as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(2));
    group.measurement_time(Duration::from_secs(20));

    let mut raw = runtime.block_on(raw_setup());
    group.bench_function("raw_lapin", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iterations {
                    raw_round(&mut raw, &body).await;
                }
                started.elapsed()
            })
        });
    });
    runtime.block_on(async {
        raw.publisher
            .queue_delete(raw.queue.as_str().into(), QueueDeleteOptions::default())
            .await
            .unwrap();
    });
    drop(raw);

    let config = AmqpConfig {
        uri: uri(),
        prefix: format!("bench-{}", Uuid::now_v7().simple()),
        ..AmqpConfig::default()
    };
    let (amqp, mut amqp_consumer) = runtime.block_on(async {
        let bus = AmqpBus::connect(config)
            .await
            .expect("RabbitMQ must be reachable for the bus benchmark");
        let options = ConsumerOptions {
            prefetch: PREFETCH,
            ..ConsumerOptions::default()
        };
        let consumer = bus.consumer(Stage::Inbound, options).await.unwrap();
        (bus, consumer)
    });
    group.bench_function("amqp_bus", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iterations {
                    bus_round(&amqp, &mut amqp_consumer, &body).await;
                }
                started.elapsed()
            })
        });
    });
    drop(amqp_consumer);
    runtime.block_on(async {
        amqp.delete_topology().await.unwrap();
        amqp.close().await;
    });

    let dir = std::env::temp_dir().join(format!("transload-bench-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let embedded = EmbeddedBus::open(&dir.join("bus.sqlite3"), EmbeddedBusOptions::default())
        .expect("opening the embedded bus");
    let mut embedded_consumer = runtime.block_on(async {
        let options = ConsumerOptions {
            prefetch: PREFETCH,
            ..ConsumerOptions::default()
        };
        embedded.consumer(Stage::Inbound, options).await.unwrap()
    });
    group.bench_function("embedded_bus", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iterations {
                    bus_round(&embedded, &mut embedded_consumer, &body).await;
                }
                started.elapsed()
            })
        });
    });
    drop(embedded_consumer);
    drop(embedded);
    let _removed = std::fs::remove_dir_all(&dir);
    group.finish();
}

criterion_group!(benches, bench_bus);
criterion_main!(benches);
