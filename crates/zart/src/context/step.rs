//! `ctx.step`: memoized side effects with retries and timeouts.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use futures::FutureExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use zart_core::{
    AttemptWrite, ErrorKind, StepHeader, StepKind, StepStatus, StepWrite, Timestamp, WaitingFor,
};

use super::{decode, in_flight, park, Ctx, Halt, Reservation};
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
        let reserved = self.reserve(name, StepKind::Step);
        async move {
            match reserved {
                Ok(reserved) => match self.run_step(reserved, options, f).await {
                    Ok(value) => value,
                    Err(halt) => park(halt).await,
                },
                Err(halt) => park(halt).await,
            }
        }
    }

    async fn run_step<T, F, Fut>(
        &self,
        reserved: Reservation,
        options: StepOptions,
        mut f: F,
    ) -> Result<TaskResult<T>, Halt>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut() -> Fut,
        Fut: Future<Output = TaskResult<T>>,
    {
        let mut made = 0;
        if let Some(rec) = &reserved.recorded {
            match rec.status {
                StepStatus::Completed => return Ok(decode(&reserved, rec.result.clone())),
                StepStatus::Dead => {
                    let last = rec.last_error.clone().unwrap_or_default();
                    return Ok(Err(dead(&reserved, rec.retry_attempt, &last)));
                }
                StepStatus::Scheduled | StepStatus::Running => {
                    made = rec.retry_attempt;
                    if let Some(retry_at) = rec.wake_at {
                        self.backoff(&reserved, made + 1, retry_at).await?;
                    }
                }
            }
        }
        loop {
            let attempt = made + 1;
            let outcome =
                in_flight(self, self.attempt(&reserved, &options, attempt, &mut f)).await?;
            match outcome {
                Attempt::Done(result) => return Ok(result),
                Attempt::RetryAt(retry_at) => {
                    made = attempt;
                    self.backoff(&reserved, attempt + 1, retry_at).await?;
                }
            }
        }
    }

    /// Runs one attempt and records its outcome durably.
    async fn attempt<T, F, Fut>(
        &self,
        reserved: &Reservation,
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
        let header = StepHeader {
            retry_attempt: attempt,
            ..reserved.header(now)
        };
        let ran = (started_at, now);
        let value = match outcome {
            Ok(value) => value,
            Err(err) => {
                return self
                    .attempt_failed(reserved, options, header, ran, err)
                    .await
            }
        };
        match serde_json::to_value(&value) {
            Ok(json) => {
                let step = StepWrite::completed(header, Some(json), now);
                let record = AttemptWrite::completed(attempt, started_at, now);
                self.save(step, Some(record)).await?;
                Ok(Attempt::Done(Ok(value)))
            }
            Err(e) => {
                // Record it dead: a step whose result is not journaled would run its
                // side effect again on every replay.
                let err =
                    TaskError::permanent(format!("its result does not serialize to JSON: {e}"));
                self.attempt_failed(reserved, options, header, ran, err)
                    .await
            }
        }
    }

    /// Records a failed attempt (`ran`: when it started and ended): scheduled for a
    /// retry when the error is retryable and attempts remain, dead otherwise.
    async fn attempt_failed<T>(
        &self,
        reserved: &Reservation,
        options: &StepOptions,
        header: StepHeader,
        ran: (Timestamp, Timestamp),
        err: TaskError,
    ) -> Result<Attempt<T>, Halt> {
        let attempt = header.retry_attempt;
        // An operator retry gave the step a fresh budget: count only the attempts
        // made since.
        let base = reserved.recorded.as_ref().map_or(0, |r| r.attempt_base);
        let budgeted = attempt.saturating_sub(base);
        let (started_at, now) = ran;
        let mut message = err.message().to_owned();
        if err.is_retryable() && budgeted < options.retry.max_attempts() {
            let delay = options.retry.delay_after(budgeted);
            match crate::time::after(now, delay) {
                Ok(retry_at) => {
                    let record = AttemptWrite::failed(attempt, message.clone(), started_at, now);
                    let step = StepWrite::retrying(header, message, retry_at);
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
        let record = AttemptWrite::failed(attempt, message.clone(), started_at, now);
        let step = StepWrite::dead(header, message.clone(), err.is_retryable(), now);
        self.save(step, Some(record)).await?;
        Ok(Attempt::Done(Err(dead(reserved, attempt, &message))))
    }

    /// Waits until `retry_at`: in place when the wait is short, otherwise by parking
    /// the execution so it holds no worker slot.
    async fn backoff(
        &self,
        reserved: &Reservation,
        next_attempt: u32,
        retry_at: Timestamp,
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
            step: reserved.id(),
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

fn dead(reserved: &Reservation, attempts: u32, last_error: &str) -> TaskError {
    let mut err = TaskError::engine(
        ErrorKind::StepFailed,
        format!(
            "step {:?} failed after {attempts} attempt(s): {last_error}",
            reserved.id()
        ),
        Some(reserved.name.clone()),
    );
    err.attempts = Some(attempts);
    err
}
