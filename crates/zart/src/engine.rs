//! [`Zart`]: a store, the registered tasks, a clock and metrics, from which clients
//! and workers are made.

use std::future::Future;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use zart_core::{Clock, ScheduleSpec, Store, StoreError, SystemClock};

use crate::metrics::Metrics;
use crate::pauses::PauseRules;
use crate::queue::{Queue, Queues};
use crate::testing::Hooks;
use crate::{
    Client, ClientError, Ctx, Task, TaskError, TaskRegistry, WorkerConfig, WorkerHandle,
    DEFAULT_MAX_PENDING_EVENTS,
};

/// The engine: make a [`Client`] to start executions and a worker to run them.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use zart::prelude::*;
///
/// let zart = Zart::builder(zart::connect("sqlite://app.db").await?)
///     .task("hello", |ctx: Ctx, name: String| async move {
///         ctx.step("greet", || {
///             let name = name.clone();
///             async move { Ok(format!("hello {name}")) }
///         })
///         .await
///     })
///     .build();
/// let worker = zart.start_worker(WorkerConfig::default());
/// let started = zart.client().start(StartRequest::new("hello", "world".into())).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Zart {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    tasks: Arc<TaskRegistry>,
    metrics: Metrics,
    max_pending_events: Option<u32>,
    /// The pause rules shared by this instance's workers and clients.
    pauses: Arc<PauseRules>,
    /// The schedules declared in code, put at each worker start.
    schedules: Arc<Vec<ScheduleSpec>>,
    /// The queues declared in code and the tasks' default queues.
    queues: Arc<Queues>,
    /// Set only by `zart::testing::TestEnv`: faults, crashes and idleness signals.
    hooks: Option<Arc<Hooks>>,
}

