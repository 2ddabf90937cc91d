//! The [`Store`] trait: everything the runtime and the API need from a database.
//!
//! Methods are named noun-first (`execution_claim`, `step_save`) and take one params
//! struct each, so fields can be added without breaking callers. Every write a worker
//! makes carries a [`LeaseGuard`] and reports whether it applied: `Ok(false)` means the
//! worker no longer holds the execution (another worker claimed it, or it was
//! cancelled) and must stop. A write is durable when its future resolves `Ok`.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::{
    ActionOutcome, ActivityBucket, ActivityQuery, Clock, EventRecord, ExecutionDetail,
    ExecutionError, ExecutionRecord, ExecutionRerun, ExecutionRestart, ExecutionStatus,
    FireOutcome, NewPauseRule, ParentClosePolicy, PauseDelete, PauseRule, QueueLoad, QueueRecord,
    RunRecord, ScheduleFire, SchedulePut, SchedulePutOutcome, ScheduleRecord, Stats, StepRecord,
    StepRetry, StepSave, StepWrite, StoreError, Timestamp, WaitingFor,
};

/// Result alias for store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// Proof that a worker holds an execution. A guarded write applies only if the
/// execution's fencing token still equals `fence`, its lease owner is `worker_id`, and
/// the lease has not expired at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseGuard {
    /// The execution written to.
    pub execution_id: String,
    /// The worker that claimed it.
    pub worker_id: String,
    /// The fencing token returned by the claim.
    pub fence: i64,
    /// The writer's current time.
    pub now: Timestamp,
}

/// A new execution.
#[derive(Debug, Clone, PartialEq)]
pub struct NewExecution {
    /// The execution id (the idempotency key).
    pub id: String,
    /// The registered task name.
    pub task_name: String,
    /// The input.
    pub payload: Value,
    /// Creation time.
    pub now: Timestamp,
    /// When it becomes runnable (usually `now`).
    pub run_at: Timestamp,
    /// An optional deadline for the whole execution.
    pub deadline_at: Option<Timestamp>,
    /// The parent, for a child execution.
    pub parent_id: Option<String>,
    /// The W3C trace context the execution was started under (the `traceparent`
    /// value, optionally followed by `\n` and the `tracestate` value): stored with
    /// the execution and handed back by every claim, so each run continues the
    /// starter's trace. Stores keep it as opaque text; the runtime validates it.
    pub trace_context: Option<String>,
    /// The named queue (`None`: the default queue, no limits).
    pub queue: Option<String>,
    /// The priority within the queue (lower runs first; 0 by default).
    pub priority: i32,
    /// The deduplication id: while an execution of the same queue with this id is
    /// scheduled or running, the insert creates nothing and answers
    /// [`InsertOutcome::Deduplicated`] with it.
    pub deduplication_id: Option<String>,
    /// The concurrency key (for example a customer id): on a queue with a per-key
    /// limit ([`QueueSpec::key_concurrency`](crate::QueueSpec::key_concurrency)), at
    /// most that many executions with the same key run at once, and claims go
    /// round-robin between keys. `None`: no key.
    pub concurrency_key: Option<String>,
}

/// What [`Store::execution_insert`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum InsertOutcome {
    /// A new execution was created.
    Created(ExecutionRecord),
    /// An execution with that id already existed; it is returned unchanged. The caller
    /// decides whether that is an idempotent replay or a conflict.
    Existing(ExecutionRecord),
    /// An unfinished execution of the same queue had the same deduplication id; it is
    /// returned unchanged and nothing was created.
    Deduplicated(ExecutionRecord),
}

impl InsertOutcome {
    /// The execution the insert created or found.
    pub fn execution(&self) -> &ExecutionRecord {
        match self {
            Self::Created(e) | Self::Existing(e) | Self::Deduplicated(e) => e,
        }
    }

    /// The execution the insert created or found, by value.
    pub fn into_execution(self) -> ExecutionRecord {
        match self {
            Self::Created(e) | Self::Existing(e) | Self::Deduplicated(e) => e,
        }
    }
}

/// Sort field of [`ExecutionQuery`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortBy {
    /// Creation time.
    #[default]
    ScheduledAt,
    /// Status text.
    Status,
    /// Task name.
    TaskName,
}

impl SortBy {
    /// Every value, in declaration order.
    pub const ALL: &'static [SortBy] = &[Self::ScheduledAt, Self::Status, Self::TaskName];

