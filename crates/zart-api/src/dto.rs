//! The JSON bodies of the API, with their OpenAPI schemas: the one wire shape.
//!
//! The core records (`zart_core::ExecutionRecord`, ...) carry library names (`id`,
//! `task_name`) and no serde form; each body here is built from its record with `From`
//! and spells the HTTP contract's names (`durableExecutionId`, `name`). The string
//! enums are the core's own (their serde form is their wire form; their schemas come
//! from zart-core's `openapi` feature). `dto/tests.rs` pins the JSON of every body.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use zart_core as core;

/// Every error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// A human-readable message.
    pub error: String,
}

/// The body of `POST /executions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartExecution {
    /// The execution id and idempotency key (1–255 characters, no control characters);
    /// a UUID v4 is generated when omitted.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255)]
    pub execution_id: Option<String>,
    /// The registered task name.
    #[schema(min_length = 1)]
    pub task_name: String,
    /// The task's input; `null` when omitted.
    #[serde(default)]
    pub payload: Value,
    /// The named queue (declared by some process; unknown: 422); default: the task's
    /// default queue, else `"default"`, the queue without limits.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 64)]
    pub queue: Option<String>,
    /// The priority within the queue: lower runs first (-1000 to 1000; default 0).
    #[serde(default)]
    #[schema(minimum = -1000, maximum = 1000)]
    pub priority: Option<i64>,
    /// The concurrency key (1–255 characters, no control characters; for example a
    /// customer id): the queue's per-key limit applies to executions with the same
    /// key, and the queue serves keys round-robin. No effect on a queue without a
    /// per-key limit.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255)]
    pub concurrency_key: Option<String>,
    /// The deduplication id (1–255 characters, no control characters): while an
    /// execution of the same queue started with it is scheduled or running, this
    /// start creates nothing and answers 200 with that execution.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255)]
    pub deduplication_id: Option<String>,
}

/// One execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    /// The task name.
    pub name: String,
    /// The execution id.
    pub durable_execution_id: String,
    /// The input payload of the current run.
    pub payload: Value,
    /// The lifecycle state.
    pub status: core::ExecutionStatus,
    /// When the execution was created.
    pub scheduled_at: DateTime<Utc>,
    /// When it finished.
    #[schema(required = true)]
    pub completed_at: Option<DateTime<Utc>>,
    /// Increases with every change of the execution's state.
    pub version: i64,
    /// The task's output, once completed.
    #[schema(required = true)]
    pub result: Option<Value>,
    /// Why it failed, once failed.
    #[schema(required = true)]
    pub error: Option<ExecutionError>,
    /// What it is blocked on, while not terminal.
    #[schema(required = true)]
    pub waiting_for: Option<WaitingFor>,
    /// The current run (1 for the initial run).
    pub run_index: i32,
    /// When the first run started.
    #[schema(required = true)]
    pub started_at: Option<DateTime<Utc>>,
    /// When the execution last changed.
    pub updated_at: DateTime<Utc>,
    /// The parent execution, for a child.
    #[schema(required = true)]
    pub parent_id: Option<String>,
    /// The execution deadline, if any.
    #[schema(required = true)]
    pub deadline_at: Option<DateTime<Utc>>,
    /// Its queue (`"default"`: the queue without limits).
    pub queue: String,
    /// Its priority within the queue (lower runs first).
    pub priority: i32,
}

impl From<core::ExecutionRecord> for Execution {
    fn from(r: core::ExecutionRecord) -> Self {
        Self {
            name: r.task_name,
            durable_execution_id: r.id,
            payload: r.payload,
            status: r.status,
            scheduled_at: r.scheduled_at,
            completed_at: r.completed_at,
            version: r.version,
            result: r.result,
            error: r.error.map(Into::into),
            waiting_for: r.waiting_for.map(Into::into),
            run_index: r.run_index,
            started_at: r.started_at,
            updated_at: r.updated_at,
            parent_id: r.parent_id,
            deadline_at: r.deadline_at,
            queue: r.queue.unwrap_or_else(|| core::DEFAULT_QUEUE.to_owned()),
            priority: r.priority,
        }
    }
}

/// Why an execution failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionError {
    /// The class of failure.
    pub kind: core::ErrorKind,
    /// A human-readable message.
    pub message: String,
    /// The failing step (or wait), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// How many attempts the failing step made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
}

impl From<core::ExecutionError> for ExecutionError {
    fn from(e: core::ExecutionError) -> Self {
        Self {
            kind: e.kind,
            message: e.message,
            step: e.step,
            attempts: e.attempts,
        }
    }
}

