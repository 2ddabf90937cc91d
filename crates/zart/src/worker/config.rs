//! Worker settings.

use std::time::Duration;

/// How a worker runs executions.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The most executions run at once (worker slots).
    pub concurrency: usize,
    /// How long a claim holds an execution without a heartbeat. A crashed worker's
    /// executions are resumed by another worker after at most this long.
    pub lease_duration: Duration,
    /// The longest the worker goes without looking for due work, even when no wake-up
    /// arrives: the polling fallback that keeps it correct if a notification is lost.
    pub poll_interval: Duration,
    /// Retry backoffs up to this long are slept in place (holding the slot); longer
    /// ones park the execution.
    pub inline_backoff: Duration,
    /// This worker's id in leases; generated from host, process id and a random suffix
    /// when `None`.
    pub worker_id: Option<String>,
    /// When set, finished executions (with their runs, steps, attempts and events) are
    /// deleted once they have been finished this long. Off by default: nothing is ever
    /// deleted unless asked.
    pub retention: Option<Duration>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: 32,
            lease_duration: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            inline_backoff: Duration::from_secs(1),
            worker_id: None,
            retention: None,
        }
    }
}

impl WorkerConfig {
    /// Sets the concurrency limit (at least 1).
    pub fn concurrency(mut self, slots: usize) -> Self {
        self.concurrency = slots.max(1);
        self
    }

    /// Sets the lease duration.
    pub fn lease_duration(mut self, lease: Duration) -> Self {
        self.lease_duration = lease;
        self
    }

    /// Sets the polling interval.
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = every;
        self
    }

    /// Sets the longest retry backoff slept in place.
    pub fn inline_backoff(mut self, limit: Duration) -> Self {
        self.inline_backoff = limit;
        self
    }

    /// Deletes finished executions once they have been finished for `keep`.
    pub fn retention(mut self, keep: Duration) -> Self {
        self.retention = Some(keep);
        self
    }

    /// Sets the worker id.
    pub fn worker_id(mut self, id: impl Into<String>) -> Self {
        self.worker_id = Some(id.into());
        self
    }
}

pub(crate) fn generated_worker_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_owned());
    let suffix: u32 = rand::random::<u32>() & 0xffff;
    format!("{host}-{}-{suffix:04x}", std::process::id())
}
