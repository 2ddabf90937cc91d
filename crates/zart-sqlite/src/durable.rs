//! Pipelined durability: the writer commits without waiting for the disk and a syncer
//! thread fsyncs the WAL behind it, so batch N+1 runs while batch N's fsync is in
//! flight. Callers are still answered only after their batch is on disk.
//!
//! Why this is as durable as `synchronous = FULL`: in WAL mode a commit appends frames
//! to the WAL, and `FULL` only adds an fsync of the WAL after the append. The write
//! connection runs with `synchronous = NORMAL` (append, no fsync; checkpoints still
//! fsync the WAL before copying it into the database file and fsync the database
//! after), and the syncer calls `fdatasync` on the WAL file after each commit (or
//! after several, which one fsync covers). WAL recovery keeps the longest prefix of
//! frames whose checksum chain is intact, so a batch that reached the disk brings
//! every earlier batch with it; a batch that did not was never acknowledged.
//!
//! Reads see committed data before it is durable (SQLite makes a commit visible when
//! it is appended), so a read that ends while commits are still being fsynced waits
//! until they are, before it returns: no caller learns of a write that a power loss
//! could still take back. [`DurablePoint`] tracks this: the writer announces each
//! commit before running `COMMIT`, the syncer advances the durable point after each
//! fsync, and a read waits for the point to reach what was announced when it ended.
//!
//! If an fsync fails, the durable point is marked failed for good: every waiting and
//! later write and read gets [`StoreError::Unavailable`], because the state of the
//! file is no longer known (the process should restart and let WAL recovery decide).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

use tokio::sync::watch;
use zart_core::{StoreError, StoreResult};

use crate::health::writer_stopped;
use crate::signals::Signals;
use crate::writer::{Answers, Counters, Msg};

/// Makes everything appended to the WAL so far durable (`fdatasync` of the WAL file).
pub(crate) type SyncFn = Box<dyn FnMut() -> std::io::Result<()> + Send>;

/// How far commits are durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Durable {
    /// Every commit numbered up to and including this one is on disk.
    UpTo(u64),
    /// An fsync failed; nothing after the last good point can be vouched for.
    Failed,
    /// The writer or syncer thread stopped: no commit will become durable any more.
    Stopped,
}

/// Commit numbers announced by the writer and the point up to which they are durable.
#[derive(Clone)]
pub(crate) struct DurablePoint {
    shared: Arc<Shared>,
}

struct Shared {
    announced: AtomicU64,
    durable: watch::Sender<Durable>,
}

/// The error of every write and read once an fsync failed.
pub(crate) fn sync_failed() -> StoreError {
    StoreError::Unavailable(
        "the SQLite database could not make commits durable (fsync failed); restart the process"
            .into(),
    )
}

impl DurablePoint {
    fn new() -> Self {
        let (durable, _) = watch::channel(Durable::UpTo(0));
        Self {
            shared: Arc::new(Shared {
                announced: AtomicU64::new(0),
                durable,
            }),
        }
    }

