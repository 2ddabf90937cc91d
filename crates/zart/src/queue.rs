//! Named queues in code: [`Queue`], declared on the [`ZartBuilder`](crate::ZartBuilder),
//! and the engine's set of declared queues, put into the store so every process and
//! the HTTP server see the same limits.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use zart_core::{QueuePut, QueueSpec, Store, Timestamp, DEFAULT_QUEUE};

use crate::ClientError;

/// The priority aging of a [`Queue`] unless set: an execution due for this long is
/// claimed before every higher-priority one.
pub const DEFAULT_PRIORITY_AGING: Duration = Duration::from_secs(300);

/// A named queue and its flow-control limits.
///
/// ```
/// use std::time::Duration;
/// use zart::Queue;
/// // At most 20 charges at once across every process, 4 per worker.
/// let payments = Queue::new("payments")
///     .concurrency(20)
///     .per_worker(4)
///     .priority_aging(Duration::from_secs(60));
/// assert_eq!(payments.name(), "payments");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    spec: QueueSpec,
}

impl Queue {
    /// A queue named `name` with no limits yet (checked when it is declared with
    /// [`ZartBuilder::queue`](crate::ZartBuilder::queue)).
    pub fn new(name: impl Into<String>) -> Self {
        let aging = u64::try_from(DEFAULT_PRIORITY_AGING.as_millis()).unwrap_or(u64::MAX);
        Self {
            spec: QueueSpec {
                name: name.into(),
                concurrency: None,
                per_worker: None,
                priority_aging_ms: Some(aging),
                rate_limit: None,
                key_concurrency: None,
            },
        }
    }

    /// At most `limit` executions of this queue run at once, across every process
    /// sharing the database (at least 1).
    pub fn concurrency(mut self, limit: u32) -> Self {
        self.spec.concurrency = Some(limit);
        self
    }

    /// At most `limit` executions of this queue run at once on one worker (at least 1).
    pub fn per_worker(mut self, limit: u32) -> Self {
        self.spec.per_worker = Some(limit);
        self
    }

