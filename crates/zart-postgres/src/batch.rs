//! Group commit of step saves.
//!
//! `step_save` calls are queued. Whenever one of a few writers is free, a dispatcher
//! takes everything queued (up to [`MAX_BATCH`], at most one save per journal entry,
//! the rest waiting for the next batch) and the writer writes it in one statement
//! and one commit, then answers each caller. Durability is unchanged: a caller gets `Ok` only after the commit
//! that contains its step, so a crash loses only calls that had not returned. A
//! batch of one uses the single-save statement.
//!
//! The guard is checked per save against the execution rows, locked in id order (so
//! two batches, or a batch and a lease renewal, cannot deadlock) and read at their
//! latest committed version: a stale guard in a batch fails alone. If a batch fails
//! for another reason than the connection, its saves are retried one by one, so a
//! bad value fails only its own call.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Semaphore};
use zart_core::{StepSave, StoreError, StoreResult};

use crate::db::Db;
use crate::errors::retrying;
use crate::steps;
use crate::steps_many::save_many;

/// The most saves written in one statement.
pub(crate) const MAX_BATCH: usize = 128;

/// Queued saves before callers wait for room.
const QUEUE: usize = 4 * MAX_BATCH;

struct Request {
    save: StepSave,
    reply: oneshot::Sender<StoreResult<bool>>,
}

/// Counts of the group commit, for tests and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Statements (and commits) written.
    pub batches: u64,
    /// Step saves written by them.
    pub saves: u64,
}

#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    saves: AtomicU64,
}

/// The callers' end: queues saves and awaits their commit.
pub(crate) struct Batcher {
    queue: mpsc::Sender<Request>,
    counters: Arc<Counters>,
}

impl Batcher {
    /// Starts the dispatcher, which runs at most `writers` batches at once and stops
    /// once the batcher is dropped and the queue is drained.
    pub(crate) fn start(db: Arc<Db>, writers: usize) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        let counters = Arc::new(Counters::default());
        tokio::spawn(dispatch(db, rx, writers.max(1), counters.clone()));
        Self { queue, counters }
    }

    pub(crate) async fn save(&self, save: StepSave) -> StoreResult<bool> {
        steps::check(&save.step).map_err(StoreError::from)?;
        if let Some(a) = &save.attempt {
            crate::rows::int(a.attempt_number, "attempt_number").map_err(StoreError::from)?;
        }
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::Unavailable("the step writer has stopped".into());
        self.queue
            .send(Request { save, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    pub(crate) fn stats(&self) -> GroupCommitStats {
        GroupCommitStats {
            batches: self.counters.batches.load(Ordering::Relaxed),
            saves: self.counters.saves.load(Ordering::Relaxed),
        }
    }
}

/// Forms a batch whenever a writer is free, so saves queue up (and batches grow)
/// while every writer is busy committing.
async fn dispatch(
    db: Arc<Db>,
    mut rx: mpsc::Receiver<Request>,
    writers: usize,
    counters: Arc<Counters>,
) {
    let free = Arc::new(Semaphore::new(writers));
    let mut carried = VecDeque::new();
    loop {
        let Ok(writer) = free.clone().acquire_owned().await else {
            return;
        };
        if carried.is_empty() {
            match rx.recv().await {
                Some(request) => carried.push_back(request),
                None => return,
            }
        }
        while carried.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(request) => carried.push_back(request),
                Err(_) => break,
            }
        }
        let batch = take_batch(&mut carried);
        counters.batches.fetch_add(1, Ordering::Relaxed);
        counters
            .saves
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        let db = db.clone();
        tokio::spawn(async move {
            write(&db, batch).await;
            drop(writer);
        });
    }
}

/// One save per journal entry, in queue order; a second save of the same entry
/// stays queued for the next batch.
fn take_batch(carried: &mut VecDeque<Request>) -> Vec<Request> {
    let mut keys = HashSet::new();
    let mut batch = Vec::new();
    let mut rest = VecDeque::new();
    for request in carried.drain(..) {
        let s = &request.save;
        let key = (
            s.guard.execution_id.clone(),
            s.run_index,
            s.step.name.clone(),
            s.step.occurrence,
        );
        if batch.len() < MAX_BATCH && keys.insert(key) {
            batch.push(request);
        } else {
            rest.push_back(request);
        }
    }
    *carried = rest;
    batch
}

async fn write(db: &Db, batch: Vec<Request>) {
    if let [single] = batch.as_slice() {
        let outcome = retrying(|| steps::save(db, &single.save)).await;
        for request in batch {
            let _ = request.reply.send(outcome.clone());
        }
        return;
    }
    let saves: Vec<&StepSave> = batch.iter().map(|r| &r.save).collect();
    match retrying(|| save_many(db, &saves)).await {
        Ok(applied) => {
            for (i, request) in batch.into_iter().enumerate() {
                let _ = request.reply.send(Ok(applied.contains(&i)));
            }
        }
        Err(e) if e.is_transient() => {
            for request in batch {
                let _ = request.reply.send(Err(e.clone()));
            }
        }
        Err(e) => {
            tracing::debug!(error = %e, size = batch.len(), "batch failed; saving one by one");
            for request in batch {
                let outcome = retrying(|| steps::save(db, &request.save)).await;
                let _ = request.reply.send(outcome);
            }
        }
    }
}
