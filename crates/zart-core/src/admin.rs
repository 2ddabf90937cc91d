//! Operator actions (retry a dead step, restart, selective rerun) and pause rules: the
//! parameters and answers of the [`Store`](crate::Store) methods behind the admin API.
//!
//! Every action is one transaction that checks the execution's state and changes it,
//! so two operators (or an operator and a worker) racing on one execution cannot both
//! win: the second finds the state changed and is refused. Each applied action is
//! recorded (who, when, what) and can carry an idempotency key, so a client that
//! retries a request after a lost answer gets the first answer back instead of a
//! second action.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{ActionKind, ExecutionStatus, StepStatus, Timestamp};

/// Who asks for an action, when, and under which idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionMeta {
    /// The id the action is recorded under (the caller generates it).
    pub action_id: String,
    /// Who triggered it (`"api"` when the caller does not say).
    pub triggered_by: String,
    /// An action with a key already recorded for the execution is not applied again:
    /// the store answers [`ActionOutcome::Replayed`] with the first one's record.
    pub idempotency_key: Option<String>,
    /// The current time.
    pub now: Timestamp,
}

/// Parameters of [`Store::step_retry`](crate::Store::step_retry).
#[derive(Debug, Clone, PartialEq)]
pub struct StepRetry {
    /// The execution.
    pub execution_id: String,
    /// A step name (every dead occurrence of it in the current run is retried) or a
    /// step id `name#occurrence` (that one only).
    pub step_name: String,
    /// Who, when, and the idempotency key.
    pub meta: ActionMeta,
}

/// Parameters of [`Store::execution_restart`](crate::Store::execution_restart).
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionRestart {
    /// The execution.
    pub execution_id: String,
    /// The new run's input; `None` keeps the current run's payload.
    pub payload: Option<Value>,
    /// Who, when, and the idempotency key.
    pub meta: ActionMeta,
}

/// Parameters of [`Store::execution_rerun`](crate::Store::execution_rerun).
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionRerun {
    /// The execution.
    pub execution_id: String,
    /// Step names to run again.
    pub rerun_steps: Vec<String>,
    /// Step names whose recorded result is kept even if they are dead or named in
    /// `rerun_steps`.
    pub preserve_steps: Vec<String>,
    /// Who, when, and the idempotency key.
    pub meta: ActionMeta,
}

/// A kept step that ran after a step of the effective rerun set, so it may have used
/// that step's old output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StaleStep {
    /// The kept step's name.
    pub preserved_step: String,
    /// The rerun steps that came before it in the previous run.
    pub possibly_depends_on: Vec<String>,
}

/// An applied operator action, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionRecord {
    /// The action's id.
    pub action_id: String,
    /// The execution it acted on.
    pub execution_id: String,
    /// What it did.
    pub kind: ActionKind,
    /// The run it applies to: the new run for a restart or rerun, the current run for
    /// a step retry.
    pub run_index: i32,
    /// The retried step(s), for a step retry: the ids `name#occurrence`, comma
    /// separated.
    pub step_name: Option<String>,
    /// Who triggered it.
    pub triggered_by: String,
    /// When.
    pub triggered_at: Timestamp,
    /// For a rerun: the step names that run again, in journal order.
    pub effective_rerun: Vec<String>,
    /// For a rerun: kept steps that may have used a rerun step's old output.
    pub potentially_stale: Vec<StaleStep>,
}

/// Why an action was refused; nothing changed.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionRefusal {
    /// Steps named that the current run's journal does not hold.
    UnknownSteps(Vec<String>),
    /// The step is not dead (it is in this state).
    StepNotDead {
        /// The step id.
        step: String,
        /// Its state.
        status: StepStatus,
    },
    /// The step is dead but is not a `ctx.step` (a timer, wait or child cannot be
    /// retried on its own).
    NotAStep {
        /// The step id.
        step: String,
    },
    /// The execution must be terminal for this action and is not.
    NotTerminal(ExecutionStatus),
    /// The execution completed or was cancelled: nothing to retry.
    Finished(ExecutionStatus),
    /// The idempotency key was used by an action of another kind.
    KeyReused(ActionKind),
}

impl std::fmt::Display for ActionRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownSteps(names) => {
                write!(
                    f,
                    "the current run has no step named {}",
                    names
                        .iter()
                        .map(|n| format!("{n:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
            Self::StepNotDead { step, status } => {
                write!(f, "step {step:?} is {status}, not dead: only a dead step can be retried")
            }
            Self::NotAStep { step } => write!(
                f,
                "{step:?} is not a ctx.step (a timer, wait or child cannot be retried on its own); restart or rerun the execution instead"
            ),
            Self::NotTerminal(status) => write!(
                f,
                "the execution is {status}: only a completed, failed or cancelled execution can get a new run (cancel it first)"
            ),
            Self::Finished(status) => write!(
                f,
                "the execution is {status}: a step can be retried only while the execution is failed or running; restart or rerun it instead"
            ),
            Self::KeyReused(kind) => write!(
                f,
                "this Idempotency-Key was already used for a {kind} action on this execution"
            ),
        }
    }
}

/// What an action call did.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionOutcome {
    /// Applied now.
    Applied(ActionRecord),
    /// The idempotency key was already recorded for this kind of action: nothing
    /// changed, and this is the first action's record.
    Replayed(ActionRecord),
    /// No such execution.
    NotFound,
    /// Refused; nothing changed.
    Refused(ActionRefusal),
}

