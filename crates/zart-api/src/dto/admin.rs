//! Bodies of the admin routes: runs, steps and attempts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use zart_core as core;

use super::{Action, Execution};

/// One run of an execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    /// `"{executionId}:{runIndex}"`.
    pub run_id: String,
    /// The execution.
    pub execution_id: String,
    /// 1 for the initial run.
    pub run_index: i32,
    /// The run's input.
    pub payload: Value,
    /// The run's state.
    pub status: core::ExecutionStatus,
    /// The run's output.
    #[schema(required = true)]
    pub result: Option<Value>,
    /// When it started.
    #[schema(required = true)]
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    #[schema(required = true)]
    pub completed_at: Option<DateTime<Utc>>,
    /// Why it started.
    pub trigger: core::RunTrigger,
    /// Who started it, for a run an operator action started (a restart or a rerun).
    #[schema(required = true)]
    pub triggered_by: Option<String>,
    /// When that action was taken.
    #[schema(required = true)]
    pub triggered_at: Option<DateTime<Utc>>,
}

impl From<core::RunRecord> for Run {
    fn from(r: core::RunRecord) -> Self {
        Self {
            run_id: r.run_id,
            execution_id: r.execution_id,
            run_index: r.run_index,
            payload: r.payload,
            status: r.status,
            result: r.result,
            started_at: r.started_at,
            completed_at: r.completed_at,
            trigger: r.trigger,
            triggered_by: r.triggered_by,
            triggered_at: r.triggered_at,
        }
    }
}

/// One journal entry of a run: a step, a timer, a wait, a child, a journaled value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// `"{name}#{occurrence}"`: unique within a run.
    pub step_id: String,
    /// The name given in code.
    pub name: String,
    /// 0 for the first call with this name in the run, 1 for the second, ...
    pub occurrence: u32,
    /// The order in which the code reached this entry (0-based).
    pub position: u32,
    /// What the entry records.
    pub kind: core::StepKind,
    /// Its state.
    pub status: core::StepStatus,
    /// The 0-based number of the current or last attempt (0 before the first and
    /// during or after the first), as the original API counts: `attemptCount - 1`.
    pub retry_attempt: u32,
    /// Attempts made so far (started ones included).
    pub attempt_count: u32,
    /// The memoized value, once completed.
    #[schema(required = true)]
    pub result: Option<Value>,
    /// The last attempt's error.
    #[schema(required = true)]
    pub last_error: Option<String>,
    /// Whether the last error may be retried.
    pub retryable: bool,
    /// When the entry was first recorded.
    pub scheduled_at: DateTime<Utc>,
    /// When it completed (or died).
    #[schema(required = true)]
    pub completed_at: Option<DateTime<Utc>>,
    /// For timers, waits and backoffs: when the entry is due.
    #[schema(required = true)]
    pub wake_at: Option<DateTime<Utc>>,
    /// Every finished attempt, oldest first.
    pub attempts: Vec<Attempt>,
}

impl From<core::StepRecord> for Step {
    fn from(s: core::StepRecord) -> Self {
        Self {
            step_id: s.step_id,
            name: s.name,
            occurrence: s.occurrence,
            position: s.position,
            kind: s.kind,
            status: s.status,
            retry_attempt: s.retry_attempt.saturating_sub(1),
            attempt_count: s.retry_attempt,
            result: s.result,
            last_error: s.last_error,
            retryable: s.retryable,
            scheduled_at: s.scheduled_at,
            completed_at: s.completed_at,
            wake_at: s.wake_at,
            attempts: s.attempts.into_iter().map(Into::into).collect(),
        }
    }
}

/// One attempt at a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// 1-based.
    pub attempt_number: u32,
    /// The outcome.
    pub status: core::AttemptStatus,
    /// The value returned, on success.
    #[schema(required = true)]
    pub result: Option<Value>,
    /// The error, on failure.
    #[schema(required = true)]
    pub error: Option<String>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    #[schema(required = true)]
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<core::AttemptRecord> for Attempt {
    fn from(a: core::AttemptRecord) -> Self {
        Self {
            attempt_number: a.attempt_number,
            status: a.status,
            result: a.result,
            error: a.error,
            started_at: a.started_at,
            completed_at: a.completed_at,
        }
    }
}

/// An execution with its runs and one run's steps and attempts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionDetail {
    /// The execution.
    pub execution: Execution,
    /// All runs, oldest first.
    pub runs: Vec<Run>,
    /// The selected run's journal, by position, with attempts.
    pub steps: Vec<Step>,
    /// The operator actions taken on the execution, oldest first.
    pub actions: Vec<Action>,
}

impl From<core::ExecutionDetail> for ExecutionDetail {
    fn from(d: core::ExecutionDetail) -> Self {
        Self {
            execution: d.execution.into(),
            runs: d.runs.into_iter().map(Into::into).collect(),
            steps: d.steps.into_iter().map(Into::into).collect(),
            actions: d.actions.into_iter().map(Into::into).collect(),
        }
    }
}
