//! [`BusMessage`] ↔ AMQP: the id in the `message_id` property, the headers as AMQP
//! string headers, persistent delivery mode, and the attempt count.
//!
//! Header names starting with `transload-bus-` are reserved for the bus (attempt counting,
//! retry routing, reject reasons) and are not handed to consumers; neither are the
//! broker's own (`x-death`, `x-first-death-*`, `x-last-death-*`, `x-delivery-count`).

use std::collections::BTreeMap;

use jiff::Timestamp;
use lapin::BasicProperties;
use lapin::message::Delivery as LapinDelivery;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use thiserror::Error;
use transload_core::bus::{BusError, BusMessage, Stage};
use uuid::Uuid;

use super::topology::{Topology, short};
use crate::bus::dead_letters::BusDeadLetter;

/// Prefix of the headers the bus keeps for itself.
pub(crate) const RESERVED_PREFIX: &str = "transload-bus-";
/// The attempt number the next delivery of a retried message starts from.
pub(crate) const HEADER_ATTEMPT: &str = "transload-bus-attempt";
/// When a retried message is due (milliseconds since the Unix epoch): a message back
/// from its delay tier earlier (the delay exceeded the longest tier) waits again.
pub(crate) const HEADER_NOT_BEFORE: &str = "transload-bus-not-before";
/// Why a message was rejected to the dead-letter queue.
pub(crate) const HEADER_REASON: &str = "transload-bus-reason";
/// The stage a rejected message was consumed from.
pub(crate) const HEADER_REJECTED_FROM: &str = "transload-bus-rejected-from";

/// AMQP persistent delivery mode.
const PERSISTENT: u8 = 2;

/// A message ready for `basic.publish`.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    /// The message id (for logs).
    pub(crate) id: Uuid,
    /// The routing key.
    pub(crate) routing_key: ShortString,
    /// Persistent, with `message_id` and headers.
    pub(crate) properties: BasicProperties,
    /// The payload.
    pub(crate) body: Vec<u8>,
}

/// Encodes `message` with `extra` bus headers (attempt, retry routing, reason).
///
/// # Errors
/// [`BusError::Refused`] for a routing key or header name longer than 255 bytes or a
/// header name in the reserved `transload-bus-` namespace.
pub(crate) fn encode(
    message: BusMessage,
    extra: &[(&str, AMQPValue)],
) -> Result<Outgoing, BusError> {
    let mut headers = FieldTable::default();
    for (name, value) in &message.headers {
        if name.starts_with(RESERVED_PREFIX) {
            return Err(BusError::Refused(format!(
                "message {}: header {name:?} is in the reserved {RESERVED_PREFIX:?} namespace",
                message.id
            )));
        }
        let key = ShortString::try_new(name.as_str()).map_err(|_| {
            BusError::Refused(format!(
                "message {}: header name longer than 255 bytes",
                message.id
            ))
        })?;
        headers.insert(key, AMQPValue::LongString(LongString::from(value.as_str())));
    }
    for (name, value) in extra {
        headers.insert(short(name)?, value.clone());
    }
    let routing_key = ShortString::try_new(message.routing_key.as_str()).map_err(|_| {
        BusError::Refused(format!(
            "message {}: routing key longer than 255 bytes",
            message.id
        ))
    })?;
    let properties = BasicProperties::default()
        .with_delivery_mode(PERSISTENT)
        .with_message_id(ShortString::from(message.id.to_string()))
        .with_headers(headers);
    Ok(Outgoing {
        id: message.id,
        routing_key,
        properties,
        body: message.body,
    })
}

/// Why a delivery could not be read as a [`BusMessage`].
#[derive(Debug, Error, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// No `message_id`, or one that is not a UUID: consumers could not dedupe it.
    #[error("message id missing or not a UUID: {0:?}")]
    MessageId(Option<String>),
}

/// A delivery read as a [`BusMessage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decoded {
    /// The message.
    pub(crate) message: BusMessage,
    /// The bus's attempt header (1 if absent) plus the quorum queue's
    /// `x-delivery-count` of earlier deliveries.
    pub(crate) attempt: u32,
    /// For a retried message, the time (milliseconds since the Unix epoch) before
    /// which it must not be handed out.
    pub(crate) not_before_ms: Option<u64>,
}

