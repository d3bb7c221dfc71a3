//! The raw lapin baseline: persistent messages through `hops` quorum queues, at the same
//! open-loop rate, count and size as the hub path. The publisher waits for confirms (all
//! in flight); each hop consumes (prefetch 200), republishes to the next queue with
//! confirms and acknowledges a delivery once its republish is confirmed; the last queue's
//! consumer timestamps and acknowledges.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::Plan;
use super::hub_path::wait_for_all;
use super::report::{RunFigures, Timeline};

/// Consumer prefetch, as the hub's consumers.
const PREFETCH: u16 = 200;

fn persistent() -> BasicProperties {
    BasicProperties::default().with_delivery_mode(2)
}

fn index_of(data: &[u8]) -> Option<u64> {
    data.get(..8)
        .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
        .map(u64::from_le_bytes)
}

async fn confirm_channel(connection: &Connection) -> anyhow::Result<Channel> {
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    Ok(channel)
}

async fn consumer(
    connection: &Connection,
    queue: &str,
) -> anyhow::Result<(Channel, lapin::Consumer)> {
    let channel = connection.create_channel().await?;
    channel
        .basic_qos(PREFETCH, BasicQosOptions::default())
        .await?;
    let consumer = channel
        .basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok((channel, consumer))
}

/// One hop: consume `from`, republish to `to` with confirms, ack after the confirm.
async fn hop(
    connection: &Connection,
    from: &str,
    to: String,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let (channel, mut deliveries) = consumer(connection, from).await?;
    let publisher = confirm_channel(connection).await?;
    let (confirmed, mut to_ack) = mpsc::unbounded_channel::<(lapin::PublisherConfirm, u64)>();
    let forward = tokio::spawn(async move {
        while let Some(Ok(delivery)) = deliveries.next().await {
            let confirm = publisher
                .basic_publish(
                    "".into(),
                    to.as_str().into(),
                    BasicPublishOptions::default(),
                    &delivery.data,
                    persistent(),
                )
                .await;
            match confirm {
                Ok(confirm) => {
                    if confirmed.send((confirm, delivery.delivery_tag)).is_err() {
                        return;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "baseline hop: publish failed");
                    return;
                }
            }
        }
    });
    let ack = tokio::spawn(async move {
        while let Some((confirm, tag)) = to_ack.recv().await {
            match confirm.await {
                Ok(Confirmation::Ack(_)) => {
                    if let Err(error) = channel.basic_ack(tag, BasicAckOptions::default()).await {
                        tracing::warn!(%error, "baseline hop: ack failed");
                    }
                }
                other => tracing::warn!(?other, "baseline hop: republish not confirmed"),
            }
        }
    });
    Ok(vec![forward, ack])
}

/// Runs the baseline.
pub(crate) async fn run(
    uri: &str,
    plan: Plan,
    size: usize,
    hops: usize,
) -> anyhow::Result<RunFigures> {
    let connect = || Connection::connect(uri, ConnectionProperties::default());
    let publisher_connection = connect().await.context("cannot connect to RabbitMQ")?;
    let hop_connection = connect().await?;
    let sink_connection = connect().await?;
    let run = Uuid::now_v7().simple().to_string();
    let queues: Vec<String> = (1..=hops.max(1))
        .map(|hop| format!("bench-raw-{run}-{hop}"))
        .collect();
    let publisher = confirm_channel(&publisher_connection).await?;
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    for queue in &queues {
        publisher
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions::durable(),
                arguments.clone(),
            )
            .await?;
    }
    let outcome = measure(
        &publisher,
        &hop_connection,
        &sink_connection,
        &queues,
        plan,
        size,
    )
    .await;
    // The consumers' connections first, so deleting the queues cancels no consumer. Each
    // step is bounded: the figures are taken, and a close the broker never answers (seen
    // in two of twenty runs) must not hold the report back.
    for connection in [hop_connection, sink_connection] {
        tear_down(
            "close a consumer connection",
            connection.close(200, "bench done".into()),
        )
        .await;
    }
    for queue in &queues {
        tear_down(
            "delete a baseline queue",
            publisher.queue_delete(queue.as_str().into(), QueueDeleteOptions::default()),
        )
        .await;
    }
    tear_down(
        "close the publisher connection",
        publisher_connection.close(200, "bench done".into()),
    )
    .await;
    outcome
}

/// How long one step of the baseline's teardown may take.
const TEARDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs one teardown step, at most [`TEARDOWN_TIMEOUT`]; a failure or a timeout is logged
/// and otherwise ignored (a queue left behind is named `bench-raw-…`).
async fn tear_down<T>(step: &str, future: impl Future<Output = lapin::Result<T>>) {
    match tokio::time::timeout(TEARDOWN_TIMEOUT, future).await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => tracing::warn!(%error, "baseline: cannot {step}"),
        Err(_) => tracing::warn!("baseline: cannot {step} within {TEARDOWN_TIMEOUT:?}"),
    }
}

async fn measure(
    publisher: &Channel,
    hop_connection: &Connection,
    sink_connection: &Connection,
    queues: &[String],
    plan: Plan,
    size: usize,
) -> anyhow::Result<RunFigures> {
    let timeline = Arc::new(Timeline::new(plan.total));
    let mut tasks = Vec::new();
    for pair in queues.windows(2) {
        if let [from, to] = pair {
            tasks.extend(hop(hop_connection, from, to.clone()).await?);
        }
    }
    let last = queues.last().context("no queue")?;
    let (sink_channel, mut deliveries) = consumer(sink_connection, last).await?;
    let sink_timeline = Arc::clone(&timeline);
    tasks.push(tokio::spawn(async move {
        while let Some(Ok(delivery)) = deliveries.next().await {
            match index_of(&delivery.data) {
                Some(index) => sink_timeline.received(index),
                None => {
                    sink_timeline.strays.fetch_add(1, Ordering::Relaxed);
                }
            }
            if let Err(error) = sink_channel
                .basic_ack(delivery.delivery_tag, BasicAckOptions::default())
                .await
            {
                tracing::warn!(%error, "baseline sink: ack failed");
            }
        }
    }));
    // Confirms of the first publish, awaited in order beside the publisher.
    let (confirms, mut pending) = mpsc::unbounded_channel::<lapin::PublisherConfirm>();
    let confirm_timeline = Arc::clone(&timeline);
    let confirmer = tokio::spawn(async move {
        while let Some(confirm) = pending.recv().await {
            if !matches!(confirm.await, Ok(Confirmation::Ack(_))) {
                confirm_timeline.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    });

    let first = queues.first().context("no queue")?;
    let origin = tokio::time::Instant::from_std(timeline.origin());
    let mut body = vec![b'x'; size.max(8)];
    for index in 0..plan.total {
        let due = plan.due(index);
        tokio::time::sleep_until(origin + due).await;
        timeline.sent(index, due);
        if let Some(head) = body.get_mut(..8) {
            head.copy_from_slice(&index.to_le_bytes());
        }
        let confirm = publisher
            .basic_publish(
                "".into(),
                first.as_str().into(),
                BasicPublishOptions::default(),
                &body,
                persistent(),
            )
            .await?;
        if confirms.send(confirm).is_err() {
            break;
        }
    }
    drop(confirms);
    wait_for_all(&timeline, plan).await;
    confirmer.abort();
    for task in &tasks {
        task.abort();
    }
    Ok(timeline.figures(
        "raw-lapin",
        &format!(
            "plain lapin, persistent {size}-byte messages through {} quorum queues (publish + confirm → consume → republish + confirm → ack …)",
            queues.len()
        ),
        plan.warmup,
    ))
}