    /// The text form of the `sortBy` query parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ScheduledAt => "scheduledAt",
            Self::Status => "status",
            Self::TaskName => "taskName",
        }
    }
}

#[cfg(feature = "openapi")]
crate::openapi::string_enum_schema!(SortBy, "Sort field of the execution list.");

impl std::str::FromStr for SortBy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // The original dashboard spells two of them in snake case.
        let canonical = match s {
            "scheduled_at" => "scheduledAt",
            "task_name" => "taskName",
            other => other,
        };
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.as_str() == canonical)
            .ok_or_else(|| {
                format!("invalid sortBy {s:?}: expected scheduledAt, status or taskName")
            })
    }
}

/// Sort direction of [`ExecutionQuery`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortOrder {
    /// Ascending.
    Asc,
    /// Descending.
    #[default]
    Desc,
}

impl SortOrder {
    /// Every value, in declaration order.
    pub const ALL: &'static [SortOrder] = &[Self::Asc, Self::Desc];

    /// The text form of the `sortOrder` query parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Asc => "asc",
            Self::Desc => "desc",
        }
    }
}

#[cfg(feature = "openapi")]
crate::openapi::string_enum_schema!(SortOrder, "Sort direction of the execution list.");

impl std::str::FromStr for SortOrder {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("invalid sortOrder {s:?}: expected asc or desc"))
    }
}

/// Filters and paging of [`Store::execution_list`]. Ties in the sort field are broken by
/// execution id in the same direction, so paging is stable.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionQuery {
    /// Only this status.
    pub status: Option<ExecutionStatus>,
    /// Only this task.
    pub task_name: Option<String>,
    /// Only executions scheduled at or after this instant.
    pub from: Option<Timestamp>,
    /// Only executions scheduled at or before this instant.
    pub to: Option<Timestamp>,
    /// Only ids containing this substring (matched literally, case-sensitive).
    pub search: Option<String>,
    /// Sort field.
    pub sort_by: SortBy,
    /// Sort direction.
    pub sort_order: SortOrder,
    /// Page size.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u32,
}

impl Default for ExecutionQuery {
    fn default() -> Self {
        Self {
            status: None,
            task_name: None,
            from: None,
            to: None,
            search: None,
            sort_by: SortBy::default(),
            sort_order: SortOrder::default(),
            limit: 20,
            offset: 0,
        }
    }
}

/// Parameters of [`Store::execution_claim`].
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionClaim {
    /// The claiming worker.
    pub worker_id: String,
    /// Current time: executions due at or before it (or whose lease expired) qualify.
    pub now: Timestamp,
    /// The lease expiry to set.
    pub lease_expires_at: Timestamp,
    /// The most executions to claim, in all.
    pub limit: u32,
    /// Whether executions of the default queue (no named queue) qualify.
    pub default_queue: bool,
    /// The named queues this worker serves, each with its own limit; their global
    /// concurrency limits are enforced by the claim.
    pub queues: Vec<crate::QueueClaim>,
}

/// Parameters of [`Store::queue_put`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePut {
    /// The settings.
    pub spec: crate::QueueSpec,
    /// The declaration time.
    pub now: Timestamp,
}

/// An execution a worker now holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedExecution {
    /// The execution id.
    pub id: String,
    /// Its task.
    pub task_name: String,
    /// The current run's input.
    pub payload: Value,
    /// The current run.
    pub run_index: i32,
    /// The new fencing token: carry it in every [`LeaseGuard`]. Fences start at 0 and
    /// every claim adds 1, so `1` means this is the execution's first claim and its
    /// journal is empty (the runtime then skips loading it).
    pub fence: i64,
    /// The execution deadline, if any.
    pub deadline_at: Option<Timestamp>,
    /// The parent, for a child.
    pub parent_id: Option<String>,
    /// The trace context stored at creation ([`NewExecution::trace_context`]).
    pub trace_context: Option<String>,
    /// Its named queue (`None`: the default queue).
    pub queue: Option<String>,
}

/// Parameters of [`Store::lease_renew`].
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseRenew {
    /// The worker renewing.
    pub worker_id: String,
    /// Current time.
    pub now: Timestamp,
    /// The new expiry.
    pub expires_at: Timestamp,
    /// `(execution id, fence)` of every lease to renew.
    pub leases: Vec<(String, i64)>,
}

