//! The client: start, inspect, wait for, cancel and signal executions.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use zart_core::{
    CancelOutcome, Clock, DetailQuery, EventListQuery, EventRecord, ExecutionDetail,
    ExecutionQuery, ExecutionRecord, InsertOutcome, NewExecution, RunRecord, Signal, Stats, Store,
    Timestamp,
};

use tracing::Instrument;

use crate::metrics::Metrics;
use crate::pauses::PauseRules;
use crate::queue::Queues;
use crate::trace_context::TraceContext;
use crate::{ClientError, TaskRegistry};

/// The longest id or event name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// The most unconsumed events an execution holds before offers to it are refused,
/// unless configured otherwise ([`Client::with_max_pending_events`]).
pub const DEFAULT_MAX_PENDING_EVENTS: u32 = 10_000;
/// The largest page [`Client::list`] returns.
pub const MAX_LIST_LIMIT: u32 = 1000;
/// How often [`Client::wait`] re-reads the store even without a notification, so a lost
/// hint (or a backend without notifications) delays an answer by at most this much.
const WAIT_RECHECK: Duration = Duration::from_millis(500);

/// What to start.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StartRequest {
    /// The execution id (idempotency key); a UUID v4 is generated when `None`.
    pub id: Option<String>,
    /// The registered task name.
    pub task_name: String,
    /// The input payload.
    pub payload: Value,
    /// A deadline for the whole execution.
    pub deadline_at: Option<Timestamp>,
    /// The trace to start it in. When `None`, the current `tracing` span's trace, if
    /// an OpenTelemetry layer records one. See [`StartRequest::trace_context`].
    pub trace_context: Option<TraceContext>,
    /// The named queue (`None`: the task's default queue, else the default queue).
    pub queue: Option<String>,
    /// The priority within the queue: lower runs first; 0 by default.
    pub priority: i32,
    /// The deduplication id: see [`StartRequest::deduplication_id`].
    pub deduplication_id: Option<String>,
    /// The concurrency key: see [`StartRequest::concurrency_key`].
    pub concurrency_key: Option<String>,
}

impl StartRequest {
    /// A request to start `task_name` with `payload` under a generated id.
    pub fn new(task_name: impl Into<String>, payload: Value) -> Self {
        Self {
            task_name: task_name.into(),
            payload,
            ..Self::default()
        }
    }

    /// Uses `id` as the execution id.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Fails the execution if it has not finished by `deadline_at`. A deadline after
    /// the year 9999 is rejected by [`Client::start`] as invalid input.
    pub fn deadline_at(mut self, deadline_at: Timestamp) -> Self {
        self.deadline_at = Some(deadline_at);
        self
    }

    /// Starts the execution in the trace of `context` (for example an incoming
    /// `traceparent` header, [`TraceContext::parse`]): the `zart.start` span is its
    /// child (or, when the current span is already in that trace, the current
    /// span's child), and every run of the execution, on any worker and after any
    /// restart, continues that trace. The context is stored with the execution
    /// even when this process records no spans.
    pub fn trace_context(mut self, context: TraceContext) -> Self {
        self.trace_context = Some(context);
        self
    }

    /// Starts the execution on the named queue `queue` (one some process declared
    /// with [`ZartBuilder::queue`](crate::ZartBuilder::queue); `"default"` is the
    /// default queue). An unknown queue is refused by [`Client::start`] with
    /// [`ClientError::Unprocessable`].
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// Sets the priority within the queue: lower runs first, equal priorities in due
    /// order; from [`MIN_PRIORITY`](zart_core::MIN_PRIORITY) to
    /// [`MAX_PRIORITY`](zart_core::MAX_PRIORITY). Ordering applies on named queues;
    /// the default queue runs in due order.
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Deduplicates the start by `id` within its queue: while an execution of the
    /// queue started with the same id is scheduled or running (sleeping and waiting
    /// count as running), [`Client::start`] creates nothing and returns that
    /// execution with [`Started::created`] `false`, whatever this request's payload.
    /// Once it has finished, the next start with the id creates a new execution. The
    /// id is 1 to 255 characters without control characters; it is independent of
    /// the execution id (which stays the idempotency key).
    pub fn deduplication_id(mut self, id: impl Into<String>) -> Self {
        self.deduplication_id = Some(id.into());
        self
    }

