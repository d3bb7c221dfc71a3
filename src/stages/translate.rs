//! The translate stage: a partner's message (inbound stage) becomes canonical events
//! (events stage), and for X12 the acknowledgements the partner expects (outbound stage).
//!
//! For X12 the message is parsed and validated against the envelope rules and the
//! transaction-set specs; a 997 (and a TA1 when the partner asked or the interchange is
//! rejected) is written with our control numbers; the accepted sets go through the mapping
//! the partner's profile routes them to; rejected sets are recorded in the audit log and
//! go no further. The interchange control number is recorded with the same commit, so a
//! later interchange with the same ISA13 is refused with a TA1 (note 025) and kept as a
//! dead letter for an operator.
//!
//! JSON and XML messages go through the mapping their route names (by the document kind
//! the sender declared). Every failure that retrying cannot fix (no route, a mapping
//! error, an unknown partner) dead-letters the message with the reason; the raw bytes stay
//! in the store and on the dead letter.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use jiff::Timestamp;
use serde_json::{Value, json};
use transload_connectors::partner::{DocumentFormat, PartnerDirectory, PartnerProfile};
use transload_connectors::x12::ack::{self, AckKind, InterchangeResult};
use transload_connectors::x12::control_numbers::{
    ControlKind, ControlNumberError, ControlNumberStore,
};
use transload_connectors::x12::delimiters::Delimiters;
use transload_connectors::x12::document;
use transload_connectors::x12::spec_check::SpecValidator;
use transload_connectors::x12::tree::Encoding;
use transload_connectors::x12::writer::{self, WriteOptions};
use transload_core::bus::{BusMessage, Stage};
use transload_core::event::{Event, EventPayload};
use transload_core::ids::{DedupeKey, PartnerId, TenantId};
use transload_core::store::{AuditEntry, ReceivedControlNumber, Store, UnitOfWork};
use transload_mappings::{Format, InboundInput, Mapping, Registry};
use uuid::Uuid;

use super::mapping_partners::MappingPartners;
use crate::ingest::{FORMAT_HEADER, KIND_HEADER, PARTNER_HEADER, RAW_ID_HEADER, TENANT_HEADER};
use crate::pipeline::{Handler, HandlerError};

/// Header of an outgoing message: the document inside (`997`, `TA1`, `204`…).
pub const DOCUMENT_HEADER: &str = "transload-document";
/// Header of an event message: the event type.
pub const EVENT_TYPE_HEADER: &str = "transload-event-type";
/// Header of an event message: the correlation id.
pub const CORRELATION_HEADER: &str = "transload-correlation-id";
/// Header of a message: its content type.
pub const CONTENT_TYPE_HEADER: &str = "content-type";

/// The translate stage's handler.
#[derive(Debug, Clone)]
pub struct Translate<S> {
    store: S,
    partners: Arc<PartnerDirectory>,
    mapping_partners: MappingPartners,
    mappings: Arc<Registry>,
}

/// What the headers of an inbound message say.
struct Inbound<'a> {
    tenant: TenantId,
    profile: &'a PartnerProfile,
    format: DocumentFormat,
    kind: Option<&'a str>,
    raw_id: String,
}

impl<S: Store> Translate<S> {
    /// A handler reading partner profiles from `partners` and mappings from `mappings`
    /// (whose current set is read per message, so a reload applies to the next one).
    pub fn new(store: S, partners: Arc<PartnerDirectory>, mappings: Arc<Registry>) -> Self {
        Self {
            store,
            mapping_partners: MappingPartners::of(&partners),
            partners,
            mappings,
        }
    }

