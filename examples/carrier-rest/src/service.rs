//! The I/O half: [`RapidFreightConnector`] sends tenders through an [`HttpSender`] and
//! reads the answers and webhooks with [`crate::mapping`].

use transload_connectors::connector::{Connector, ConnectorError, DeliverFuture, idempotency_key};
use transload_connectors::http_out::{HttpSender, OutboundRequest};
use transload_core::event::{Event, EventPayload, EventType};
use transload_core::ids::{PartnerId, Scac};

use crate::api::{StatusWebhook, TenderReply};
use crate::mapping::{self, MappingError};

/// The connector id.
pub const CONNECTOR_ID: &str = "rapidfreight-rest";

/// Rapid Freight's REST API as a [`Connector`]: delivers `transload.tender.offered`
/// (answered synchronously with `transload.tender.responded` unless the carrier says
/// `PENDING`) and reads the carrier's status webhooks into `transload.shipment.status`.
#[derive(Debug, Clone)]
pub struct RapidFreightConnector {
    sender: HttpSender,
    scac: Scac,
}

fn mapping_error(error: MappingError) -> ConnectorError {
    ConnectorError::Mapping(error.to_string())
}

impl RapidFreightConnector {
    /// A connector sending through `sender` (the tender endpoint of the carrier's
    /// profile); `scac` is the carrier's, reported on the statuses it sends.
    #[must_use]
    pub fn new(sender: HttpSender, scac: Scac) -> Self {
        Self { sender, scac }
    }

    async fn deliver_event(&self, event: &Event) -> Result<Vec<EventPayload>, ConnectorError> {
        let EventPayload::TenderOffered(tender) = &event.payload else {
            return Err(ConnectorError::Unsupported {
                connector: CONNECTOR_ID.to_owned(),
                what: event.event_type().to_string(),
            });
        };
        let request = mapping::tender_request(tender).map_err(mapping_error)?;
        let body =
            serde_json::to_vec(&request).map_err(|e| ConnectorError::Mapping(e.to_string()))?;
        let delivered = self
            .sender
            .send(&OutboundRequest::json(idempotency_key(event), body))
            .await?;
        let reply: TenderReply = serde_json::from_slice(&delivered.body)
            .map_err(|e| ConnectorError::Response(e.to_string()))?;
        let response = mapping::tender_response(tender, &reply)
            .map_err(|e| ConnectorError::Response(e.to_string()))?;
        Ok(response
            .map(EventPayload::TenderResponded)
            .into_iter()
            .collect())
    }
}

impl Connector for RapidFreightConnector {
    fn id(&self) -> &str {
        CONNECTOR_ID
    }

    fn partner(&self) -> &PartnerId {
        self.sender.partner()
    }

    fn delivers(&self, event_type: EventType) -> bool {
        event_type == EventType::TenderOffered
    }

    fn deliver<'a>(&'a self, event: &'a Event) -> DeliverFuture<'a> {
        Box::pin(self.deliver_event(event))
    }

    fn receive(&self, body: &[u8]) -> Result<Vec<EventPayload>, ConnectorError> {
        let webhook: StatusWebhook =
            serde_json::from_slice(body).map_err(|e| ConnectorError::Mapping(e.to_string()))?;
        let status = mapping::shipment_status(self.partner(), &self.scac, &webhook)
            .map_err(mapping_error)?;
        Ok(vec![EventPayload::StatusReported(status)])
    }
}
