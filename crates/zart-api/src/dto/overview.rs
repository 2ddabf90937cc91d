//! The overview: activity over a recent window, counted from the store.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zart_core as core;

/// The body of `GET /overview`: executions created and finished over the window
/// ending now, in total and per bucket, with the failure rate and the throughput.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    /// The window's start.
    pub window_start: DateTime<Utc>,
    /// The window's end (now).
    pub window_end: DateTime<Utc>,
    /// The bucket length in seconds.
    pub bucket_secs: u64,
    /// Executions created in the window.
    pub started: u64,
    /// Executions that completed in the window.
    pub completed: u64,
    /// Executions that failed in the window.
    pub failed: u64,
    /// Executions cancelled in the window.
    pub cancelled: u64,
    /// `failed / (completed + failed)` over the window; `null` when none finished.
    #[schema(required = true)]
    pub failure_rate: Option<f64>,
    /// Executions finished (completed, failed or cancelled) per minute over the window.
    pub throughput_per_minute: f64,
    /// The window's buckets, oldest first (the last may be shorter).
    pub buckets: Vec<ActivityBucket>,
}

/// The executions created and finished in one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivityBucket {
    /// The bucket's start.
    pub start: DateTime<Utc>,
    /// Executions created in it.
    pub started: u64,
    /// Executions that completed in it.
    pub completed: u64,
    /// Executions that failed in it.
    pub failed: u64,
    /// Executions cancelled in it.
    pub cancelled: u64,
}

impl From<core::ActivityBucket> for ActivityBucket {
    fn from(b: core::ActivityBucket) -> Self {
        Self {
            start: b.start,
            started: b.started,
            completed: b.completed,
            failed: b.failed,
            cancelled: b.cancelled,
        }
    }
}

impl Overview {
    /// The overview of the window `[start, end)` from its buckets.
    pub fn new(
        window_start: DateTime<Utc>,
        window_end: DateTime<Utc>,
        bucket_secs: u64,
        buckets: Vec<core::ActivityBucket>,
    ) -> Self {
        let sum = |f: fn(&core::ActivityBucket) -> u64| buckets.iter().map(f).sum::<u64>();
        let (started, completed) = (sum(|b| b.started), sum(|b| b.completed));
        let (failed, cancelled) = (sum(|b| b.failed), sum(|b| b.cancelled));
        let decided = completed + failed;
        let failure_rate = (decided > 0).then(|| failed as f64 / decided as f64);
        let minutes = (window_end - window_start).num_milliseconds().max(1) as f64 / 60_000.0;
        Self {
            window_start,
            window_end,
            bucket_secs,
            started,
            completed,
            failed,
            cancelled,
            failure_rate,
            throughput_per_minute: (completed + failed + cancelled) as f64 / minutes,
            buckets: buckets.into_iter().map(Into::into).collect(),
        }
    }
}