/// What a non-terminal execution is blocked on, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum WaitingFor {
    /// A durable timer.
    #[serde(rename_all = "camelCase")]
    Timer {
        /// The sleep's step name.
        step: String,
        /// When it fires.
        due_at: DateTime<Utc>,
    },
    /// An event.
    #[serde(rename_all = "camelCase")]
    Event {
        /// The event name.
        name: String,
        /// When the wait times out, if ever.
        #[schema(required = true)]
        deadline: Option<DateTime<Utc>>,
    },
    /// A child execution.
    #[serde(rename_all = "camelCase")]
    Child {
        /// The child's id.
        execution_id: String,
    },
    /// A retry backoff.
    #[serde(rename_all = "camelCase")]
    Retry {
        /// The failing step.
        step: String,
        /// The attempt that will run next.
        attempt: u32,
        /// When it runs.
        retry_at: DateTime<Utc>,
    },
    /// A worker holds the execution.
    #[serde(rename_all = "camelCase")]
    Lease {
        /// The worker holding it.
        worker_id: String,
        /// When the lease was taken.
        since: DateTime<Utc>,
        /// When the lease expires unless renewed.
        expires_at: DateTime<Utc>,
    },
    /// A pause rule holds it: it parked before a step the rule matches, and resumes
    /// when the rule is deleted or expires.
    #[serde(rename_all = "camelCase")]
    Pause {
        /// The rule (see `GET /pause`).
        rule_id: String,
        /// When the rule expires, if ever.
        #[schema(required = true)]
        expires_at: Option<DateTime<Utc>>,
    },
    /// Due, but its named queue has no free slot or no rate-limit token.
    #[serde(rename_all = "camelCase")]
    Queue {
        /// The queue (see `GET /queues`).
        queue: String,
        /// Why it is not running: `concurrency` (the queue's limit is reached),
        /// `key` (its concurrency key's limit is reached) or `rate` (the queue's
        /// rate limit is used up for now).
        #[schema(value_type = String, example = "concurrency")]
        reason: String,
    },
}

impl From<core::WaitingFor> for WaitingFor {
    fn from(w: core::WaitingFor) -> Self {
        use core::WaitingFor as W;
        match w {
            W::Timer { step, due_at } => Self::Timer { step, due_at },
            W::Event { name, deadline } => Self::Event { name, deadline },
            W::Child { execution_id } => Self::Child { execution_id },
            W::Retry {
                step,
                attempt,
                retry_at,
            } => Self::Retry {
                step,
                attempt,
                retry_at,
            },
            W::Lease {
                worker_id,
                since,
                expires_at,
            } => Self::Lease {
                worker_id,
                since,
                expires_at,
            },
            W::Pause {
                rule_id,
                expires_at,
            } => Self::Pause {
                rule_id,
                expires_at,
            },
            W::Queue { queue, reason } => Self::Queue {
                queue,
                reason: reason.as_str().to_owned(),
            },
        }
    }
}

/// Counts of executions by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Stats {
    /// Created, never started.
    pub scheduled: u64,
    /// Started and unfinished.
    pub running: u64,
    /// Completed.
    pub completed: u64,
    /// Failed.
    pub failed: u64,
    /// Cancelled.
    pub cancelled: u64,
}

impl From<core::Stats> for Stats {
    fn from(s: core::Stats) -> Self {
        Self {
            scheduled: s.scheduled,
            running: s.running,
            completed: s.completed,
            failed: s.failed,
            cancelled: s.cancelled,
        }
    }
}

// The schemas state the client's limits as literals (utoipa needs literals); these
// fail the build when a limit changes, so the document cannot drift from the code.
const _: () = assert!(zart::MAX_NAME_CHARS == 255);
const _: () = assert!(zart::MAX_REASON_CHARS == 1000);
const _: () = assert!(zart::MAX_RERUN_NAMES == 1000);

mod actions;
mod queues;
pub use actions::{
    Action, RerunExecution, RerunStarted, RestartExecution, Restarted, RetryStep, StaleStep,
    StepRetried,
};
pub use queues::Queue;

mod admin;
pub use admin::{Attempt, ExecutionDetail, Run, Step};

mod events;
pub use events::{EventAccepted, InboxEvent, InboxEventStatus, InboxPage};

mod overview;
pub use overview::{ActivityBucket, Overview};

mod pause;
pub use pause::{CreatePause, PauseRule, RulesDeleted};

mod schedules;
pub use schedules::{CreateSchedule, Schedule};

mod tasks;
pub use tasks::{Task, TaskList};

#[cfg(test)]
mod tests;
