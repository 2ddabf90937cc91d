//! The writer thread: the only connection that writes, with group commit.
//!
//! Callers send a write op over a channel with a oneshot reply. The thread runs ops
//! as they arrive inside one `BEGIN IMMEDIATE` transaction (re-run with a `SAVEPOINT`
//! per op once an op fails, so a failing op rolls back only its own changes), commits
//! when nothing more is queued or the batch is full, and replies to each caller only
//! once the commit is durable. Many concurrent step saves therefore share one fsync
//! while each caller still awaits its own durable commit. Signals collected by the ops
//! of a batch are broadcast with the replies.
//!
//! With a syncer (file databases at the default durability), the fsync runs on the
//! syncer thread: while it is in flight this thread keeps running newly arrived ops
//! in the next, still open transaction, and commits that one as soon as the fsync is
//! done (or the batch is full). The disk is never idle while work waits, and batches
//! grow with the load. See [`crate::durable`].

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::oneshot;
use zart_core::{Signal, StoreError, StoreResult};

use crate::durable::{sync_failed, Committed, DurablePoint, SyncFn, Syncer};
use crate::error::{take_io_failure, SqlResultExt};
use crate::health::{writer_stopped, Health};
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

pub(crate) type Job = Box<dyn Op>;

/// Counters of the writer, for tests and metrics.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) batches: AtomicU64,
    pub(crate) ops: AtomicU64,
    /// Fsyncs of the WAL by the syncer thread (each covers one or more batches).
    pub(crate) syncs: AtomicU64,
}

/// The replies of a batch that ran: each op, and whether it failed (its changes were
/// rolled back, so its signals are dropped).
pub(crate) struct Answers {
    jobs: Vec<(Job, bool)>,
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

/// What the writer thread receives.
pub(crate) enum Msg {
    /// An op to run.
    Job(Job),
    /// The syncer finished an fsync: the next batch may commit.
    Synced,
    /// The last [`Writer`] handle was dropped: commit what is open and stop.
    Shutdown,
    /// Test hook: the writer thread panics at its next commit, after announcing it
    /// (the worst moment: reads wait for that commit to become durable).
    #[cfg(test)]
    CrashAtCommit,
}

/// Handle to the writer thread. Dropping every handle stops the thread once the ops
/// already sent are done.
#[derive(Clone)]
pub(crate) struct Writer {
    inner: Arc<Handle>,
}

struct Handle {
    tx: mpsc::Sender<Msg>,
    health: Arc<Health>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Shutdown);
    }
}

impl Writer {
    /// Starts the writer thread owning `conn`. With `sync`, `conn` must not fsync at
    /// commit (`synchronous = NORMAL`): a syncer thread calls `sync` after commits and
    /// answers their callers only then; the returned [`DurablePoint`] lets reads wait
    /// for what they saw to be durable.
    pub(crate) fn spawn(
        conn: Connection,
        max_batch: usize,
        signals: Signals,
        counters: Arc<Counters>,
        sync: Option<SyncFn>,
        health: Arc<Health>,
    ) -> StoreResult<(Writer, Option<DurablePoint>)> {
        let (tx, rx) = mpsc::channel::<Msg>();
        let syncer = sync
            .map(|sync| Syncer::spawn(sync, signals.clone(), counters.clone(), tx.clone()))
            .transpose()?;
        let point = syncer.as_ref().map(|s| s.point.clone());
        let batcher = Batcher {
            conn,
            max_batch: max_batch.max(1),
            signals,
            counters,
            syncer,
            open: Vec::new(),
            savepoints: false,
            syncing: false,
            health: health.clone(),
            changes_at_begin: 0,
            #[cfg(test)]
            crash_at_commit: false,
        };
        std::thread::Builder::new()
            .name("zart-sqlite-writer".into())
            .spawn(move || batcher.run(rx))
            .map_err(|e| {
                StoreError::Internal(format!("cannot start the SQLite writer thread: {e}"))
            })?;
        let writer = Writer {
            inner: Arc::new(Handle { tx, health }),
        };
        Ok((writer, point))
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
        self.inner.health.check()?;
        self.inner
            .tx
            .send(Msg::Job(job))
            .map_err(|_| writer_stopped())?;
        // Every op is answered unless the writer thread dies: it panicked. The store
        // is failed here too, since this caller may learn of it before the thread's
        // own unwinding gets to do so.
        rx.await.map_err(|_| {
            self.inner.health.stop();
            writer_stopped()
        })?
    }

    /// Test hook: makes the writer thread panic at its next commit.
    #[cfg(test)]
    pub(crate) fn crash_at_next_commit(&self) {
        let _ = self.inner.tx.send(Msg::CrashAtCommit);
    }
}

struct Batcher {
    conn: Connection,
    max_batch: usize,
    signals: Signals,
    counters: Arc<Counters>,
    syncer: Option<Syncer>,
    /// The ops run in the open transaction (empty: no transaction is open), each with
    /// whether it failed.
    open: Vec<(Job, bool)>,
    /// Whether the open transaction runs each op in a savepoint (after an op failed).
    savepoints: bool,
    /// Whether a committed batch is being fsynced by the syncer.
    syncing: bool,
    /// What `ping` reports: updated at the end of each transaction.
    health: Arc<Health>,
    /// The connection's change counter when the open transaction began: the
    /// transaction wrote something if it moved.
    changes_at_begin: u64,
    #[cfg(test)]
    crash_at_commit: bool,
}

