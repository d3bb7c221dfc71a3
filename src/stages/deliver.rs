//! The deliver stage: what the hub sends to a partner (outbound stage) leaves, in the
//! partner's format, through the partner's endpoint.
//!
//! A message is either a finished document (a 997 or TA1 the translate stage wrote:
//! header `transload-document`) or a canonical event for the partner (CloudEvents JSON),
//! which the mapping the partner's profile routes its type to turns into the partner's
//! document; X12 documents get their envelopes and our control numbers here.
//!
//! The document goes to the partner's HTTP endpoint (with the sender's retries, rate
//! limit, circuit breaker and an idempotency key derived from the bus message id, so a
//! redelivery is recognised by the partner), or, for partners without one, into the
//! `outbound/` folder beside their file drop, written atomically under a name derived from
//! the message id (a redelivery rewrites the same file).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::Timestamp;
use serde_json::json;
use transload_connectors::http_out::{HttpSender, OutboundRequest, SenderOptions};
use transload_connectors::partner::{PartnerDirectory, PartnerProfile};
use transload_connectors::x12::tree::Encoding;
use transload_connectors::x12::writer::{self, EnvelopeParams, OutgoingSet, WriteOptions};
use transload_core::bus::BusMessage;
use transload_core::event::{Event, EventPayload};
use transload_core::ids::PartnerId;
use transload_core::model::TenderPurpose;
use transload_core::store::{AuditEntry, StateDocument, StateKey, StateWrite, Store, UnitOfWork};
use transload_mappings::{OutboundDocument, Registry};

use super::mapping_partners::MappingPartners;
use crate::ingest::PARTNER_HEADER;
use crate::metrics;
use crate::pipeline::{Handler, HandlerError};
use crate::stages::translate::{
    Allocated, CONTENT_TYPE_HEADER, DOCUMENT_HEADER, partner_delimiters,
};

/// The deliver stage's handler.
#[derive(Debug, Clone)]
pub struct Deliver<S> {
    store: S,
    partners: Arc<PartnerDirectory>,
    mapping_partners: MappingPartners,
    mappings: Arc<Registry>,
    senders: Arc<HashMap<PartnerId, HttpSender>>,
}

/// A document ready to leave.
struct Document {
    /// What it is (`997`, `204`, `transload.tender.offered`…).
    kind: String,
    content_type: String,
    extension: &'static str,
    body: Vec<u8>,
    /// For an X12 tender (204): which tender, and the group control number (GS06) it
    /// went out under, so the carrier's 997 can be matched to it.
    transmission: Option<TenderTransmission>,
}

/// State kind of the record that ties a 204 we sent to its tender, keyed
/// `{partner}:{GS06 without leading zeros}`.
pub const TRANSMISSION_KIND: &str = "x12_transmission";

/// A 204 sent under a group control number.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TenderTransmission {
    /// The load.
    pub shipper_load_id: String,
    /// The tender.
    pub tender_id: String,
    /// What the 204 was: original, cancellation or change.
    #[serde(default = "original")]
    pub purpose: TenderPurpose,
    /// GS06 as written.
    pub group_control_number: String,
}

fn original() -> TenderPurpose {
    TenderPurpose::Original
}

/// The key of a transmission record.
#[must_use]
pub fn transmission_key(partner: &PartnerId, group_control_number: &str) -> String {
    let number = group_control_number.trim().trim_start_matches('0');
    format!("{partner}:{}", if number.is_empty() { "0" } else { number })
}

/// A partner endpoint that cannot be set up.
#[derive(Debug, thiserror::Error)]
#[error("partner `{partner}`: {reason}")]
pub struct DeliverSetupError {
    /// The partner.
    pub partner: PartnerId,
    /// Why.
    pub reason: String,
}

impl<S: Store> Deliver<S> {
    /// A handler for the partners in `partners`: one HTTP sender per partner endpoint,
    /// built now so that a bad URL or a missing secret shows at start-up.
    ///
    /// # Errors
    /// The first endpoint that cannot be set up.
    pub fn new(
        store: S,
        partners: Arc<PartnerDirectory>,
        mappings: Arc<Registry>,
        options: &SenderOptions,
    ) -> Result<Self, DeliverSetupError> {
        let mut senders = HashMap::new();
        for profile in partners.iter() {
            if let Some(endpoint) = &profile.endpoint {
                let sender = HttpSender::new(profile.id.clone(), endpoint, options.clone())
                    .map_err(|e| DeliverSetupError {
                        partner: profile.id.clone(),
                        reason: e.to_string(),
                    })?;
                senders.insert(profile.id.clone(), sender);
            }
        }
        Ok(Self {
            store,
            mapping_partners: MappingPartners::of(&partners),
            partners,
            mappings,
            senders: Arc::new(senders),
        })
    }