/// Reads a delivery.
pub(crate) fn decode(delivery: &LapinDelivery) -> Result<Decoded, DecodeError> {
    let properties = &delivery.properties;
    let id_text = properties
        .message_id()
        .as_ref()
        .map(|id| id.as_str().to_owned());
    let id = id_text
        .as_deref()
        .and_then(|text| Uuid::parse_str(text).ok())
        .ok_or(DecodeError::MessageId(id_text))?;

    let mut headers = BTreeMap::new();
    let mut base_attempt: u32 = 1;
    let mut delivery_count: Option<u32> = None;
    let mut not_before_ms = None;
    if let Some(table) = properties.headers() {
        for (name, value) in table.inner() {
            let name = name.as_str();
            if name == HEADER_ATTEMPT {
                base_attempt = as_u32(value).unwrap_or(1).max(1);
            } else if name == HEADER_NOT_BEFORE {
                not_before_ms = as_u64(value);
            } else if name == "x-delivery-count" {
                delivery_count = as_u32(value);
            } else if !is_hidden(name)
                && let Some(text) = as_text(value)
            {
                headers.insert(name.to_owned(), text);
            }
        }
    }
    let earlier = delivery_count.unwrap_or(u32::from(delivery.redelivered));
    let message = BusMessage {
        id,
        routing_key: delivery.routing_key.as_str().to_owned(),
        headers,
        body: delivery.data.clone(),
    };
    Ok(Decoded {
        message,
        attempt: base_attempt.saturating_add(earlier),
        not_before_ms,
    })
}

