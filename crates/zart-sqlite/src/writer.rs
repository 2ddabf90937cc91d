//! The writer thread: the only connection that writes, with group commit.
//!
//! Callers send a write op over a channel with a oneshot reply. The thread drains
//! everything queued (up to the batch limit), runs the batch in one
//! `BEGIN IMMEDIATE ... COMMIT` (re-run with a `SAVEPOINT` per op if an op fails, so a
//! failing op rolls back only its own changes), and replies to each caller only after `COMMIT` returned. Many
//! concurrent step saves therefore share one fsync while each caller still awaits its
//! own durable commit. Signals collected by the ops of a batch are broadcast after the
//! commit.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::oneshot;
use zart_core::{Signal, StoreError, StoreResult};

use crate::error::SqlResultExt;
use crate::signals::Signals;

/// A queued op. `run` may be called more than once: a batch in which an op fails is
/// rolled back and run again with a savepoint per op. `reply` answers the caller with
/// the last run's result, or with `commit_error` if the batch did not commit.
trait Op: Send {
    /// Runs the op; `true` if it failed (its changes must not be kept).
    fn run(&mut self, conn: &Connection) -> bool;
    /// The signals of the last run, to send once the batch committed.
    fn take_signals(&mut self) -> Vec<Signal>;
    /// Answers the caller.
    fn reply(self: Box<Self>, commit_error: Option<StoreError>);
}

struct TypedOp<T, F> {
    op: F,
    signals: Vec<Signal>,
    result: Option<StoreResult<T>>,
    tx: oneshot::Sender<StoreResult<T>>,
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

type Job = Box<dyn Op>;

/// Counters of the writer, for tests and metrics.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) batches: AtomicU64,
    pub(crate) ops: AtomicU64,
}

/// Handle to the writer thread. Dropping every handle stops the thread.
#[derive(Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread owning `conn`.
    pub(crate) fn spawn(
        conn: Connection,
        max_batch: usize,
        signals: Signals,
        counters: Arc<Counters>,
    ) -> StoreResult<Writer> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let batcher = Batcher {
            conn,
            max_batch: max_batch.max(1),
            signals,
            counters,
        };
        std::thread::Builder::new()
            .name("zart-sqlite-writer".into())
            .spawn(move || batcher.run(rx))
            .map_err(|e| {
                StoreError::Internal(format!("cannot start the SQLite writer thread: {e}"))
            })?;
        Ok(Writer { jobs })
    }

    /// Runs `op` in the next batch and resolves once that batch committed. `op` may
    /// push signals, which are sent only if the batch commits. `op` may run more than
    /// once (only the last run's changes are kept), so it must depend on nothing but
    /// the database and what it captured.
    pub(crate) async fn run<T, F>(&self, op: F) -> StoreResult<T>
    where
        F: Fn(&Connection, &mut Vec<Signal>) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(TypedOp {
            op,
            signals: Vec::new(),
            result: None,
            tx,
        });
        self.jobs
            .send(job)
            .map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Internal("the SQLite write was aborted".into()))?
    }
}

struct Batcher {
    conn: Connection,
    max_batch: usize,
    signals: Signals,
    counters: Arc<Counters>,
}

impl Batcher {
    fn run(self, rx: mpsc::Receiver<Job>) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < self.max_batch {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            self.commit_batch(batch);
        }
    }

    /// Runs the batch in one transaction and answers every caller after `COMMIT`.
    /// Fast path: no savepoints. If any op fails, the whole transaction is rolled back
    /// and the batch runs again with a savepoint per op, so the failing op's changes
    /// are undone while the others commit (statement journals make savepoints cost a
    /// fifth of the writer's time, so they are only paid when needed).
    fn commit_batch(&self, mut batch: Vec<Job>) {
        if let Err(e) = self.begin() {
            tracing::error!(error = %e, "cannot begin a SQLite write transaction");
            batch.into_iter().for_each(|job| job.reply(Some(e.clone())));
            return;
        }
        let mut failed = vec![false; batch.len()];
        let clean = batch.iter_mut().all(|job| !job.run(&self.conn));
        if !clean {
            let _ = exec(&self.conn, "ROLLBACK");
            if let Err(e) = self.begin() {
                batch.into_iter().for_each(|job| job.reply(Some(e.clone())));
                return;
            }
            for (job, failed) in batch.iter_mut().zip(failed.iter_mut()) {
                *failed = self.run_in_savepoint(job.as_mut());
            }
        }
        let commit = exec(&self.conn, "COMMIT");
        if commit.is_err() {
            let _ = exec(&self.conn, "ROLLBACK");
        }
        self.counters.batches.fetch_add(1, Ordering::Relaxed);
        self.counters
            .ops
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        let commit_error = commit.err();
        for (mut job, failed) in batch.into_iter().zip(failed) {
            if commit_error.is_none() && !failed {
                job.take_signals()
                    .into_iter()
                    .for_each(|s| self.signals.send(s));
            }
            job.reply(commit_error.clone());
        }
    }

    /// Runs one op inside its own savepoint, rolled back if the op fails; `true` then.
    fn run_in_savepoint(&self, job: &mut dyn Op) -> bool {
        if let Err(e) = exec(&self.conn, "SAVEPOINT op") {
            tracing::error!(error = %e, "cannot open a SQLite savepoint");
            return true;
        }
        let failed = job.run(&self.conn);
        if failed {
            let _ = exec(&self.conn, "ROLLBACK TO op");
        }
        let _ = exec(&self.conn, "RELEASE op");
        failed
    }

    /// `BEGIN IMMEDIATE`, retried while another process holds the write lock, so
    /// `SQLITE_BUSY` never reaches a caller while the lock is merely contended.
    fn begin(&self) -> StoreResult<()> {
        let mut delay = Duration::from_millis(5);
        for _ in 0..20 {
            match exec(&self.conn, "BEGIN IMMEDIATE") {
                Err(StoreError::Unavailable(_)) => std::thread::sleep(delay),
                other => return other,
            }
            delay = (delay * 2).min(Duration::from_millis(500));
        }
        exec(&self.conn, "BEGIN IMMEDIATE")
    }
}

/// Runs a parameterless statement through the statement cache.
fn exec(conn: &Connection, sql: &str) -> StoreResult<()> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .db()?;
    Ok(())
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
