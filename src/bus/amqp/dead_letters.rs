//! Reading `{prefix}.dlq` ([`crate::bus::dead_letters`]): `basic.get` on a channel of
//! its own, unacknowledged until the letters are forgotten. A channel that fails is
//! dropped; the broker then puts back what it had handed out, to be read again.

use std::sync::Arc;

use lapin::options::{BasicAckOptions, BasicGetOptions};
use lapin::{Channel, Connection};
use tracing::warn;
use transload_core::bus::BusError;

use super::Shared;
use super::connection::{looks_alive, open};
use super::error::with_timeout;
use super::message;
use super::topology::short;
use crate::bus::dead_letters::BusDeadLetter;

/// The dead-letter queue of one bus, read on a connection of its own.
pub struct AmqpDeadLetterQueue {
    shared: Arc<Shared>,
    link: Option<(Connection, Channel)>,
    /// Whether the last take handed out letters not forgotten since.
    unforgotten: bool,
}

impl std::fmt::Debug for AmqpDeadLetterQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpDeadLetterQueue")
            .field("queue", &self.shared.topology.dead_letter_queue())
            .field("connected", &self.link.is_some())
            .finish_non_exhaustive()
    }
}

impl AmqpDeadLetterQueue {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            link: None,
            unforgotten: false,
        }
    }

    /// Up to `max` letters, oldest first, unacknowledged. Letters taken before and not
    /// forgotten are handed out again (the channel is renewed).
    ///
    /// # Errors
    /// When the broker cannot be reached or does not answer.
    pub async fn take(&mut self, max: usize) -> Result<Vec<BusDeadLetter>, BusError> {
        if self.unforgotten {
            // What the last take handed out goes back to the queue with its connection,
            // to be read again below.
            self.link = None;
        }
        let result = self.get(max).await;
        match &result {
            Ok(letters) => self.unforgotten = !letters.is_empty(),
            Err(_) => self.link = None,
        }
        result
    }

    async fn get(&mut self, max: usize) -> Result<Vec<BusDeadLetter>, BusError> {
        let timeout = self.shared.config.operation_timeout;
        let channel = self.channel().await?;
        let queue = short(&self.shared.topology.dead_letter_queue())?;
        let mut letters = Vec::new();
        while letters.len() < max {
            let got = with_timeout(
                timeout,
                "basic.get",
                channel.basic_get(queue.clone(), BasicGetOptions { no_ack: false }),
            )
            .await?;
            let Some(got) = got else { break };
            letters.push(message::dead_letter(&got.delivery, &self.shared.topology));
        }
        Ok(letters)
    }

    /// Acknowledges the letters of the last [`AmqpDeadLetterQueue::take`] with the
    /// delivery tags `tags`.
    ///
    /// # Errors
    /// When the channel failed since: the broker puts them back, to be read again.
    pub async fn forget(&mut self, tags: &[u64]) -> Result<(), BusError> {
        let timeout = self.shared.config.operation_timeout;
        let Some((connection, channel)) = &self.link else {
            return Err(BusError::StaleDelivery(
                "the dead-letter channel closed: the letters will be read again".to_owned(),
            ));
        };
        if !looks_alive(connection, channel) {
            self.link = None;
            return Err(BusError::StaleDelivery(
                "the dead-letter channel closed: the letters will be read again".to_owned(),
            ));
        }
        for tag in tags {
            if let Err(error) = with_timeout(
                timeout,
                "basic.ack",
                channel.basic_ack(*tag, BasicAckOptions::default()),
            )
            .await
            {
                warn!(%error, "cannot acknowledge dead letters; they will be read again");
                self.link = None;
                return Err(error);
            }
        }
        self.unforgotten = false;
        Ok(())
    }

    async fn channel(&mut self) -> Result<Channel, BusError> {
        if let Some((connection, channel)) = &self.link
            && looks_alive(connection, channel)
        {
            return Ok(channel.clone());
        }
        let config = &self.shared.config;
        let connection = open(config, "dead-letters").await?;
        let channel = with_timeout(
            config.operation_timeout,
            "channel.open",
            connection.create_channel(),
        )
        .await?;
        self.link = Some((connection, channel.clone()));
        Ok(channel)
    }
}
