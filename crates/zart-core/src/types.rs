//! Domain types: executions, runs, steps, attempts and what a blocked execution waits for.
//!
//! These are the library's types; their HTTP wire shapes (camelCase names such as
//! `durableExecutionId`) live in `zart-api`. Only [`ExecutionError`] and the string
//! enums serialize here: the stores keep them in the database in that form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Timestamp;

/// An enum with a stable text form per variant: serde, `Display`, `FromStr`, `ALL`
/// and `as_str` (and, with the `openapi` feature, its schema) all come from the one
/// `Variant => "text"` list. The first doc line is the schema's description.
macro_rules! string_enum {
    (#[doc = $summary:expr] $(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        #[doc = $summary]
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable text form used in JSON and in the database.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        #[cfg(feature = "openapi")]
        crate::openapi::string_enum_schema!($name, $summary);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownVariant {
                        kind: stringify!($name),
                        value: s.to_owned(),
                        expected: &[$($text),+],
                    }),
                }
            }
        }
    };
}

/// A string that names no variant of an enum; its message lists the accepted values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {value:?}: expected one of {}", expected.join(", "))]
pub struct UnknownVariant {
    /// The enum's name.
    pub kind: &'static str,
    /// The rejected text.
    pub value: String,
    /// The accepted texts.
    pub expected: &'static [&'static str],
}

string_enum!(
    /// The lifecycle state of an execution.
    ///
    /// `running` covers every started, unfinished execution, including one that is
    /// suspended (sleeping, waiting for an event or a child, or in retry backoff);
    /// [`ExecutionRecord::waiting_for`] says what it is blocked on.
    ExecutionStatus {
        /// Created, never started.
        Scheduled => "scheduled",
        /// Started and not finished.
        Running => "running",
        /// Finished with a result.
        Completed => "completed",
        /// Finished with an error.
        Failed => "failed",
        /// Cancelled by a user (or because its parent was cancelled).
        Cancelled => "cancelled",
    }
);

impl ExecutionStatus {
    /// Whether the execution has finished for good.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

string_enum!(
    /// The state of one step (one journal entry).
    StepStatus {
        /// Waiting: a timer, an event, a child, or a retry backoff.
        Scheduled => "scheduled",
        /// An attempt is in progress.
        Running => "running",
        /// Finished; its result is memoized.
        Completed => "completed",
        /// Out of attempts (or failed permanently).
        Dead => "dead",
    }
);

string_enum!(
    /// What happens to an unfinished child when its parent completes, fails or is
    /// cancelled.
    #[derive(Default)]
    ParentClosePolicy {
        /// The child is cancelled with its parent (and so are its own children whose
        /// policy is `cancel`). The default.
        #[default]
        Cancel => "cancel",
        /// The child and its subtree keep running on their own.
        Abandon => "abandon",
    }
);

string_enum!(
    /// What a journal entry records.
    StepKind {
        /// A side effect run by `ctx.step`.
        Step => "step",
        /// A durable timer.
        Sleep => "sleep",
        /// A wait for a named event.
        WaitForEvent => "wait_for_event",
        /// The creation of a child execution; the result is the child's id.
        Spawn => "spawn",
        /// A wait for a child execution's outcome.
        Child => "child",
        /// A journaled `ctx.now()`.
        Now => "now",
        /// A journaled `ctx.uuid()`.
        Uuid => "uuid",
        /// A journaled `ctx.random()`.
        Random => "random",
        /// A patch marker recorded by `ctx.patch`: this execution took the patched path.
        Patch => "patch",
    }
);

string_enum!(
    /// Why a run was started.
    RunTrigger {
        /// The first run of an execution.
        Initial => "initial",
        /// A restart from the beginning.
        Restart => "restart",
        /// A rerun of selected steps.
        SelectiveRerun => "selective_rerun",
    }
);

string_enum!(
    /// What an operator action did.
    ActionKind {
        /// A dead step got a fresh attempt budget.
        RetryStep => "retry_step",
        /// A new run with an empty journal.
        Restart => "restart",
        /// A new run that keeps some steps' results.
        SelectiveRerun => "selective_rerun",
    }
);

string_enum!(
    /// The outcome of one step attempt.
    AttemptStatus {
        /// The attempt is in progress.
        Running => "running",
        /// The attempt succeeded.
        Completed => "completed",
        /// The attempt failed.
        Failed => "failed",
    }
);

string_enum!(
    /// The class of an execution failure.
    ErrorKind {
        /// A step ran out of attempts or failed permanently.
        StepFailed => "step_failed",
        /// The handler itself returned an error.
        Handler => "handler_error",
        /// The handler panicked outside a step.
        Panic => "panic",
        /// Replay reached a different step than the journal recorded.
        NonDeterminism => "non_determinism",
        /// The execution deadline passed.
        DeadlineExceeded => "deadline_exceeded",
        /// A wait for an event timed out and the handler did not handle it.
        EventTimeout => "event_timeout",
        /// The payload does not deserialize into the handler's input type.
        InvalidInput => "invalid_input",
        /// No handler is registered under the execution's task name.
        UnknownTask => "unknown_task",
        /// A child execution failed or was cancelled.
        ChildFailed => "child_failed",
    }
);

/// Why an execution failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionError {
    /// The class of failure.
    pub kind: ErrorKind,
    /// A human-readable message.
    pub message: String,
    /// The failing step (or wait), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// How many attempts the failing step made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
}

