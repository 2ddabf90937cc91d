//! A deterministic test harness with virtual time: [`TestEnv`].
//!
//! A `TestEnv` runs your tasks on the real engine and the real SQLite store (in
//! memory, or in a file you name), but reads time from a virtual clock that moves
//! only when the harness moves it. Durable sleeps, event-wait timeouts, retry
//! backoffs, execution deadlines, lease expiry and schedules therefore take no real
//! time: when nothing can run now and nothing is in flight, [`TestEnv::wait`] jumps
//! the clock to the store's next due time and wakes the worker (*auto-skip*), and
//! [`TestEnv::advance`] moves it by a given amount, firing every timer due on the
//! way in order. Idleness is read from the worker's own accounting (claims in
//! flight, runs holding a lease) and the store, never from a real-time pause, so a
//! test runs the same way every time.
//!
//! It is SQLite only: PostgreSQL takes time from the database server's clock, which
//! a test cannot move.
//!
//! ```
//! use std::time::Duration;
//! use zart::prelude::*;
//! use zart::testing::TestEnv;
//!
//! async fn trial(ctx: Ctx, email: String) -> TaskResult<String> {
//!     ctx.sleep("trial-period", Duration::from_secs(7 * 24 * 3600)).await;
//!     match ctx.wait_for_event::<bool>("upgraded", Duration::from_secs(24 * 3600)).await {
//!         Ok(true) => Ok(format!("{email}: paid")),
//!         Ok(false) => Ok(format!("{email}: declined")),
//!         Err(e) if e.is_timeout() => Ok(format!("{email}: still on trial")),
//!         Err(e) => Err(e),
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), zart::testing::TestEnvError> {
//! let env = TestEnv::builder().task("trial", trial).build()?;
//! let id = env.start("trial", "a@b.c").await?;
//! // A week passes in no time; the execution then waits for the event.
//! env.run_until_waiting(&id, "event").await?;
//! env.offer_event(&id, "upgraded", true).await?;
//! let done = env.wait(&id).await?;
//! assert_eq!(done.result, Some("a@b.c: paid".into()));
//! env.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Besides time, a `TestEnv` injects faults the engine honours only under it:
//! [`TestEnv::fail_step`] makes a named step's next attempts fail,
//! [`TestEnv::fail_step_permanently`] makes them fail for good, and
//! [`TestEnv::crash_after_steps`] kills the worker after an execution's next N
//! completed steps as a SIGKILL would (nothing more is written, the lease is
//! abandoned); the harness then starts a new worker, which takes the execution
//! over once the abandoned lease expires (in virtual time) and replays it.
//! [`TestEnv::step_runs`] counts how often each step's closure actually ran, so a
//! test can assert that no completed step ran twice.

mod drive;
mod hooks;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use zart_core::{
    ExecutionDetail, ExecutionRecord, ManualClock, ScheduleSpec, StepRecord, StoreError, Timestamp,
    WaitingFor,
};

pub(crate) use hooks::Hooks;

use crate::{
    Client, ClientError, Ctx, Retention, StartRequest, TaskError, TaskRegistry, WorkerConfig,
    WorkerHandle, Zart,
};

/// What can go wrong in a [`TestEnv`].
#[derive(Debug, thiserror::Error)]
pub enum TestEnvError {
    /// A client call failed (an unknown task, a bad id, ...).
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The execution cannot get further: nothing runs, nothing is due, ever (it
    /// waits for what only the test can give, such as a child or an event without
    /// a timeout).
    #[error("execution {execution_id:?} is stuck: nothing is runnable or due (waiting for {waiting_for:?})")]
    Stuck {
        /// The execution.
        execution_id: String,
        /// What it waits for.
        waiting_for: Option<WaitingFor>,
    },
    /// The execution finished before the awaited condition held.
    #[error("execution {execution_id:?} finished ({status}) before the condition held")]
    Finished {
        /// The execution.
        execution_id: String,
        /// How it finished.
        status: zart_core::ExecutionStatus,
    },
    /// The worker went round this many times without the condition holding or the
    /// engine going idle: something is due but never runs.
    #[error("no progress after {0} rounds")]
    NoProgress(u32),
}

/// The first instant of a [`TestEnv`]'s virtual clock unless
/// [`TestEnvBuilder::start_at`] says otherwise: 2030-01-01T00:00:00Z.
pub fn default_start() -> Timestamp {
    chrono::DateTime::from_timestamp(1_893_456_000, 0).unwrap_or_default()
}

/// Builds a [`TestEnv`]; registers tasks and schedules as
/// [`ZartBuilder`](crate::ZartBuilder) does.
pub struct TestEnvBuilder {
    tasks: TaskRegistry,
    schedules: Vec<ScheduleSpec>,
    start_at: Timestamp,
    database: Option<PathBuf>,
    worker: WorkerConfig,
}

impl std::fmt::Debug for TestEnvBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestEnvBuilder")
            .field("tasks", &self.tasks)
            .field("start_at", &self.start_at)
            .finish_non_exhaustive()
    }
}

