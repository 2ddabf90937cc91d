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

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::Semaphore;
use zart_core::{
    EventOffer, ExecutionFinish, InsertOutcome, NewExecution, OfferOutcome, StepSave, StoreError,
    StoreResult,
};

use crate::db::{Db, Written};
use crate::errors::{retrying, PgError};
use crate::group::{Queue, Request, Writing};
use crate::steps;
use crate::steps_many::save_many;
use crate::{finish_many, insert_many, offers_many};

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
            saves: Queue::start(db.clone(), free.clone(), save_key, write_saves),
            inserts: Queue::start(
                db.clone(),
                free.clone(),
                |n: &NewExecution| n.id.clone(),
                insert_many::write,
            ),
            finishes: Queue::start(
                db.clone(),
                free.clone(),
                |f: &ExecutionFinish| f.guard.execution_id.clone(),
                finish_many::write,
            ),
            offers: Queue::start(
                db,
                free,
                |o: &EventOffer| o.execution_id.clone(),
                offers_many::write,
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

fn write_saves(db: Arc<Db>, batch: Vec<Request<StepSave, bool>>) -> Writing {
    Box::pin(async move {
        if let [single] = batch.as_slice() {
            let outcome = retrying(|| steps::save(&db, &single.item)).await;
            for request in batch {
                let _ = request.reply.send(outcome.clone());
            }
            return;
        }
        let saves: Vec<&StepSave> = batch.iter().map(|r| &r.item).collect();
        match retrying(|| save_many(&db, &saves)).await {
            Ok(applied) => {
                for (i, request) in batch.into_iter().enumerate() {
                    let _ = request.reply.send(Ok(applied.contains(&i)));
                }
            }
            Err(e) => {
                for request in fail_transient(batch, e) {
                    let outcome = retrying(|| steps::save(&db, &request.item)).await;
                    let _ = request.reply.send(outcome);
                }
            }
        }
    })
}

/// `0..n` as the `req` column of a batch statement, which answers by request number.
pub(crate) fn request_numbers(n: usize) -> Result<Vec<i32>, PgError> {
    (0..n)
        .map(|i| i32::try_from(i).map_err(|_| crate::errors::corrupt("batch too large")))
        .collect()
}

/// A boxed write of one request or of a batch, borrowing the pool and the input.
pub(crate) type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, PgError>> + Send + 'a>>;

/// Writes `batch` with `many` (one outcome per request, in order), or with `one` when
/// it holds a single request, and answers every caller after the commit. A failed
/// batch is retried one request at a time (see [`fail_transient`]).
pub(crate) async fn write_each<I: Sync, O: Clone>(
    db: &Db,
    batch: Vec<Request<I, O>>,
    one: for<'a> fn(&'a Db, &'a I) -> Boxed<'a, O>,
    many: for<'a> fn(&'a Db, &'a [&'a I]) -> Boxed<'a, Vec<O>>,
) {
    if let [single] = batch.as_slice() {
        let outcome = retrying(|| one(db, &single.item)).await;
        for request in batch {
            let _ = request.reply.send(outcome.clone());
        }
        return;
    }
    let items: Vec<&I> = batch.iter().map(|r| &r.item).collect();
    match retrying(|| many(db, &items)).await {
        Ok(outcomes) => {
            for (request, outcome) in batch.into_iter().zip(outcomes) {
                let _ = request.reply.send(Ok(outcome));
            }
        }
        Err(e) => {
            for request in fail_transient(batch, e) {
                let outcome = retrying(|| one(db, &request.item)).await;
                let _ = request.reply.send(outcome);
            }
        }
    }
}

/// After a failed batch: a transient (connection) error answers every caller and
/// returns nothing; anything else returns the batch, to be retried one by one so
/// that a bad write fails alone.
pub(crate) fn fail_transient<I, O>(
    batch: Vec<Request<I, O>>,
    error: StoreError,
) -> Vec<Request<I, O>> {
    if error.is_transient() {
        for request in batch {
            let _ = request.reply.send(Err(error.clone()));
        }
        return Vec::new();
    }
    tracing::debug!(error = %error, size = batch.len(), "batch failed; writing one by one");
    batch
}
