//! Rust connectors: a partner reached through its own API rather than through a mapping
//! file and a generic endpoint.
//!
//! A connector is split the way Karrio splits its carrier integrations:
//!
//! - **pure mapping functions**, no I/O: canonical payload → the partner's request, the
//!   partner's response → canonical payloads, the partner's webhook → canonical payloads.
//!   They are tested against golden fixtures, byte for byte;
//! - **an I/O service** implementing [`Connector`]: it calls the mapping functions and
//!   sends through an [`HttpSender`](crate::http_out::HttpSender), which brings the
//!   partner's timeout, retries, rate limit, circuit breaker, idempotency key and
//!   signature.
//!
//! The hub's deliver stage calls every connector the same way, through `dyn Connector`
//! (a [`ConnectorSet`] finds it by id):
//!
//! 1. [`Connector::deliver`] with the outbound event. It returns the canonical payloads
//!    the partner's synchronous answer means (a tender accepted on the spot gives a
//!    `transload.tender.responded`), often none.
//! 2. [`response_events`] turns those payloads into events caused by the delivered one
//!    (same correlation, a dedupe key derived from the delivered event's id, so a
//!    redelivery that gets the same answer is recognised downstream); the stage commits
//!    them on `events` with the delivery's processed marker.
//! 3. On an error, [`ConnectorError::is_transient`] says retry later (at least
//!    [`ConnectorError::retry_after`]) or dead-letter now.
//!
//! A connector that also receives webhooks from its partner (statuses pushed by a
//! carrier's API) implements [`Connector::receive`]; the HTTP intake, having verified the
//! signature and stored the raw body, hands it over and publishes what it returns.
//!
//! Deliveries are at least once: a connector must send [`idempotency_key`] of the event
//! (the [`HttpSender`](crate::http_out::HttpSender) does, given it in the request), so a
//! partner that honours idempotency keys sees each document once.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use transload_core::event::{Event, EventPayload, EventType};
use transload_core::ids::{DedupeKey, PartnerId};

use crate::http_out::SendError;

/// What [`Connector::deliver`] returns: boxed so that connectors can be held as
/// `dyn Connector`.
pub type DeliverFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<EventPayload>, ConnectorError>> + Send + 'a>>;

/// A partner integration written in Rust.
pub trait Connector: Send + Sync + std::fmt::Debug {
    /// The connector's id (`rapidfreight-rest`), unique in the hub, used in logs, dedupe
    /// keys and the partner profile that selects it.
    fn id(&self) -> &str;

    /// The partner it talks to.
    fn partner(&self) -> &PartnerId;

    /// Whether it delivers events of this type (the deliver stage dead-letters the others
    /// with [`ConnectorError::Unsupported`] rather than calling it).
    fn delivers(&self, event_type: EventType) -> bool;

    /// Sends `event` to the partner; returns the canonical payloads the partner's
    /// synchronous answer means (often none).
    fn deliver<'a>(&'a self, event: &'a Event) -> DeliverFuture<'a>;

    /// Reads a webhook the partner posted (signature already verified by the intake) into
    /// canonical payloads.
    ///
    /// # Errors
    /// [`ConnectorError::Unsupported`] by default; [`ConnectorError::Mapping`] when the
    /// body cannot be read.
    fn receive(&self, body: &[u8]) -> Result<Vec<EventPayload>, ConnectorError> {
        let _ = body;
        Err(ConnectorError::Unsupported {
            connector: self.id().to_owned(),
            what: "webhooks".to_owned(),
        })
    }
}

/// Why a connector could not deliver or read something.
#[derive(Debug, Error)]
pub enum ConnectorError {
    /// The connector does not handle this event type or input. Permanent.
    #[error("connector `{connector}` does not handle {what}")]
    Unsupported {
        /// The connector id.
        connector: String,
        /// What it was given (an event type, `webhooks`).
        what: String,
    },
    /// The event (or webhook) cannot be expressed in the other side's terms: a missing
    /// stop, an unknown code. Permanent.
    #[error("mapping: {0}")]
    Mapping(String),
    /// Sending failed; transient or permanent as the [`SendError`] says.
    #[error(transparent)]
    Send(#[from] SendError),
    /// The partner accepted the document but its answer cannot be read. Permanent: the
    /// document must not be sent again blindly; an operator looks at it.
    #[error("unreadable answer from the partner: {0}")]
    Response(String),
}

impl ConnectorError {
    /// Whether delivering the same event later may succeed.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            ConnectorError::Send(error) => error.is_transient(),
            ConnectorError::Unsupported { .. }
            | ConnectorError::Mapping(_)
            | ConnectorError::Response(_) => false,
        }
    }

    /// The least wait before trying again, when the partner or the circuit said one.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ConnectorError::Send(error) => error.retry_after(),
            _ => None,
        }
    }
}

/// The idempotency key of the delivery of `event`: the same for every attempt and every
/// redelivery of that event.
#[must_use]
pub fn idempotency_key(event: &Event) -> String {
    format!("transload-{}", event.id)
}

