//! `ctx.step`: memoized side effects with retries and timeouts.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use futures::FutureExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use zart_core::{
    AttemptStatus, AttemptWrite, ErrorKind, StepKind, StepStatus, StepWrite, WaitingFor,
};

use super::{decode, in_flight, park, Ctx, Halt, Slot};
use crate::retry::StepOptions;
use crate::{TaskError, TaskResult};

impl Ctx {
    /// Runs `f` once for this run and memoizes its `Ok` value, with the default
    /// [`StepOptions`] (3 attempts, exponential backoff).
    ///
    /// On replay a completed step returns its stored value without running `f`. An
    /// `Err` is retried per the retry policy unless it is [`TaskError::permanent`];
    /// when attempts run out the step is dead and this returns an error for which
    /// [`TaskError::is_step_failed`] holds. A step that was running when its worker
    /// crashed runs again: steps are at-least-once while in flight, exactly-once once
    /// completed.
    pub fn step<'a, T, F, Fut>(
        &'a self,
        name: &str,
        f: F,
    ) -> impl Future<Output = TaskResult<T>> + Send + 'a
    where
        T: Serialize + DeserializeOwned + Send + 'a,
        F: FnMut() -> Fut + Send + 'a,
        Fut: Future<Output = TaskResult<T>> + Send + 'a,
    {
        self.step_with(name, StepOptions::default(), f)
    }

    /// [`Ctx::step`] with explicit options (retry policy, per-attempt timeout).
    pub fn step_with<'a, T, F, Fut>(
        &'a self,
        name: &str,
        options: StepOptions,
        f: F,
    ) -> impl Future<Output = TaskResult<T>> + Send + 'a
    where
        T: Serialize + DeserializeOwned + Send + 'a,
        F: FnMut() -> Fut + Send + 'a,
        Fut: Future<Output = TaskResult<T>> + Send + 'a,
    {
        let slot = self.reserve(name, StepKind::Step);
        async move {
            match slot {
                Ok(slot) => match self.run_step(slot, options, f).await {
                    Ok(value) => value,
                    Err(halt) => park(halt).await,
                },
                Err(halt) => park(halt).await,
            }
        }
    }

    async fn run_step<T, F, Fut>(
        &self,
        slot: Slot,
        options: StepOptions,
        mut f: F,
    ) -> Result<TaskResult<T>, Halt>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut() -> Fut,
        Fut: Future<Output = TaskResult<T>>,
    {
        let mut made = 0;
        if let Some(rec) = &slot.recorded {
            match rec.status {
                StepStatus::Completed => return Ok(decode(&slot, rec.result.clone())),
                StepStatus::Dead => {
                    let last = rec.last_error.clone().unwrap_or_default();
                    return Ok(Err(dead(&slot, rec.retry_attempt, &last)));
                }
                StepStatus::Scheduled | StepStatus::Running => {
                    made = rec.retry_attempt;
                    if let Some(retry_at) = rec.wake_at {
                        self.backoff(&slot, made + 1, retry_at).await?;
                    }
                }
            }
        }
        loop {
            let attempt = made + 1;
            let outcome = in_flight(self, self.attempt(&slot, &options, attempt, &mut f)).await?;
            match outcome {
                Attempt::Done(result) => return Ok(result),
                Attempt::RetryAt(retry_at) => {
                    made = attempt;
                    self.backoff(&slot, attempt + 1, retry_at).await?;
                }
            }
        }
    }

    /// Runs one attempt and records its outcome durably.
    async fn attempt<T, F, Fut>(
        &self,
        slot: &Slot,
        options: &StepOptions,
        attempt: u32,
        f: &mut F,
    ) -> Result<Attempt<T>, Halt>
    where
        T: Serialize,
        F: FnMut() -> Fut,
        Fut: Future<Output = TaskResult<T>>,
    {
        let started_at = self.now_wall();
        let clock = Instant::now();
        let outcome = ATTEMPT
            .scope(attempt, run_guarded(f, options.timeout))
            .await;
        self.metrics()
            .step_attempt(self.task_name(), outcome.is_ok(), clock.elapsed());
        let now = self.now_wall();
        let mut step = slot.write(StepStatus::Completed, now);
        step.retry_attempt = attempt;
        let record = AttemptWrite {
            attempt_number: attempt,
            status: AttemptStatus::Completed,
            result: None,
            error: None,
            started_at,
            completed_at: Some(now),
        };
        let value = match outcome {
            Ok(value) => value,
            Err(err) => return self.attempt_failed(slot, options, step, record, err).await,
        };
        match serde_json::to_value(&value) {
            Ok(json) => {
                step.result = Some(json);
                step.completed_at = Some(now);
                self.save(step, Some(record)).await?;
                Ok(Attempt::Done(Ok(value)))
            }
            Err(e) => {
                // Record it dead: a step whose result is not journaled would run its
                // side effect again on every replay.
                let err =
                    TaskError::permanent(format!("its result does not serialize to JSON: {e}"));
                self.attempt_failed(slot, options, step, record, err).await
            }
        }
    }

    /// Records a failed attempt: scheduled for a retry when the error is retryable and
    /// attempts remain, dead otherwise.
    async fn attempt_failed<T>(
        &self,
        slot: &Slot,
        options: &StepOptions,
        mut step: StepWrite,
        mut record: AttemptWrite,
        err: TaskError,
    ) -> Result<Attempt<T>, Halt> {
        let attempt = record.attempt_number;
        let now = record.completed_at.unwrap_or_else(|| self.now_wall());
        let mut message = err.message().to_owned();
        record.status = AttemptStatus::Failed;
        step.retryable = err.is_retryable();
        if err.is_retryable() && attempt < options.retry.max_attempts() {
            let delay = options.retry.delay_after(attempt);
            match crate::time::after(now, delay) {
                Ok(retry_at) => {
                    record.error = Some(message.clone());
                    step.last_error = Some(message);
                    step.status = StepStatus::Scheduled;
                    step.wake_at = Some(retry_at);
                    self.save(step, Some(record)).await?;
                    return Ok(Attempt::RetryAt(retry_at));
                }
                Err(too_late) => {
                    message = format!(
                        "{message}; not retried: the retry delay is out of range ({too_late})"
                    );
                }
            }
        }
        record.error = Some(message.clone());
        step.last_error = Some(message.clone());
        step.status = StepStatus::Dead;
        step.completed_at = Some(now);
        self.save(step, Some(record)).await?;
        Ok(Attempt::Done(Err(dead(slot, attempt, &message))))
    }

    /// Waits until `retry_at`: in place when the wait is short, otherwise by parking
    /// the execution so it holds no worker slot.
    async fn backoff(
        &self,
        slot: &Slot,
        next_attempt: u32,
        retry_at: zart_core::Timestamp,
    ) -> Result<(), Halt> {
        let remaining = (retry_at - self.now_wall()).to_std().unwrap_or_default();
        if remaining.is_zero() {
            return Ok(());
        }
        if remaining <= self.config().inline_backoff {
            tokio::time::sleep(remaining).await;
            return Ok(());
        }
        let waiting_for = WaitingFor::Retry {
            step: slot.id(),
            attempt: next_attempt,
            retry_at,
        };
        Err(self.suspend(Some(retry_at), waiting_for))
    }
}

