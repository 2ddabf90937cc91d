//! Group commit: step saves, execution inserts, execution finishes and event offers
//! are queued and written in batches, one statement and one commit per batch (see
//! `group.rs` for how batches form; the writers are shared by the four kinds).
//!
//! Durability is unchanged: a caller gets `Ok` only after the commit that contains
//! its write, so a crash loses only calls that had not returned. A batch of one uses
//! the single-write statement.
//!
//! Step-save guards are checked per save against the execution rows, locked in id
//! order (so two batches, or a batch and a lease renewal, cannot deadlock) and read
//! at their latest committed version: a stale guard in a batch fails alone. If a
//! batch fails for another reason than the connection, its writes are retried one
//! by one, so a bad value fails only its own call.

use std::sync::Arc;

use sqlx::postgres::PgRow;
use sqlx::Row;
use tokio::sync::Semaphore;
use zart_core::{
    EventOffer, ExecutionFinish, InsertOutcome, NewExecution, OfferOutcome, StepSave, StoreError,
    StoreResult,
};

use crate::db::{Db, Written};
use crate::errors::PgError;
use crate::finish_many::finish_many;
use crate::group::Queue;
use crate::insert_many::insert_many;
use crate::offers_many::offer_many;
use crate::steps_many::save_many;
use crate::{events, executions, finish, steps};

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

type SaveKey = (String, i32, String, u32);

/// The callers' end: queues writes and awaits their commit.
pub(crate) struct Batcher {
    saves: Queue<StepSave, bool>,
    inserts: Queue<NewExecution, Written<InsertOutcome>>,
    finishes: Queue<ExecutionFinish, Written<bool>>,
    offers: Queue<EventOffer, Written<OfferOutcome>>,
}

impl Batcher {
    /// Starts the dispatchers, which run at most `writers` batches at once in all.
    pub(crate) fn start(db: Arc<Db>, writers: usize) -> Self {
        let free = Arc::new(Semaphore::new(writers.max(1)));
        Self {
            saves: Queue::start(
                db.clone(),
                free.clone(),
                save_key,
                |db, save| Box::pin(steps::save(db, save)),
                |db, saves| Box::pin(save_many(db, saves)),
            ),
            inserts: Queue::start(
                db.clone(),
                free.clone(),
                |n: &NewExecution| n.id.clone(),
                |db, new| Box::pin(executions::insert(db, new)),
                |db, news| Box::pin(insert_many(db, news)),
            ),
            finishes: Queue::start(
                db.clone(),
                free.clone(),
                |f: &ExecutionFinish| f.guard.execution_id.clone(),
                |db, f| Box::pin(finish::finish(db, f)),
                |db, finishes| Box::pin(finish_many(db, finishes)),
            ),
            offers: Queue::start(
                db,
                free,
                |o: &EventOffer| o.execution_id.clone(),
                |db, offer| Box::pin(events::offer(db, offer)),
                |db, offers| Box::pin(offer_many(db, offers)),
            ),
        }
    }

    pub(crate) async fn save(&self, save: StepSave) -> StoreResult<bool> {
        steps::check(&save.step).map_err(StoreError::from)?;
        if let Some(a) = &save.attempt {
            crate::rows::int(a.attempt_number, "attempt_number").map_err(StoreError::from)?;
        }
        self.saves.submit(save).await
    }

    pub(crate) async fn insert(&self, new: NewExecution) -> StoreResult<Written<InsertOutcome>> {
        self.inserts.submit(new).await
    }

    pub(crate) async fn finish(&self, finish: ExecutionFinish) -> StoreResult<Written<bool>> {
        self.finishes.submit(finish).await
    }

    pub(crate) async fn offer(&self, offer: EventOffer) -> StoreResult<Written<OfferOutcome>> {
        self.offers.submit(offer).await
    }

    pub(crate) fn stats(&self) -> GroupCommitStats {
        let (batches, saves) = self.saves.counts();
        let (insert_batches, inserts) = self.inserts.counts();
        let (finish_batches, finishes) = self.finishes.counts();
        let (offer_batches, offers) = self.offers.counts();
        GroupCommitStats {
            batches,
            saves,
            insert_batches,
            inserts,
            finish_batches,
            finishes,
            offer_batches,
            offers,
        }
    }
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

/// `0..n` as the `req` column of a batch statement, which answers by request number.
pub(crate) fn request_numbers(n: usize) -> Result<Vec<i32>, PgError> {
    (0..n)
        .map(|i| i32::try_from(i).map_err(|_| crate::errors::corrupt("batch too large")))
        .collect()
}

/// The request number (`req` column) a row of a batch statement answers.
pub(crate) fn request_of(row: &PgRow) -> Result<usize, PgError> {
    usize::try_from(row.try_get::<i32, _>("req")?).map_err(crate::errors::corrupt)
}

/// One array parameter of a batch statement: `f` of each request, in order.
pub(crate) fn column<'a, I: ?Sized, T>(items: &[&'a I], f: impl Fn(&'a I) -> T) -> Vec<T> {
    items.iter().map(|&item| f(item)).collect()
}