    /// Numbers the commit about to run. Called before `COMMIT`, so that any read that
    /// could see the commit's data ends after the announcement.
    pub(crate) fn announce(&self) -> u64 {
        self.shared.announced.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Whether an fsync has failed or a thread behind the point stopped.
    pub(crate) fn failed(&self) -> bool {
        !matches!(*self.shared.durable.borrow(), Durable::UpTo(_))
    }

    /// Waits until every commit announced so far is durable. A read calls this after
    /// it ran: whatever it saw was announced before it ended.
    pub(crate) async fn settle(&self) -> StoreResult<()> {
        let target = self.shared.announced.load(Ordering::SeqCst);
        let reached = |d: &Durable| match *d {
            Durable::UpTo(n) => n >= target,
            Durable::Failed | Durable::Stopped => true,
        };
        let mut rx = self.shared.durable.subscribe();
        let state = *rx
            .wait_for(reached)
            .await
            .map_err(|_| StoreError::Unavailable("the SQLite syncer has stopped".into()))?;
        match state {
            Durable::Failed => Err(sync_failed()),
            Durable::Stopped => Err(writer_stopped()),
            Durable::UpTo(_) => Ok(()),
        }
    }

    fn advance(&self, to: u64) {
        self.shared.durable.send_modify(|d| {
            if let Durable::UpTo(n) = d {
                *n = (*n).max(to);
            }
        });
    }

    /// Marks the durable point failed for good.
    pub(crate) fn fail(&self) {
        self.shared.durable.send_replace(Durable::Failed);
    }

    /// Marks the durable point stopped for good (a thread behind it panicked), waking
    /// every waiting read with an error.
    pub(crate) fn stop(&self) {
        self.shared.durable.send_replace(Durable::Stopped);
    }
}

/// A batch whose `COMMIT` ran, waiting for its fsync before its callers are answered.
pub(crate) struct Committed {
    /// The number [`DurablePoint::announce`] gave the commit.
    pub(crate) seq: u64,
    /// The callers' answers.
    pub(crate) answers: Answers,
    /// Set if `COMMIT` failed: the callers get it (the fsync is then moot but harmless).
    pub(crate) commit_error: Option<StoreError>,
}

/// The writer's side of the syncer thread.
pub(crate) struct Syncer {
    /// Where the writer hands committed batches.
    pub(crate) committed: mpsc::Sender<Committed>,
    /// Shared with the readers.
    pub(crate) point: DurablePoint,
}

impl Syncer {
    /// Starts the syncer thread, which tells the writer through `wake` when each fsync
    /// is done, and stops once the writer drops its [`Syncer`].
    pub(crate) fn spawn(
        sync: SyncFn,
        signals: Signals,
        counters: Arc<Counters>,
        wake: mpsc::Sender<Msg>,
    ) -> StoreResult<Syncer> {
        let (committed, rx) = mpsc::channel();
        let point = DurablePoint::new();
        let thread = Thread {
            sync,
            point: point.clone(),
            signals,
            counters,
            wake,
        };
        std::thread::Builder::new()
            .name("zart-sqlite-sync".into())
            .spawn(move || thread.run(rx))
            .map_err(|e| {
                StoreError::Internal(format!("cannot start the SQLite syncer thread: {e}"))
            })?;
        Ok(Syncer { committed, point })
    }
}

struct Thread {
    sync: SyncFn,
    point: DurablePoint,
    signals: Signals,
    counters: Arc<Counters>,
    wake: mpsc::Sender<Msg>,
}

impl Drop for Thread {
    /// A panic of the syncer thread fails the store like one of the writer thread:
    /// nothing would make commits durable any more.
    fn drop(&mut self) {
        if std::thread::panicking() {
            tracing::error!("the SQLite syncer thread panicked; the store stops accepting work");
            self.point.stop();
        }
    }
}

impl Thread {
    /// Takes every batch committed so far, makes them durable with one fsync, lets the
    /// writer commit its next batch, then answers the callers in commit order.
    fn run(mut self, rx: mpsc::Receiver<Committed>) {
        while let Ok(first) = rx.recv() {
            let mut ready = vec![first];
            ready.extend(rx.try_iter());
            let synced = self.sync_once();
            if synced {
                self.counters.syncs.fetch_add(1, Ordering::Relaxed);
                self.point.advance(ready.last().map_or(0, |c| c.seq));
            }
            // The writer may have stopped already; it then needs no wake-up.
            let _ = self.wake.send(Msg::Synced);
            for batch in ready {
                let error = match (batch.commit_error, synced) {
                    (Some(e), _) => Some(e),
                    (None, true) => None,
                    (None, false) => Some(sync_failed()),
                };
                batch.answers.deliver(error, &self.signals);
            }
        }
    }

    /// One fsync; `false` (and the point failed for good) if it or an earlier one failed.
    fn sync_once(&mut self) -> bool {
        if self.point.failed() {
            return false;
        }
        match (self.sync)() {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, "fsync of the SQLite WAL failed; the store stops accepting work");
                self.point.fail();
                false
            }
        }
    }
}
