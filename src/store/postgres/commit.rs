//! [`UnitOfWork`] applied inside one transaction.
//!
//! Every invariant is enforced by a single conditional statement (a unique key with
//! `ON CONFLICT`, `UPDATE … WHERE version = $expected`, `UPDATE … WHERE redriven_at IS
//! NULL`). Under READ COMMITTED such a statement that meets a row being changed by
//! another transaction waits for it and re-checks its condition against the committed
//! row, so the checks hold under concurrency without SERIALIZABLE's retry storms.

use deadpool_postgres::Transaction;
use tokio_postgres::types::Json;
use tracing::debug;
use transload_core::bus::{BusMessage, Stage};
use transload_core::ids::{PartnerId, TenantId};
use transload_core::store::{
    CommitOutcome, DeadLetter, Processed, RawMessage, Redrive, StateWrite, StoreError, UnitOfWork,
};
use uuid::Uuid;

use super::error::db;
use super::rows::{self, get, sql_time};

pub use transload_core::store::{DEAD_LETTER_HEADER, REDRIVE_OF_HEADER};

/// Writes `unit` in `transaction`. Returns `Committed` when everything was written and
/// the caller should commit; any other outcome or an error means the caller must roll
/// back, because part of the unit may have been written.
pub(super) async fn apply(
    transaction: &Transaction<'_>,
    unit: &UnitOfWork,
) -> Result<CommitOutcome, StoreError> {
    if unit.acknowledges.is_some() {
        return Err(StoreError::Other(
            "PostgreSQL does not hold the bus: a delivery is acknowledged through the bus"
                .to_owned(),
        ));
    }
    if let Some(processed) = &unit.processed
        && !mark_processed(transaction, processed).await?
    {
        return Ok(CommitOutcome::AlreadyProcessed);
    }
    if let Some(raw) = &unit.raw
        && let Some(existing) = insert_raw(transaction, raw).await?
    {
        return Ok(CommitOutcome::DuplicateRaw { existing });
    }
    for received in &unit.received_control_numbers {
        let inserted = transaction
            .execute(
                "INSERT INTO received_control_numbers (partner, sequence, number)
                 VALUES ($1, $2, $3)
                 ON CONFLICT (partner, sequence, number) DO NOTHING",
                &[
                    &received.partner.as_str(),
                    &received.sequence,
                    &received.number,
                ],
            )
            .await
            .map_err(|error| db(&error))?;
        if inserted == 0 {
            return Ok(CommitOutcome::DuplicateControlNumber {
                sequence: received.sequence.clone(),
                number: received.number.clone(),
            });
        }
    }
    // Rows are locked in key order whatever order the caller listed them in, so two
    // units writing the same keys cannot deadlock on them. The sort is stable: writes
    // to one key keep their order (a version chain 1 → 2 → 3 in one unit works).
    let mut states: Vec<&StateWrite> = unit.states.iter().collect();
    states.sort_by(|left, right| left.key.cmp(&right.key));
    for write in states {
        write_state(transaction, write).await?;
    }
    if !unit.audit.is_empty() {
        let statement = transaction
            .prepare_cached(
                "INSERT INTO audit_log (tenant, actor, action, subject, details, at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .await
            .map_err(|error| db(&error))?;
        for entry in &unit.audit {
            transaction
                .execute(
                    &statement,
                    &[
                        &entry.tenant.as_str(),
                        &entry.actor,
                        &entry.action,
                        &entry.subject,
                        &entry.details,
                        &sql_time(entry.at)?,
                    ],
                )
                .await
                .map_err(|error| db(&error))?;
        }
    }
    for (stage, message) in &unit.outbox {
        insert_outbox(transaction, *stage, message).await?;
    }
    for dead in &unit.dead_letters {
        insert_dead_letter(transaction, dead).await?;
    }
    for redrive in &unit.redrives {
        apply_redrive(transaction, redrive).await?;
    }
    Ok(CommitOutcome::Committed)
}

/// Inserts the processed marker; `false` when it existed already.
async fn mark_processed(
    transaction: &Transaction<'_>,
    processed: &Processed,
) -> Result<bool, StoreError> {
    let inserted = transaction
        .execute(
            "INSERT INTO processed_messages (consumer, message_id) VALUES ($1, $2)
             ON CONFLICT (consumer, message_id) DO NOTHING",
            &[&processed.consumer, &processed.message_id],
        )
        .await
        .map_err(|error| db(&error))?;
    if inserted == 0 {
        debug!(consumer = %processed.consumer, message_id = %processed.message_id, "already processed");
    }
    Ok(inserted == 1)
}

/// Inserts the raw message; the id of the stored one when its tenant and dedupe key
/// exist already.
async fn insert_raw(
    transaction: &Transaction<'_>,
    raw: &RawMessage,
) -> Result<Option<Uuid>, StoreError> {
    let inserted = transaction
        .execute(
            "INSERT INTO raw_messages
                 (id, tenant, partner, format, dedupe_key, received_at, metadata, body)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT ON CONSTRAINT raw_messages_tenant_dedupe_key DO NOTHING",
            &[
                &raw.id,
                &raw.tenant.as_str(),
                &raw.partner.as_str(),
                &raw.format,
                &raw.dedupe_key.as_str(),
                &sql_time(raw.received_at)?,
                &Json(&raw.metadata),
                &raw.body,
            ],
        )
        .await
        .map_err(|error| db(&error))?;
    if inserted == 1 {
        return Ok(None);
    }
    // The conflicting row is committed (ON CONFLICT waited for its transaction), so this
    // statement, with a fresh snapshot, sees it.
    let row = transaction
        .query_opt(
            "SELECT id FROM raw_messages WHERE tenant = $1 AND dedupe_key = $2",
            &[&raw.tenant.as_str(), &raw.dedupe_key.as_str()],
        )
        .await
        .map_err(|error| db(&error))?;
    match row {
        Some(row) => {
            let existing: Uuid = get(&row, "id")?;
            debug!(tenant = %raw.tenant, dedupe_key = %raw.dedupe_key, %existing, "duplicate raw message");
            Ok(Some(existing))
        }
        None => Err(StoreError::Unavailable(format!(
            "raw message {}/{} conflicted with one that is gone; retry",
            raw.tenant, raw.dedupe_key
        ))),
    }
}

/// Writes one piece of state if its version is the expected one.
async fn write_state(transaction: &Transaction<'_>, write: &StateWrite) -> Result<(), StoreError> {
    let conflict = || StoreError::Conflict {
        kind: write.key.kind.clone(),
        key: write.key.key.clone(),
        expected: write.expected_version,
    };
    let tenant = write.key.tenant.as_str();
    let changed = match write.expected_version {
        None => transaction
            .execute(
                "INSERT INTO state (tenant, kind, key, version, value) VALUES ($1, $2, $3, 1, $4)
                 ON CONFLICT (tenant, kind, key) DO NOTHING",
                &[
                    &tenant,
                    &write.key.kind,
                    &write.key.key,
                    &Json(&write.value),
                ],
            )
            .await
            .map_err(|error| db(&error))?,
        Some(expected) => {
            // No stored version exceeds i64::MAX, so such an expectation cannot hold.
            let expected = i64::try_from(expected).map_err(|_| conflict())?;
            transaction
                .execute(
                    "UPDATE state SET version = version + 1, value = $5, updated_at = now()
                     WHERE tenant = $1 AND kind = $2 AND key = $3 AND version = $4",
                    &[
                        &tenant,
                        &write.key.kind,
                        &write.key.key,
                        &expected,
                        &Json(&write.value),
                    ],
                )
                .await
                .map_err(|error| db(&error))?
        }
    };
    if changed == 1 {
        Ok(())
    } else {
        debug!(%tenant, kind = %write.key.kind, key = %write.key.key, expected = ?write.expected_version, "state conflict");
        Err(conflict())
    }
}

/// Appends a message to the outbox.
async fn insert_outbox(
    transaction: &Transaction<'_>,
    stage: Stage,
    message: &BusMessage,
) -> Result<(), StoreError> {
    let statement = transaction
        .prepare_cached(
            "INSERT INTO outbox (stage, message_id, routing_key, headers, body)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .await
        .map_err(|error| db(&error))?;
    transaction
        .execute(
            &statement,
            &[
                &stage.name(),
                &message.id,
                &message.routing_key,
                &Json(&message.headers),
                &message.body,
            ],
        )
        .await
        .map_err(|error| db(&error))?;
    Ok(())
}

/// Stores a dead letter as given (including a redrive already recorded on it).
async fn insert_dead_letter(
    transaction: &Transaction<'_>,
    dead: &DeadLetter,
) -> Result<(), StoreError> {
    let (redriven_at, redriven_by) = match &dead.redriven {
        Some((at, by)) => (Some(sql_time(*at)?), Some(by.as_str())),
        None => (None, None),
    };
    transaction
        .execute(
            "INSERT INTO dead_letters (id, stage, tenant, partner, reason, attempts, message_id,
                 routing_key, headers, body, failed_at, redriven_at, redriven_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            &[
                &dead.id,
                &dead.stage.name(),
                &dead.tenant.as_ref().map(TenantId::as_str),
                &dead.partner.as_ref().map(PartnerId::as_str),
                &dead.reason,
                &i64::from(dead.attempts),
                &dead.message.id,
                &dead.message.routing_key,
                &Json(&dead.message.headers),
                &dead.message.body,
                &sql_time(dead.failed_at)?,
                &redriven_at,
                &redriven_by,
            ],
        )
        .await
        .map_err(|error| db(&error))?;
    Ok(())
}

/// Marks a dead letter redriven (once) and puts its message back on its stage through
/// the outbox.
///
/// The message goes out with a new id, and [`REDRIVE_OF_HEADER`] and
/// [`DEAD_LETTER_HEADER`] added: a stage that marked the original id processed when it
/// gave up on it (so that a redelivery does not dead-letter it twice) still processes
/// the redriven message.
async fn apply_redrive(transaction: &Transaction<'_>, redrive: &Redrive) -> Result<(), StoreError> {
    let row = transaction
        .query_opt(
            "UPDATE dead_letters SET redriven_at = now(), redriven_by = $2
             WHERE id = $1 AND redriven_at IS NULL
             RETURNING stage, message_id, routing_key, headers, body",
            &[&redrive.dead_letter_id, &redrive.by],
        )
        .await
        .map_err(|error| db(&error))?
        .ok_or(StoreError::NoSuchDeadLetter(redrive.dead_letter_id))?;
    let stage = {
        let name: &str = get(&row, "stage")?;
        Stage::from_name(name)
            .ok_or_else(|| StoreError::Corrupt(format!("stage: unknown stage {name:?}")))?
    };
    let original = rows::bus_message(&row)?;
    let message = BusMessage {
        id: Uuid::now_v7(),
        body: redrive
            .edited_body
            .clone()
            .unwrap_or_else(|| original.body.clone()),
        ..original.clone()
    }
    .with_header(REDRIVE_OF_HEADER, original.id.to_string())
    .with_header(DEAD_LETTER_HEADER, redrive.dead_letter_id.to_string());
    debug!(dead_letter = %redrive.dead_letter_id, by = %redrive.by, %stage, message_id = %message.id, "redrive");
    insert_outbox(transaction, stage, &message).await
}
