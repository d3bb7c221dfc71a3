//! The publishing side: one connection and one confirm-mode channel, shared by every
//! publish of the bus (concurrent publishes interleave on the channel; each awaits
//! its own confirms).
//!
//! A publish streams its messages with up to `confirm_window` unconfirmed at once,
//! then awaits the remaining confirms. It returns `Ok` only when the broker
//! acknowledged every message on the current connection. On any doubt (an error, a
//! timeout, a closed channel) it drops the connection, so that the next publish opens
//! a new one, and returns an error: the caller publishes the batch again and the
//! consumers dedupe on the message id.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::ShortString;
use lapin::{Channel, Confirmation, Connection, PublisherConfirm};
use tokio::sync::Mutex;
use tracing::{debug, warn};
use transload_core::bus::BusError;
use uuid::Uuid;

use super::config::AmqpConfig;
use super::connection::{looks_alive, open_with_retry};
use super::error::{lapin_error, with_timeout};
use super::message::Outgoing;
use super::topology::short;

/// The current connection and channel, with the generation that tells them apart
/// from their predecessors.
struct Link {
    /// Kept so the connection stays open (dropping it closes it).
    connection: Connection,
    channel: Channel,
    generation: u64,
}

/// Publishes with confirms; reconnects after failures.
pub(crate) struct Publisher {
    config: Arc<AmqpConfig>,
    link: Mutex<Option<Link>>,
    generations: AtomicU64,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("prefix", &self.config.prefix)
            .field("generation", &self.generations.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// A publisher that connects on first use.
    pub(crate) fn new(config: Arc<AmqpConfig>) -> Self {
        Self {
            config,
            link: Mutex::new(None),
            generations: AtomicU64::new(0),
        }
    }

    /// The current channel, opening a connection first when there is none or the
    /// current one is closed.
    pub(crate) async fn channel(&self) -> Result<(Channel, u64), BusError> {
        let mut link = self.link.lock().await;
        if let Some(current) = link.as_ref() {
            if current.connection.status().blocked() {
                return Err(BusError::Unavailable(
                    "the broker blocks publishing (resource alarm)".to_owned(),
                ));
            }
            if looks_alive(&current.connection, &current.channel) {
                return Ok((current.channel.clone(), current.generation));
            }
            debug!(
                generation = current.generation,
                "publisher connection closed; reconnecting"
            );
        }
        *link = None;
        let connection = open_with_retry(&self.config, "publisher").await?;
        let timeout = self.config.operation_timeout;
        let channel = with_timeout(timeout, "channel.open", connection.create_channel()).await?;
        with_timeout(
            timeout,
            "confirm.select",
            channel.confirm_select(ConfirmSelectOptions::default()),
        )
        .await?;
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        *link = Some(Link {
            connection,
            channel: channel.clone(),
            generation,
        });
        Ok((channel, generation))
    }

    /// The longest a reconnection may take: every attempt timing out, with the
    /// longest pauses between them, and the channel setup.
    fn connect_budget(&self) -> std::time::Duration {
        let config = &self.config;
        let attempts =
            u32::try_from(config.reconnect_attempts.saturating_add(1)).unwrap_or(u32::MAX);
        config
            .connect_timeout
            .saturating_mul(attempts)
            .saturating_add(config.reconnect_max_delay.saturating_mul(attempts))
            .saturating_add(config.operation_timeout.saturating_mul(2))
    }

    /// Drops the connection of `generation` if it is still the current one.
    async fn invalidate(&self, generation: u64) {
        let mut link = self.link.lock().await;
        if link
            .as_ref()
            .is_some_and(|current| current.generation == generation)
        {
            warn!(
                generation,
                "dropping the publisher connection after a failure"
            );
            *link = None;
        }
    }

    /// Closes the connection (the next publish opens a new one).
    pub(crate) async fn close(&self) {
        let link = self.link.lock().await.take();
        if let Some(link) = link {
            let _closed = tokio::time::timeout(
                self.config.operation_timeout,
                link.connection.close(200, "closing".into()),
            )
            .await;
        }
    }

    /// Publishes `messages` to `exchange` and waits until the broker confirmed every
    /// one.
    ///
    /// # Errors
    /// [`BusError::Refused`] for a nack or an unroutable message (returned by the
    /// broker as `mandatory`), [`BusError::Timeout`] when a publish or a confirm takes
    /// too long, [`BusError::Unavailable`] when the connection fails.
    pub(crate) async fn publish(
        &self,
        exchange: &str,
        messages: Vec<Outgoing>,
    ) -> Result<(), BusError> {
        if messages.is_empty() {
            return Ok(());
        }
        let exchange = short(exchange)?;
        // Waiting for the link (another publish may be reconnecting) is bounded too.
        let budget = self.connect_budget();
        let (channel, generation) = tokio::time::timeout(budget, self.channel())
            .await
            .map_err(|_| BusError::Timeout(budget, "the publisher connection"))??;
        let result = self.publish_on(&channel, &exchange, messages).await;
        if let Err(error) = &result
            && !matches!(error, BusError::Refused(_))
        {
            self.invalidate(generation).await;
        }
        result
    }

    async fn publish_on(
        &self,
        channel: &Channel,
        exchange: &ShortString,
        messages: Vec<Outgoing>,
    ) -> Result<(), BusError> {
        let window = self.config.confirm_window.max(1);
        let mut in_flight: VecDeque<(Uuid, PublisherConfirm)> =
            VecDeque::with_capacity(window.min(messages.len()));
        let options = BasicPublishOptions {
            mandatory: true,
            immediate: false,
        };
        for message in messages {
            if in_flight.len() >= window
                && let Some((id, confirm)) = in_flight.pop_front()
            {
                self.await_confirm(id, confirm).await?;
            }
            let confirm = with_timeout(
                self.config.operation_timeout,
                "basic.publish",
                channel.basic_publish(
                    exchange.clone(),
                    message.routing_key,
                    options,
                    &message.body,
                    message.properties,
                ),
            )
            .await?;
            in_flight.push_back((message.id, confirm));
        }
        while let Some((id, confirm)) = in_flight.pop_front() {
            self.await_confirm(id, confirm).await?;
        }
        Ok(())
    }

    async fn await_confirm(&self, id: Uuid, confirm: PublisherConfirm) -> Result<(), BusError> {
        let timeout = self.config.confirm_timeout;
        match tokio::time::timeout(timeout, confirm).await {
            Err(_) => Err(BusError::Timeout(timeout, "publisher confirm")),
            Ok(Err(error)) => Err(lapin_error(&error)),
            Ok(Ok(Confirmation::Ack(None))) => Ok(()),
            Ok(Ok(Confirmation::Ack(Some(returned)))) => Err(BusError::Refused(format!(
                "message {id} is unroutable: {} {}",
                returned.reply_code, returned.reply_text
            ))),
            Ok(Ok(Confirmation::Nack(_))) => Err(BusError::Refused(format!(
                "message {id} was nacked by the broker"
            ))),
            Ok(Ok(Confirmation::NotRequested)) => Err(BusError::Other(
                "publisher confirms are not enabled on the channel".to_owned(),
            )),
        }
    }
}
