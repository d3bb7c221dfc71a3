//! Retention: what the store needs only for a while is pruned in the background, by
//! age, as `[retention]` says ([`RetentionConfig`]): processed markers, raw inbound
//! messages, audit entries, redriven dead letters and partners' control numbers
//! ([`History`]). Dead letters not redriven, the loads' state and the messages on their
//! way are never pruned.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::task::JoinHandle;
use transload_core::store::{History, Store, StoreError};

use crate::config::RetentionConfig;

/// How often the hub prunes (the first time at start).
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Prunes now and then every [`PRUNE_EVERY`], for as long as the task runs.
pub fn spawn_pruning<S: Store>(store: S, retention: RetentionConfig) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PRUNE_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let now = Timestamp::now();
            for history in History::ALL {
                let days = retention.days(history);
                match prune(&store, history, days, now).await {
                    Ok(0) => {}
                    Ok(pruned) => tracing::info!(
                        pruned,
                        days,
                        what = history.name(),
                        "pruned what is past its retention"
                    ),
                    Err(error) => tracing::warn!(
                        what = history.name(),
                        %error,
                        "pruning failed; trying again later"
                    ),
                }
            }
        }
    })
}

/// Forgets the records of `history` older than `days` at `now`; how many went.
///
/// # Errors
/// When the store fails.
pub async fn prune<S: Store>(
    store: &S,
    history: History,
    days: u32,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let kept = SignedDuration::from_hours(24 * i64::from(days));
    let before = now
        .checked_sub(kept)
        .map_err(|error| StoreError::Other(format!("retention cutoff: {error}")))?;
    store.prune(history, before).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use transload_core::ids::{DedupeKey, PartnerId, TenantId};
    use transload_core::store::{AuditEntry, CommitOutcome, Processed, RawMessage, UnitOfWork};
    use uuid::Uuid;

    use super::*;
    use crate::store::sqlite::SqliteStore;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_marker_goes_once_it_is_older_than_the_retention() {
        let dir = std::env::temp_dir().join(format!("transload-retention-{}", Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = SqliteStore::open(&dir.join("store.sqlite3")).unwrap();
        let id = Uuid::now_v7();
        let unit = UnitOfWork {
            processed: Some(Processed {
                consumer: "translate".to_owned(),
                message_id: id,
            }),
            ..UnitOfWork::default()
        };
        assert_eq!(store.commit(unit).await.unwrap(), CommitOutcome::Committed);
        let day = |days: i64| Timestamp::now() + SignedDuration::from_hours(24 * days);
        let markers = History::ProcessedMarkers;

        assert_eq!(prune(&store, markers, 7, day(6)).await.unwrap(), 0);
        assert!(store.is_processed("translate", id).await.unwrap());
        assert_eq!(prune(&store, markers, 7, day(8)).await.unwrap(), 1);
        assert!(!store.is_processed("translate", id).await.unwrap());
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    fn raw(days_ago: i64, key: &str) -> RawMessage {
        RawMessage {
            id: Uuid::now_v7(),
            tenant: TenantId::new("acme").unwrap(),
            partner: PartnerId::new("odfl").unwrap(),
            format: "x12".to_owned(),
            dedupe_key: DedupeKey::new(key).unwrap(),
            received_at: Timestamp::now() - SignedDuration::from_hours(24 * days_ago),
            metadata: std::collections::BTreeMap::new(),
            body: b"ISA*00~".to_vec(),
        }
    }

    fn audit(days_ago: i64) -> AuditEntry {
        AuditEntry {
            tenant: TenantId::new("acme").unwrap(),
            actor: "orchestrator".to_owned(),
            action: format!("decided {days_ago} days ago"),
            subject: "L-1".to_owned(),
            details: serde_json::json!({}),
            at: Timestamp::now() - SignedDuration::from_hours(24 * days_ago),
        }
    }

    /// The hub's pruning task, at its start, prunes each kind by its own retention.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_task_prunes_each_kind_by_its_own_retention_at_start() {
        let dir = std::env::temp_dir().join(format!("transload-retention-{}", Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = SqliteStore::open(&dir.join("store.sqlite3")).unwrap();
        let (old_raw, young_raw) = (raw(40, "isa-1"), raw(20, "isa-2"));
        for unit in [
            UnitOfWork {
                raw: Some(old_raw.clone()),
                audit: vec![audit(400), audit(40)],
                ..UnitOfWork::default()
            },
            UnitOfWork {
                raw: Some(young_raw.clone()),
                ..UnitOfWork::default()
            },
        ] {
            assert_eq!(store.commit(unit).await.unwrap(), CommitOutcome::Committed);
        }

        let task = spawn_pruning(store.clone(), RetentionConfig::default());
        let audit_left = || async {
            store
                .audit_log(&TenantId::new("acme").unwrap(), "L-1")
                .await
                .unwrap()
                .into_iter()
                .map(|entry| entry.action)
                .collect::<Vec<_>>()
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while store.raw_message(old_raw.id).await.unwrap().is_some() || audit_left().await.len() > 1
        {
            assert!(std::time::Instant::now() < deadline, "not pruned in 10 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Raw messages after 30 days, audit entries after 365.
        assert!(store.raw_message(young_raw.id).await.unwrap().is_some());
        assert_eq!(audit_left().await, ["decided 40 days ago"]);
        task.abort();
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }
}