    fn inbound<'a>(&'a self, message: &'a BusMessage) -> Result<Inbound<'a>, HandlerError> {
        let header = |name: &str| {
            message
                .headers
                .get(name)
                .map(String::as_str)
                .ok_or_else(|| HandlerError::Permanent(format!("the message has no {name} header")))
        };
        let partner = PartnerId::new(header(PARTNER_HEADER)?)
            .map_err(|e| HandlerError::Permanent(format!("bad partner header: {e}")))?;
        let tenant = TenantId::new(header(TENANT_HEADER)?)
            .map_err(|e| HandlerError::Permanent(format!("bad tenant header: {e}")))?;
        let profile = self.partners.get(&partner).ok_or_else(|| {
            HandlerError::Permanent(format!("no partner profile for `{partner}`"))
        })?;
        if profile.tenant != tenant {
            return Err(HandlerError::Permanent(format!(
                "partner `{partner}` belongs to tenant `{}`, not `{tenant}`",
                profile.tenant
            )));
        }
        let format = match header(FORMAT_HEADER)? {
            "x12" => DocumentFormat::X12,
            "json" => DocumentFormat::Json,
            "xml" => DocumentFormat::Xml,
            other => {
                return Err(HandlerError::Permanent(format!("unknown format `{other}`")));
            }
        };
        Ok(Inbound {
            tenant,
            profile,
            format,
            kind: message.headers.get(KIND_HEADER).map(String::as_str),
            raw_id: message
                .headers
                .get(RAW_ID_HEADER)
                .cloned()
                .unwrap_or_else(|| message.id.to_string()),
        })
    }

    fn mapping(&self, id: &str) -> Result<Arc<Mapping>, HandlerError> {
        self.mappings
            .current()
            .by_id(id)
            .ok_or_else(|| HandlerError::Permanent(format!("no mapping `{id}` is loaded")))
    }

    async fn translate_document(
        &self,
        inbound: &Inbound<'_>,
        body: &[u8],
    ) -> Result<UnitOfWork, HandlerError> {
        let format = match inbound.format {
            DocumentFormat::Json => Format::Json,
            _ => Format::Xml,
        };
        let route = inbound
            .profile
            .route(inbound.format, None, inbound.kind)
            .ok_or_else(|| {
                HandlerError::Permanent(format!(
                    "partner `{}` has no route for {} documents of kind {}",
                    inbound.profile.id,
                    inbound.format.as_str(),
                    inbound.kind.unwrap_or("(none)")
                ))
            })?;
        let mapping = self.mapping(&route.mapping)?;
        let inputs = transload_mappings::read_inbound(format, body)
            .map_err(|e| HandlerError::Permanent(format!("cannot read the document: {e}")))?;
        let partner = self.mapping_partners.get(inbound.profile)?;
        let mut unit = UnitOfWork::default();
        for (n, input) in inputs.iter().enumerate() {
            let payloads = mapping
                .run_inbound(input, &partner)
                .map_err(|e| HandlerError::Permanent(e.to_string()))?;
            push_events(&mut unit, inbound, &mapping, payloads, &format!("{n}"))?;
        }
        Ok(unit)
    }

