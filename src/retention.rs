//! Retention: what the store needs only for a while is pruned in the background.
//! Today that is the processed markers, kept [`RetentionConfig::processed_days`].

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::task::JoinHandle;
use transload_core::store::{Store, StoreError};

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
            match prune(&store, retention, Timestamp::now()).await {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(
                    pruned,
                    days = retention.processed_days,
                    "pruned processed markers"
                ),
                Err(error) => {
                    tracing::warn!(%error, "pruning processed markers failed; trying again later");
                }
            }
        }
    })
}

/// Forgets the processed markers older than the retention at `now`; how many went.
///
/// # Errors
/// When the store fails.
pub async fn prune<S: Store>(
    store: &S,
    retention: RetentionConfig,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let kept = SignedDuration::from_hours(24 * i64::from(retention.processed_days));
    let before = now
        .checked_sub(kept)
        .map_err(|error| StoreError::Other(format!("retention cutoff: {error}")))?;
    store.prune_processed(before).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use transload_core::store::{CommitOutcome, Processed, UnitOfWork};
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
        let week = RetentionConfig { processed_days: 7 };
        let day = |days: i64| Timestamp::now() + SignedDuration::from_hours(24 * days);

        assert_eq!(prune(&store, week, day(6)).await.unwrap(), 0);
        assert!(store.is_processed("translate", id).await.unwrap());
        assert_eq!(prune(&store, week, day(8)).await.unwrap(), 1);
        assert!(!store.is_processed("translate", id).await.unwrap());
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }
}