impl TestEnvBuilder {
    /// Registers a task (see [`TaskRegistry::register`]).
    pub fn task<I, O, F, Fut>(mut self, name: impl Into<String>, handler: F) -> Self
    where
        I: serde::de::DeserializeOwned + Send + 'static,
        O: Serialize + Send + 'static,
        F: Fn(Ctx, I) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<O, TaskError>> + Send + 'static,
    {
        self.tasks.register(name, handler);
        self
    }

    /// Registers a typed task under its `NAME` (see [`TaskRegistry::add_task`]).
    pub fn add_task<T: crate::Task>(mut self, task: T) -> Self {
        self.tasks.add_task(task);
        self
    }

    /// Uses the tasks of `tasks` (replacing any registered so far).
    pub fn tasks(mut self, tasks: TaskRegistry) -> Self {
        self.tasks = tasks;
        self
    }

    /// Declares a schedule (validated at [`TestEnvBuilder::build`]); it fires on the
    /// virtual clock.
    pub fn schedule(mut self, spec: ScheduleSpec) -> Self {
        self.schedules.push(spec);
        self
    }

    /// Starts the virtual clock at `at` (default [`default_start`]).
    pub fn start_at(mut self, at: Timestamp) -> Self {
        self.start_at = at;
        self
    }

    /// Keeps the database in the SQLite file at `path` (created if absent) instead
    /// of in memory, to look at it after the test.
    pub fn database_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.database = Some(path.into());
        self
    }

    /// Runs the worker with `config`. The harness still sets what virtual time
    /// needs: no in-place retry backoff (every backoff parks, so it is skipped), no
    /// real-time polling (it wakes the worker itself), no retention purge, and its
    /// own worker ids.
    pub fn worker(mut self, config: WorkerConfig) -> Self {
        self.worker = config;
        self
    }

    /// Opens the store and starts the worker. Call it inside a Tokio runtime.
    pub fn build(self) -> Result<TestEnv, TestEnvError> {
        let url = match &self.database {
            Some(path) => format!("sqlite://{}", path.display()),
            None => "sqlite::memory:".to_owned(),
        };
        let store = Arc::new(zart_sqlite::SqliteStore::open(&url)?);
        let clock = Arc::new(ManualClock::new(self.start_at));
        let mut builder = Zart::builder(store).clock(clock.clone()).tasks(self.tasks);
        for spec in self.schedules {
            builder = builder.schedule(spec)?;
        }
        let hooks = Arc::new(Hooks::default());
        let zart = builder.build().with_hooks(Arc::clone(&hooks));
        let config = WorkerConfig {
            poll_interval: Duration::from_secs(24 * 3600),
            inline_backoff: Duration::ZERO,
            retention: Retention::off(),
            ..self.worker
        };
        let env = TestEnv {
            zart,
            clock,
            hooks,
            config,
            worker: Mutex::new(None),
            workers: AtomicU32::new(0),
        };
        env.start_worker();
        Ok(env)
    }
}

