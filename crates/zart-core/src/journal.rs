//! Journal entries to write: a step's state ([`StepWrite`]), the attempt that produced
//! it ([`AttemptWrite`]) and the guarded save of both ([`StepSave`]).
//!
//! Each state has its own constructor (`StepWrite::completed`, `::dead`, ...), so a
//! caller names the state it records instead of patching fields of a default; the
//! fields stay public because stores read them and the conformance suite writes
//! arbitrary combinations.

use serde_json::Value;

use crate::{AttemptStatus, LeaseGuard, StepKind, StepStatus, Timestamp};

/// What every state of a journal entry shares: which call of the run it records, when
/// it was first recorded, and how many attempts it has made.
#[derive(Debug, Clone, PartialEq)]
pub struct StepHeader {
    /// The name given in code.
    pub name: String,
    /// The occurrence index of that name in the run.
    pub occurrence: u32,
    /// The order in which the code reached it.
    pub position: u32,
    /// What it records.
    pub kind: StepKind,
    /// Attempts made so far.
    pub retry_attempt: u32,
    /// When the entry was first recorded (kept on update).
    pub scheduled_at: Timestamp,
}

/// One journal entry to write (insert or update, keyed by run, name and occurrence).
#[derive(Debug, Clone, PartialEq)]
pub struct StepWrite {
    /// The name given in code.
    pub name: String,
    /// The occurrence index of that name in the run.
    pub occurrence: u32,
    /// The order in which the code reached it.
    pub position: u32,
    /// What it records.
    pub kind: StepKind,
    /// Its new state.
    pub status: StepStatus,
    /// The memoized value (for `completed`).
    pub result: Option<Value>,
    /// The last error.
    pub last_error: Option<String>,
    /// Whether the last error may be retried.
    pub retryable: bool,
    /// Attempts made so far.
    pub retry_attempt: u32,
    /// When the entry was first recorded (kept on update).
    pub scheduled_at: Timestamp,
    /// When it completed or died.
    pub completed_at: Option<Timestamp>,
    /// When a timer, wait deadline or retry is due.
    pub wake_at: Option<Timestamp>,
}

impl StepWrite {
    /// The entry in `status` with nothing else recorded: no result, error or times.
    fn bare(header: StepHeader, status: StepStatus) -> Self {
        Self {
            name: header.name,
            occurrence: header.occurrence,
            position: header.position,
            kind: header.kind,
            status,
            result: None,
            last_error: None,
            retryable: false,
            retry_attempt: header.retry_attempt,
            scheduled_at: header.scheduled_at,
            completed_at: None,
            wake_at: None,
        }
    }

    /// An attempt is in progress.
    pub fn running(header: StepHeader) -> Self {
        Self::bare(header, StepStatus::Running)
    }

    /// A timer or a wait, due at `wake_at`.
    pub fn scheduled(header: StepHeader, wake_at: Timestamp) -> Self {
        Self {
            wake_at: Some(wake_at),
            ..Self::bare(header, StepStatus::Scheduled)
        }
    }

    /// A step in retry backoff after a retryable `last_error`: the next attempt runs at
    /// `retry_at`.
    pub fn retrying(header: StepHeader, last_error: String, retry_at: Timestamp) -> Self {
        Self {
            last_error: Some(last_error),
            retryable: true,
            wake_at: Some(retry_at),
            ..Self::bare(header, StepStatus::Scheduled)
        }
    }

    /// Completed at `now` with its memoized `result`.
    pub fn completed(header: StepHeader, result: Option<Value>, now: Timestamp) -> Self {
        Self {
            result,
            completed_at: Some(now),
            ..Self::bare(header, StepStatus::Completed)
        }
    }

    /// A timer that fired, or a wait that was answered, at `now`; `due_at` (the timer's
    /// due time, the wait's deadline) stays recorded. A consumed event's payload is
    /// filled in by the store.
    pub fn fired(header: StepHeader, due_at: Timestamp, now: Timestamp) -> Self {
        Self {
            wake_at: Some(due_at),
            ..Self::completed(header, None, now)
        }
    }

    /// Dead at `now`: out of attempts, failed permanently, or its child failed.
    /// `retryable` says whether `last_error` itself could have been retried.
    pub fn dead(header: StepHeader, last_error: String, retryable: bool, now: Timestamp) -> Self {
        Self {
            last_error: Some(last_error),
            retryable,
            completed_at: Some(now),
            ..Self::bare(header, StepStatus::Dead)
        }
    }

    /// A wait whose `deadline` passed with no event, recorded dead at `now`.
    pub fn timed_out(header: StepHeader, deadline: Timestamp, now: Timestamp) -> Self {
        Self {
            wake_at: Some(deadline),
            ..Self::dead(header, "timed out".to_owned(), false, now)
        }
    }
}

/// One attempt to record with a [`StepSave`].
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptWrite {
    /// 1-based.
    pub attempt_number: u32,
    /// Outcome.
    pub status: AttemptStatus,
    /// Value on success.
    pub result: Option<Value>,
    /// Error on failure.
    pub error: Option<String>,
    /// Start time.
    pub started_at: Timestamp,
    /// End time.
    pub completed_at: Option<Timestamp>,
}

impl AttemptWrite {
    /// An attempt that succeeded: its value is the step's result, so it records none of
    /// its own.
    pub fn completed(attempt_number: u32, started_at: Timestamp, now: Timestamp) -> Self {
        Self {
            attempt_number,
            status: AttemptStatus::Completed,
            result: None,
            error: None,
            started_at,
            completed_at: Some(now),
        }
    }

    /// An attempt that failed with `error`.
    pub fn failed(
        attempt_number: u32,
        error: String,
        started_at: Timestamp,
        now: Timestamp,
    ) -> Self {
        Self {
            attempt_number,
            status: AttemptStatus::Failed,
            result: None,
            error: Some(error),
            started_at,
            completed_at: Some(now),
        }
    }
}

/// Parameters of [`crate::Store::step_save`].
#[derive(Debug, Clone, PartialEq)]
pub struct StepSave {
    /// The worker's lease.
    pub guard: LeaseGuard,
    /// The run the step belongs to.
    pub run_index: i32,
    /// The journal entry.
    pub step: StepWrite,
    /// The attempt that produced this state, if any.
    pub attempt: Option<AttemptWrite>,
}

impl StepSave {
    /// When the attempt is the one that completed the step, and says nothing the
    /// step row does not (its number is the step's `retry_attempt`, its end the
    /// step's `completed_at`, no result or error of its own), its start: a store may
    /// then keep it in the step row rather than as an attempt row of its own, which
    /// is what a first attempt that succeeds, the common case, costs. It must still
    /// read back as an attempt, and a later save of the step must not lose it.
    pub fn inline_attempt_start(&self) -> Option<Timestamp> {
        let a = self.attempt.as_ref()?;
        let inline = a.status == AttemptStatus::Completed
            && self.step.status == StepStatus::Completed
            && a.attempt_number == self.step.retry_attempt
            && a.completed_at == self.step.completed_at
            && a.result.is_none()
            && a.error.is_none();
        inline.then_some(a.started_at)
    }
}
