//! The messages a bus gave up on by itself, before a stage could answer for them: a
//! message delivered up to the bus's delivery limit without an answer (it crashes or
//! hangs its stage), one a consumer rejected, one that could not be decoded. The
//! embedded bus keeps them in `bus_dead_letters`; RabbitMQ in `{prefix}.dlq`.
//!
//! [`BusDeadLetters`] reads them so that the hub can move them into the store's dead
//! letters ([`crate::pipeline::dead_letter_drain`]), where `transload dlq` lists, shows
//! and redrives them like any other: an operator has one place to look.
//!
//! Reading is in two steps: [`BusDeadLetters::take`] reads a batch and leaves it on the
//! bus; [`BusDeadLetters::forget`] removes it once the store has it. A process that
//! stops between the two reads the same letters again; each gets the same store id
//! ([`BusDeadLetter::store_id`]), so the store keeps one entry.

use jiff::Timestamp;
use transload_core::bus::{BusError, BusMessage, Stage};
use transload_core::ids::{PartnerId, TenantId};
use transload_core::store::DeadLetter;
use uuid::Uuid;

use super::amqp::AmqpDeadLetterQueue;
use super::embedded::EmbeddedBus;
use crate::ingest::{PARTNER_HEADER, TENANT_HEADER};

/// The namespace of the store ids of bus dead letters (UUID v5).
const STORE_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2b0e_4d7a_4e59_9c3b_8a52_d1e0_7f44);

/// A message the bus gave up on, as read from the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusDeadLetter {
    /// The stage whose queue it was on.
    pub stage: Stage,
    /// The message, its original bytes included.
    pub message: BusMessage,
    /// Deliveries before the bus gave up.
    pub attempts: u32,
    /// Why the bus gave up, in words.
    pub reason: String,
    /// When.
    pub failed_at: Timestamp,
    /// Where the bus has it (the embedded bus's row, RabbitMQ's delivery tag).
    pub(crate) handle: u64,
}

impl BusDeadLetter {
    /// Its id in the store's dead letters: the same each time the letter is read.
    #[must_use]
    pub fn store_id(&self) -> Uuid {
        let name = format!("bus/{}/{}", self.stage.name(), self.message.id);
        Uuid::new_v5(&STORE_ID_NAMESPACE, name.as_bytes())
    }

    /// The entry of the store's dead letters that stands for it.
    #[must_use]
    pub fn into_store_entry(self) -> DeadLetter {
        let header = |name: &str| self.message.headers.get(name).cloned();
        DeadLetter {
            id: self.store_id(),
            stage: self.stage,
            tenant: header(TENANT_HEADER).and_then(|value| TenantId::new(value).ok()),
            partner: header(PARTNER_HEADER).and_then(|value| PartnerId::new(value).ok()),
            reason: format!("the bus gave up on it: {}", self.reason),
            attempts: self.attempts,
            message: self.message,
            failed_at: self.failed_at,
            redriven: None,
        }
    }
}

/// Where the bus keeps what it gave up on. See the module documentation.
#[derive(Debug)]
pub enum BusDeadLetters {
    /// The embedded bus's `bus_dead_letters`.
    Embedded(EmbeddedBus),
    /// RabbitMQ's `{prefix}.dlq`.
    Amqp(Box<AmqpDeadLetterQueue>),
}

impl BusDeadLetters {
    /// Up to `max` letters, oldest first, left on the bus until [`BusDeadLetters::forget`].
    /// A letter the bus cannot read in full (a damaged row, a message without an id)
    /// still comes, with what could be read and its bytes.
    ///
    /// # Errors
    /// When the bus cannot be read now.
    pub async fn take(&mut self, max: usize) -> Result<Vec<BusDeadLetter>, BusError> {
        match self {
            BusDeadLetters::Embedded(bus) => bus.take_dead_letters(max).await,
            BusDeadLetters::Amqp(queue) => queue.take(max).await,
        }
    }

    /// Removes `letters` (taken by the last [`BusDeadLetters::take`]) from the bus.
    ///
    /// # Errors
    /// When the bus cannot be written now; the letters are read again later.
    pub async fn forget(&mut self, letters: &[BusDeadLetter]) -> Result<(), BusError> {
        let handles: Vec<u64> = letters.iter().map(|letter| letter.handle).collect();
        match self {
            BusDeadLetters::Embedded(bus) => bus.forget_dead_letters(&handles).await,
            BusDeadLetters::Amqp(queue) => queue.forget(&handles).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(stage: Stage, message: BusMessage) -> BusDeadLetter {
        BusDeadLetter {
            stage,
            message,
            attempts: 20,
            reason: "delivery limit reached".to_owned(),
            failed_at: Timestamp::UNIX_EPOCH,
            handle: 7,
        }
    }

    #[test]
    fn a_letter_read_twice_has_one_store_id_and_each_message_its_own() {
        let message = BusMessage::new("acme.wms.pick", b"{}".to_vec());
        let first = letter(Stage::Inbound, message.clone());
        let again = letter(Stage::Inbound, message.clone());
        assert_eq!(first.store_id(), again.store_id());
        assert_ne!(
            first.store_id(),
            letter(Stage::Events, message).store_id(),
            "the same message given up on another stage is another letter"
        );
        assert_ne!(
            first.store_id(),
            letter(
                Stage::Inbound,
                BusMessage::new("acme.wms.pick", b"{}".to_vec())
            )
            .store_id()
        );
    }

    #[test]
    fn the_store_entry_keeps_bytes_reason_tenant_and_partner() {
        let message = BusMessage::new("acme.wms.pick", b"\xff not utf-8".to_vec())
            .with_header(TENANT_HEADER, "acme")
            .with_header(PARTNER_HEADER, "wms");
        let entry = letter(Stage::Inbound, message.clone()).into_store_entry();
        assert_eq!(entry.message, message);
        assert_eq!(entry.attempts, 20);
        assert_eq!(
            entry.reason,
            "the bus gave up on it: delivery limit reached"
        );
        assert_eq!(entry.tenant.as_ref().map(TenantId::as_str), Some("acme"));
        assert_eq!(entry.partner.as_ref().map(PartnerId::as_str), Some("wms"));
        assert_eq!(entry.redriven, None);
    }
}
