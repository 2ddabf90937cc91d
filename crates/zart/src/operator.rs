//! Operator actions: retry a dead step, restart, selective rerun, and pause rules.
//!
//! Each action is one store transaction (see the `Store` methods of the same names);
//! this module validates the input, names the action and maps what the store answered
//! to a [`ClientError`].

use serde_json::Value;
use zart_core::{
    ActionMeta, ActionOutcome, ActionRecord, ActionRefusal, ExecutionRerun, ExecutionRestart,
    NewPauseRule, PauseDelete, PauseRule, StepRetry, Timestamp,
};

use crate::client::{not_found, validate_name};
use crate::{Client, ClientError};

/// Who an action is recorded as triggered by when the caller does not say.
pub const DEFAULT_TRIGGERED_BY: &str = "api";
/// The most step names one rerun may list (in `rerun_steps` and `preserve_steps` each).
pub const MAX_RERUN_NAMES: usize = 1000;
/// The longest pause reason accepted, in characters.
pub const MAX_REASON_CHARS: usize = 1000;

/// Who takes an operator action, and how a retried call is recognised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionOptions {
    /// Recorded as who triggered it (1 to 255 characters); [`DEFAULT_TRIGGERED_BY`]
    /// when `None`.
    pub triggered_by: Option<String>,
    /// The caller's key for this action (1 to 255 characters): a second call with the
    /// same key on the same execution changes nothing and answers the first action's
    /// record, so retrying after a timeout cannot act twice.
    pub idempotency_key: Option<String>,
}

impl ActionOptions {
    /// Options recording `who` as the trigger.
    pub fn triggered_by(who: impl Into<String>) -> Self {
        Self {
            triggered_by: Some(who.into()),
            idempotency_key: None,
        }
    }

    /// Uses `key` as the action's idempotency key.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
}

/// What a pause rule selects; see [`Client::pause`]. At least one of the three
/// selectors must be set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PauseRequest {
    /// Only this execution.
    pub execution_id: Option<String>,
    /// Only executions of this task.
    pub task_name: Option<String>,
    /// Only before steps whose name matches this glob (`*`, `?`, `[a-z]`); without
    /// it the rule holds an execution before its next step of any name.
    pub step_pattern: Option<String>,
    /// When the rule stops holding by itself; never when `None`.
    pub expires_at: Option<Timestamp>,
    /// Recorded as the rule's author; [`DEFAULT_TRIGGERED_BY`] when `None`.
    pub created_by: Option<String>,
    /// Why, for the other operators (up to [`MAX_REASON_CHARS`] characters).
    pub reason: Option<String>,
}

impl Client {
    /// Gives the dead step `step_name` (a name, or `name#occurrence` for one
    /// occurrence) of the current run a fresh attempt budget; the execution runs again
    /// from it, keeping every other completed step. [`ClientError::NotFound`] for an
    /// unknown execution or step, [`ClientError::Conflict`] when the step is not dead,
    /// is not a `ctx.step`, or the execution completed or was cancelled.
    pub async fn retry_step(
        &self,
        id: &str,
        step_name: &str,
        options: ActionOptions,
    ) -> Result<ActionRecord, ClientError> {
        validate_name("execution id", id)?;
        validate_name("stepName", step_name)?;
        let params = StepRetry {
            execution_id: id.to_owned(),
            step_name: step_name.to_owned(),
            meta: self.action_meta(options)?,
        };
        let outcome = self.store().step_retry(params).await?;
        answer(id, outcome, |refusal| match refusal {
            ActionRefusal::UnknownSteps(_) => {
                ClientError::NotFound(format!("execution {id:?}: {refusal}"))
            }
            other => ClientError::Conflict(other.to_string()),
        })
    }

    /// Starts a new run of a completed, failed or cancelled execution with an empty
    /// journal and `payload`, or the current payload when `None`; earlier runs stay
    /// readable. [`ClientError::Conflict`] while it is scheduled or running.
    pub async fn restart(
        &self,
        id: &str,
        payload: Option<Value>,
        options: ActionOptions,
    ) -> Result<ActionRecord, ClientError> {
        validate_name("execution id", id)?;
        let params = ExecutionRestart {
            execution_id: id.to_owned(),
            payload,
            meta: self.action_meta(options)?,
        };
        let outcome = self.store().execution_restart(params).await?;
        answer(id, outcome, |refusal| {
            ClientError::Conflict(refusal.to_string())
        })
    }