    async fn translate_x12(
        &self,
        inbound: &Inbound<'_>,
        body: &[u8],
    ) -> Result<UnitOfWork, HandlerError> {
        let profile = inbound.profile;
        let doc = document::parse(body);
        let results = ack::results(&doc, &SpecValidator);
        if results.is_empty() {
            return Err(HandlerError::Permanent(
                "no X12 interchange in the message".to_owned(),
            ));
        }
        let mut unit = UnitOfWork::default();
        if let Some(x12) = &profile.x12 {
            for result in &results {
                if result.sender.1 != x12.isa_id {
                    return Err(HandlerError::Permanent(format!(
                        "interchange {} comes from ISA06 `{}`, but partner `{}` is `{}`",
                        result.control, result.sender.1, profile.id, x12.isa_id
                    )));
                }
            }
        }
        for result in &results {
            unit.received_control_numbers.push(ReceivedControlNumber {
                partner: profile.id.clone(),
                sequence: "isa13".to_owned(),
                number: result.control.clone(),
            });
            self.acknowledge(&mut unit, inbound, result).await?;
            record_rejections(&mut unit, inbound, result);
        }
        // The verdict of every set, by (ISA13, GS06, ST02): only accepted sets are mapped.
        let verdicts: HashMap<(String, String, String), &'static str> = results
            .iter()
            .flat_map(|ix| {
                ix.groups.iter().flat_map(move |g| {
                    g.sets.iter().map(move |s| {
                        let code = if ix.code() == "R" || g.code() == "R" {
                            "R"
                        } else {
                            s.code()
                        };
                        (
                            (ix.control.clone(), g.control.clone(), s.control.clone()),
                            code,
                        )
                    })
                })
            })
            .collect();
        let accepted = verdicts.values().any(|code| *code == "A");
        let inputs = if accepted {
            transload_mappings::read_x12_parsed(&doc, body)
                .map_err(|e| HandlerError::Permanent(format!("cannot read the sets: {e}")))?
        } else {
            Vec::new()
        };
        let partner = self.mapping_partners.get(profile)?;
        for input in &inputs {
            let InboundInput::X12 { envelope, .. } = input else {
                continue;
            };
            let text = |pointer: &str| {
                envelope
                    .pointer(pointer)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let key = (
                text("/control_number"),
                text("/gs/control_number"),
                text("/st/control_number"),
            );
            if verdicts.get(&key) != Some(&"A") {
                continue;
            }
            let set_id = text("/st/set_id");
            let route = profile
                .route(DocumentFormat::X12, Some(&set_id), None)
                .ok_or_else(|| {
                    HandlerError::Permanent(format!(
                        "partner `{}` has no route for X12 {set_id} (interchange {}, set {})",
                        profile.id, key.0, key.2
                    ))
                })?;
            let mapping = self.mapping(&route.mapping)?;
            let payloads = mapping
                .run_inbound(input, &partner)
                .map_err(|e| HandlerError::Permanent(format!("X12 {set_id} set {}: {e}", key.2)))?;
            let suffix = format!("{}/{}/{}", key.0, key.1, key.2);
            push_events(&mut unit, inbound, &mapping, payloads, &suffix)?;
        }
        Ok(unit)
    }

    /// Writes the 997 (and TA1) for one received interchange into the outbox, as the
    /// partner's profile asks.
    async fn acknowledge(
        &self,
        unit: &mut UnitOfWork,
        inbound: &Inbound<'_>,
        result: &InterchangeResult,
    ) -> Result<(), HandlerError> {
        let acks = &inbound.profile.acks;
        let wants_997 = acks.send_997 && result.groups.iter().any(|g| !g.is_acknowledgement());
        let wants_ta1 = acks.send_ta1 && result.needs_ta1();
        if !wants_997 && !wants_ta1 {
            return Ok(());
        }
        let mut filtered = result.clone();
        if !acks.send_997 {
            filtered.groups.clear();
        }
        if !wants_ta1 {
            filtered.ack_requested = false;
        }
        let sets = filtered.groups.len();
        let mut numbers = Allocated::take(&self.store, &inbound.profile.id, sets).await?;
        let delimiters = partner_delimiters(inbound.profile);
        let Some(interchange) = ack::render(
            &filtered,
            AckKind::Fa997,
            delimiters,
            &mut numbers,
            writer::utc_now(),
        )
        .map_err(|e| HandlerError::Permanent(format!("cannot write the acknowledgement: {e}")))?
        else {
            return Ok(());
        };
        let mut bytes = Vec::new();
        let newline = inbound
            .profile
            .x12
            .as_ref()
            .is_some_and(|x| x.delimiters.suffix.contains('\n'));
        writer::write_interchange(
            &mut bytes,
            &interchange,
            Encoding::Utf8,
            &WriteOptions {
                delimiters: None,
                newline,
            },
        )
        .map_err(|e| HandlerError::Permanent(format!("cannot write the acknowledgement: {e}")))?;
        let document = if interchange
            .groups
            .iter()
            .any(|g| !g.transaction_sets.is_empty())
        {
            "997"
        } else {
            "TA1"
        };
        let message = BusMessage::new(inbound.profile.id.as_str(), bytes)
            .with_header(TENANT_HEADER, inbound.tenant.as_str())
            .with_header(PARTNER_HEADER, inbound.profile.id.as_str())
            .with_header(FORMAT_HEADER, "x12")
            .with_header(DOCUMENT_HEADER, document)
            .with_header(CONTENT_TYPE_HEADER, "application/edi-x12")
            .with_header(RAW_ID_HEADER, inbound.raw_id.clone());
        unit.outbox.push((Stage::Outbound, message));
        Ok(())
    }
}

impl<S: Store> Handler for Translate<S> {
    async fn handle(&self, message: &BusMessage) -> Result<UnitOfWork, HandlerError> {
        let inbound = self.inbound(message)?;
        match inbound.format {
            DocumentFormat::X12 => self.translate_x12(&inbound, &message.body).await,
            DocumentFormat::Json | DocumentFormat::Xml => {
                self.translate_document(&inbound, &message.body).await
            }
        }
    }

