//! Accepting a partner's message: every endpoint (HTTP intake, file drop) ends here.
//!
//! The raw bytes, their dedupe key and the message for the inbound stage are committed in
//! one transaction (the outbox relay then publishes the message), so once [`accept`]
//! returns [`Accepted::New`] the input cannot be lost, and a resend with the same dedupe
//! key is recognised instead of being processed twice.

use std::collections::BTreeMap;

use jiff::Timestamp;
use transload_core::bus::{BusMessage, Stage};
use transload_core::ids::{DedupeKey, PartnerId, TenantId};
use transload_core::store::{CommitOutcome, RawMessage, Store, StoreError, UnitOfWork};
use uuid::Uuid;

/// Header of an inbound bus message: the tenant.
pub const TENANT_HEADER: &str = "transload-tenant";
/// Header of an inbound bus message: the sending partner.
pub const PARTNER_HEADER: &str = "transload-partner";
/// Header of an inbound bus message: `x12`, `json` or `xml`.
pub const FORMAT_HEADER: &str = "transload-format";
/// Header of an inbound bus message: the id of the stored raw message.
pub const RAW_ID_HEADER: &str = "transload-raw-id";
/// Header of an inbound bus message: the document kind the sender declared, if any.
pub const KIND_HEADER: &str = "transload-kind";
/// Header of an inbound bus message: the endpoint it came through (`http`, `file`).
pub const ENDPOINT_HEADER: &str = "transload-endpoint";

/// A message as an endpoint received it.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The tenant of the partner.
    pub tenant: TenantId,
    /// The sending partner.
    pub partner: PartnerId,
    /// `x12`, `json` or `xml`.
    pub format: &'static str,
    /// The document kind the sender declared (`pick_complete`…), if any.
    pub kind: Option<String>,
    /// `http` or `file`.
    pub endpoint: &'static str,
    /// Recognises a resend.
    pub dedupe_key: DedupeKey,
    /// Endpoint metadata kept with the raw message (content type, file name, webhook id).
    pub metadata: BTreeMap<String, String>,
    /// The bytes as received.
    pub body: Vec<u8>,
}

/// What became of an accepted message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Stored durably and queued for the inbound stage, under this raw message id.
    New(Uuid),
    /// The same dedupe key was accepted before, as this raw message id: nothing written.
    Duplicate(Uuid),
}

/// Stores `incoming` and queues it for the inbound stage, in one transaction.
///
/// # Errors
/// When the store fails; nothing was written then.
pub async fn accept<S: Store>(store: &S, incoming: Incoming) -> Result<Accepted, StoreError> {
    let raw_id = Uuid::now_v7();
    let mut message = BusMessage::new(incoming.partner.as_str(), incoming.body.clone())
        .with_header(TENANT_HEADER, incoming.tenant.as_str())
        .with_header(PARTNER_HEADER, incoming.partner.as_str())
        .with_header(FORMAT_HEADER, incoming.format)
        .with_header(RAW_ID_HEADER, raw_id.to_string())
        .with_header(ENDPOINT_HEADER, incoming.endpoint);
    if let Some(kind) = &incoming.kind {
        message = message.with_header(KIND_HEADER, kind.clone());
    }
    let raw = RawMessage {
        id: raw_id,
        tenant: incoming.tenant,
        partner: incoming.partner,
        format: incoming.format.to_owned(),
        dedupe_key: incoming.dedupe_key,
        received_at: Timestamp::now(),
        metadata: incoming.metadata,
        body: incoming.body,
    };
    let unit = UnitOfWork {
        raw: Some(raw),
        outbox: vec![(Stage::Inbound, message)],
        ..UnitOfWork::default()
    };
    match store.commit(unit).await? {
        CommitOutcome::DuplicateRaw { existing } => Ok(Accepted::Duplicate(existing)),
        CommitOutcome::Committed => Ok(Accepted::New(raw_id)),
        // The unit carries neither a processed marker nor control numbers.
        other => Err(StoreError::Other(format!(
            "unexpected commit outcome for a raw message: {other:?}"
        ))),
    }
}

/// A dedupe key from the bytes themselves (SHA-256, hex), for senders that give none.
#[must_use]
pub fn content_dedupe_key(body: &[u8]) -> Option<DedupeKey> {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(body);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    DedupeKey::new(format!("sha256:{hex}")).ok()
}