/// Events for the payloads a connector returned for the delivery of `cause`: source
/// `/partners/{partner}`, caused by `cause`, dedupe key `{connector}:{cause id}:{index}`.
///
/// # Errors
/// [`ConnectorError::Mapping`] when a dedupe key cannot be formed (a connector id that
/// is not a valid key).
pub fn response_events(
    connector: &dyn Connector,
    cause: &Event,
    payloads: Vec<EventPayload>,
) -> Result<Vec<Event>, ConnectorError> {
    payloads
        .into_iter()
        .enumerate()
        .map(|(index, payload)| {
            let key = format!("{}:{}:{index}", connector.id(), cause.id);
            let dedupe_key =
                DedupeKey::new(key).map_err(|e| ConnectorError::Mapping(e.to_string()))?;
            let source = format!("/partners/{}", connector.partner());
            Ok(Event::new(cause.tenant.clone(), source, payload, dedupe_key).caused_by(cause))
        })
        .collect()
}

/// The connectors of a hub, by id.
#[derive(Debug, Clone, Default)]
pub struct ConnectorSet {
    connectors: BTreeMap<String, Arc<dyn Connector>>,
}

impl ConnectorSet {
    /// No connectors.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `connector`; returns the one it replaces under the same id, if any.
    pub fn insert(&mut self, connector: Arc<dyn Connector>) -> Option<Arc<dyn Connector>> {
        self.connectors.insert(connector.id().to_owned(), connector)
    }

    /// The connector with id `id`.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<&Arc<dyn Connector>> {
        self.connectors.get(id)
    }

    /// The connector of `partner` that delivers `event_type`, if any.
    #[must_use]
    pub fn for_delivery(
        &self,
        partner: &PartnerId,
        event_type: EventType,
    ) -> Option<&Arc<dyn Connector>> {
        self.connectors
            .values()
            .find(|c| c.partner() == partner && c.delivers(event_type))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use transload_core::model::{CarrierRef, TenderDecision, TenderResponse};

    #[derive(Debug)]
    struct Echo {
        partner: PartnerId,
    }

    fn accepted(load: &str) -> EventPayload {
        EventPayload::TenderResponded(TenderResponse {
            shipper_load_id: transload_core::ids::ShipperLoadId::new(load).unwrap(),
            tender_id: None,
            carrier: CarrierRef {
                scac: transload_core::ids::Scac::new("RPDF").unwrap(),
                name: None,
            },
            decision: TenderDecision::Accepted,
            reason: None,
            raw_code: "ACCEPTED".to_owned(),
            responded_at: jiff::Timestamp::UNIX_EPOCH,
            pro_number: None,
            references: Vec::new(),
        })
    }

    impl Connector for Echo {
        fn id(&self) -> &str {
            "echo"
        }
        fn partner(&self) -> &PartnerId {
            &self.partner
        }
        fn delivers(&self, event_type: EventType) -> bool {
            event_type == EventType::TenderOffered
        }
        fn deliver<'a>(&'a self, event: &'a Event) -> DeliverFuture<'a> {
            Box::pin(async move {
                let load = event.subject.clone().unwrap_or_default();
                Ok(vec![accepted(&load)])
            })
        }
    }

    fn cause() -> Event {
        Event::new(
            transload_core::ids::TenantId::new("acme").unwrap(),
            "/orchestrator",
            accepted("LD-1"),
            DedupeKey::new("orchestrator:1").unwrap(),
        )
    }

    #[test]
    fn a_set_finds_connectors_and_unsupported_is_permanent() {
        let partner = PartnerId::new("rapidfreight").unwrap();
        let mut set = ConnectorSet::new();
        assert!(
            set.insert(Arc::new(Echo {
                partner: partner.clone()
            }))
            .is_none()
        );
        assert!(set.get("echo").is_some());
        assert!(
            set.for_delivery(&partner, EventType::TenderOffered)
                .is_some()
        );
        assert!(
            set.for_delivery(&partner, EventType::OrderCreated)
                .is_none()
        );
        let other = PartnerId::new("odfl").unwrap();
        assert!(set.for_delivery(&other, EventType::TenderOffered).is_none());
        let echo = set.get("echo").unwrap();
        let e = echo.receive(b"{}").unwrap_err();
        assert!(!e.is_transient());
        assert!(e.to_string().contains("webhooks"), "{e}");
    }

    #[test]
    fn response_events_are_caused_by_the_delivered_event_with_stable_keys() {
        let echo = Echo {
            partner: PartnerId::new("rapidfreight").unwrap(),
        };
        let cause = cause();
        let events =
            response_events(&echo, &cause, vec![accepted("LD-1"), accepted("LD-1")]).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].causation_id, Some(cause.id));
        assert_eq!(events[0].correlation_id, cause.correlation_id);
        assert_eq!(events[0].source, "/partners/rapidfreight");
        assert_eq!(
            events[1].dedupe_key.as_str(),
            format!("echo:{}:1", cause.id)
        );
        assert_eq!(idempotency_key(&cause), format!("transload-{}", cause.id));
    }
}
