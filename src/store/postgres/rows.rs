//! Reading rows back into the store's types. Nothing read from the database is trusted:
//! every value that does not decode is a [`StoreError::Corrupt`].

use std::collections::BTreeMap;
use std::time::SystemTime;

use jiff::Timestamp;
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, Json};
use transload_core::bus::{BusMessage, Stage};
use transload_core::ids::{DedupeKey, PartnerId, TenantId};
use transload_core::store::{AuditEntry, DeadLetter, OutboxRecord, RawMessage, StoreError};

use super::error::corrupt;

/// The columns [`dead_letter`] reads, in a `SELECT` list.
pub(super) const DEAD_LETTER_COLUMNS: &str = "id, stage, tenant, partner, reason, attempts, \
     message_id, routing_key, headers, body, failed_at, redriven_at, redriven_by";

/// The columns [`outbox_record`] reads.
pub(super) const OUTBOX_COLUMNS: &str = "seq, stage, message_id, routing_key, headers, body";

/// The columns [`raw_message`] reads.
pub(super) const RAW_COLUMNS: &str =
    "id, tenant, partner, format, dedupe_key, received_at, metadata, body";

/// The columns [`audit_entry`] reads.
pub(super) const AUDIT_COLUMNS: &str = "tenant, actor, action, subject, details, at";

/// Column `column` of `row` as a `T`.
pub(super) fn get<'a, T: FromSql<'a>>(row: &'a Row, column: &str) -> Result<T, StoreError> {
    row.try_get(column).map_err(|error| corrupt(column, error))
}

/// A timestamp as bound to a `timestamptz` parameter (stored with microsecond
/// precision).
pub(super) fn sql_time(at: Timestamp) -> Result<SystemTime, StoreError> {
    SystemTime::try_from(at)
        .map_err(|error| StoreError::Other(format!("timestamp {at} cannot be stored: {error}")))
}

fn timestamp_from(column: &str, time: SystemTime) -> Result<Timestamp, StoreError> {
    Timestamp::try_from(time).map_err(|error| corrupt(column, error))
}

fn timestamp(row: &Row, column: &str) -> Result<Timestamp, StoreError> {
    timestamp_from(column, get(row, column)?)
}

fn stage(row: &Row, column: &str) -> Result<Stage, StoreError> {
    let name: &str = get(row, column)?;
    Stage::from_name(name).ok_or_else(|| corrupt(column, format!("unknown stage {name:?}")))
}

fn string_map(row: &Row, column: &str) -> Result<BTreeMap<String, String>, StoreError> {
    let Json(map) = get::<Json<BTreeMap<String, String>>>(row, column)?;
    Ok(map)
}

fn tenant(row: &Row, column: &str) -> Result<TenantId, StoreError> {
    TenantId::new(get::<String>(row, column)?).map_err(|error| corrupt(column, error))
}

fn optional_tenant(row: &Row, column: &str) -> Result<Option<TenantId>, StoreError> {
    get::<Option<String>>(row, column)?
        .map(TenantId::new)
        .transpose()
        .map_err(|error| corrupt(column, error))
}

fn partner(row: &Row, column: &str) -> Result<PartnerId, StoreError> {
    PartnerId::new(get::<String>(row, column)?).map_err(|error| corrupt(column, error))
}

fn optional_partner(row: &Row, column: &str) -> Result<Option<PartnerId>, StoreError> {
    get::<Option<String>>(row, column)?
        .map(PartnerId::new)
        .transpose()
        .map_err(|error| corrupt(column, error))
}

/// The bus message stored in columns `message_id`, `routing_key`, `headers`, `body`.
pub(super) fn bus_message(row: &Row) -> Result<BusMessage, StoreError> {
    Ok(BusMessage {
        id: get(row, "message_id")?,
        routing_key: get(row, "routing_key")?,
        headers: string_map(row, "headers")?,
        body: get(row, "body")?,
    })
}

/// A row of `dead_letters` read with [`DEAD_LETTER_COLUMNS`].
pub(super) fn dead_letter(row: &Row) -> Result<DeadLetter, StoreError> {
    let attempts: i64 = get(row, "attempts")?;
    let redriven_at: Option<SystemTime> = get(row, "redriven_at")?;
    let redriven_by: Option<String> = get(row, "redriven_by")?;
    let redriven = match (redriven_at, redriven_by) {
        (Some(at), Some(by)) => Some((timestamp_from("redriven_at", at)?, by)),
        (None, None) => None,
        _ => {
            return Err(corrupt(
                "redriven_at",
                "redriven_at and redriven_by must be set together",
            ));
        }
    };
    Ok(DeadLetter {
        id: get(row, "id")?,
        stage: stage(row, "stage")?,
        tenant: optional_tenant(row, "tenant")?,
        partner: optional_partner(row, "partner")?,
        reason: get(row, "reason")?,
        attempts: u32::try_from(attempts).map_err(|error| corrupt("attempts", error))?,
        message: bus_message(row)?,
        failed_at: timestamp(row, "failed_at")?,
        redriven,
    })
}

/// A row of `outbox` read with [`OUTBOX_COLUMNS`].
pub(super) fn outbox_record(row: &Row) -> Result<OutboxRecord, StoreError> {
    Ok(OutboxRecord {
        seq: get(row, "seq")?,
        stage: stage(row, "stage")?,
        message: bus_message(row)?,
    })
}

/// A row of `raw_messages` read with [`RAW_COLUMNS`].
pub(super) fn raw_message(row: &Row) -> Result<RawMessage, StoreError> {
    Ok(RawMessage {
        id: get(row, "id")?,
        tenant: tenant(row, "tenant")?,
        partner: partner(row, "partner")?,
        format: get(row, "format")?,
        dedupe_key: DedupeKey::new(get::<String>(row, "dedupe_key")?)
            .map_err(|error| corrupt("dedupe_key", error))?,
        received_at: timestamp(row, "received_at")?,
        metadata: string_map(row, "metadata")?,
        body: get(row, "body")?,
    })
}

/// A row of `audit_log` read with [`AUDIT_COLUMNS`].
pub(super) fn audit_entry(row: &Row) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        tenant: tenant(row, "tenant")?,
        actor: get(row, "actor")?,
        action: get(row, "action")?,
        subject: get(row, "subject")?,
        details: get(row, "details")?,
        at: timestamp(row, "at")?,
    })
}

/// A stored version (`bigint`, at least 1) as the trait's `u64`.
pub(super) fn version(row: &Row, column: &str) -> Result<u64, StoreError> {
    let version: i64 = get(row, column)?;
    u64::try_from(version)
        .ok()
        .filter(|version| *version >= 1)
        .ok_or_else(|| corrupt(column, format!("{version} is not a positive number")))
}