/// Parameters of [`Store::execution_suspend`].
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionSuspend {
    /// The worker's lease.
    pub guard: LeaseGuard,
    /// When to run it again, if ever (already capped by the deadline by the caller).
    pub wake_at: Option<Timestamp>,
    /// What it waits for. For [`WaitingFor::Event`] the store makes the execution due at
    /// once if an unconsumed event of that name already exists; for
    /// [`WaitingFor::Child`], if the child is already terminal; for
    /// [`WaitingFor::Pause`], if the rule is deleted or expired. This closes the race
    /// between the worker's last check and the suspension.
    pub waiting_for: WaitingFor,
}

/// How an execution ended.
#[derive(Debug, Clone, PartialEq)]
pub enum ExecutionOutcome {
    /// Success with the handler's output.
    Completed(Value),
    /// Failure.
    Failed(ExecutionError),
}

/// Parameters of [`Store::execution_finish`].
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionFinish {
    /// The worker's lease.
    pub guard: LeaseGuard,
    /// The run that finished.
    pub run_index: i32,
    /// The outcome.
    pub outcome: ExecutionOutcome,
}

/// What [`Store::execution_cancel`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// Cancelled: the execution first, then every unfinished descendant (not those
    /// under an abandoned child).
    Cancelled(Vec<String>),
    /// No such execution.
    NotFound,
    /// It had already finished with this status; nothing changed.
    AlreadyTerminal(ExecutionStatus),
}

/// Parameters of [`Store::event_offer`].
#[derive(Debug, Clone, PartialEq)]
pub struct EventOffer {
    /// The target execution.
    pub execution_id: String,
    /// The event name.
    pub name: String,
    /// The event payload.
    pub payload: Value,
    /// Current time.
    pub now: Timestamp,
    /// The caller's id for this event: an offer with a key already stored for the
    /// execution stores nothing and answers the first one's sequence (a retried
    /// offer is not delivered twice). `None` stores every offer.
    pub idempotency_key: Option<String>,
    /// The most unconsumed events the execution may hold: an offer that would exceed
    /// it stores nothing and answers [`OfferOutcome::InboxFull`]. `None` is no limit.
    pub max_pending: Option<u32>,
}

impl EventOffer {
    /// An offer of `payload` as event `name` to `execution_id` at `now`, without an
    /// idempotency key or inbox limit.
    pub fn new(
        execution_id: impl Into<String>,
        name: impl Into<String>,
        payload: Value,
        now: Timestamp,
    ) -> Self {
        Self {
            execution_id: execution_id.into(),
            name: name.into(),
            payload,
            now,
            idempotency_key: None,
            max_pending: None,
        }
    }
}

/// What [`Store::event_offer`] did. Checked in this order: the execution exists, the
/// key was stored before, the execution is unfinished, its inbox has room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfferOutcome {
    /// In the execution's inbox.
    Accepted {
        /// The event's sequence number (FIFO order within the execution).
        sequence: i64,
        /// `true` when an event with the offer's idempotency key was already stored:
        /// nothing was written and `sequence` is that event's.
        duplicate: bool,
    },
    /// No such execution.
    NotFound,
    /// The execution already finished with this status; nothing was stored.
    Terminal(ExecutionStatus),
    /// The execution already holds `max_pending` unconsumed events; nothing was
    /// stored.
    InboxFull {
        /// The limit that was reached.
        max_pending: u32,
    },
}

/// Parameters of [`Store::event_consume`].
#[derive(Debug, Clone, PartialEq)]
pub struct EventConsume {
    /// The worker's lease.
    pub guard: LeaseGuard,
    /// The run of the waiting step.
    pub run_index: i32,
    /// The event name.
    pub name: String,
    /// The wait step to complete; the store fills in `result` with the event payload.
    pub step: StepWrite,
}

/// What [`Store::event_consume`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum EventTake {
    /// The oldest unconsumed event of that name was consumed and the wait step
    /// completed with its payload, in one transaction.
    Taken(Value),
    /// No unconsumed event of that name; nothing changed.
    Empty,
    /// The guard no longer holds; nothing changed.
    LeaseLost,
}