tokio::task_local! {
    static ATTEMPT: u32;
}

/// The 1-based number of the step attempt running on this task, when called from inside
/// a `ctx.step` closure's future. Attempt numbers are durable: after a crash the next
/// attempt continues the count.
///
/// ```no_run
/// # use zart::prelude::*;
/// # async fn demo(ctx: Ctx) -> TaskResult<u32> {
/// ctx.step("call", || async { Ok(zart::current_attempt().unwrap_or(1)) }).await
/// # }
/// ```
pub fn current_attempt() -> Option<u32> {
    ATTEMPT.try_with(|a| *a).ok()
}

enum Attempt<T> {
    Done(TaskResult<T>),
    RetryAt(zart_core::Timestamp),
}

/// Runs the user's closure, turning a panic or a timeout into a retryable error.
async fn run_guarded<T, F, Fut>(f: &mut F, timeout: Option<std::time::Duration>) -> TaskResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = TaskResult<T>>,
{
    let fut = match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(fut) => fut,
        Err(panic) => return Err(panicked(panic)),
    };
    let guarded = AssertUnwindSafe(fut).catch_unwind();
    let outcome = match timeout {
        Some(limit) => match tokio::time::timeout(limit, guarded).await {
            Ok(outcome) => outcome,
            Err(_) => {
                return Err(TaskError::retryable(format!(
                    "attempt timed out after {} ms",
                    limit.as_millis()
                )))
            }
        },
        None => guarded.await,
    };
    outcome.unwrap_or_else(|panic| Err(panicked(panic)))
}

pub(crate) fn panicked(panic: Box<dyn std::any::Any + Send>) -> TaskError {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".to_owned());
    TaskError::retryable(format!("panicked: {message}"))
}

fn dead(slot: &Slot, attempts: u32, last_error: &str) -> TaskError {
    let mut err = TaskError::engine(
        ErrorKind::StepFailed,
        format!(
            "step {:?} failed after {attempts} attempt(s): {last_error}",
            slot.id()
        ),
        Some(slot.name.clone()),
    );
    err.attempts = Some(attempts);
    err
}
