//! `transload load …`: a load's state and decision records, and people's overrides.
//!
//! An override is not applied here: it is committed to the store's outbox as a message
//! for the decide stage, which the running hub's relay publishes; the decide stage
//! applies it to the load's current state and writes it to the audit log with who and
//! why. So an override never races the orchestrator's own decisions.

use std::process::ExitCode;

use anyhow::{Context, bail};
use transload::loads_api::submit_override;
use transload::store::AnyStore;
use transload_core::ids::TenantId;
use transload_core::store::{StateKey, Store};
use transload_orchestrator::load::{LOAD_KIND, LoadState};
use transload_orchestrator::process::Override;

/// Prints the load's status, tenders and decision records.
pub(crate) async fn show(
    store: &AnyStore,
    tenant: &TenantId,
    load: &str,
) -> anyhow::Result<ExitCode> {
    let key = StateKey {
        tenant: tenant.clone(),
        kind: LOAD_KIND.to_owned(),
        key: load.to_owned(),
    };
    let Some(record) = store.load_state(&key).await? else {
        bail!("tenant {tenant} has no load {load}");
    };
    let state: LoadState = record
        .value
        .parse()
        .with_context(|| format!("load {load} is stored in a form this version cannot read"))?;
    println!("load {load} (tenant {tenant}, version {})", record.version);
    println!("status: {}", serde_json::to_string(&state.status)?);
    if let Some(carrier) = &state.carrier {
        println!(
            "carrier: {} ({}), {} {}",
            carrier.carrier, carrier.scac, carrier.cost.total.amount, carrier.cost.total.currency
        );
    }
    for tender in &state.tenders {
        println!(
            "tender {}: {} sent {} {:?} {:?}",
            tender.tender_id, tender.carrier, tender.sent_at, tender.transmission, tender.outcome
        );
    }
    println!("decision records:");
    for entry in store.audit_log(tenant, load).await? {
        println!(
            "  {}  {:<10} {:<18} {}",
            entry.at,
            entry.action,
            entry.actor,
            serde_json::to_string(&summary(&entry.details))?
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn summary(details: &serde_json::Value) -> serde_json::Value {
    match details {
        serde_json::Value::Object(map) => {
            let keep = [
                "action", "rule", "status", "code", "message", "by", "reason",
            ];
            serde_json::Value::Object(
                map.iter()
                    .filter(|(key, _)| keep.contains(&key.as_str()))
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

/// Queues `decision` about `load` for the decide stage.
pub(crate) async fn submit(
    store: &AnyStore,
    tenant: &TenantId,
    load: &str,
    decision: Override,
) -> anyhow::Result<ExitCode> {
    let id = submit_override(store, tenant, load, decision).await?;
    println!("override {id} queued for load {load}; the running hub applies it");
    Ok(ExitCode::SUCCESS)
}
