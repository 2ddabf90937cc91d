//! Retention: deleting executions that finished long enough ago.

use std::sync::Arc;
use std::time::Duration;

use zart_core::{Clock, ExecutionPurge, Store};

/// Rows deleted per store call, so one purge never holds the writer for long.
const BATCH: u32 = 500;

/// How often to purge: a tenth of the retention, between 50 ms and a minute.
fn period(keep: Duration) -> Duration {
    (keep / 10).clamp(Duration::from_millis(50), Duration::from_secs(60))
}

pub(super) async fn purge_loop(store: Arc<dyn Store>, clock: Arc<dyn Clock>, keep: Duration) {
    loop {
        // A retention longer than the calendar keeps everything: nothing to purge yet.
        let Some(finished_before) = cutoff(clock.now(), keep) else {
            tokio::time::sleep(period(keep)).await;
            continue;
        };
        let params = ExecutionPurge {
            finished_before,
            limit: BATCH,
        };
        match store.execution_purge(params).await {
            Ok(deleted) if deleted >= u64::from(BATCH) => continue,
            Ok(deleted) => {
                if deleted > 0 {
                    tracing::info!(deleted, "purged finished executions past retention");
                }
            }
            Err(e) => tracing::warn!(error = %e, "purging finished executions failed"),
        }
        tokio::time::sleep(period(keep)).await;
    }
}

/// `now - keep`, or `None` when that is before the earliest instant chrono knows.
fn cutoff(now: zart_core::Timestamp, keep: Duration) -> Option<zart_core::Timestamp> {
    chrono::Duration::from_std(keep)
        .ok()
        .and_then(|keep| now.checked_sub_signed(keep))
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
    fn a_retention_longer_than_the_calendar_purges_nothing_instead_of_panicking() {
        let now = chrono::Utc::now();
        assert_eq!(cutoff(now, Duration::MAX), None);
        assert_eq!(cutoff(now, Duration::from_secs(10u64.pow(13))), None);
        let day = cutoff(now, Duration::from_secs(86_400)).unwrap();
        assert_eq!(now - day, chrono::Duration::days(1));
    }
}
