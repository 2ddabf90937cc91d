//! Retention: deleting execution trees that finished long enough ago.

use std::sync::Arc;
use std::time::Duration;

use zart_core::{Clock, ExecutionPurge, Store, Timestamp};

use super::config::Retention;

/// Trees deleted per store call: small, so one purge never holds the (SQLite) writer
/// for long, and other writes interleave between batches.
const BATCH: u32 = 100;

/// How often to purge: a tenth of the shortest retention, between 50 ms and a minute.
fn period(keep: Duration) -> Duration {
    (keep / 10).clamp(Duration::from_millis(50), Duration::from_secs(60))
}

/// The cutoff of one status at `now`; `None` when that status is kept forever.
fn cutoff(now: Timestamp, keep: Option<Duration>) -> Option<Timestamp> {
    let keep = chrono::Duration::from_std(keep?).ok()?;
    now.checked_sub_signed(keep)
}

fn params(now: Timestamp, retention: &Retention) -> ExecutionPurge {
    ExecutionPurge {
        completed_before: cutoff(now, retention.completed),
        failed_before: cutoff(now, retention.failed),
        cancelled_before: cutoff(now, retention.cancelled),
        limit: BATCH,
    }
}

pub(super) async fn purge_loop(store: Arc<dyn Store>, clock: Arc<dyn Clock>, retention: Retention) {
    let Some(shortest) = retention.shortest() else {
        return;
    };
    loop {
        // Batches follow each other until one comes back short; each is its own
        // transaction, so writers get the database between them.
        match store.execution_purge(params(clock.now(), &retention)).await {
            Ok(deleted) if deleted >= u64::from(BATCH) => {
                tokio::task::yield_now().await;
                continue;
            }
            Ok(deleted) => {
                if deleted > 0 {
                    tracing::info!(deleted, "purged finished executions past retention");
                }
            }
            Err(e) => tracing::warn!(error = %e, "purging finished executions failed"),
        }
        tokio::time::sleep(period(shortest)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purge_period_is_a_tenth_of_retention_within_bounds() {
        assert_eq!(period(Duration::from_secs(3600)), Duration::from_secs(60));
        assert_eq!(period(Duration::from_secs(100)), Duration::from_secs(10));
        assert_eq!(period(Duration::from_millis(10)), Duration::from_millis(50));
    }

    #[test]
    fn each_status_gets_its_own_cutoff_and_off_is_none() {
        let now = Timestamp::from_timestamp_millis(10_000_000).unwrap();
        let retention = Retention {
            completed: Some(Duration::from_secs(1)),
            failed: None,
            cancelled: Some(Duration::from_secs(3)),
        };
        let p = params(now, &retention);
        assert_eq!(p.completed_before.unwrap().timestamp_millis(), 9_999_000);
        assert_eq!(p.failed_before, None);
        assert_eq!(p.cancelled_before.unwrap().timestamp_millis(), 9_997_000);
        // A retention too long to subtract keeps everything rather than panicking.
        let forever = Retention::all(Some(Duration::MAX));
        assert_eq!(params(now, &forever).completed_before, None);
    }
}