impl std::fmt::Debug for Zart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Zart")
            .field("backend", &self.store.backend_name())
            .field("tasks", &self.tasks)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Zart`].
pub struct ZartBuilder {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    tasks: TaskRegistry,
    metrics: Option<Metrics>,
    max_pending_events: Option<u32>,
    schedules: Vec<ScheduleSpec>,
    queues: Queues,
}

impl std::fmt::Debug for ZartBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZartBuilder")
            .field("backend", &self.store.backend_name())
            .field("tasks", &self.tasks)
            .finish_non_exhaustive()
    }
}

impl Zart {
    /// A builder over `store`.
    pub fn builder(store: Arc<dyn Store>) -> ZartBuilder {
        ZartBuilder {
            store,
            clock: Arc::new(SystemClock),
            tasks: TaskRegistry::new(),
            metrics: None,
            max_pending_events: Some(DEFAULT_MAX_PENDING_EVENTS),
            schedules: Vec::new(),
            queues: Queues::default(),
        }
    }

    /// A client that knows the registered tasks.
    pub fn client(&self) -> Client {
        Client::new(
            Arc::clone(&self.store),
            Arc::clone(&self.clock),
            Some(Arc::clone(&self.tasks)),
            self.metrics.clone(),
        )
        .with_pauses(Arc::clone(&self.pauses))
        .with_queues(Arc::clone(&self.queues))
        .with_max_pending_events(self.max_pending_events)
    }

    /// Starts a worker running the registered tasks. Call it from a Tokio runtime.
    pub fn start_worker(&self, config: WorkerConfig) -> WorkerHandle {
        let scheduler = config
            .schedules
            .then(|| (self.client(), Arc::clone(&self.schedules)));
        WorkerHandle::start(
            Arc::clone(&self.store),
            Arc::clone(&self.clock),
            Arc::clone(&self.tasks),
            self.metrics.clone(),
            Arc::clone(&self.pauses),
            config,
            crate::worker::WorkerExtras {
                scheduler,
                hooks: self.hooks.clone(),
                queues: Arc::clone(&self.queues),
            },
        )
    }

    /// This engine, with the hooks of a test environment.
    pub(crate) fn with_hooks(mut self, hooks: Arc<Hooks>) -> Self {
        self.hooks = Some(hooks);
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The engine's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The registered tasks.
    pub fn tasks(&self) -> &TaskRegistry {
        &self.tasks
    }
}

impl ZartBuilder {
    /// Registers a task (see [`TaskRegistry::register`]).
    pub fn task<I, O, F, Fut>(mut self, name: impl Into<String>, handler: F) -> Self
    where
        I: DeserializeOwned + Send + 'static,
        O: Serialize + Send + 'static,
        F: Fn(Ctx, I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, TaskError>> + Send + 'static,
    {
        self.tasks.register(name, handler);
        self
    }

    /// Registers a typed task under its [`Task::NAME`] (see [`TaskRegistry::add_task`]).
    pub fn add_task<T: Task>(mut self, task: T) -> Self {
        self.tasks.add_task(task);
        self
    }

    /// Uses the tasks of `tasks` (replacing any registered so far).
    pub fn tasks(mut self, tasks: TaskRegistry) -> Self {
        self.tasks = tasks;
        self
    }

    /// Reads time from `clock` instead of the system clock, unless the store has a
    /// clock of its own ([`Store::clock`]): on PostgreSQL the database's clock
    /// decides leases, guards and due times, so hosts whose clocks disagree cannot
    /// run one execution twice or fire timers early, and `clock` is not used.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Records metrics in `metrics` (for example one sharing a registry with HTTP
    /// metrics).
    pub fn metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Declares a schedule: each worker started with
    /// [`WorkerConfig::schedules`] on creates it, or updates it when its spec
    /// changed (a new cron expression or payload), then fires it. Register its task
    /// first. An invalid timing, an unregistered task or a payload the task does not
    /// accept is an error here, not a schedule that never fires.
    pub fn schedule(mut self, spec: ScheduleSpec) -> Result<Self, ClientError> {
        crate::schedules::validate(&spec, Some(&self.tasks))?;
        if self
            .schedules
            .iter()
            .any(|s| s.schedule_id == spec.schedule_id)
        {
            return Err(ClientError::InvalidInput(format!(
                "schedule {:?} is declared twice",
                spec.schedule_id
            )));
        }
        self.schedules.push(spec);
        Ok(self)
    }

    /// Declares a named queue with its limits (see [`Queue`]). Each worker puts the
    /// declared queues into the store when it starts (the last declaration of a name
    /// wins) and serves them; a start on a queue no process declared is refused. An
    /// empty or invalid name, the default queue's name, a zero limit or a second
    /// declaration of a name is an error here.
    pub fn queue(mut self, queue: Queue) -> Result<Self, ClientError> {
        self.queues.declare(queue)?;
        Ok(self)
    }

    /// Starts executions of `task` on `queue` (a queue declared before with
    /// [`ZartBuilder::queue`], or `"default"`) when their start names no queue.
    pub fn task_queue(mut self, task: &str, queue: &str) -> Result<Self, ClientError> {
        self.queues.set_task_default(task, queue)?;
        Ok(self)
    }

    /// Limits the unconsumed events an execution may hold: its clients refuse an
    /// offer past it (default [`DEFAULT_MAX_PENDING_EVENTS`]; `None`: no limit).
    pub fn max_pending_events(mut self, limit: Option<u32>) -> Self {
        self.max_pending_events = limit;
        self
    }

    /// The engine.
    pub fn build(self) -> Zart {
        Zart {
            clock: self.store.clock().unwrap_or(self.clock),
            store: self.store,
            tasks: Arc::new(self.tasks),
            metrics: self.metrics.unwrap_or_default(),
            max_pending_events: self.max_pending_events,
            pauses: Arc::default(),
            schedules: Arc::new(self.schedules),
            queues: Arc::new(self.queues),
            hooks: None,
        }
    }
}

/// Opens a store by URL: `sqlite://path/to/file.db` (created if absent),
/// `sqlite::memory:`, or, with the `postgres` feature, `postgres://...`. Migrations
/// are applied on open.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        let store = zart_sqlite::SqliteStore::open(url)?;
        return Ok(Arc::new(store));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        {
            let store = zart_postgres::PgStore::connect(url).await?;
            return Ok(Arc::new(store));
        }
        #[cfg(not(feature = "postgres"))]
        return Err(StoreError::InvalidInput(
            "postgres:// URLs need zart's `postgres` feature".to_owned(),
        ));
    }
    Err(StoreError::InvalidInput(
        "unsupported database URL: expected sqlite://PATH, sqlite::memory: or postgres://..."
            .to_owned(),
    ))
}