/// Parameters of [`Store::child_spawn`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChildSpawn {
    /// The parent's lease.
    pub guard: LeaseGuard,
    /// The parent's run.
    pub run_index: i32,
    /// The parent's `spawn` journal entry (completed, result = the child id).
    pub step: StepWrite,
    /// The child (its `parent_id` is the parent). If an execution with its id exists
    /// already it is left as it is.
    pub child: NewExecution,
    /// What happens to the child if it is unfinished when the parent ends.
    pub parent_close: ParentClosePolicy,
}

/// What [`Store::child_spawn`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpawnOutcome {
    /// The child exists (created now, or by an earlier spawn of the same parent and
    /// task) and the parent's `spawn` entry is recorded.
    Spawned,
    /// The parent's guard no longer holds; nothing changed.
    LeaseLost,
    /// An execution with the child's id exists with another parent or task: it is
    /// not this spawn's child, and nothing changed.
    Foreign {
        /// Its parent, if any.
        parent_id: Option<String>,
        /// Its task.
        task_name: String,
    },
}

/// Parameters of [`Store::execution_detail`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetailQuery {
    /// The execution.
    pub execution_id: String,
    /// The run whose steps to show (the current run when `None`).
    pub run_index: Option<i32>,
}

/// The most events one [`Store::event_list`] call returns.
pub const MAX_EVENT_PAGE: u32 = 1000;

/// Parameters of [`Store::event_list`]: one page of an execution's inbox, newest
/// first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventListQuery {
    /// The execution.
    pub execution_id: String,
    /// Only events with a smaller sequence than this (the page after one ending
    /// there); `None` starts at the newest.
    pub before_sequence: Option<i64>,
    /// The most events to return (1 to [`MAX_EVENT_PAGE`]; larger values are
    /// clamped).
    pub limit: u32,
}

/// Parameters of [`Store::execution_purge`]: a cutoff per terminal status (`None`:
/// that status is kept).
///
/// Only whole trees go: a root (an execution without a parent) whose status's cutoff
/// is after its `completed_at` is deleted with all its descendants and everything they
/// own (runs, steps, attempts, events), and only when every descendant is terminal
/// too. A child is never deleted on its own: its parent may still read its result.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionPurge {
    /// Completed roots that finished before this instant are deleted.
    pub completed_before: Option<Timestamp>,
    /// Failed roots that finished before this instant are deleted.
    pub failed_before: Option<Timestamp>,
    /// Cancelled roots that finished before this instant are deleted.
    pub cancelled_before: Option<Timestamp>,
    /// The most trees (roots) to delete in this call, oldest first.
    pub limit: u32,
}

impl ExecutionPurge {
    /// The same cutoff for every terminal status.
    pub fn finished_before(before: Timestamp, limit: u32) -> Self {
        Self {
            completed_before: Some(before),
            failed_before: Some(before),
            cancelled_before: Some(before),
            limit,
        }
    }
}

/// A wake-up hint from the store. Hints may be lost or duplicated: the database is the
/// truth, and listeners re-read it when in doubt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// Something may have become runnable (an execution was created or released, an
    /// event was offered, a child finished).
    Work,
    /// An execution reached a terminal status (completed, failed or cancelled).
    Finished {
        /// The execution.
        execution_id: String,
        /// Its terminal status.
        status: ExecutionStatus,
    },
    /// The pause rules changed (one was created or deleted): workers re-read the
    /// active rules.
    Pauses,
    /// The schedules changed (one was created, updated, resumed or deleted): the
    /// schedulers re-read when the next one is due.
    Schedules,
    /// The listener fell behind and hints were dropped: re-read what you wait for.
    Lagged,
}

/// A stream of [`Signal`]s.
#[async_trait]
pub trait Subscription: Send {
    /// The next hint; `None` once the store is gone.
    async fn recv(&mut self) -> Option<Signal>;
}