/// A test environment: a SQLite store, a virtual clock and a worker running the
/// registered tasks. See the [module docs](self).
pub struct TestEnv {
    zart: Zart,
    clock: Arc<ManualClock>,
    hooks: Arc<Hooks>,
    config: WorkerConfig,
    worker: Mutex<Option<WorkerHandle>>,
    /// Workers started so far (one more after each crash).
    workers: AtomicU32,
}

impl std::fmt::Debug for TestEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestEnv")
            .field("now", &self.now())
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

impl TestEnv {
    /// A builder with no tasks, the clock at [`default_start`], an in-memory store.
    pub fn builder() -> TestEnvBuilder {
        TestEnvBuilder {
            tasks: TaskRegistry::new(),
            schedules: Vec::new(),
            start_at: default_start(),
            database: None,
            worker: WorkerConfig::default(),
        }
    }

    /// The engine under test.
    pub fn zart(&self) -> &Zart {
        &self.zart
    }

    /// A client of the engine (its time is the virtual clock's).
    pub fn client(&self) -> Client {
        self.zart.client()
    }

    /// The virtual clock's current instant.
    pub fn now(&self) -> Timestamp {
        zart_core::Clock::now(self.clock.as_ref())
    }

    /// Starts an execution of `task` with `input`; returns its id.
    pub async fn start(&self, task: &str, input: impl Serialize) -> Result<String, TestEnvError> {
        let payload = serde_json::to_value(input)
            .map_err(|e| ClientError::InvalidInput(format!("the input does not serialize: {e}")))?;
        self.start_request(StartRequest::new(task, payload)).await
    }

    /// Starts an execution from a full request (id, deadline, ...); returns its id.
    pub async fn start_request(&self, request: StartRequest) -> Result<String, TestEnvError> {
        Ok(self.client().start(request).await?.execution.id)
    }

    /// Delivers the event `name` with `payload` to the execution `id`.
    pub async fn offer_event(
        &self,
        id: &str,
        name: &str,
        payload: impl Serialize,
    ) -> Result<(), TestEnvError> {
        let payload = serde_json::to_value(payload).map_err(|e| {
            ClientError::InvalidInput(format!("the payload does not serialize: {e}"))
        })?;
        self.client().offer_event(id, name, payload).await?;
        Ok(())
    }

    /// Runs the execution to its end, skipping virtual time whenever nothing can run
    /// now; returns it finished. [`TestEnvError::Stuck`] when it can never finish.
    pub async fn wait(&self, id: &str) -> Result<ExecutionRecord, TestEnvError> {
        self.run_until(id, |e| e.status.is_terminal()).await
    }

    /// Runs (skipping virtual time as [`TestEnv::wait`] does) until `holds` is true of
    /// the execution; it is checked before every skip, so a test can act at the
    /// moment an execution parks. [`TestEnvError::Finished`] when the execution
    /// finishes first.
    pub async fn run_until(
        &self,
        id: &str,
        holds: impl Fn(&ExecutionRecord) -> bool,
    ) -> Result<ExecutionRecord, TestEnvError> {
        let goal = drive::Goal { id, holds: &holds };
        match self.drive(Some(goal), None).await? {
            Some(record) => Ok(record),
            None => unreachable_goal(id),
        }
    }

    /// Runs until the execution is parked on a wait of `kind` (`timer`, `event`,
    /// `child`, `retry`, `pause`: [`WaitingFor::kind`]).
    pub async fn run_until_waiting(
        &self,
        id: &str,
        kind: &str,
    ) -> Result<ExecutionRecord, TestEnvError> {
        self.run_until(id, |e| {
            e.waiting_for.as_ref().map(|w| w.kind()) == Some(kind)
        })
        .await
    }

    /// Runs everything that can run now, without moving the clock.
    pub async fn settle(&self) -> Result<(), TestEnvError> {
        self.drive(None, Some(self.now())).await.map(|_| ())
    }

    /// Moves the clock forward by `by`, stopping at every due time on the way (in
    /// order) to run what became due there, and settles at the end.
    pub async fn advance(&self, by: Duration) -> Result<(), TestEnvError> {
        let target = crate::time::after(self.now(), by).unwrap_or_else(|_| crate::time::latest());
        self.drive(None, Some(target)).await.map(|_| ())
    }

