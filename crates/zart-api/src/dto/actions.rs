//! Bodies of the operator actions: retry a dead step, restart, selective rerun, and
//! the action records that `detail` lists.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use zart_core as core;

/// A kept step that ran after a rerun step in the previous run, so it may have used
/// that step's old output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StaleStep {
    /// The kept step's name.
    pub preserved_step: String,
    /// The rerun steps that came before it.
    pub possibly_depends_on: Vec<String>,
}

impl From<core::StaleStep> for StaleStep {
    fn from(s: core::StaleStep) -> Self {
        Self {
            preserved_step: s.preserved_step,
            possibly_depends_on: s.possibly_depends_on,
        }
    }
}

/// An operator action taken on an execution, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    /// The action's id (for a step retry, the `newTaskId` it answered).
    pub action_id: String,
    /// What it did.
    pub kind: core::ActionKind,
    /// The run it applies to: the new run of a restart or rerun, the current run of a
    /// step retry.
    pub run_index: i32,
    /// For a step retry: the retried step ids (`name#occurrence`), comma separated.
    #[schema(required = true)]
    pub step_name: Option<String>,
    /// Who triggered it.
    pub triggered_by: String,
    /// When.
    pub triggered_at: DateTime<Utc>,
    /// For a rerun: the step names that run again, in journal order.
    pub effective_rerun: Vec<String>,
    /// For a rerun: kept steps that may have used a rerun step's old output.
    pub potentially_stale: Vec<StaleStep>,
}

impl From<core::ActionRecord> for Action {
    fn from(a: core::ActionRecord) -> Self {
        Self {
            action_id: a.action_id,
            kind: a.kind,
            run_index: a.run_index,
            step_name: a.step_name,
            triggered_by: a.triggered_by,
            triggered_at: a.triggered_at,
            effective_rerun: a.effective_rerun,
            potentially_stale: a.potentially_stale.into_iter().map(Into::into).collect(),
        }
    }
}

/// The body of `POST /executions/{executionId}/retry-step`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetryStep {
    /// The dead step: a name (every dead occurrence of it in the current run) or a
    /// step id `name#occurrence` (that one only).
    #[schema(min_length = 1, max_length = 255)]
    pub step_name: String,
    /// Recorded as who triggered the action (1–255 characters; default `"api"`).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255)]
    pub triggered_by: Option<String>,
}

/// The answer to a step retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepRetried {
    /// The id of the retry (the action id listed in `detail`'s `actions`).
    pub new_task_id: String,
}

impl From<core::ActionRecord> for StepRetried {
    fn from(a: core::ActionRecord) -> Self {
        Self {
            new_task_id: a.action_id,
        }
    }
}

/// The body of `POST /executions/{executionId}/restart`; an empty body is `{}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestartExecution {
    /// The new run's input; when the field is absent, the current run's payload
    /// (a `null` given here is a `null` payload).
    #[serde(default, deserialize_with = "present")]
    pub payload: Option<Value>,
    /// Recorded as who triggered the action (1–255 characters; default `"api"`).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255)]
    pub triggered_by: Option<String>,
}

/// The answer to a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Restarted {
    /// The new run's `runId`, as `runs` and `detail` spell it.
    pub new_run_id: String,
    /// The new run's index.
    pub run_index: i32,
}

impl From<core::ActionRecord> for Restarted {
    fn from(a: core::ActionRecord) -> Self {
        Self {
            new_run_id: core::run_id(&a.execution_id, a.run_index),
            run_index: a.run_index,
        }
    }
}

/// The body of `POST /executions/{executionId}/rerun`; absent lists are empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RerunExecution {
    /// Step names (1–255 characters each) to run again; every dead step runs again
    /// too.
    #[serde(default)]
    #[schema(max_items = 1000)]
    pub rerun_steps: Vec<String>,
    /// Step names (1–255 characters each) whose recorded result is kept, even if
    /// dead or listed in `rerunSteps`.
    #[serde(default)]
    #[schema(max_items = 1000)]
    pub preserve_steps: Vec<String>,
    /// Recorded as who triggered the action (1–255 characters; default `"api"`).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255)]
    pub triggered_by: Option<String>,
}

/// The answer to a selective rerun.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RerunStarted {
    /// The new run's index.
    pub new_run_number: i32,
    /// The step names that run again: `rerunSteps` plus every dead step, minus
    /// `preserveSteps`, in journal order.
    pub effective_rerun: Vec<String>,
    /// Kept steps that ran after a rerun step, so they may have used its old output;
    /// absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub potentially_stale: Vec<StaleStep>,
}

impl From<core::ActionRecord> for RerunStarted {
    fn from(a: core::ActionRecord) -> Self {
        Self {
            new_run_number: a.run_index,
            effective_rerun: a.effective_rerun,
            potentially_stale: a.potentially_stale.into_iter().map(Into::into).collect(),
        }
    }
}

/// A field that, when present, is `Some` even when it is `null`.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}