    /// Gives the execution a concurrency key (for example a customer id): on a
    /// queue declared with [`Queue::key_concurrency`](crate::Queue::key_concurrency),
    /// at most that many executions with the same key run at once, across every
    /// process, and the queue serves keys round-robin, so a key with a large backlog
    /// does not delay one with a few. On a queue without a per-key limit the key is
    /// stored and has no effect. 1 to 255 characters without control characters.
    pub fn concurrency_key(mut self, key: impl Into<String>) -> Self {
        self.concurrency_key = Some(key.into());
        self
    }
}

/// The outcome of [`Client::start`].
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    /// The execution.
    pub execution: ExecutionRecord,
    /// `true` if this call created it, `false` for an idempotent replay or a
    /// deduplicated start.
    pub created: bool,
}

/// Starts and inspects executions. Cheap to clone.
///
/// A client built by [`Zart`](crate::Zart) knows the registered task names and rejects
/// unknown tasks and payloads of the wrong type before anything is stored.
#[derive(Clone)]
pub struct Client {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    tasks: Option<Arc<TaskRegistry>>,
    metrics: Metrics,
    max_pending_events: Option<u32>,
    /// The pause rules of the workers this client was built with, refreshed when it
    /// changes a rule.
    pauses: Option<Arc<PauseRules>>,
    /// The queues of the engine this client was built with.
    queues: Arc<Queues>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("backend", &self.store.backend_name())
            .field("tasks", &self.tasks)
            .field("max_pending_events", &self.max_pending_events)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        tasks: Option<Arc<TaskRegistry>>,
        metrics: Metrics,
    ) -> Self {
        Self {
            store,
            clock,
            tasks,
            metrics,
            max_pending_events: Some(DEFAULT_MAX_PENDING_EVENTS),
            pauses: None,
            queues: Arc::default(),
        }
    }

    /// Shares the declared queues of the same [`Zart`](crate::Zart).
    pub(crate) fn with_queues(mut self, queues: Arc<Queues>) -> Self {
        self.queues = queues;
        self
    }

    /// Shares `pauses` with the workers of the same [`Zart`](crate::Zart).
    pub(crate) fn with_pauses(mut self, pauses: Arc<PauseRules>) -> Self {
        self.pauses = Some(pauses);
        self
    }

    /// Re-reads the pause rules of this process's workers after a change, so it is
    /// in force here when the call that made it returns (other processes learn it
    /// from the store's notification). A failure is logged: the notification still
    /// reaches the workers.
    pub(crate) async fn refresh_pauses(&self) {
        if let Some(pauses) = &self.pauses {
            if let Err(e) = pauses.reload(self.store.as_ref(), self.clock.now()).await {
                tracing::warn!(error = %e, "re-reading the pause rules failed");
            }
        }
    }

    /// Limits the unconsumed events an execution may hold when this client offers
    /// one (default [`DEFAULT_MAX_PENDING_EVENTS`]); `None` removes the limit.
    pub fn with_max_pending_events(mut self, limit: Option<u32>) -> Self {
        self.max_pending_events = limit;
        self
    }

    /// The inbox limit applied to offers (see [`Client::with_max_pending_events`]).
    pub fn max_pending_events(&self) -> Option<u32> {
        self.max_pending_events
    }

    /// The current time of this client's clock.
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The registered tasks, when this client knows them.
    pub(crate) fn tasks(&self) -> Option<&TaskRegistry> {
        self.tasks.as_deref()
    }

    /// The metrics this client records in.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The store behind this client.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The registered task names, when this client knows them.
    pub fn task_names(&self) -> Option<Vec<String>> {
        self.tasks.as_ref().map(|t| t.names())
    }

    /// Starts an execution, idempotently by id: the same id with the same task and
    /// payload returns the existing execution (`created: false`); with a different task
    /// or payload it is a [`ClientError::Conflict`].
    pub async fn start(&self, request: StartRequest) -> Result<Started, ClientError> {
        let span = start_span(&request);
        async {
            let new = self.new_execution(&request)?;
            let span = tracing::Span::current();
            span.record("execution_id", new.id.as_str());
            self.ensure_queue(&new).await?;
            let outcome = self.store.execution_insert(new).await?;
            let started = started(&request, outcome)?;
            if started.created {
                self.metrics.execution_started(&started.execution.task_name);
            }
            span.record("created", started.created);
            Ok(started)
        }
        .instrument(span)
        .await
    }

    /// The execution `request` asks for, validated: an id within bounds (a UUID
    /// v4 when none), a registered task with an input of its type (when this
    /// client knows the tasks), a deadline in range.
    pub(crate) fn new_execution(
        &self,
        request: &StartRequest,
    ) -> Result<NewExecution, ClientError> {
        let id = match &request.id {
            Some(id) => {
                validate_name("executionId", id)?;
                id.clone()
            }
            None => uuid::Uuid::new_v4().to_string(),
        };
        if let Some(tasks) = &self.tasks {
            tasks
                .validate_input(&request.task_name, &request.payload)
                .map_err(|e| match e.kind() {
                    zart_core::ErrorKind::UnknownTask => {
                        ClientError::UnknownTask(e.message().into())
                    }
                    _ => ClientError::InvalidInput(e.message().into()),
                })?;
        } else if request.task_name.is_empty() {
            return Err(ClientError::InvalidInput(
                "taskName must not be empty".into(),
            ));
        }
        if let Some(deadline) = request.deadline_at {
            crate::time::within_range(deadline)
                .map_err(|e| ClientError::InvalidInput(format!("deadlineAt: {e}")))?;
        }
        zart_core::validate_priority(request.priority).map_err(ClientError::InvalidInput)?;
        if let Some(dedup) = &request.deduplication_id {
            validate_name("deduplicationId", dedup)?;
        }
        if let Some(key) = &request.concurrency_key {
            validate_name("concurrencyKey", key)?;
        }
        let queue = match request
            .queue
            .as_deref()
            .or_else(|| self.queues.task_default(&request.task_name))
        {
            Some(name) => {
                zart_core::validate_queue_name(name).map_err(ClientError::InvalidInput)?;
                (name != zart_core::DEFAULT_QUEUE).then(|| name.to_owned())
            }
            None => None,
        };
        let now = self.clock.now();
        Ok(NewExecution {
            id,
            task_name: request.task_name.clone(),
            payload: request.payload.clone(),
            now,
            run_at: now,
            deadline_at: request.deadline_at,
            parent_id: None,
            trace_context: stored_trace_context(request),
            queue,
            priority: request.priority,
            deduplication_id: request.deduplication_id.clone(),
            concurrency_key: request.concurrency_key.clone(),
        })
    }

    /// Checks that the queue `new` names exists (see [`Queues::ensure`]).
    pub(crate) async fn ensure_queue(&self, new: &NewExecution) -> Result<(), ClientError> {
        match &new.queue {
            Some(name) => self.queues.ensure(self.store.as_ref(), name, new.now).await,
            None => Ok(()),
        }
    }

    /// Checks, without reading the store, that the queue `new` names is declared on
    /// this client's engine or already known to exist (for a start inside a
    /// transaction that cannot wait for the store).
    pub(crate) fn ensure_queue_declared(&self, new: &NewExecution) -> Result<(), ClientError> {
        match &new.queue {
            Some(name) if !self.queues.is_declared_or_known(name) => {
                Err(ClientError::Unprocessable(format!(
                    "unknown queue {name:?}: declare it on this engine to start on it in a transaction"
                )))
            }
            _ => Ok(()),
        }
    }

    /// Every named queue with its limits, depth and running count.
    pub async fn queues(&self) -> Result<Vec<zart_core::QueueLoad>, ClientError> {
        Ok(self.store.queue_list(self.clock.now()).await?)
    }

    /// One execution.
    pub async fn get(&self, id: &str) -> Result<ExecutionRecord, ClientError> {
        self.store
            .execution_get(id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// Waits until the execution is terminal, woken by the store's notification.
    /// [`ClientError::Timeout`] if it is not terminal within `timeout`.
    pub async fn wait(&self, id: &str, timeout: Duration) -> Result<ExecutionRecord, ClientError> {
        let deadline = crate::time::deadline_in(timeout);
        let mut signals = self.store.subscribe();
        loop {
            let execution = self.get(id).await?;
            if execution.status.is_terminal() {
                return Ok(execution);
            }
            let recheck = tokio::time::Instant::now() + WAIT_RECHECK;
            loop {
                let until = recheck.min(deadline);
                match tokio::time::timeout_at(until, signals.recv()).await {
                    Ok(Some(Signal::Finished { execution_id, .. })) if execution_id != id => {
                        continue
                    }
                    Ok(Some(Signal::Work)) => continue,
                    Ok(None) => {
                        tokio::time::sleep_until(until).await;
                        break;
                    }
                    Ok(Some(_)) | Err(_) => break,
                }
            }
            if tokio::time::Instant::now() >= deadline {
                let execution = self.get(id).await?;
                if execution.status.is_terminal() {
                    return Ok(execution);
                }
                return Err(ClientError::Timeout(format!(
                    "execution {id:?} is still {} after {} s",
                    execution.status,
                    timeout.as_secs_f64()
                )));
            }
        }
    }

    /// Cancels an unfinished execution and its unfinished children.
    /// [`ClientError::Conflict`] if it already finished.
    pub async fn cancel(&self, id: &str) -> Result<(), ClientError> {
        match self.store.execution_cancel(id, self.clock.now()).await? {
            CancelOutcome::Cancelled(ids) => {
                for cancelled in ids {
                    if let Ok(Some(e)) = self.store.execution_get(&cancelled).await {
                        self.metrics.execution_finished(&e.task_name, e.status);
                    }
                }
                Ok(())
            }
            CancelOutcome::NotFound => Err(not_found(id)),
            CancelOutcome::AlreadyTerminal(status) => Err(ClientError::Conflict(format!(
                "execution {id:?} is already {status}"
            ))),
        }
    }

    /// A filtered, sorted page of executions.
    pub async fn list(&self, query: ExecutionQuery) -> Result<Vec<ExecutionRecord>, ClientError> {
        if query.limit > MAX_LIST_LIMIT {
            return Err(ClientError::InvalidInput(format!(
                "limit must be at most {MAX_LIST_LIMIT}"
            )));
        }
        Ok(self.store.execution_list(query).await?)
    }

    /// Counts of executions by status.
    pub async fn stats(&self) -> Result<Stats, ClientError> {
        Ok(self.store.execution_stats().await?)
    }

    /// The executions created and finished in each bucket of the window of `length`
    /// ending now (this client's clock), counted from the store: the same answer from
    /// every process sharing the database.
    pub async fn activity(
        &self,
        length: chrono::Duration,
        bucket: chrono::Duration,
    ) -> Result<Vec<zart_core::ActivityBucket>, ClientError> {
        let query = zart_core::ActivityQuery::ending_at(self.now(), length, bucket);
        Ok(self.store.execution_activity(query).await?)
    }

    /// An execution with its runs and one run's steps and attempts (the current run
    /// when `run_index` is `None`).
    pub async fn detail(
        &self,
        id: &str,
        run_index: Option<i32>,
    ) -> Result<ExecutionDetail, ClientError> {
        let query = DetailQuery {
            execution_id: id.to_owned(),
            run_index,
        };
        self.store
            .execution_detail(query)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// The runs of an execution, oldest first.
    pub async fn runs(&self, id: &str) -> Result<Vec<RunRecord>, ClientError> {
        self.store.run_list(id).await?.ok_or_else(|| not_found(id))
    }

    /// One page of an execution's inbox, newest first: up to `limit` events (clamped
    /// to 1..=[`MAX_EVENT_PAGE`](zart_core::MAX_EVENT_PAGE)) with a sequence below
    /// `before_sequence` when given. Consumed events stay listed with the wait that
    /// took them.
    pub async fn events(
        &self,
        id: &str,
        before_sequence: Option<i64>,
        limit: u32,
    ) -> Result<Vec<EventRecord>, ClientError> {
        let query = EventListQuery {
            execution_id: id.to_owned(),
            before_sequence,
            limit,
        };
        self.store
            .event_list(query)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// Checks that the store answers a real query.
    pub async fn ping(&self) -> Result<(), ClientError> {
        Ok(self.store.ping().await?)
    }
}

/// What a start did: created, an idempotent replay (the same task and payload), the
/// unfinished execution holding its deduplication id, or a conflict with the
/// execution holding the id.
pub(crate) fn started(
    request: &StartRequest,
    outcome: InsertOutcome,
) -> Result<Started, ClientError> {
    match outcome {
        InsertOutcome::Created(execution) => Ok(Started {
            execution,
            created: true,
        }),
        InsertOutcome::Existing(execution) => {
            let id = &execution.id;
            if execution.task_name != request.task_name {
                return Err(ClientError::Conflict(format!(
                    "execution {id:?} already exists with task {:?}",
                    execution.task_name
                )));
            }
            if execution.payload != request.payload {
                return Err(ClientError::Conflict(format!(
                    "execution {id:?} already exists with a different payload"
                )));
            }
            Ok(Started {
                execution,
                created: false,
            })
        }
        // Deduplication answers with the holder whatever its payload: the point is
        // that many starts of the same work become one.
        InsertOutcome::Deduplicated(execution) => Ok(Started {
            execution,
            created: false,
        }),
    }
}

pub(crate) fn not_found(id: &str) -> ClientError {
    ClientError::NotFound(format!("execution {id:?} not found"))
}

/// Checks an id or name: 1 to 255 characters, no control characters.
pub fn validate_name(what: &str, value: &str) -> Result<(), ClientError> {
    let chars = value.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(ClientError::InvalidInput(format!(
            "{what} must be 1 to {MAX_NAME_CHARS} characters, got {chars}"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(ClientError::InvalidInput(format!(
            "{what} must not contain control characters"
        )));
    }
    Ok(())
}

/// The `zart.start` span of `request`: a child of the request's trace context when
/// it has one, unless the current span is already in that trace (an HTTP request
/// span parented by the same header), then of the current span.
fn start_span(request: &StartRequest) -> tracing::Span {
    let span = tracing::info_span!(
        "zart.start",
        otel.kind = "producer",
        execution_id = tracing::field::Empty,
        task = %request.task_name,
        created = tracing::field::Empty,
    );
    if let Some(explicit) = &request.trace_context {
        let current = TraceContext::current();
        if current.as_ref().map(TraceContext::trace_id) != Some(explicit.trace_id()) {
            explicit.set_parent_of(&span);
        }
    }
    span
}

/// What [`Client::start`] stores as the execution's trace context: the current
/// span's (the `zart.start` span, when spans are recorded), else the request's.
fn stored_trace_context(request: &StartRequest) -> Option<String> {
    TraceContext::current()
        .or_else(|| request.trace_context.clone())
        .map(|cx| cx.to_stored())
}
