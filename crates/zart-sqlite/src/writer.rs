//! The writer thread: the only connection that writes, with group commit.
//!
//! Callers send a write op over a channel with a oneshot reply. The thread drains
//! everything queued (up to the batch limit), runs the batch in one
//! `BEGIN IMMEDIATE ... COMMIT` with a `SAVEPOINT` per op, so a failing op rolls back
//! only its own changes, and replies to each caller only after `COMMIT` returned. Many
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

/// What a finished op hands back to the writer: whether it failed (its savepoint is
/// rolled back), the signals to send after commit, and how to reply.
struct Done {
    failed: bool,
    signals: Vec<Signal>,
    reply: Box<dyn FnOnce(Option<StoreError>) + Send>,
}

/// A queued op. Given the connection it runs and returns its [`Done`]; given an error
/// (the batch could not start) it replies with that error at once.
type Job = Box<dyn FnOnce(Result<&Connection, StoreError>) -> Option<Done> + Send>;

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
    /// push signals, which are sent only if the batch commits.
    pub(crate) async fn run<T, F>(&self, op: F) -> StoreResult<T>
    where
        F: FnOnce(&Connection, &mut Vec<Signal>) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let conn = match conn {
                Ok(conn) => conn,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return None;
                }
            };
            let mut signals = Vec::new();
            let result = op(conn, &mut signals);
            Some(Done {
                failed: result.is_err(),
                signals,
                reply: Box::new(move |commit_error| {
                    let _ = tx.send(match commit_error {
                        Some(e) => Err(e),
                        None => result,
                    });
                }),
            })
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

    fn commit_batch(&self, batch: Vec<Job>) {
        if let Err(e) = self.begin() {
            tracing::error!(error = %e, "cannot begin a SQLite write transaction");
            for job in batch {
                job(Err(e.clone()));
            }
            return;
        }
        let mut done = Vec::with_capacity(batch.len());
        for job in batch {
            if let Some(d) = self.run_job(job) {
                done.push(d);
            }
        }
        let commit = exec(&self.conn, "COMMIT");
        if commit.is_err() {
            let _ = exec(&self.conn, "ROLLBACK");
        }
        self.counters.batches.fetch_add(1, Ordering::Relaxed);
        self.counters
            .ops
            .fetch_add(done.len() as u64, Ordering::Relaxed);
        let committed = commit.is_ok();
        for d in done {
            if committed && !d.failed {
                d.signals.into_iter().for_each(|s| self.signals.send(s));
            }
            (d.reply)(commit.as_ref().err().cloned());
        }
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

    /// Runs one job inside its own savepoint. A panicking job is rolled back and its
    /// caller sees an aborted write; `None` then.
    fn run_job(&self, job: Job) -> Option<Done> {
        if let Err(e) = exec(&self.conn, "SAVEPOINT op") {
            job(Err(e));
            return None;
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| job(Ok(&self.conn))));
        let failed = outcome
            .as_ref()
            .map_or(true, |d| d.as_ref().map_or(true, |d| d.failed));
        if failed {
            let _ = exec(&self.conn, "ROLLBACK TO op");
        }
        let _ = exec(&self.conn, "RELEASE op");
        match outcome {
            Ok(done) => done,
            Err(_) => {
                tracing::error!("a SQLite write op panicked; its changes were rolled back");
                None
            }
        }
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
