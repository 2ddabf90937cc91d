//! Bodies of the pause-rule routes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zart_core as core;

/// A pause rule: a matching execution stops before its next matching step and parks
/// until the rule is deleted or expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PauseRule {
    /// The rule's id.
    pub rule_id: String,
    /// Only this execution.
    #[schema(required = true)]
    pub execution_id: Option<String>,
    /// Only executions of this task.
    #[schema(required = true)]
    pub task_name: Option<String>,
    /// Only before steps whose name matches this glob.
    #[schema(required = true)]
    pub step_pattern: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it stops holding by itself; never when `null`.
    #[schema(required = true)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Who created it (`triggeredBy` of the request).
    pub created_by: String,
    /// When it was deleted; a deleted rule holds nothing.
    #[schema(required = true)]
    pub deleted_at: Option<DateTime<Utc>>,
    /// Why, in words.
    #[schema(required = true)]
    pub reason: Option<String>,
}

impl From<core::PauseRule> for PauseRule {
    fn from(r: core::PauseRule) -> Self {
        Self {
            rule_id: r.rule_id,
            execution_id: r.execution_id,
            task_name: r.task_name,
            step_pattern: r.step_pattern,
            created_at: r.created_at,
            expires_at: r.expires_at,
            created_by: r.created_by,
            deleted_at: r.deleted_at,
            reason: r.reason,
        }
    }
}

/// The body of `POST /pause`: at least one of `executionId`, `taskName` and
/// `stepPattern`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatePause {
    /// Only this execution.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255)]
    pub execution_id: Option<String>,
    /// Only executions of this task (new ones included).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255)]
    pub task_name: Option<String>,
    /// Only before steps whose name matches this glob (`*`, `?`, `[a-z]`); without it,
    /// before the next step of any name.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255)]
    pub step_pattern: Option<String>,
    /// When the rule stops holding by itself (RFC 3339, in the future); never when
    /// absent.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Recorded as the rule's `createdBy` (1–255 characters; default `"api"`).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255)]
    pub triggered_by: Option<String>,
    /// Why, for the other operators (at most 1000 characters).
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub reason: Option<String>,
}

impl From<CreatePause> for zart::PauseRequest {
    fn from(body: CreatePause) -> Self {
        Self {
            execution_id: body.execution_id,
            task_name: body.task_name,
            step_pattern: body.step_pattern,
            expires_at: body.expires_at,
            created_by: body.triggered_by,
            reason: body.reason,
        }
    }
}

/// The answer to `POST /pause/{ruleId}` (resume).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RulesDeleted {
    /// Rules this call deleted: 1, or 0 when the rule had been deleted before.
    pub rules_deleted: u64,
}