    async fn document(
        &self,
        profile: &PartnerProfile,
        message: &BusMessage,
    ) -> Result<Document, HandlerError> {
        let content_type = message
            .headers
            .get(CONTENT_TYPE_HEADER)
            .cloned()
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        if let Some(kind) = message.headers.get(DOCUMENT_HEADER) {
            let extension = extension_of(&content_type);
            return Ok(Document {
                kind: kind.clone(),
                content_type,
                extension,
                body: message.body.clone(),
                transmission: None,
            });
        }
        let event: Event = serde_json::from_slice(&message.body).map_err(|e| {
            HandlerError::Permanent(format!(
                "an outbound message that is neither a document nor an event: {e}"
            ))
        })?;
        let event_type = event.event_type().as_str();
        let route = profile
            .outbound
            .iter()
            .find(|r| r.event == event_type)
            .ok_or_else(|| {
                HandlerError::Permanent(format!(
                    "partner `{}` has no outbound route for {event_type}",
                    profile.id
                ))
            })?;
        let mapping = self
            .mappings
            .current()
            .by_id(&route.mapping)
            .ok_or_else(|| {
                HandlerError::Permanent(format!("no mapping `{}` is loaded", route.mapping))
            })?;
        if mapping.sends_events_as_they_are() && mapping.accepts(event_type) {
            // The document is the event itself: the bytes it came in, without decoding
            // them into a JSON tree and writing that again.
            return Ok(Document {
                kind: event_type.to_owned(),
                content_type: "application/json".to_owned(),
                extension: "json",
                body: message.body.clone(),
                transmission: None,
            });
        }
        let partner = self.mapping_partners.get(profile)?;
        let document = mapping
            .run_outbound(&event, &partner)
            .map_err(|e| HandlerError::Permanent(e.to_string()))?;
        match document {
            OutboundDocument::Json(value) => Ok(Document {
                kind: event_type.to_owned(),
                content_type: "application/json".to_owned(),
                extension: "json",
                body: serde_json::to_vec(&value).map_err(|e| {
                    HandlerError::Permanent(format!("cannot serialize the document: {e}"))
                })?,
                transmission: None,
            }),
            OutboundDocument::Xml(text) => Ok(Document {
                kind: event_type.to_owned(),
                content_type: "application/xml".to_owned(),
                extension: "xml",
                body: text.into_bytes(),
                transmission: None,
            }),
            OutboundDocument::X12 {
                set_id,
                version,
                body,
            } => {
                let (bytes, group_control_number) =
                    self.envelope(profile, &set_id, &version, body).await?;
                let transmission = match &event.payload {
                    EventPayload::TenderOffered(tender) => Some(TenderTransmission {
                        shipper_load_id: tender.shipment.shipper_load_id.to_string(),
                        tender_id: tender.tender_id.clone(),
                        purpose: tender.purpose,
                        group_control_number,
                    }),
                    _ => None,
                };
                Ok(Document {
                    kind: set_id,
                    content_type: "application/edi-x12".to_owned(),
                    extension: "edi",
                    body: bytes,
                    transmission,
                })
            }
        }
    }

    /// One interchange around one set, from us to the partner, with our next control
    /// numbers; returns the bytes and the group control number (GS06).
    async fn envelope(
        &self,
        profile: &PartnerProfile,
        set_id: &str,
        version: &str,
        body: Vec<transload_connectors::x12::tree::SegmentNode>,
    ) -> Result<(Vec<u8>, String), HandlerError> {
        let x12 = profile.x12.as_ref().ok_or_else(|| {
            HandlerError::Permanent(format!(
                "partner `{}` has no [x12] table to address an X12 {set_id} to",
                profile.id
            ))
        })?;
        let params = EnvelopeParams {
            sender_qualifier: x12.our_isa_qualifier.clone(),
            sender_id: x12.our_isa_id.clone(),
            receiver_qualifier: x12.isa_qualifier.clone(),
            receiver_id: x12.isa_id.clone(),
            application_sender: x12.our_gs_id.clone(),
            application_receiver: x12.gs_id.clone(),
            functional_id: functional_id(set_id).to_owned(),
            version: version.to_owned(),
            isa_version: if version.starts_with("005") {
                "00501".to_owned()
            } else {
                "00401".to_owned()
            },
            ack_requested: false,
            test: x12.usage == "T",
            timestamp: writer::utc_now(),
        };
        let delimiters = partner_delimiters(profile);
        let mut numbers = Allocated::take(&self.store, &profile.id, 1).await?;
        let interchange = writer::build_interchange(
            &params,
            delimiters,
            &[OutgoingSet {
                set_id: set_id.to_owned(),
                implementation: None,
                body,
            }],
            &mut numbers,
            profile.id.as_str(),
        )
        .map_err(|e| HandlerError::Permanent(format!("cannot envelope the {set_id}: {e}")))?;
        let mut bytes = Vec::new();
        writer::write_interchange(
            &mut bytes,
            &interchange,
            Encoding::Utf8,
            &WriteOptions {
                delimiters: None,
                newline: x12.delimiters.suffix.contains('\n'),
            },
        )
        .map_err(|e| HandlerError::Permanent(format!("cannot write the {set_id}: {e}")))?;
        let group_control_number = interchange
            .groups
            .first()
            .and_then(|group| group.gs.as_ref())
            .and_then(|gs| gs.value("GS06"))
            .unwrap_or_default()
            .to_owned();
        Ok((bytes, group_control_number))
    }
}