    /// Starts a new run of a terminal execution that replays the recorded results of
    /// the current run's completed steps except the effective rerun set: `rerun_steps`
    /// plus every dead step, minus `preserve_steps`. The record lists that set and the
    /// kept steps that ran after a rerun step (`potentially_stale`).
    /// [`ClientError::Unprocessable`] when a name is not a step of the current run;
    /// [`ClientError::Conflict`] while the execution is scheduled or running.
    pub async fn rerun(
        &self,
        id: &str,
        rerun_steps: Vec<String>,
        preserve_steps: Vec<String>,
        options: ActionOptions,
    ) -> Result<ActionRecord, ClientError> {
        validate_name("execution id", id)?;
        for (what, names) in [
            ("rerunSteps", &rerun_steps),
            ("preserveSteps", &preserve_steps),
        ] {
            if names.len() > MAX_RERUN_NAMES {
                return Err(ClientError::InvalidInput(format!(
                    "{what} lists {} names; at most {MAX_RERUN_NAMES} are accepted",
                    names.len()
                )));
            }
            for name in names {
                validate_name(what, name)?;
            }
        }
        let params = ExecutionRerun {
            execution_id: id.to_owned(),
            rerun_steps,
            preserve_steps,
            meta: self.action_meta(options)?,
        };
        let outcome = self.store().execution_rerun(params).await?;
        answer(id, outcome, |refusal| match refusal {
            ActionRefusal::UnknownSteps(_) => ClientError::Unprocessable(refusal.to_string()),
            other => ClientError::Conflict(other.to_string()),
        })
    }

    /// Creates a pause rule: every matching execution stops before its next matching
    /// step and parks, without holding a worker, until the rule is deleted
    /// ([`Client::resume`]) or expires. When this returns, the workers of the same
    /// [`Zart`](crate::Zart) apply the rule; workers in other processes apply it once
    /// the store's notification reaches them (milliseconds on PostgreSQL). [`ClientError::Unprocessable`] without a
    /// selector; [`ClientError::InvalidInput`] for a bad glob, an expiry that is not in
    /// the future, or an over-long field.
    pub async fn pause(&self, request: PauseRequest) -> Result<PauseRule, ClientError> {
        let PauseRequest {
            execution_id,
            task_name,
            step_pattern,
            expires_at,
            created_by,
            reason,
        } = request;
        if execution_id.is_none() && task_name.is_none() && step_pattern.is_none() {
            return Err(ClientError::Unprocessable(
                "a pause rule needs at least one selector: executionId, taskName or stepPattern"
                    .into(),
            ));
        }
        for (what, value) in [
            ("executionId", &execution_id),
            ("taskName", &task_name),
            ("stepPattern", &step_pattern),
        ] {
            if let Some(value) = value {
                validate_name(what, value)?;
            }
        }
        if let Some(reason) = &reason {
            let chars = reason.chars().count();
            if chars > MAX_REASON_CHARS {
                return Err(ClientError::InvalidInput(format!(
                    "reason must be at most {MAX_REASON_CHARS} characters, got {chars}"
                )));
            }
        }
        let rule = NewPauseRule {
            rule_id: uuid::Uuid::new_v4().to_string(),
            execution_id,
            task_name,
            step_pattern,
            expires_at,
            created_by: triggered_by(created_by)?,
            reason,
            now: self.now(),
        };
        rule.validate().map_err(ClientError::InvalidInput)?;
        let created = self.store().pause_create(rule).await?;
        self.refresh_pauses().await;
        Ok(created)
    }

    /// The active pause rules (not deleted, not expired), oldest first.
    pub async fn pauses(&self) -> Result<Vec<PauseRule>, ClientError> {
        Ok(self.store().pause_list(self.now()).await?)
    }

    /// Deletes a pause rule, resuming every execution it held; returns how many rules
    /// this call deleted (0 when it had been deleted before).
    /// [`ClientError::NotFound`] for an unknown rule.
    pub async fn resume(&self, rule_id: &str) -> Result<u64, ClientError> {
        validate_name("rule id", rule_id)?;
        match self.store().pause_delete(rule_id, self.now()).await? {
            PauseDelete::Deleted { .. } => {
                self.refresh_pauses().await;
                Ok(1)
            }
            PauseDelete::AlreadyDeleted => Ok(0),
            PauseDelete::NotFound => Err(ClientError::NotFound(format!(
                "pause rule {rule_id:?} not found"
            ))),
        }
    }

    fn action_meta(&self, options: ActionOptions) -> Result<ActionMeta, ClientError> {
        if let Some(key) = &options.idempotency_key {
            validate_name("Idempotency-Key", key)?;
        }
        Ok(ActionMeta {
            action_id: uuid::Uuid::new_v4().to_string(),
            triggered_by: triggered_by(options.triggered_by)?,
            idempotency_key: options.idempotency_key,
            now: self.now(),
        })
    }
}

fn triggered_by(who: Option<String>) -> Result<String, ClientError> {
    match who {
        Some(who) => {
            validate_name("triggeredBy", &who)?;
            Ok(who)
        }
        None => Ok(DEFAULT_TRIGGERED_BY.to_owned()),
    }
}

fn answer(
    id: &str,
    outcome: ActionOutcome,
    refused: impl FnOnce(&ActionRefusal) -> ClientError,
) -> Result<ActionRecord, ClientError> {
    match outcome {
        ActionOutcome::Applied(record) | ActionOutcome::Replayed(record) => Ok(record),
        ActionOutcome::NotFound => Err(not_found(id)),
        ActionOutcome::Refused(refusal) => Err(refused(&refusal)),
    }
}
