//! Awaiting the completion of many executions: counted from the store's `Finished`
//! notifications, confirmed (and, if a notification is lost, found) by the store's
//! status counts. Each run has a fresh database, so the counts are ours alone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use zart_core::{Signal, Stats, Store, Subscription};

use crate::error::{BenchError, BenchResult};
use crate::progress::Progress;

/// How often the counts are re-read even without notifications.
const RECHECK: Duration = Duration::from_millis(200);
/// How often progress is printed.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// Terminal executions in `stats`.
pub fn terminal(stats: &Stats) -> u64 {
    stats.completed + stats.failed + stats.cancelled
}

/// Waits until `expected` executions are terminal, or fails after `timeout`. Subscribe
/// before starting the executions, so no notification is missed. Fails if any
/// execution failed or was cancelled.
pub async fn wait_terminal(
    store: &Arc<dyn Store>,
    mut signals: Box<dyn Subscription>,
    expected: u64,
    timeout: Duration,
    progress: &Progress,
) -> BenchResult<Stats> {
    let deadline = Instant::now() + timeout;
    let mut finished = 0u64;
    let mut last_report = Instant::now();
    loop {
        let recheck = tokio::time::Instant::now() + RECHECK;
        let mut confirm = false;
        while !confirm {
            match tokio::time::timeout_at(recheck, signals.recv()).await {
                Ok(Some(Signal::Finished { .. })) => {
                    finished += 1;
                    confirm = finished >= expected;
                }
                Ok(Some(Signal::Work | Signal::Pauses | Signal::Schedules)) => {}
                Ok(Some(Signal::Lagged)) | Err(_) => confirm = true,
                Ok(None) => {
                    tokio::time::sleep_until(recheck).await;
                    confirm = true;
                }
            }
        }
        let stats = store.execution_stats().await?;
        if terminal(&stats) >= expected {
            return check_all_completed(stats, expected);
        }
        if last_report.elapsed() >= REPORT_EVERY {
            last_report = Instant::now();
            progress.note(format!(
                "{} of {expected} finished ({} running, {} scheduled)",
                terminal(&stats),
                stats.running,
                stats.scheduled
            ));
        }
        if Instant::now() >= deadline {
            return Err(BenchError::Unexpected(format!(
                "only {} of {expected} executions finished within {} s",
                terminal(&stats),
                timeout.as_secs()
            )));
        }
        // Duplicated notifications may have over-counted: trust the store from here.
        finished = finished.min(terminal(&stats));
    }
}

fn check_all_completed(stats: Stats, expected: u64) -> BenchResult<Stats> {
    if stats.failed > 0 || stats.cancelled > 0 || stats.completed < expected {
        return Err(BenchError::Unexpected(format!(
            "expected {expected} completed executions, the store has {stats:?}"
        )));
    }
    Ok(stats)
}
