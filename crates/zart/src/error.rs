//! Errors seen by task handlers ([`TaskError`]) and by client callers ([`ClientError`]).

use std::fmt;

use zart_core::{ErrorKind, ExecutionError, StoreError};

/// The error type of handlers and steps.
///
/// Any `std::error::Error` converts into it with `?` (as a *retryable* error when it
/// fails a step). Use [`TaskError::permanent`] for a failure that retrying cannot fix.
/// Errors produced by the engine carry a kind: a step that ran out of attempts
/// ([`TaskError::is_step_failed`]), a wait that timed out ([`TaskError::is_timeout`]),
/// a failed child.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskError {
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
    pub(crate) step: Option<String>,
    pub(crate) attempts: Option<u32>,
    pub(crate) retryable: bool,
}

impl TaskError {
    /// A failure that may succeed when retried.
    pub fn retryable(message: impl fmt::Display) -> Self {
        Self::handler(message.to_string(), true)
    }

    /// A failure that retrying cannot fix: a step failing with it is not retried.
    pub fn permanent(message: impl fmt::Display) -> Self {
        Self::handler(message.to_string(), false)
    }

    fn handler(message: String, retryable: bool) -> Self {
        Self {
            kind: ErrorKind::Handler,
            message,
            step: None,
            attempts: None,
            retryable,
        }
    }

    pub(crate) fn engine(kind: ErrorKind, message: String, step: Option<String>) -> Self {
        Self {
            kind,
            message,
            step,
            attempts: None,
            retryable: false,
        }
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The step (or wait) this error comes from, if any.
    pub fn step(&self) -> Option<&str> {
        self.step.as_deref()
    }

    /// How many attempts the failing step made, for a dead step.
    pub fn attempts(&self) -> Option<u32> {
        self.attempts
    }

    /// The class of the error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether a step failing with this error may be retried.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// Whether this is a `wait_for_event` that timed out.
    pub fn is_timeout(&self) -> bool {
        self.kind == ErrorKind::EventTimeout
    }

    /// Whether this is a step that ran out of attempts or failed permanently.
    pub fn is_step_failed(&self) -> bool {
        self.kind == ErrorKind::StepFailed
    }

    /// The structured error recorded on a failed execution.
    pub fn to_execution_error(&self) -> ExecutionError {
        ExecutionError {
            kind: self.kind,
            message: self.message.clone(),
            step: self.step.clone(),
            attempts: self.attempts,
        }
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.step {
            Some(step) => write!(f, "{} (step {step:?})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for TaskError {
    fn from(err: E) -> Self {
        let mut message = err.to_string();
        let mut source = err.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Self::retryable(message)
    }
}

/// Result of handlers and steps.
pub type TaskResult<T> = Result<T, TaskError>;

/// An error from a [`Client`](crate::Client) call. Each variant maps to one HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// No such execution (404).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the execution's state (409).
    #[error("{0}")]
    Conflict(String),
    /// No handler is registered under that task name (422).
    #[error("{0}")]
    UnknownTask(String),
    /// The request is well-formed but names what does not exist, or lacks what it
    /// needs (422): a rerun of a step the run does not hold, a pause rule without a
    /// selector.
    #[error("{0}")]
    Unprocessable(String),
    /// The request is malformed (400).
    #[error("{0}")]
    InvalidInput(String),
    /// The execution's inbox is full: the event was not stored (429).
    #[error("{0}")]
    InboxFull(String),
    /// The execution did not finish in time (504).
    #[error("{0}")]
    Timeout(String),
    /// A typed wait ([`Client::wait_task`](crate::Client::wait_task)) met an
    /// execution that failed; `error` is its structured error (409).
    #[error("execution {id:?} failed: {}", failure(error))]
    Failed {
        /// The execution id.
        id: String,
        /// Why it failed, as recorded on the execution.
        error: Box<ExecutionError>,
    },
    /// A typed wait met an execution that was cancelled (409).
    #[error("execution {id:?} was cancelled")]
    Cancelled {
        /// The execution id.
        id: String,
    },
    /// A typed call met an execution of another task, or a result that does not
    /// deserialize into the task's output type (422).
    #[error("{0}")]
    TypeMismatch(String),
    /// The store is unreachable (503). The message is for logs only.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A bug or corrupt data (500). The message is for logs only.
    #[error("internal error: {0}")]
    Internal(String),
}

/// An execution error as one line: the message, and the step it names.
fn failure(error: &ExecutionError) -> String {
    match &error.step {
        Some(step) => format!("{} ({}, step {step:?})", error.message, error.kind),
        None => format!("{} ({})", error.message, error.kind),
    }
}

impl From<StoreError> for ClientError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(m) => ClientError::Unavailable(m),
            StoreError::Conflict(m) => ClientError::Conflict(m),
            StoreError::InvalidInput(m) => ClientError::InvalidInput(m),
            StoreError::Internal(m) => ClientError::Internal(m),
        }
    }
}
