//! A write op as the writer thread holds it: run (perhaps more than once), its
//! signals, and the answer to its caller.

use std::panic::{catch_unwind, AssertUnwindSafe};

use rusqlite::Connection;
use tokio::sync::oneshot;
use zart_core::{Signal, StoreError, StoreResult};

use crate::signals::Signals;

/// A queued op. `run` may be called more than once: a batch in which an op fails is
/// rolled back and run again with a savepoint per op. `reply` answers the caller with
/// the last run's result, or with `commit_error` if the batch did not commit.
pub(crate) trait Op: Send {
    /// Runs the op; `true` if it failed (its changes must not be kept).
    fn run(&mut self, conn: &Connection) -> bool;
    /// The signals of the last run, to send once the batch committed.
    fn take_signals(&mut self) -> Vec<Signal>;
    /// Answers the caller.
    fn reply(self: Box<Self>, commit_error: Option<StoreError>);
    /// Whether the op runs alone: in a transaction it opens itself, on a
    /// connection with none open, committed by the writer if the op leaves it open
    /// (see [`AloneOp`]).
    fn alone(&self) -> bool {
        false
    }
}

/// An op with its caller's reply channel.
pub(crate) struct TypedOp<T, F> {
    op: F,
    signals: Vec<Signal>,
    result: Option<StoreResult<T>>,
    tx: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> TypedOp<T, F> {
    /// `op`, whose last run's result is sent on `tx`.
    pub(crate) fn new(op: F, tx: oneshot::Sender<StoreResult<T>>) -> Self {
        Self {
            op,
            signals: Vec::new(),
            result: None,
            tx,
        }
    }
}

impl<T, F> Op for TypedOp<T, F>
where
    F: Fn(&Connection, &mut Vec<Signal>) -> StoreResult<T> + Send,
    T: Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        self.signals.clear();
        let outcome = catch_unwind(AssertUnwindSafe(|| (self.op)(conn, &mut self.signals)));
        let result = outcome.unwrap_or_else(|_| {
            tracing::error!("a SQLite write op panicked; its changes were rolled back");
            Err(StoreError::Internal("the SQLite write was aborted".into()))
        });
        let failed = result.is_err();
        self.result = Some(result);
        failed
    }

    fn take_signals(&mut self) -> Vec<Signal> {
        std::mem::take(&mut self.signals)
    }

    fn reply(self: Box<Self>, commit_error: Option<StoreError>) {
        let answer = match (commit_error, self.result) {
            (Some(e), _) => Err(e),
            (None, Some(result)) => result,
            (None, None) => Err(StoreError::Internal("the SQLite write never ran".into())),
        };
        let _ = self.tx.send(answer);
    }
}

/// An op that runs alone, exactly once: the writer commits what is open first and
/// hands it a connection without a transaction. The op opens one (the
/// application's closures need a `rusqlite::Transaction` of their own) and either
/// leaves it open, to be committed by the writer like a batch of one (durably,
/// through the syncer), or rolls it back. It is never re-run, so it may run
/// application code that must run once per call.
pub(crate) struct AloneOp<T, F> {
    op: Option<F>,
    signals: Vec<Signal>,
    result: Option<StoreResult<T>>,
    tx: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> AloneOp<T, F> {
    /// `op`, whose result is sent on `tx`.
    pub(crate) fn new(op: F, tx: oneshot::Sender<StoreResult<T>>) -> Self {
        Self {
            op: Some(op),
            signals: Vec::new(),
            result: None,
            tx,
        }
    }
}

impl<T, F> Op for AloneOp<T, F>
where
    F: FnOnce(&Connection, &mut Vec<Signal>) -> StoreResult<T> + Send,
    T: Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let result = match self.op.take() {
            Some(op) => catch_unwind(AssertUnwindSafe(|| op(conn, &mut self.signals)))
                .unwrap_or_else(|_| {
                    tracing::error!("a SQLite transaction op panicked; it was rolled back");
                    Err(StoreError::Internal(
                        "the SQLite transaction was aborted".into(),
                    ))
                }),
            None => Err(StoreError::Internal(
                "a SQLite transaction op ran twice".into(),
            )),
        };
        let failed = result.is_err();
        self.result = Some(result);
        failed
    }

    fn take_signals(&mut self) -> Vec<Signal> {
        std::mem::take(&mut self.signals)
    }

    fn reply(self: Box<Self>, commit_error: Option<StoreError>) {
        let answer = match (commit_error, self.result) {
            (Some(e), _) => Err(e),
            (None, Some(result)) => result,
            (None, None) => Err(StoreError::Internal("the SQLite write never ran".into())),
        };
        let _ = self.tx.send(answer);
    }

    fn alone(&self) -> bool {
        true
    }
}

/// A queued op, boxed.
pub(crate) type Job = Box<dyn Op>;

/// The replies of a batch that ran: each op, and whether it failed (its changes were
/// rolled back, so its signals are dropped).
pub(crate) struct Answers {
    pub(crate) jobs: Vec<(Job, bool)>,
}

impl Answers {
    /// Answers every caller: with `error` if the batch did not become durable,
    /// otherwise with its op's result, sending the signals of the ops that succeeded.
    pub(crate) fn deliver(self, error: Option<StoreError>, signals: &Signals) {
        for (mut job, failed) in self.jobs {
            if error.is_none() && !failed {
                job.take_signals().into_iter().for_each(|s| signals.send(s));
            }
            job.reply(error.clone());
        }
    }
}
