//! Group commit: step saves, execution inserts, execution finishes and event offers
//! are queued and written in batches, one statement and one commit per batch (see
//! `queue.rs` for how batches form; the writers are shared by the four kinds).
//!
//! This folder only collects calls, runs a concept's batch function
//! (`journal::save`, `executions::insert`, `finish::finish`, `events::offer`) and
//! answers the callers; the statements live with their concepts. A batch of one
//! uses the same statement as a batch of many, and with group commit off every call
//! is written alone that way, so each write has one SQL text.
//!
//! Durability is unchanged: a caller gets `Ok` only after the commit that contains
//! its write, so a crash loses only calls that had not returned.
//!
//! Step-save guards are checked per save against the execution rows, locked in id
//! order (so two batches, or a batch and a lease renewal, cannot deadlock) and read
//! at their latest committed version: a stale guard in a batch fails alone. If a
//! batch fails for another reason than the connection, its writes are retried one
//! by one, so a bad value fails only its own call.

mod queue;

use std::sync::Arc;

use tokio::sync::Semaphore;
use zart_core::{
    EventOffer, ExecutionFinish, InsertOutcome, NewExecution, OfferOutcome, StepSave, StoreError,
    StoreResult,
};

use crate::pool::{Db, Written};
use crate::{events, executions, finish, journal, PgOptions};
use queue::{alone, Queue};

/// Counts of the group commit, for tests and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Step-save statements (and commits) written.
    pub batches: u64,
    /// Step saves written by them.
    pub saves: u64,
    /// Execution-insert statements (and commits) written.
    pub insert_batches: u64,
    /// Execution inserts written by them.
    pub inserts: u64,
    /// Execution-finish statements (and commits) written.
    pub finish_batches: u64,
    /// Execution finishes written by them.
    pub finishes: u64,
    /// Event-offer statements (and commits) written.
    pub offer_batches: u64,
    /// Event offers written by them.
    pub offers: u64,
}

/// The callers' end of the batched writes: with group commit on, queues that
/// await the commit holding each write; off, each write alone.
pub(crate) struct Writes {
    db: Arc<Db>,
    queues: Option<Queues>,
}

struct Queues {
    saves: Queue<StepSave, bool>,
    inserts: Queue<NewExecution, Written<InsertOutcome>>,
    finishes: Queue<ExecutionFinish, Written<bool>>,
    offers: Queue<EventOffer, Written<OfferOutcome>>,
}

type SaveKey = (String, i32, String, u32);

impl Writes {
    /// With `writers`, starts the group commit's dispatchers, which run at most
    /// `writers` batches at once in all; without, writes every call alone.
    pub(crate) fn start(db: Arc<Db>, writers: Option<usize>) -> Self {
        let queues = writers.map(|writers| {
            let free = Arc::new(Semaphore::new(writers.max(1)));
            Queues {
                saves: Queue::start(db.clone(), free.clone(), save_key, |db, saves| {
                    Box::pin(journal::save(db, saves))
                }),
                inserts: Queue::start(
                    db.clone(),
                    free.clone(),
                    |n: &NewExecution| n.id.clone(),
                    |db, news| Box::pin(executions::insert(db, news)),
                ),
                finishes: Queue::start(
                    db.clone(),
                    free.clone(),
                    |f: &ExecutionFinish| f.guard.execution_id.clone(),
                    |db, finishes| Box::pin(finish::finish(db, finishes)),
                ),
                offers: Queue::start(
                    db.clone(),
                    free,
                    |o: &EventOffer| o.execution_id.clone(),
                    |db, offers| Box::pin(events::offer(db, offers)),
                ),
            }
        });
        Self { db, queues }
    }

    /// A step save; its values are checked first, so a bad one fails before it
    /// joins a batch.
    pub(crate) async fn save(&self, save: StepSave) -> StoreResult<bool> {
        journal::check(&save.step).map_err(StoreError::from)?;
        if let Some(a) = &save.attempt {
            crate::rows::int(a.attempt_number, "attempt_number").map_err(StoreError::from)?;
        }
        match &self.queues {
            Some(q) => q.saves.submit(save).await,
            None => alone(&self.db, &save, |db, s| Box::pin(journal::save(db, s))).await,
        }
    }

    /// An execution insert.
    pub(crate) async fn insert(&self, new: NewExecution) -> StoreResult<Written<InsertOutcome>> {
        match &self.queues {
            Some(q) => q.inserts.submit(new).await,
            None => alone(&self.db, &new, |db, n| Box::pin(executions::insert(db, n))).await,
        }
    }

    /// An execution finish.
    pub(crate) async fn finish(&self, finish: ExecutionFinish) -> StoreResult<Written<bool>> {
        match &self.queues {
            Some(q) => q.finishes.submit(finish).await,
            None => alone(&self.db, &finish, |db, f| Box::pin(finish::finish(db, f))).await,
        }
    }

    /// An event offer.
    pub(crate) async fn offer(&self, offer: EventOffer) -> StoreResult<Written<OfferOutcome>> {
        match &self.queues {
            Some(q) => q.offers.submit(offer).await,
            None => alone(&self.db, &offer, |db, o| Box::pin(events::offer(db, o))).await,
        }
    }

    /// The counts so far, or `None` with group commit off.
    pub(crate) fn stats(&self) -> Option<GroupCommitStats> {
        let q = self.queues.as_ref()?;
        let (batches, saves) = q.saves.counts();
        let (insert_batches, inserts) = q.inserts.counts();
        let (finish_batches, finishes) = q.finishes.counts();
        let (offer_batches, offers) = q.offers.counts();
        Some(GroupCommitStats {
            batches,
            saves,
            insert_batches,
            inserts,
            finish_batches,
            finishes,
            offer_batches,
            offers,
        })
    }
}

/// Group commit writers: each holds a connection while it writes, so they take a
/// quarter of the pool and leave the rest to claims, reads and other writes. Fewer
/// writers make larger batches: with a pool of 10 on a 2-core server, 2 writers
/// carried more steps per second than 3 (1.53 against 1.38–1.45 steps per baseline
/// commit, alternated), and 1 no more than 2.
pub(crate) fn writers(options: &PgOptions) -> usize {
    (options.max_connections / 4).max(1) as usize
}

/// At most one save per journal entry in a batch.
fn save_key(s: &StepSave) -> SaveKey {
    (
        s.guard.execution_id.clone(),
        s.run_index,
        s.step.name.clone(),
        s.step.occurrence,
    )
}