/// What a non-terminal execution is blocked on.
#[derive(Debug, Clone, PartialEq)]
pub enum WaitingFor {
    /// A durable timer.
    Timer {
        /// The sleep's step name.
        step: String,
        /// When it fires.
        due_at: Timestamp,
    },
    /// An event.
    Event {
        /// The event name.
        name: String,
        /// When the wait times out, if ever.
        deadline: Option<Timestamp>,
    },
    /// A child execution.
    Child {
        /// The child's id.
        execution_id: String,
    },
    /// A retry backoff.
    Retry {
        /// The failing step.
        step: String,
        /// The attempt that will run next.
        attempt: u32,
        /// When it runs.
        retry_at: Timestamp,
    },
    /// A worker holds the execution (it is running right now, or its worker died and
    /// the lease has not yet expired).
    Lease {
        /// The worker holding it.
        worker_id: String,
        /// When the lease was taken.
        since: Timestamp,
        /// When the lease expires unless renewed.
        expires_at: Timestamp,
    },
    /// A pause rule holds it (it parked before a step the rule matches).
    Pause {
        /// The rule.
        rule_id: String,
        /// When the rule expires, if ever.
        expires_at: Option<Timestamp>,
    },
    /// Due, but its named queue has no free slot (flow control).
    Queue {
        /// The queue.
        queue: String,
        /// Why it is not running: `concurrency` (the queue's limit is reached),
        /// `key` (its concurrency key's limit is reached) or `rate` (the queue's
        /// rate limit is used up for now).
        reason: QueueWaitReason,
    },
}

/// Why a due execution of a named queue is not running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueWaitReason {
    /// The queue's concurrency limit is reached (or no worker serving the queue has a
    /// free slot).
    Concurrency,
    /// The queue's rate limit is used up for now (its last claim left no token).
    Rate,
    /// Its concurrency key already runs as many executions as the queue's per-key
    /// limit allows.
    Key,
}

impl QueueWaitReason {
    /// The reason as the HTTP API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueWaitReason::Concurrency => "concurrency",
            QueueWaitReason::Rate => "rate",
            QueueWaitReason::Key => "key",
        }
    }
}

impl WaitingFor {
    /// The kind of wait, as the HTTP API's `waitingFor.kind` spells it: `timer`,
    /// `event`, `child`, `retry` or `lease`.
    pub fn kind(&self) -> &'static str {
        match self {
            WaitingFor::Timer { .. } => "timer",
            WaitingFor::Event { .. } => "event",
            WaitingFor::Child { .. } => "child",
            WaitingFor::Retry { .. } => "retry",
            WaitingFor::Lease { .. } => "lease",
            WaitingFor::Pause { .. } => "pause",
            WaitingFor::Queue { .. } => "queue",
        }
    }
}

/// One execution, as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionRecord {
    /// The task name.
    pub task_name: String,
    /// The execution id.
    pub id: String,
    /// The input payload of the current run.
    pub payload: Value,
    /// The lifecycle state.
    pub status: ExecutionStatus,
    /// When the execution was created.
    pub scheduled_at: Timestamp,
    /// When it finished.
    pub completed_at: Option<Timestamp>,
    /// Row version: increases with every change of the execution's state.
    pub version: i64,
    /// The handler's output, once completed.
    pub result: Option<Value>,
    /// Why it failed, once failed.
    pub error: Option<ExecutionError>,
    /// What it is blocked on, while not terminal.
    pub waiting_for: Option<WaitingFor>,
    /// The current run (1 for the initial run).
    pub run_index: i32,
    /// When the first run started.
    pub started_at: Option<Timestamp>,
    /// When the execution last changed.
    pub updated_at: Timestamp,
    /// The parent execution, for a child.
    pub parent_id: Option<String>,
    /// The execution deadline, if any.
    pub deadline_at: Option<Timestamp>,
    /// Its named queue (`None`: the default queue).
    pub queue: Option<String>,
    /// Its priority within the queue (lower runs first).
    pub priority: i32,
}

