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
    /// How long finished executions are kept, per status, before they are deleted
    /// with their runs, steps, attempts and events (whole trees, from the root: see
    /// [`Retention`]). On by default: 7 days for each status.
    pub retention: Retention,
    /// Whether this worker also fires schedules (on by default): it declares the
    /// schedules given to [`ZartBuilder::schedule`](crate::ZartBuilder::schedule)
    /// and fires every schedule in the store when it is due. Any number of workers
    /// may do so against one database; each slot fires once.
    pub schedules: bool,
    /// The queues this worker serves, by name (`"default"` is the default queue);
    /// `None`, the default, serves the default queue and every queue declared with
    /// [`ZartBuilder::queue`](crate::ZartBuilder::queue). A named queue declared only
    /// by another process may be listed too: its limits are read from the store.
    pub queues: Option<Vec<String>>,
}

/// The default retention of each terminal status: 7 days.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// How long finished executions are kept, per terminal status; `None` keeps them
/// forever.
///
/// Only whole trees are deleted: a root execution (one with no parent) is deleted with
/// all its descendants once it finished longer ago than its status's retention and
/// every descendant has finished too. A child is never deleted while its parent may
/// still need its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// How long completed executions are kept.
    pub completed: Option<Duration>,
    /// How long failed executions are kept.
    pub failed: Option<Duration>,
    /// How long cancelled executions are kept.
    pub cancelled: Option<Duration>,
}

impl Default for Retention {
    fn default() -> Self {
        Self::all(Some(DEFAULT_RETENTION))
    }
}

impl Retention {
    /// The same retention for every status (`None`: keep everything).
    pub fn all(keep: Option<Duration>) -> Self {
        Self {
            completed: keep,
            failed: keep,
            cancelled: keep,
        }
    }

    /// Nothing is ever deleted.
    pub fn off() -> Self {
        Self::all(None)
    }

    /// The shortest retention set, if any: nothing to purge when `None`.
    pub fn shortest(&self) -> Option<Duration> {
        [self.completed, self.failed, self.cancelled]
            .into_iter()
            .flatten()
            .min()
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: 32,
            lease_duration: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            inline_backoff: Duration::from_secs(1),
            worker_id: None,
            retention: Retention::default(),
            schedules: true,
            queues: None,
        }
    }
}

impl WorkerConfig {
    /// Serves only the queues named (see [`WorkerConfig::queues`]).
    pub fn serve_queues<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.queues = Some(names.into_iter().map(Into::into).collect());
        self
    }

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

    /// Deletes finished executions, whatever their status, once they have been finished
    /// for `keep`.
    pub fn retention(mut self, keep: Duration) -> Self {
        self.retention = Retention::all(Some(keep));
        self
    }

    /// Sets the retention of each status; [`Retention::off`] keeps everything.
    pub fn retention_policy(mut self, retention: Retention) -> Self {
        self.retention = retention;
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