    /// An execution due for longer than `age` is claimed before every
    /// higher-priority one of the queue (default [`DEFAULT_PRIORITY_AGING`]), so a
    /// low priority never starves. Must be at least a millisecond.
    pub fn priority_aging(mut self, age: Duration) -> Self {
        self.spec.priority_aging_ms = Some(u64::try_from(age.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// At most `limit` executions of this queue are claimed per `period`, across
    /// every process sharing the database: a token bucket of `limit` tokens refilled
    /// at `limit` per `period`, kept in the queue's row. Each claim takes a token (a
    /// first start, a resume after a sleep or wait, or a takeover after a crash), so
    /// calls to a rate-limited API made once per run stay under its limit; over any
    /// span T at most `limit * (1 + T / period)` are claimed. `limit` is at least 1
    /// and `period` from 1 ms to 31 days (checked by
    /// [`ZartBuilder::queue`](crate::ZartBuilder::queue)).
    ///
    /// ```
    /// use std::time::Duration;
    /// // The provider allows 20 requests a second.
    /// let payments = zart::Queue::new("payments").rate_limit(20, Duration::from_secs(1));
    /// assert_eq!(payments.spec().rate_limit.unwrap().period_ms, 1000);
    /// ```
    pub fn rate_limit(mut self, limit: u32, period: Duration) -> Self {
        self.spec.rate_limit = Some(zart_core::RateLimit {
            limit,
            period_ms: u64::try_from(period.as_millis()).unwrap_or(u64::MAX),
        });
        self
    }

    /// At most `limit` executions with the same concurrency key
    /// ([`StartRequest::concurrency_key`](crate::StartRequest::concurrency_key), for
    /// example a customer id) run at once, across every process sharing the database
    /// (at least 1). The queue then also serves keys round-robin (start-time fair
    /// queuing), so a key with 10,000 queued executions does not delay a key with 10.
    /// Executions without a key are not limited by it.
    ///
    /// ```
    /// // One import per customer at a time, customers served in turn.
    /// let imports = zart::Queue::new("imports").concurrency(10).key_concurrency(1);
    /// assert_eq!(imports.spec().key_concurrency, Some(1));
    /// ```
    pub fn key_concurrency(mut self, limit: u32) -> Self {
        self.spec.key_concurrency = Some(limit);
        self
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The settings as the store keeps them.
    pub fn spec(&self) -> &QueueSpec {
        &self.spec
    }
}

/// The queues an engine declared, the tasks' default queues, and the queue names
/// known to exist in the store.
#[derive(Debug, Default)]
pub(crate) struct Queues {
    declared: Vec<QueueSpec>,
    task_defaults: HashMap<String, String>,
    /// Queues known to be in the store (declared ones once put, others once read).
    known: Mutex<HashSet<String>>,
}

impl Queues {
    /// Adds a declaration, checked.
    pub(crate) fn declare(&mut self, queue: Queue) -> Result<(), ClientError> {
        queue.spec.validate().map_err(ClientError::InvalidInput)?;
        if self.declared.iter().any(|q| q.name == queue.spec.name) {
            return Err(ClientError::InvalidInput(format!(
                "queue {:?} is declared twice",
                queue.spec.name
            )));
        }
        self.declared.push(queue.spec);
        Ok(())
    }

    /// Makes `queue` the default queue of `task` (a declared queue, or the default
    /// queue's name).
    pub(crate) fn set_task_default(&mut self, task: &str, queue: &str) -> Result<(), ClientError> {
        if queue != DEFAULT_QUEUE && self.spec(queue).is_none() {
            return Err(ClientError::InvalidInput(format!(
                "task {task:?}: queue {queue:?} is not declared on this builder"
            )));
        }
        self.task_defaults.insert(task.to_owned(), queue.to_owned());
        Ok(())
    }

    /// The declared settings of `name`.
    pub(crate) fn spec(&self, name: &str) -> Option<&QueueSpec> {
        self.declared.iter().find(|q| q.name == name)
    }

    /// Every declared queue.
    pub(crate) fn declared(&self) -> &[QueueSpec] {
        &self.declared
    }

    /// The queue an execution of `task` starts on when the request names none.
    pub(crate) fn task_default(&self, task: &str) -> Option<&str> {
        self.task_defaults.get(task).map(String::as_str)
    }

    /// Whether `name` is declared here or known to be in the store.
    pub(crate) fn is_declared_or_known(&self, name: &str) -> bool {
        self.spec(name).is_some() || self.is_known(name)
    }

    fn is_known(&self, name: &str) -> bool {
        self.known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(name)
    }

    fn mark_known(&self, name: &str) {
        self.known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned());
    }

    /// Puts every declared queue into the store (the last declaration wins).
    pub(crate) async fn put_all(
        &self,
        store: &dyn Store,
        now: Timestamp,
    ) -> Result<(), ClientError> {
        for spec in &self.declared {
            store
                .queue_put(QueuePut {
                    spec: spec.clone(),
                    now,
                })
                .await?;
            self.mark_known(&spec.name);
        }
        Ok(())
    }

    /// Checks that the named queue exists: declared here (put into the store on
    /// first use) or found in the store; otherwise [`ClientError::Unprocessable`].
    pub(crate) async fn ensure(
        &self,
        store: &dyn Store,
        name: &str,
        now: Timestamp,
    ) -> Result<(), ClientError> {
        if self.is_known(name) {
            return Ok(());
        }
        if self.spec(name).is_some() {
            return self.put_all(store, now).await;
        }
        match store.queue_get(name).await? {
            Some(_) => {
                self.mark_known(name);
                Ok(())
            }
            None => Err(ClientError::Unprocessable(format!(
                "unknown queue {name:?}: no process has declared it"
            ))),
        }
    }
}