/// Counts of executions by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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

/// The id of run `run_index` of an execution: `"{execution_id}:{run_index}"`.
pub fn run_id(execution_id: &str, run_index: i32) -> String {
    format!("{execution_id}:{run_index}")
}

/// One run of an execution.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// `"{executionId}:{runIndex}"` (see [`run_id`]).
    pub run_id: String,
    /// The execution.
    pub execution_id: String,
    /// 1 for the initial run.
    pub run_index: i32,
    /// The run's input.
    pub payload: Value,
    /// The run's state (same values as the execution's).
    pub status: ExecutionStatus,
    /// The run's output.
    pub result: Option<Value>,
    /// When it started.
    pub started_at: Option<Timestamp>,
    /// When it finished.
    pub completed_at: Option<Timestamp>,
    /// Why it started.
    pub trigger: RunTrigger,
    /// Who started it, for a run an operator action started.
    pub triggered_by: Option<String>,
    /// When that action was taken.
    pub triggered_at: Option<Timestamp>,
}

/// One event of an execution's inbox, as [`Store::event_list`](crate::Store::event_list)
/// shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// Its sequence number: events of a name are consumed in this order.
    pub sequence: i64,
    /// The event name.
    pub name: String,
    /// The payload it was offered with.
    pub payload: Value,
    /// When it was offered.
    pub received_at: Timestamp,
    /// When a wait consumed it; `None` while it is pending.
    pub consumed_at: Option<Timestamp>,
    /// The step id (`name#occurrence`) of the wait that consumed it.
    pub consumed_by: Option<String>,
    /// The idempotency key it was offered with, if any.
    pub idempotency_key: Option<String>,
}

/// One journal entry of a run (a step, a timer, a wait, a journaled value).
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    /// `"{name}#{occurrence}"`: unique within a run.
    pub step_id: String,
    /// The name given in code.
    pub name: String,
    /// 0 for the first call with this name in the run, 1 for the second, ...
    pub occurrence: u32,
    /// The order in which the code reached this entry (0-based).
    pub position: u32,
    /// What the entry records.
    pub kind: StepKind,
    /// Its state.
    pub status: StepStatus,
    /// Attempts made so far.
    pub retry_attempt: u32,
    /// Attempts made before the last operator retry of this step (0 if none): the
    /// retry policy's budget counts the attempts after it.
    pub attempt_base: u32,
    /// The memoized value, once completed.
    pub result: Option<Value>,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// Whether the last error may be retried.
    pub retryable: bool,
    /// When the entry was first recorded.
    pub scheduled_at: Timestamp,
    /// When it completed (or died).
    pub completed_at: Option<Timestamp>,
    /// For timers, waits and backoffs: when the entry is due.
    pub wake_at: Option<Timestamp>,
    /// Every finished attempt, oldest first. Empty in a journal loaded for replay.
    pub attempts: Vec<AttemptRecord>,
}

impl StepRecord {
    /// Gives every completed attempt without a result of its own the step's result:
    /// only the attempt that completed the step has one, and stores keep it once, in
    /// the step.
    pub fn fill_attempt_results(&mut self) {
        for attempt in &mut self.attempts {
            if attempt.status == AttemptStatus::Completed && attempt.result.is_none() {
                attempt.result.clone_from(&self.result);
            }
        }
    }
}

/// One attempt at a step.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    /// 1-based.
    pub attempt_number: u32,
    /// The outcome.
    pub status: AttemptStatus,
    /// The value returned, on success.
    pub result: Option<Value>,
    /// The error, on failure.
    pub error: Option<String>,
    /// When it started.
    pub started_at: Timestamp,
    /// When it ended.
    pub completed_at: Option<Timestamp>,
}

/// Everything known about one execution: for the admin detail view.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionDetail {
    /// The execution.
    pub execution: ExecutionRecord,
    /// All runs, oldest first.
    pub runs: Vec<RunRecord>,
    /// The selected run's journal, by position, with attempts.
    pub steps: Vec<StepRecord>,
    /// The operator actions taken on the execution, oldest first.
    pub actions: Vec<crate::ActionRecord>,
}

/// `"{name}#{occurrence}"`, the id of a step within a run.
pub fn step_id(name: &str, occurrence: u32) -> String {
    format!("{name}#{occurrence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_and_rejects_unknown_text() {
        for s in ExecutionStatus::ALL {
            assert_eq!(s.as_str().parse::<ExecutionStatus>().unwrap(), *s);
        }
        let err = "done".parse::<ExecutionStatus>().unwrap_err();
        assert!(err.to_string().contains("scheduled, running"), "{err}");
    }
}