/// Reads a delivery of the dead-letter queue as the letter it stands for, whatever it
/// holds: a message without a usable id (one a consumer rejected as undecodable) gets
/// an id derived from its routing key and bytes, the same each time it is read.
///
/// The stage and reason come from the bus's headers when a consumer rejected it
/// ([`HEADER_REJECTED_FROM`], [`HEADER_REASON`]), otherwise from the broker's newest
/// `x-death` entry (the queue it left, and why: `delivery_limit`, `rejected`…).
pub(crate) fn dead_letter(delivery: &LapinDelivery, topology: &Topology) -> BusDeadLetter {
    let properties = &delivery.properties;
    let mut headers = BTreeMap::new();
    let (mut rejected_from, mut bus_reason, mut attempt, mut delivery_count) =
        (None, None, None, None);
    let mut death: Option<&FieldTable> = None;
    if let Some(table) = properties.headers() {
        for (name, value) in table.inner() {
            match name.as_str() {
                HEADER_REJECTED_FROM => rejected_from = as_text(value),
                HEADER_REASON => bus_reason = as_text(value),
                HEADER_ATTEMPT => attempt = as_u32(value),
                "x-delivery-count" => delivery_count = as_u32(value),
                "x-death" => {
                    if let AMQPValue::FieldArray(deaths) = value
                        && let Some(AMQPValue::FieldTable(newest)) = deaths.as_slice().first()
                    {
                        death = Some(newest);
                    }
                }
                name if !is_hidden(name) => {
                    if let Some(text) = as_text(value) {
                        headers.insert(name.to_owned(), text);
                    }
                }
                _ => {}
            }
        }
    }
    let death_field = |field: &str| death.and_then(|table| table.inner().get(field));
    let death_queue = death_field("queue").and_then(as_text);
    let death_reason = death_field("reason").and_then(as_text);
    let mut notes = Vec::new();
    let stage = rejected_from
        .as_deref()
        .and_then(Stage::from_name)
        .or_else(|| {
            death_queue
                .as_deref()
                .and_then(|queue| topology.stage_of_queue(queue))
        })
        .unwrap_or_else(|| {
            notes.push(format!(
                "it names no stage of this bus (queue {}); counted as inbound",
                death_queue.as_deref().unwrap_or("unknown")
            ));
            Stage::Inbound
        });
    let attempts = match (attempt, delivery_count) {
        (Some(attempt), _) => attempt,
        (None, Some(earlier)) => earlier.saturating_add(1),
        (None, None) if death_reason.as_deref() == Some("delivery_limit") => {
            topology.delivery_limit().saturating_add(1)
        }
        (None, None) => 1,
    };
    let mut reason = match (bus_reason, death_reason.as_deref()) {
        (Some(reason), _) => reason,
        (None, Some("delivery_limit")) => format!(
            "delivered {attempts} times without an answer (RabbitMQ's delivery limit): it may crash or hang its stage"
        ),
        (None, Some("rejected")) => {
            "rejected by its consumer: it could not be decoded (no message id, or one that is not a UUID)"
                .to_owned()
        }
        (None, Some(other)) => format!("dead-lettered by RabbitMQ ({other})"),
        (None, None) => "found in the dead-letter queue with no reason given".to_owned(),
    };
    let routing_key = delivery.routing_key.as_str().to_owned();
    let id = properties
        .message_id()
        .as_ref()
        .and_then(|id| Uuid::parse_str(id.as_str()).ok())
        .unwrap_or_else(|| {
            notes.push("it had no usable message id".to_owned());
            let mut name = routing_key.clone().into_bytes();
            name.push(0);
            name.extend_from_slice(&delivery.data);
            Uuid::new_v5(&Uuid::NAMESPACE_OID, &name)
        });
    if !notes.is_empty() {
        reason = format!("{reason} ({})", notes.join("; "));
    }
    let failed_at = death_field("time")
        .and_then(as_u64)
        .and_then(|seconds| i64::try_from(seconds).ok())
        .and_then(|seconds| Timestamp::from_second(seconds).ok())
        .unwrap_or_else(Timestamp::now);
    BusDeadLetter {
        stage,
        message: BusMessage {
            id,
            routing_key,
            headers,
            body: delivery.data.clone(),
        },
        attempts,
        reason,
        failed_at,
        handle: delivery.delivery_tag,
    }
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

fn is_hidden(name: &str) -> bool {
    name.starts_with(RESERVED_PREFIX)
        || name == "x-death"
        || name.starts_with("x-first-death-")
        || name.starts_with("x-last-death-")
}

fn as_text(value: &AMQPValue) -> Option<String> {
    match value {
        AMQPValue::LongString(text) => String::from_utf8(text.as_bytes().to_vec()).ok(),
        AMQPValue::ShortString(text) => Some(text.as_str().to_owned()),
        _ => None,
    }
}

fn as_u64(value: &AMQPValue) -> Option<u64> {
    match value {
        AMQPValue::LongLongInt(v) => u64::try_from(*v).ok(),
        AMQPValue::Timestamp(v) => Some(*v),
        other => as_u32(other).map(u64::from),
    }
}

fn as_u32(value: &AMQPValue) -> Option<u32> {
    match value {
        AMQPValue::ShortShortInt(v) => u32::try_from(*v).ok(),
        AMQPValue::ShortShortUInt(v) => Some(u32::from(*v)),
        AMQPValue::ShortInt(v) => u32::try_from(*v).ok(),
        AMQPValue::ShortUInt(v) => Some(u32::from(*v)),
        AMQPValue::LongInt(v) => u32::try_from(*v).ok(),
        AMQPValue::LongUInt(v) => Some(*v),
        AMQPValue::LongLongInt(v) => u32::try_from(*v).ok(),
        AMQPValue::LongString(text) => std::str::from_utf8(text.as_bytes()).ok()?.parse().ok(),
        AMQPValue::ShortString(text) => text.as_str().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_refuses_reserved_and_oversized_names() {
        let reserved =
            BusMessage::new("p1", b"x".to_vec()).with_header("transload-bus-attempt", "3");
        assert!(matches!(encode(reserved, &[]), Err(BusError::Refused(_))));
        let long_key = BusMessage::new("k".repeat(256), b"x".to_vec());
        assert!(matches!(encode(long_key, &[]), Err(BusError::Refused(_))));
    }

    #[test]
    fn encode_sets_id_persistence_and_headers() {
        let message =
            BusMessage::new("acme.load_tendered", b"{}".to_vec()).with_header("tenant", "acme");
        let outgoing = encode(
            message.clone(),
            &[(HEADER_ATTEMPT, AMQPValue::LongLongInt(2))],
        )
        .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(outgoing.properties.delivery_mode(), &Some(PERSISTENT));
        assert_eq!(
            outgoing
                .properties
                .message_id()
                .as_ref()
                .map(ShortString::as_str),
            Some(message.id.to_string().as_str())
        );
        let headers = outgoing.properties.headers().clone().unwrap_or_default();
        assert!(headers.contains_key("tenant"));
        assert!(headers.contains_key(HEADER_ATTEMPT));
    }

    #[test]
    fn integer_headers_of_any_width_count() {
        assert_eq!(as_u32(&AMQPValue::LongLongInt(4)), Some(4));
        assert_eq!(as_u32(&AMQPValue::LongInt(-1)), None);
        assert_eq!(as_u32(&AMQPValue::LongString("7".into())), Some(7));
    }
}
