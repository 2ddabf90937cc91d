//! The writer thread's loop: ops run as they arrive in the open transaction, which
//! commits when nothing more is queued (or the batch is full, or the syncer is free
//! again), with a savepoint per op once an op failed.

use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use rusqlite::Connection;
use zart_core::{StoreError, StoreResult};

use super::op::{Answers, Job, Op};
use super::{Counters, Msg};
use crate::durable::{sync_failed, Committed, Syncer};
use crate::error::{take_io_failure, SqlResultExt};
use crate::health::Health;
use crate::signals::Signals;

/// The state of the writer thread.
pub(super) struct Batcher {
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
    /// The writer thread's state over `conn`, before its loop runs.
    pub(super) fn new(
        conn: Connection,
        max_batch: usize,
        signals: Signals,
        counters: Arc<Counters>,
        syncer: Option<Syncer>,
        health: Arc<Health>,
    ) -> Self {
        Batcher {
            conn,
            max_batch: max_batch.max(1),
            signals,
            counters,
            syncer,
            open: Vec::new(),
            savepoints: false,
            syncing: false,
            health,
            changes_at_begin: 0,
            #[cfg(test)]
            crash_at_commit: false,
        }
    }

    /// Runs the loop until every [`super::Writer`] handle is dropped.
    pub(super) fn run(mut self, rx: mpsc::Receiver<Msg>) {
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
        if job.alone() {
            return self.run_alone(job);
        }
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

    /// Runs an op that opens its own transaction: what is open commits first; the
    /// op's transaction, if it leaves it open, commits as a batch of one (durably,
    /// as any batch), and if it rolled back, its caller is answered at once.
    fn run_alone(&mut self, mut job: Job) {
        self.commit();
        if let Some(syncer) = &self.syncer {
            if syncer.point.failed() {
                return job.reply(Some(sync_failed()));
            }
        }
        self.changes_at_begin = self.conn.total_changes();
        let failed = job.run(&self.conn);
        if self.conn.is_autocommit() {
            self.health.transaction_ended(false, take_io_failure());
            return job.reply(None);
        }
        if failed {
            // An op must not leave a failed transaction open; never commit one.
            let _ = exec(&self.conn, "ROLLBACK");
            self.health.transaction_ended(false, take_io_failure());
            return job.reply(None);
        }
        self.savepoints = false;
        self.open.push((job, false));
        self.commit();
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