impl<S: Store> Handler for Deliver<S> {
    async fn handle(&self, message: &BusMessage) -> Result<UnitOfWork, HandlerError> {
        let partner = message
            .headers
            .get(PARTNER_HEADER)
            .ok_or_else(|| HandlerError::Permanent("the message names no partner".to_owned()))
            .and_then(|p| {
                PartnerId::new(p.as_str())
                    .map_err(|e| HandlerError::Permanent(format!("bad partner header: {e}")))
            })?;
        let profile = self.partners.get(&partner).ok_or_else(|| {
            HandlerError::Permanent(format!("no partner profile for `{partner}`"))
        })?;
        let document = self.document(profile, message).await?;
        let key = message.id.to_string();
        let (channel, detail) = if let Some(sender) = self.senders.get(&partner) {
            let request = OutboundRequest {
                idempotency_key: key.clone(),
                content_type: document.content_type.clone(),
                body: document.body.clone(),
                headers: Vec::new(),
            };
            let delivered = sender.send(&request).await.map_err(|e| {
                metrics::delivery_failed(partner.as_str());
                if e.is_transient() {
                    HandlerError::Transient(e.to_string())
                } else {
                    HandlerError::Permanent(e.to_string())
                }
            })?;
            (
                "http",
                json!({ "status": delivered.status, "attempts": delivered.attempts }),
            )
        } else if let Some(drop) = &profile.file_drop {
            let path = write_atomically(
                &drop.dir.join("outbound"),
                &format!("{}-{key}.{}", document.kind, document.extension),
                &document.body,
            )
            .map_err(|e| {
                metrics::delivery_failed(partner.as_str());
                HandlerError::Transient(format!("cannot write the document: {e}"))
            })?;
            ("file", json!({ "path": path.display().to_string() }))
        } else {
            return Err(HandlerError::Permanent(format!(
                "partner `{partner}` has neither an [endpoint] nor a [file_drop] to send to"
            )));
        };
        metrics::delivered(partner.as_str(), channel);
        tracing::info!(partner = %partner, document = %document.kind, channel, "delivered");
        let states = document
            .transmission
            .as_ref()
            .map(|transmission| {
                StateDocument::to_document(transmission).map(|value| StateWrite {
                    key: StateKey {
                        tenant: profile.tenant.clone(),
                        kind: TRANSMISSION_KIND.to_owned(),
                        key: transmission_key(&partner, &transmission.group_control_number),
                    },
                    expected_version: None,
                    value,
                })
            })
            .transpose()
            .map_err(|e| HandlerError::Permanent(format!("cannot record the transmission: {e}")))?
            .into_iter()
            .collect();
        Ok(UnitOfWork {
            states,
            audit: vec![AuditEntry {
                tenant: profile.tenant.clone(),
                actor: "hub".to_owned(),
                action: "delivered".to_owned(),
                subject: key,
                details: json!({
                    "partner": partner.as_str(),
                    "document": document.kind,
                    "channel": channel,
                    "bytes": document.body.len(),
                    "detail": detail,
                }),
                at: Timestamp::now(),
            }],
            ..UnitOfWork::default()
        })
    }
}

/// GS01 for a transaction set.
fn functional_id(set_id: &str) -> &'static str {
    match set_id {
        "204" => "SM",
        "214" => "QM",
        "210" => "IM",
        "990" => "GF",
        "997" | "999" => "FA",
        "856" => "SH",
        "850" => "PO",
        _ => "ZZ",
    }
}

fn extension_of(content_type: &str) -> &'static str {
    if content_type.contains("x12") || content_type.contains("edi") {
        "edi"
    } else if content_type.contains("json") {
        "json"
    } else if content_type.contains("xml") {
        "xml"
    } else {
        "bin"
    }
}

/// Writes `body` to `dir/name` through a temporary file and a rename, so a reader never
/// sees half a document.
fn write_atomically(dir: &Path, name: &str, body: &[u8]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let target = dir.join(name);
    let temporary = dir.join(format!(".{name}.tmp"));
    std::fs::write(&temporary, body)?;
    std::fs::File::open(&temporary)?.sync_all()?;
    std::fs::rename(&temporary, &target)?;
    Ok(target)
}