    /// A second interchange with a control number the partner used before: a TA1
    /// rejecting it (note 025) when the partner takes TA1s, an audit entry, and a dead
    /// letter so an operator can look at it and redrive it if it was meant.
    async fn handle_duplicate(
        &self,
        message: &BusMessage,
        sequence: &str,
        number: &str,
    ) -> Result<UnitOfWork, HandlerError> {
        let inbound = self.inbound(message)?;
        let reason = format!(
            "duplicate interchange: partner `{}` sent {sequence} {number} before",
            inbound.profile.id
        );
        let mut unit = UnitOfWork::default();
        let doc = document::parse(&message.body);
        for mut result in ack::results(&doc, &SpecValidator) {
            if result.control != number {
                continue;
            }
            result.note = "025";
            result.groups.clear();
            if inbound.profile.acks.send_ta1 {
                self.acknowledge(&mut unit, &inbound, &result).await?;
            }
        }
        unit.audit.push(AuditEntry {
            tenant: inbound.tenant.clone(),
            actor: format!("partner:{}", inbound.profile.id),
            action: "x12.duplicate_interchange".to_owned(),
            subject: inbound.raw_id.clone(),
            details: json!({ "sequence": sequence, "number": number }),
            at: Timestamp::now(),
        });
        unit.dead_letters.push(transload_core::store::DeadLetter {
            id: Uuid::now_v7(),
            stage: Stage::Inbound,
            tenant: Some(inbound.tenant.clone()),
            partner: Some(inbound.profile.id.clone()),
            reason,
            attempts: 1,
            message: message.clone(),
            failed_at: Timestamp::now(),
            redriven: None,
        });
        Ok(unit)
    }
}

/// Audit entries for every rejected interchange, group and set, with the positions.
fn record_rejections(unit: &mut UnitOfWork, inbound: &Inbound<'_>, result: &InterchangeResult) {
    let rejected_sets: Vec<Value> = result
        .groups
        .iter()
        .flat_map(|g| {
            g.sets.iter().filter(|s| s.code() == "R").map(move |s| {
                json!({
                    "group": g.control,
                    "set_id": s.set_id,
                    "set": s.control,
                    "errors": s.errors,
                    "segments": s.segments.iter().map(|i| format!("{i:?}")).collect::<Vec<_>>(),
                })
            })
        })
        .collect();
    let rejected_groups: Vec<Value> = result
        .groups
        .iter()
        .filter(|g| !g.errors.is_empty())
        .map(|g| json!({ "group": g.control, "errors": g.errors }))
        .collect();
    if result.code() == "A" && rejected_sets.is_empty() && rejected_groups.is_empty() {
        return;
    }
    tracing::warn!(
        partner = %inbound.profile.id,
        interchange = %result.control,
        note = result.note,
        sets = rejected_sets.len(),
        "X12 input rejected in part or whole; the acknowledgement says where"
    );
    unit.audit.push(AuditEntry {
        tenant: inbound.tenant.clone(),
        actor: format!("partner:{}", inbound.profile.id),
        action: "x12.rejected".to_owned(),
        subject: inbound.raw_id.clone(),
        details: json!({
            "interchange": result.control,
            "ta1_note": result.note,
            "groups": rejected_groups,
            "sets": rejected_sets,
        }),
        at: Timestamp::now(),
    });
}

/// Wraps each payload in an event and queues it on the events stage.
fn push_events(
    unit: &mut UnitOfWork,
    inbound: &Inbound<'_>,
    mapping: &Mapping,
    payloads: Vec<EventPayload>,
    input_key: &str,
) -> Result<(), HandlerError> {
    for (n, payload) in payloads.into_iter().enumerate() {
        let dedupe = DedupeKey::new(format!("{}/{input_key}/{n}", inbound.raw_id))
            .map_err(|e| HandlerError::Permanent(format!("cannot key the event: {e}")))?;
        let mut event = Event::new(
            inbound.tenant.clone(),
            format!("/partners/{}", inbound.profile.id),
            payload,
            dedupe,
        );
        event.mapping_version = Some(mapping.version_stamp().to_owned());
        let body = serde_json::to_vec(&event)
            .map_err(|e| HandlerError::Permanent(format!("cannot serialize the event: {e}")))?;
        let event_type = event.event_type().as_str();
        let message = BusMessage::new(format!("{}.{event_type}", inbound.tenant), body)
            .with_header(TENANT_HEADER, inbound.tenant.as_str())
            .with_header(PARTNER_HEADER, inbound.profile.id.as_str())
            .with_header(EVENT_TYPE_HEADER, event_type)
            .with_header(CORRELATION_HEADER, event.correlation_id.as_str())
            .with_header(CONTENT_TYPE_HEADER, "application/cloudevents+json")
            .with_header(RAW_ID_HEADER, inbound.raw_id.clone());
        unit.outbox.push((Stage::Events, message));
    }
    Ok(())
}

/// The delimiters we write to the partner (its profile's, else the usual `* > ~ ^`).
pub(crate) fn partner_delimiters(profile: &PartnerProfile) -> Delimiters {
    let Some(x12) = &profile.x12 else {
        return Delimiters::default();
    };
    let byte = |c: char| u8::try_from(u32::from(c)).ok().filter(u8::is_ascii);
    let d = &x12.delimiters;
    match (byte(d.element), byte(d.sub_element), byte(d.segment)) {
        (Some(element), Some(component), Some(segment)) => Delimiters {
            element,
            component,
            segment,
            repetition: byte(d.repetition),
        },
        _ => Delimiters::default(),
    }
}

/// Control numbers allocated from the store before writing an interchange (the X12
/// writer is synchronous; the store is not). An unused number is a gap, which X12 allows.
#[derive(Debug, Default)]
pub(crate) struct Allocated {
    numbers: BTreeMap<&'static str, VecDeque<u64>>,
}

impl Allocated {
    pub(crate) async fn take<S: Store>(
        store: &S,
        partner: &PartnerId,
        sets: usize,
    ) -> Result<Self, HandlerError> {
        let counts = [
            (ControlKind::Interchange, 1),
            (ControlKind::Group, 1),
            (
                ControlKind::TransactionSet,
                u64::try_from(sets).unwrap_or(u64::MAX),
            ),
        ];
        let wanted: Vec<(&str, u64)> = counts
            .iter()
            .map(|(kind, count)| (kind.as_str(), *count))
            .collect();
        let allocated = store
            .next_control_numbers(partner, &wanted)
            .await
            .map_err(|e| HandlerError::Transient(format!("control numbers: {e}")))?;
        let numbers = counts
            .into_iter()
            .zip(allocated)
            .map(|((kind, _), numbers)| {
                // Sequences wrap to 1 after the largest number X12 can carry.
                let wrapped = numbers
                    .into_iter()
                    .map(|n| n.saturating_sub(1) % kind.max() + 1)
                    .collect();
                (kind.as_str(), wrapped)
            })
            .collect();
        Ok(Self { numbers })
    }
}

impl ControlNumberStore for Allocated {
    fn next(&mut self, _partner: &str, kind: ControlKind) -> Result<u64, ControlNumberError> {
        self.numbers
            .get_mut(kind.as_str())
            .and_then(VecDeque::pop_front)
            .ok_or_else(|| {
                ControlNumberError::Other(format!("no {} number was allocated", kind.as_str()))
            })
    }
}
