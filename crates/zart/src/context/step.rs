//! `ctx.step`: memoized side effects with retries and timeouts.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;
use zart_core::{
    AttemptWrite, Clock, ErrorKind, LeaseGuard, StepHeader, StepKind, StepSave, StepStatus,
    StepWrite, Timestamp, WaitingFor,
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
        let mut made = match self.resume(&reserved).await? {
            Resume::Done(result) => return Ok(result),
            Resume::After(made) => made,
        };
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

    /// What the journal holds for a step about to run: its final result (a
    /// completed or dead entry: replay), or the attempts made so far, after waiting
    /// out a retry backoff the entry records.
    pub(crate) async fn resume<T: DeserializeOwned>(
        &self,
        reserved: &Reservation,
    ) -> Result<Resume<T>, Halt> {
        let Some(rec) = &reserved.recorded else {
            return Ok(Resume::After(0));
        };
        match rec.status {
            StepStatus::Completed => Ok(Resume::Done(decode(reserved, rec.result.clone()))),
            StepStatus::Dead => {
                let last = rec.last_error.clone().unwrap_or_default();
                Ok(Resume::Done(Err(dead(reserved, rec.retry_attempt, &last))))
            }
            StepStatus::Scheduled | StepStatus::Running => {
                let made = rec.retry_attempt;
                if let Some(retry_at) = rec.wake_at {
                    self.backoff(reserved, made + 1, retry_at).await?;
                }
                Ok(Resume::After(made))
            }
        }
    }

    /// What the save of attempt `attempt` needs when it succeeds, taken when it
    /// starts at `started_at`.
    pub(crate) fn completion(
        &self,
        reserved: &Reservation,
        attempt: u32,
        started_at: Timestamp,
    ) -> Completion {
        Completion {
            guard: self.guard(),
            run_index: self.run_index(),
            header: reserved.header(started_at),
            new_entry: reserved.recorded.is_none(),
            attempt,
            started_at,
            clock: self.clock(),
        }
    }

    /// Runs one attempt and records its outcome durably, in a `zart.step` span.
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
        let span = crate::spans::step_attempt(reserved, attempt);
        let outcome = self
            .attempt_in(reserved, options, attempt, f, &span)
            .instrument(span.clone())
            .await;
        crate::spans::record_attempt(&span, &outcome);
        outcome
    }

    async fn attempt_in<T, F, Fut>(
        &self,
        reserved: &Reservation,
        options: &StepOptions,
        attempt: u32,
        f: &mut F,
        span: &tracing::Span,
    ) -> Result<Attempt<T>, Halt>
    where
        T: Serialize,
        F: FnMut() -> Fut,
        Fut: Future<Output = TaskResult<T>>,
    {
        let started_at = self.now_wall();
        let completion = self.completion(reserved, attempt, started_at);
        let clock = Instant::now();
        let injected = self.config().hooks.as_ref().and_then(|hooks| {
            hooks.before_attempt(self.execution_id(), &reserved.name, &reserved.id())
        });
        let outcome = match injected {
            Some(err) => Err(err),
            None => {
                ATTEMPT
                    .scope(attempt, run_guarded(f, options.timeout))
                    .await
            }
        };
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
                crate::spans::record_error(span, err.message());
                return self
                    .attempt_failed(reserved, options, header, ran, err)
                    .await;
            }
        };
        match to_json(&value) {
            Ok(json) => {
                self.save_params(completion.save(json)).await?;
                if let Some(hooks) = &self.config().hooks {
                    if hooks.step_completed(self.execution_id()) {
                        // An armed crash: the worker dies before the handler goes on.
                        return Err(self.halt(Halt::LeaseLost));
                    }
                }
                Ok(Attempt::Done(Ok(value)))
            }
            Err(err) => {
                self.attempt_failed(reserved, options, header, ran, err)
                    .await
            }
        }
    }

    /// Records a failed attempt (`ran`: when it started and ended): scheduled for a
    /// retry when the error is retryable and attempts remain, dead otherwise.
    pub(crate) async fn attempt_failed<T>(
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
                    tracing::info!(step = %reserved.id(), attempt, error = %message, "step attempt failed; retrying");
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
        tracing::warn!(step = %reserved.id(), attempt, error = %message, "step failed for good");
        let record = AttemptWrite::failed(attempt, message.clone(), started_at, now);
        let step = StepWrite::dead(header, message.clone(), err.is_retryable(), now);
        self.save(step, Some(record)).await?;
        Ok(Attempt::Done(Err(dead(reserved, attempt, &message))))
    }

    /// Waits until `retry_at`: in place when the wait is short, otherwise by parking
    /// the execution so it holds no worker slot.
    pub(crate) async fn backoff(
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

/// Runs `fut` as attempt number `attempt`, for [`current_attempt`].
#[cfg(feature = "postgres")]
pub(crate) async fn in_attempt<F: Future>(attempt: u32, fut: F) -> F::Output {
    ATTEMPT.scope(attempt, fut).await
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
///
/// Inside a `ctx.sqlite_transaction` closure (which runs synchronously on the SQLite
/// writer thread, outside any task) it is the transactional step's attempt too.
pub fn current_attempt() -> Option<u32> {
    ATTEMPT
        .try_with(|a| *a)
        .ok()
        .or_else(|| SYNC_ATTEMPT.with(std::cell::Cell::get))
}

thread_local! {
    /// The attempt of a synchronous closure running on this thread (a SQLite
    /// transactional step, on the writer thread), for [`current_attempt`].
    static SYNC_ATTEMPT: std::cell::Cell<Option<u32>> = const { std::cell::Cell::new(None) };
}

/// Runs the synchronous `f` as attempt number `attempt`, for [`current_attempt`]; the
/// thread's previous value is restored afterwards, even if `f` panics.
pub(crate) fn in_sync_attempt<R>(attempt: u32, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<u32>);
    impl Drop for Restore {
        fn drop(&mut self) {
            SYNC_ATTEMPT.with(|a| a.set(self.0));
        }
    }
    let _restore = Restore(SYNC_ATTEMPT.with(|a| a.replace(Some(attempt))));
    f()
}

/// The end of one attempt.
pub(crate) enum Attempt<T> {
    /// The step's final result, recorded.
    Done(TaskResult<T>),
    /// The attempt failed and was recorded; the next runs at this instant.
    RetryAt(zart_core::Timestamp),
}

/// What [`Ctx::resume`] found in the journal.
pub(crate) enum Resume<T> {
    /// The step's recorded final result.
    Done(TaskResult<T>),
    /// The step runs again, after this many attempts.
    After(u32),
}

/// Everything the save of a successful attempt needs but its value and the time it
/// ended: built when the attempt starts, so that a store can build the save on
/// another thread, inside its own transaction (a transactional step). Every
/// completed step is saved through it, so a transactional step's entry is the row a
/// `ctx.step` writes.
pub(crate) struct Completion {
    guard: LeaseGuard,
    run_index: i32,
    header: StepHeader,
    /// No entry was recorded yet: it is first recorded when it completes.
    new_entry: bool,
    attempt: u32,
    started_at: Timestamp,
    clock: Arc<dyn Clock>,
}

impl Completion {
    /// The save of the completed entry with result `json`, at the clock's now.
    pub(crate) fn save(&self, json: Value) -> StepSave {
        let now = self.clock.now();
        let scheduled_at = if self.new_entry {
            now
        } else {
            self.header.scheduled_at
        };
        let header = StepHeader {
            retry_attempt: self.attempt,
            scheduled_at,
            ..self.header.clone()
        };
        StepSave {
            guard: LeaseGuard {
                now,
                ..self.guard.clone()
            },
            run_index: self.run_index,
            step: StepWrite::completed(header, Some(json), now),
            attempt: Some(AttemptWrite::completed(self.attempt, self.started_at, now)),
        }
    }
}

/// A step's value as its journaled JSON. A value that does not serialize fails the
/// step permanently: a step whose result is not journaled would run its side effect
/// again on every replay.
pub(crate) fn to_json<T: Serialize>(value: &T) -> TaskResult<Value> {
    serde_json::to_value(value)
        .map_err(|e| TaskError::permanent(format!("its result does not serialize to JSON: {e}")))
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
    guard_future(fut, timeout).await
}

/// Awaits an attempt's future, turning a panic or a timeout into a retryable error.
pub(crate) async fn guard_future<T, Fut>(
    fut: Fut,
    timeout: Option<std::time::Duration>,
) -> TaskResult<T>
where
    Fut: Future<Output = TaskResult<T>>,
{
    let guarded = AssertUnwindSafe(fut).catch_unwind();
    let outcome = match timeout {
        Some(limit) => match tokio::time::timeout(limit, guarded).await {
            Ok(outcome) => outcome,
            Err(_) => return Err(timed_out(limit)),
        },
        None => guarded.await,
    };
    outcome.unwrap_or_else(|panic| Err(panicked(panic)))
}

/// The error of an attempt that ran past its timeout.
pub(crate) fn timed_out(limit: std::time::Duration) -> TaskError {
    TaskError::retryable(format!("attempt timed out after {} ms", limit.as_millis()))
}

pub(crate) fn panicked(panic: Box<dyn std::any::Any + Send>) -> TaskError {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".to_owned());
    TaskError::retryable(format!("panicked: {message}"))
}

pub(crate) fn dead(reserved: &Reservation, attempts: u32, last_error: &str) -> TaskError {
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
