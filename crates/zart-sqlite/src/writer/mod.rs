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

mod batch;
mod op;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

use rusqlite::Connection;
use tokio::sync::oneshot;
use zart_core::{Signal, StoreError, StoreResult};

use self::batch::Batcher;
use self::op::{AloneOp, Job, TypedOp};
use crate::durable::{DurablePoint, SyncFn, Syncer};
use crate::health::{writer_stopped, Health};
use crate::signals::Signals;
use crate::SqliteStore;

pub(crate) use self::op::Answers;

/// Counters of the writer, for tests and metrics.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) batches: AtomicU64,
    pub(crate) ops: AtomicU64,
    /// Fsyncs of the WAL by the syncer thread (each covers one or more batches).
    pub(crate) syncs: AtomicU64,
}

/// Counters of the writer thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterStats {
    /// Transactions committed (or attempted), each holding one or more write ops.
    pub batches: u64,
    /// Write ops run in those transactions.
    pub ops: u64,
    /// Fsyncs of the WAL made by the syncer thread behind the writer; each covers one
    /// or more transactions. Zero when there is no syncer: with
    /// [`Synchronous::Normal`](crate::Synchronous::Normal) (no fsync per commit), for an
    /// in-memory database, or when the database is not in WAL mode (commits then
    /// fsync inside `COMMIT`).
    pub syncs: u64,
}

impl SqliteStore {
    /// How many transactions the writer committed and how many ops they held.
    pub fn stats(&self) -> WriterStats {
        WriterStats {
            batches: self.counters.batches.load(Ordering::Relaxed),
            ops: self.counters.ops.load(Ordering::Relaxed),
            syncs: self.counters.syncs.load(Ordering::Relaxed),
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
        let batcher = Batcher::new(conn, max_batch, signals, counters, syncer, health.clone());
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
        self.submit(Box::new(TypedOp::new(op, tx)), rx).await
    }

    /// Runs `op` alone, exactly once, on a connection with no transaction open (see
    /// [`AloneOp`](self::op::AloneOp)): `op` opens one, and the writer commits it
    /// durably if `op` leaves it open. Resolves once it committed, or at once when
    /// `op` rolled back. Ops queued behind it wait while it runs.
    pub(crate) async fn run_alone<T, F>(&self, op: F) -> StoreResult<T>
    where
        F: FnOnce(&Connection, &mut Vec<Signal>) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.submit(Box::new(AloneOp::new(op, tx)), rx).await
    }

    /// Sends `job` to the writer thread and awaits its answer on `rx`.
    async fn submit<T>(&self, job: Job, rx: oneshot::Receiver<StoreResult<T>>) -> StoreResult<T> {
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

#[cfg(test)]
mod tests;