    /// The execution with its runs and its current run's journal (steps, attempts).
    pub async fn detail(&self, id: &str) -> Result<ExecutionDetail, TestEnvError> {
        Ok(self.client().detail(id, None).await?)
    }

    /// The current run's journal entries, by position.
    pub async fn steps(&self, id: &str) -> Result<Vec<StepRecord>, TestEnvError> {
        Ok(self.detail(id).await?.steps)
    }

    /// The journal entry of `step` (a name, meaning its first occurrence, or a step
    /// id `name#occurrence`) in the current run.
    pub async fn step(&self, id: &str, step: &str) -> Result<Option<StepRecord>, TestEnvError> {
        let step_id = full_step_id(step);
        Ok(self
            .steps(id)
            .await?
            .into_iter()
            .find(|s| s.step_id == step_id))
    }

    /// What the execution is blocked on now, if anything.
    pub async fn waiting_for(&self, id: &str) -> Result<Option<WaitingFor>, TestEnvError> {
        Ok(self.client().get(id).await?.waiting_for)
    }

    /// Makes the next `times` attempts of every step named `name` fail with a
    /// retryable error, without running its closure (the step's retry policy then
    /// applies; its backoffs are skipped like any timer).
    pub fn fail_step(&self, name: &str, times: u32) {
        self.hooks.fail_step(name, times);
    }

    /// Makes every attempt of steps named `name` fail with a permanent error: the
    /// step is dead at its next attempt.
    pub fn fail_step_permanently(&self, name: &str) {
        self.hooks.fail_step_permanently(name);
    }

    /// Kills the worker once `steps` more steps of execution `id` have completed:
    /// the step's result is durable, then the worker dies as a SIGKILL would
    /// (nothing more is written; the lease is abandoned). The harness starts a new
    /// worker, which resumes the execution when the lease expires (virtual time).
    /// Steps completed before the call do not count; on a multi-threaded runtime
    /// the worker may run steps as soon as the execution starts, so arm it first,
    /// with the id the start will use ([`StartRequest::id`]).
    pub fn crash_after_steps(&self, id: &str, steps: u32) {
        self.hooks.crash_after_steps(id, steps.max(1));
    }

    /// How many workers died by [`TestEnv::crash_after_steps`] so far.
    pub fn crashes(&self) -> u32 {
        self.workers.load(Ordering::SeqCst).saturating_sub(1)
    }

    /// How many times the closure of `step` (a name for its first occurrence, or
    /// `name#occurrence`) of execution `id` ran, over all workers: 1 for a step that
    /// completed at once and was replayed after a crash. Counts `ctx.step` closures;
    /// injected failures do not run the closure and are not counted.
    pub fn step_runs(&self, id: &str, step: &str) -> u32 {
        self.hooks.runs(id, &full_step_id(step))
    }

    /// Stops the worker (letting what runs finish for a moment).
    pub async fn shutdown(self) {
        let worker = self.take_worker();
        if let Some(worker) = worker {
            worker.shutdown(Duration::from_secs(1)).await;
        }
    }

    fn start_worker(&self) {
        let n = self.workers.fetch_add(1, Ordering::SeqCst) + 1;
        let config = self.config.clone().worker_id(format!("test-worker-{n}"));
        let worker = self.zart.start_worker(config);
        *self.worker_slot() = Some(worker);
    }

    fn take_worker(&self) -> Option<WorkerHandle> {
        self.worker_slot().take()
    }

    fn worker_slot(&self) -> std::sync::MutexGuard<'_, Option<WorkerHandle>> {
        self.worker.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn full_step_id(step: &str) -> String {
    if step.contains('#') {
        step.to_owned()
    } else {
        zart_core::step_id(step, 0)
    }
}

/// `drive` with a goal returns a record or an error; this keeps that promise typed.
fn unreachable_goal(id: &str) -> Result<ExecutionRecord, TestEnvError> {
    Err(TestEnvError::Stuck {
        execution_id: id.to_owned(),
        waiting_for: None,
    })
}