impl Drop for Batcher {
    /// The writer thread is ending. On a panic the store is failed for good: writes
    /// and reads get an error at once, and reads already waiting for a commit to
    /// become durable stop waiting.
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.health.stop();
            if let Some(syncer) = &self.syncer {
                syncer.point.stop();
            }
        }
    }
}

impl Batcher {
    fn run(mut self, rx: mpsc::Receiver<Msg>) {
        loop {
            // Wait for more while nothing is open, or while an fsync is in flight and
            // the open batch has room; otherwise take only what is already queued.
            let wait = self.open.is_empty() || (self.syncing && self.open.len() < self.max_batch);
            let msg = if wait {
                rx.recv().ok()
            } else {
                match rx.try_recv() {
                    Ok(msg) => Some(msg),
                    Err(mpsc::TryRecvError::Empty) => {
                        self.commit();
                        continue;
                    }
                    Err(mpsc::TryRecvError::Disconnected) => None,
                }
            };
            match msg {
                Some(Msg::Job(job)) => self.add(job),
                Some(Msg::Synced) => self.syncing = false,
                #[cfg(test)]
                Some(Msg::CrashAtCommit) => self.crash_at_commit = true,
                Some(Msg::Shutdown) | None => break,
            }
        }
        self.commit();
    }

    /// Runs `job` in the open transaction, opening one if needed.
    fn add(&mut self, mut job: Job) {
        if self.open.is_empty() {
            if let Some(e) = self.refusal() {
                return job.reply(Some(e));
            }
            self.savepoints = false;
        }
        let failed = if self.savepoints {
            self.run_in_savepoint(job.as_mut())
        } else {
            job.run(&self.conn)
        };
        self.open.push((job, failed));
        if failed && !self.savepoints {
            self.rerun_with_savepoints();
        }
        // A lost transaction ends the batch at once: nothing may run outside one.
        if self.open.len() >= self.max_batch || (failed && self.conn.is_autocommit()) {
            self.commit();
        }
    }

    /// Why a new transaction cannot start (an fsync failed, or `BEGIN` failed), if so.
    fn refusal(&mut self) -> Option<StoreError> {
        if self.syncer.as_ref().is_some_and(|s| s.point.failed()) {
            return Some(sync_failed());
        }
        self.begin()
            .map_err(|e| {
                tracing::error!(error = %e, "cannot begin a SQLite write transaction");
                self.health.transaction_ended(false, take_io_failure());
                e
            })
            .err()
    }

    /// An op failed in the fast path (no savepoints): roll the whole transaction back
    /// and run its ops again with a savepoint each, so the failing op's changes are
    /// undone while the others commit. Savepoints (statement journals) cost a fifth of
    /// the writer's time, so they are only paid once needed.
    fn rerun_with_savepoints(&mut self) {
        let _ = exec(&self.conn, "ROLLBACK");
        if let Err(e) = self.begin() {
            for (job, _) in self.open.drain(..) {
                job.reply(Some(e.clone()));
            }
            return;
        }
        self.savepoints = true;
        let mut open = std::mem::take(&mut self.open);
        for (job, failed) in open.iter_mut() {
            // Once the transaction is lost the rest are not run; commit fails them all.
            *failed = self.conn.is_autocommit() || self.run_in_savepoint(job.as_mut());
        }
        self.open = open;
    }

    /// Commits the open transaction, if any, and hands its answers to the syncer (or
    /// answers at once when commits fsync inline).
    fn commit(&mut self) {
        if self.open.is_empty() {
            return;
        }
        let jobs = std::mem::take(&mut self.open);
        // Announced before COMMIT: a read that sees this batch ends after this point.
        let seq = self.syncer.as_ref().map(|s| s.point.announce());
        #[cfg(test)]
        if self.crash_at_commit {
            panic!("injected crash of the SQLite writer thread");
        }
        // On a full disk or an I/O error SQLite may roll the whole transaction back
        // itself: then every op in it is lost.
        let commit = if self.conn.is_autocommit() {
            Err(transaction_lost())
        } else {
            exec(&self.conn, "COMMIT")
        };
        let wrote = commit.is_ok() && self.conn.total_changes() != self.changes_at_begin;
        if commit.is_err() {
            let _ = exec(&self.conn, "ROLLBACK");
        }
        self.health.transaction_ended(wrote, take_io_failure());
        self.counters.batches.fetch_add(1, Ordering::Relaxed);
        self.counters
            .ops
            .fetch_add(jobs.len() as u64, Ordering::Relaxed);
        let answers = Answers { jobs };
        let commit_error = commit.err();
        match (&self.syncer, seq) {
            (Some(syncer), Some(seq)) => {
                let committed = Committed {
                    seq,
                    answers,
                    commit_error,
                };
                match syncer.committed.send(committed) {
                    Ok(()) => self.syncing = true,
                    Err(mpsc::SendError(committed)) => {
                        // The syncer thread is gone (it only stops after a panic).
                        syncer.point.fail();
                        committed
                            .answers
                            .deliver(Some(sync_failed()), &self.signals);
                    }
                }
            }
            _ => answers.deliver(commit_error, &self.signals),
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
    fn begin(&mut self) -> StoreResult<()> {
        self.changes_at_begin = self.conn.total_changes();
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

/// The error of the ops of a transaction that SQLite rolled back on its own.
fn transaction_lost() -> StoreError {
    StoreError::Unavailable(
        "sqlite: the write transaction was rolled back after a full disk or an I/O error".into(),
    )
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