/// Storage of executions, runs, steps and events. Object-safe: the runtime and the API
/// hold an `Arc<dyn Store>`.
///
/// Every backend passes the conformance suite in `zart-store-tests`.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A short backend name (`"sqlite"`, `"postgres"`).
    fn backend_name(&self) -> &'static str;

    /// Runs a real query: for readiness checks.
    async fn ping(&self) -> StoreResult<()>;

    /// The migrations the database records as applied (its own `schema_migrations`
    /// table, not this build's list), oldest first. After a store opened, every entry
    /// of [`SCHEMA_MIGRATIONS`](crate::SCHEMA_MIGRATIONS) is there.
    async fn migration_list(&self) -> StoreResult<Vec<crate::AppliedMigration>>;

    /// The clock that decides ownership and due times in this store, when it is not
    /// the caller's own. A store shared by hosts whose clocks may disagree returns
    /// the database's clock (PostgreSQL), and the runtime then takes every `now` it
    /// passes (claims, lease renewals, guards, due and wake times) from it instead of
    /// its configured clock, so a host whose clock is off cannot take a lease early
    /// or fire a timer early or late. `None` (the default): the caller's clock
    /// decides, as with a store owned by one process (SQLite).
    fn clock(&self) -> Option<Arc<dyn Clock>> {
        None
    }

    /// This store as [`Any`](std::any::Any), so that a caller holding an
    /// `Arc<dyn Store>` reaches the backend's own API (transactional steps and
    /// transactional enqueue, which need the driver's transaction type) by
    /// downcasting to the concrete store. `None` (the default): the store offers no
    /// such API, as a wrapper around another store.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }

    /// Hints about new work and finished executions.
    fn subscribe(&self) -> Box<dyn Subscription>;

    /// Creates an execution (status `scheduled`, run 1 with trigger `initial`), or
    /// returns the existing one with that id unchanged.
    async fn execution_insert(&self, params: NewExecution) -> StoreResult<InsertOutcome>;

    /// One execution.
    async fn execution_get(&self, id: &str) -> StoreResult<Option<ExecutionRecord>>;

    /// A filtered, sorted page of executions.
    async fn execution_list(&self, query: ExecutionQuery) -> StoreResult<Vec<ExecutionRecord>>;

    /// Counts by status.
    async fn execution_stats(&self) -> StoreResult<Stats>;

    /// The executions created and finished in each bucket of a window (every bucket,
    /// empty ones with zeros), counted from the rows, so every process sharing the
    /// database sees the same numbers. Served by the scheduled-time and completion
    /// indexes. [`StoreError::InvalidInput`] for a window [`ActivityQuery::bounds`]
    /// refuses.
    async fn execution_activity(&self, query: ActivityQuery) -> StoreResult<Vec<ActivityBucket>>;

    /// Leases up to `limit` runnable executions: unfinished ones that are due and not
    /// leased, or whose lease expired. Each claim increments the fencing token and
    /// marks a `scheduled` execution `running`. Never returns an execution leased by
    /// someone else whose lease is still valid.
    ///
    /// Flow control: default-queue executions qualify only with
    /// [`ExecutionClaim::default_queue`]; a named queue's only when it is listed in
    /// [`ExecutionClaim::queues`], at most its limit there, and only while fewer of
    /// its executions hold a lease than its stored concurrency (checked atomically
    /// with the claim, across every process). Within a named queue, claims go by
    /// priority (lower first), then due time; an execution due for longer than the
    /// queue's priority aging goes first. Re-claiming an expired lease of a named
    /// queue does not change its running count.
    async fn execution_claim(&self, params: ExecutionClaim) -> StoreResult<Vec<ClaimedExecution>>;

    /// The earliest instant at which some execution becomes claimable (a due time, or
    /// the expiry of a held lease), if any.
    async fn execution_next_due(&self) -> StoreResult<Option<Timestamp>>;

    /// Extends the leases still held; returns the ids renewed. A lease missing from the
    /// answer was lost.
    async fn lease_renew(&self, params: LeaseRenew) -> StoreResult<Vec<String>>;

    /// Gives up a lease and makes the execution runnable at once (graceful shutdown).
    async fn execution_release(&self, guard: LeaseGuard) -> StoreResult<bool>;

    /// Gives up a lease and parks the execution until `wake_at` (or a wake-up).
    async fn execution_suspend(&self, params: ExecutionSuspend) -> StoreResult<bool>;

    /// Marks the execution and its run terminal, wakes a parent waiting on it, and
    /// cancels its unfinished descendants reached through children whose
    /// [`ParentClosePolicy`] is `Cancel` (signalling `Finished` for each), in one
    /// transaction.
    async fn execution_finish(&self, params: ExecutionFinish) -> StoreResult<bool>;

    /// Cancels an unfinished execution and its unfinished descendants, invalidating
    /// any lease on them. A child whose [`ParentClosePolicy`] is `Abandon` is not
    /// cancelled, nor is anything below it.
    async fn execution_cancel(&self, id: &str, now: Timestamp) -> StoreResult<CancelOutcome>;

    /// The journal of one run, ordered by position, without attempts.
    async fn journal_load(
        &self,
        execution_id: &str,
        run_index: i32,
    ) -> StoreResult<Vec<StepRecord>>;

    /// Writes a journal entry (and optionally an attempt), guarded by the lease.
    async fn step_save(&self, params: StepSave) -> StoreResult<bool>;

    /// Stores an event in an execution's inbox and wakes the execution if it is
    /// suspended waiting for that name. An offer whose idempotency key is already
    /// stored for the execution, or that would exceed `max_pending` unconsumed
    /// events, stores nothing (see [`OfferOutcome`]); the pending events are counted
    /// up to the limit only, never in full.
    async fn event_offer(&self, params: EventOffer) -> StoreResult<OfferOutcome>;

    /// Consumes the oldest unconsumed event of a name and completes the wait step, in
    /// one guarded transaction. With no event of the name pending, a store may answer
    /// [`EventTake::Empty`] from a read, without checking the lease: nothing is
    /// written then, and the suspension that follows an empty inbox is guarded (and
    /// finds an event offered meanwhile).
    async fn event_consume(&self, params: EventConsume) -> StoreResult<EventTake>;

    /// Creates a child execution and records the parent's `spawn` entry, in one guarded
    /// transaction. Idempotent for the same parent and task; an existing execution
    /// with the child's id and another parent or task is [`SpawnOutcome::Foreign`].
    async fn child_spawn(&self, params: ChildSpawn) -> StoreResult<SpawnOutcome>;

    /// An execution with its runs and one run's steps and attempts.
    async fn execution_detail(&self, query: DetailQuery) -> StoreResult<Option<ExecutionDetail>>;

    /// The runs of an execution, oldest first; `None` if it does not exist.
    async fn run_list(&self, execution_id: &str) -> StoreResult<Option<Vec<RunRecord>>>;

    /// One page of an execution's inbox (consumed and pending events), newest first;
    /// `None` if the execution does not exist.
    async fn event_list(&self, query: EventListQuery) -> StoreResult<Option<Vec<EventRecord>>>;

    /// Deletes old finished execution trees (see [`ExecutionPurge`]); returns how many
    /// executions were deleted, descendants included.
    async fn execution_purge(&self, params: ExecutionPurge) -> StoreResult<u64>;

    /// Gives a dead step of the current run a fresh attempt budget and makes the
    /// execution run again from it, keeping every other journal entry.
    ///
    /// Checked in this order: the execution exists ([`ActionOutcome::NotFound`]); an
    /// idempotency key already recorded answers [`ActionOutcome::Replayed`] (or
    /// [`ActionRefusal::KeyReused`](crate::ActionRefusal::KeyReused) for another kind);
    /// a completed or cancelled execution is
    /// [`Finished`](crate::ActionRefusal::Finished); the step must exist
    /// ([`UnknownSteps`](crate::ActionRefusal::UnknownSteps)), be a `ctx.step` and be
    /// dead ([`StepNotDead`](crate::ActionRefusal::StepNotDead)). Applied: each dead
    /// occurrence is `scheduled` again with `attempt_base` = its attempts so far; a
    /// failed execution and its run are `running` again with result and error cleared;
    /// the execution is due now, unleased (its fence moves on), and what it waited for
    /// is cleared. Signals `Work`.
    async fn step_retry(&self, params: StepRetry) -> StoreResult<ActionOutcome>;

    /// Starts a new run (trigger `restart`, index + 1) of a terminal execution with an
    /// empty journal and the given or the current payload; earlier runs and their
    /// journals stay. The execution is `scheduled` and due now. A non-terminal
    /// execution is refused with
    /// [`NotTerminal`](crate::ActionRefusal::NotTerminal). Idempotency as in
    /// [`Store::step_retry`]. Signals `Work`.
    async fn execution_restart(&self, params: ExecutionRestart) -> StoreResult<ActionOutcome>;

    /// Starts a new run (trigger `selective_rerun`) of a terminal execution with the
    /// current run's payload, into which every *completed* entry of the current run is
    /// copied except those of the effective rerun set: (`rerun_steps` ∪ dead step
    /// names) − `preserve_steps`. Entries not completed are dropped. A name in either
    /// list that the current run does not hold is refused with
    /// [`UnknownSteps`](crate::ActionRefusal::UnknownSteps). The record lists the
    /// effective set in journal order and, for every kept step positioned after a
    /// rerun step, the rerun steps before it (`potentially_stale`).
    async fn execution_rerun(&self, params: ExecutionRerun) -> StoreResult<ActionOutcome>;

    /// Stores a pause rule (already validated by the caller) and signals `Pauses`.
    async fn pause_create(&self, params: NewPauseRule) -> StoreResult<PauseRule>;

    /// The rules active at `now` (not deleted, not expired), oldest first.
    async fn pause_list(&self, now: Timestamp) -> StoreResult<Vec<PauseRule>>;

    /// Deletes a rule (sets `deleted_at`) and makes every execution parked on it due
    /// now, in one transaction; signals `Pauses` and `Work`.
    async fn pause_delete(&self, rule_id: &str, now: Timestamp) -> StoreResult<PauseDelete>;

    /// Creates a schedule, or finds it: with the same spec nothing changes; with
    /// another, `replace` decides between an update (the cursor restarts at
    /// `next_fire_at`, the pause and the last firing are kept) and a conflict. One
    /// transaction; signals `Schedules` when something changed.
    async fn schedule_put(&self, params: SchedulePut) -> StoreResult<SchedulePutOutcome>;

    /// One schedule by id.
    async fn schedule_get(&self, schedule_id: &str) -> StoreResult<Option<ScheduleRecord>>;

    /// Every schedule, by id.
    async fn schedule_list(&self) -> StoreResult<Vec<ScheduleRecord>>;

    /// Deletes a schedule (its executions stay); whether it existed. Signals
    /// `Schedules`.
    async fn schedule_delete(&self, schedule_id: &str) -> StoreResult<bool>;

    /// Pauses or resumes a schedule. Resuming a paused schedule sets its cursor to
    /// `next_fire_at` and drops a buffered slot, so nothing missed while paused
    /// fires; pausing or resuming in the state it is in changes nothing. `None` if
    /// there is no such schedule. Signals `Schedules` when something changed.
    async fn schedule_set_paused(
        &self,
        schedule_id: &str,
        paused: bool,
        next_fire_at: Option<Timestamp>,
        now: Timestamp,
    ) -> StoreResult<Option<ScheduleRecord>>;

    /// The unpaused schedules with something to do at `now` (a cursor at or before
    /// it, or a buffered slot), at most `limit`, soonest first.
    async fn schedule_due(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<ScheduleRecord>>;

    /// The earliest cursor of an unpaused schedule, if any.
    async fn schedule_next_due(&self) -> StoreResult<Option<Timestamp>>;

    /// Creates or replaces a named queue's settings (already validated by the
    /// caller); the last declaration wins. Executions of the queue are untouched.
    async fn queue_put(&self, params: QueuePut) -> StoreResult<QueueRecord>;

    /// One named queue by name.
    async fn queue_get(&self, name: &str) -> StoreResult<Option<QueueRecord>>;

    /// Every named queue, by name, with its depth (executions due at `now`, not
    /// parked and not leased) and running count (executions holding a lease).
    async fn queue_list(&self, now: Timestamp) -> StoreResult<Vec<QueueLoad>>;

    /// Records a firing: compare-and-set of the cursor (unless it is a manual
    /// trigger), `last_fired_at` and `last_execution_id`, and the inserts of its
    /// executions (an id that exists is kept, as [`Store::execution_insert`] does),
    /// in one transaction.
    async fn schedule_fire(&self, params: ScheduleFire) -> StoreResult<FireOutcome>;
}

#[cfg(test)]
mod tests {
    use super::SortBy;

    #[test]
    fn sort_by_accepts_the_original_dashboards_spellings() {
        assert_eq!("scheduled_at".parse::<SortBy>(), Ok(SortBy::ScheduledAt));
        assert_eq!("task_name".parse::<SortBy>(), Ok(SortBy::TaskName));
        assert_eq!("scheduledAt".parse::<SortBy>(), Ok(SortBy::ScheduledAt));
        assert_eq!("status".parse::<SortBy>(), Ok(SortBy::Status));
        for bad in ["", "completed_at", "Status", "task-name"] {
            let err = bad.parse::<SortBy>().unwrap_err();
            assert!(
                err.contains("expected scheduledAt, status or taskName"),
                "{err}"
            );
        }
    }
}