/// Parameters of [`Store::pause_create`](crate::Store::pause_create).
#[derive(Debug, Clone, PartialEq)]
pub struct NewPauseRule {
    /// The rule's id (the caller generates it).
    pub rule_id: String,
    /// Only this execution.
    pub execution_id: Option<String>,
    /// Only executions of this task.
    pub task_name: Option<String>,
    /// Only steps whose name matches this glob (`*`, `?`, `[..]`); `None`: every step.
    pub step_pattern: Option<String>,
    /// When the rule stops holding by itself.
    pub expires_at: Option<Timestamp>,
    /// Who created it.
    pub created_by: String,
    /// Why, in words.
    pub reason: Option<String>,
    /// The current time.
    pub now: Timestamp,
}

/// A pause rule: a matching execution stops before its next matching step and parks
/// until the rule is deleted or expires.
#[derive(Debug, Clone, PartialEq)]
pub struct PauseRule {
    /// The rule's id.
    pub rule_id: String,
    /// Only this execution.
    pub execution_id: Option<String>,
    /// Only executions of this task.
    pub task_name: Option<String>,
    /// Only steps whose name matches this glob.
    pub step_pattern: Option<String>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it stops holding by itself.
    pub expires_at: Option<Timestamp>,
    /// Who created it.
    pub created_by: String,
    /// When it was deleted (resumed); a deleted rule holds nothing.
    pub deleted_at: Option<Timestamp>,
    /// Why, in words.
    pub reason: Option<String>,
}

impl NewPauseRule {
    /// Checks the selectors: at least one of execution, task and step pattern, and a
    /// valid glob. The message says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.execution_id.is_none() && self.task_name.is_none() && self.step_pattern.is_none() {
            return Err(
                "a pause rule needs at least one selector: executionId, taskName or stepPattern"
                    .into(),
            );
        }
        if let Some(pattern) = &self.step_pattern {
            validate_step_pattern(pattern)?;
        }
        if let Some(expires_at) = self.expires_at {
            if expires_at <= self.now {
                return Err(format!(
                    "expiresAt {} is not in the future",
                    expires_at.to_rfc3339()
                ));
            }
        }
        Ok(())
    }
}

/// Checks a step-name glob; the message says what is wrong.
pub fn validate_step_pattern(pattern: &str) -> Result<(), String> {
    if pattern.is_empty() {
        return Err("stepPattern is empty".into());
    }
    glob::Pattern::new(pattern)
        .map(|_| ())
        .map_err(|e| format!("stepPattern {pattern:?} is not a valid glob: {}", e.msg))
}

impl PauseRule {
    /// Whether the rule holds at `now`: not deleted and not expired.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.deleted_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }

    /// Whether the rule holds `step` of execution `execution_id` (of `task_name`) at
    /// `now`.
    pub fn matches(&self, execution_id: &str, task_name: &str, step: &str, now: Timestamp) -> bool {
        self.selects(execution_id, task_name, now)
            // A stored pattern that no longer compiles (they are validated when the
            // rule is created) holds every step rather than none.
            && self.step_pattern.as_deref().is_none_or(|p| {
                glob::Pattern::new(p).map_or(true, |pattern| pattern.matches(step))
            })
    }

    /// Whether the rule holds, at `now`, some steps of execution `execution_id` (of
    /// `task_name`): active, and its execution and task selectors match. Callers that
    /// check many steps compile `step_pattern` once and match it themselves.
    pub fn selects(&self, execution_id: &str, task_name: &str, now: Timestamp) -> bool {
        self.is_active(now)
            && self
                .execution_id
                .as_deref()
                .is_none_or(|e| e == execution_id)
            && self.task_name.as_deref().is_none_or(|t| t == task_name)
    }
}

/// What [`Store::pause_delete`](crate::Store::pause_delete) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseDelete {
    /// Deleted now; this many parked executions were made due.
    Deleted {
        /// Executions it held, now resumed.
        resumed: u64,
    },
    /// It had been deleted before; nothing changed.
    AlreadyDeleted,
    /// No such rule.
    NotFound,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, Utc};

    fn rule(pattern: Option<&str>) -> PauseRule {
        PauseRule {
            rule_id: "r".into(),
            execution_id: None,
            task_name: Some("billing".into()),
            step_pattern: pattern.map(Into::into),
            created_at: Utc::now(),
            expires_at: None,
            created_by: "api".into(),
            deleted_at: None,
            reason: None,
        }
    }

    #[test]
    fn a_rule_matches_by_task_and_glob() {
        let now = Utc::now();
        let r = rule(Some("charge*"));
        assert!(r.matches("e1", "billing", "charge_card", now));
        assert!(!r.matches("e1", "billing", "refund", now));
        assert!(!r.matches("e1", "other", "charge_card", now));
        assert!(rule(None).matches("e1", "billing", "anything", now));
    }

    #[test]
    fn deleted_and_expired_rules_hold_nothing() {
        let now = Utc::now();
        let mut r = rule(None);
        r.expires_at = Some(now - Duration::seconds(1));
        assert!(!r.is_active(now));
        let mut r = rule(None);
        r.deleted_at = Some(now);
        assert!(!r.matches("e", "billing", "s", now));
    }

    #[test]
    fn a_rule_needs_a_selector_and_a_valid_glob() {
        let mut new = NewPauseRule {
            rule_id: "r".into(),
            execution_id: None,
            task_name: None,
            step_pattern: None,
            expires_at: None,
            created_by: "api".into(),
            reason: None,
            now: Utc::now(),
        };
        assert!(new.validate().unwrap_err().contains("selector"));
        new.step_pattern = Some("[".into());
        assert!(new.validate().unwrap_err().contains("not a valid glob"));
        new.step_pattern = Some("a*".into());
        new.expires_at = Some(new.now - Duration::seconds(5));
        assert!(new.validate().unwrap_err().contains("not in the future"));
        new.expires_at = None;
        assert!(new.validate().is_ok());
    }
}
