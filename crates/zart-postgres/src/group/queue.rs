//! The dispatcher shared by every batched write (step saves, execution inserts,
//! execution finishes, event offers).
//!
//! Callers queue a request and await its answer. A dispatcher per kind of write
//! waits for a first request, then for a free writer (the writers are shared by all
//! kinds, each holding one pool connection while it writes), then takes everything
//! queued meanwhile (up to [`MAX_BATCH`], at most one request per key, the rest
//! waiting for the next batch) and writes the batch with the kind's statement,
//! answering each caller after the commit holding its write.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Semaphore};
use zart_core::{StoreError, StoreResult};

use crate::error::{retrying, PgError};
use crate::pool::Db;

/// The most requests written in one statement.
pub(crate) const MAX_BATCH: usize = 128;

/// Queued requests before callers wait for room.
const QUEUE: usize = 4 * MAX_BATCH;

/// One caller's write and where its answer goes.
pub(crate) struct Request<I, O> {
    pub(crate) item: I,
    pub(crate) reply: oneshot::Sender<StoreResult<O>>,
}

/// A boxed batch write, borrowing the pool and the input.
pub(crate) type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, PgError>> + Send + 'a>>;

/// Writes a batch in one statement (a concept's batch function): one outcome per
/// request, in order.
pub(crate) type Many<I, O> = for<'a> fn(&'a Db, &'a [&'a I]) -> Boxed<'a, Vec<O>>;

/// Batches and the requests they carried.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) batches: AtomicU64,
    pub(crate) items: AtomicU64,
}

/// The callers' end of one kind of batched write.
pub(crate) struct Queue<I, O> {
    tx: mpsc::Sender<Request<I, O>>,
    counters: Arc<Counters>,
}

impl<I, O> Queue<I, O>
where
    I: Send + Sync + 'static,
    O: Send + 'static,
{
    /// Starts the dispatcher; it stops once the queue is dropped and drained.
    pub(crate) fn start<K>(
        db: Arc<Db>,
        writers: Arc<Semaphore>,
        key: fn(&I) -> K,
        many: Many<I, O>,
    ) -> Self
    where
        K: Hash + Eq + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(QUEUE);
        let counters = Arc::new(Counters::default());
        let job = Dispatch {
            db,
            writers,
            key,
            many,
            counters: counters.clone(),
        };
        tokio::spawn(job.run(rx));
        Self { tx, counters }
    }

    /// Queues `item` and waits for the commit holding it.
    pub(crate) async fn submit(&self, item: I) -> StoreResult<O> {
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::Unavailable("the batch writer has stopped".into());
        self.tx
            .send(Request { item, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// (batches, requests) written so far.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.counters.batches.load(Ordering::Relaxed),
            self.counters.items.load(Ordering::Relaxed),
        )
    }
}

struct Dispatch<I, O, K> {
    db: Arc<Db>,
    writers: Arc<Semaphore>,
    key: fn(&I) -> K,
    many: Many<I, O>,
    counters: Arc<Counters>,
}

impl<I, O, K> Dispatch<I, O, K>
where
    I: Send + Sync + 'static,
    O: Send + 'static,
    K: Hash + Eq,
{
    /// Forms a batch whenever a writer is free, so requests queue up (and batches
    /// grow) while every writer is busy committing.
    async fn run(self, mut rx: mpsc::Receiver<Request<I, O>>) {
        let mut carried = VecDeque::new();
        loop {
            if carried.is_empty() {
                match rx.recv().await {
                    Some(request) => carried.push_back(request),
                    None => return,
                }
            }
            let Ok(writer) = self.writers.clone().acquire_owned().await else {
                return;
            };
            while carried.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(request) => carried.push_back(request),
                    Err(_) => break,
                }
            }
            let batch = self.take_batch(&mut carried);
            self.counters.batches.fetch_add(1, Ordering::Relaxed);
            self.counters
                .items
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            let (db, many) = (self.db.clone(), self.many);
            tokio::spawn(async move {
                write(&db, batch, many).await;
                drop(writer);
            });
        }
    }

    /// One request per key, in queue order; a second request with the same key
    /// stays queued for the next batch.
    fn take_batch(&self, carried: &mut VecDeque<Request<I, O>>) -> Vec<Request<I, O>> {
        let mut keys = HashSet::new();
        let mut batch = Vec::new();
        let mut rest = VecDeque::new();
        for request in carried.drain(..) {
            if batch.len() < MAX_BATCH && keys.insert((self.key)(&request.item)) {
                batch.push(request);
            } else {
                rest.push_back(request);
            }
        }
        *carried = rest;
        batch
    }
}

/// Writes `batch` with `many` and answers every caller after the commit. A failed
/// batch of several is retried one request at a time (see [`fail_transient`]).
async fn write<I: Sync, O>(db: &Db, batch: Vec<Request<I, O>>, many: Many<I, O>) {
    let items: Vec<&I> = batch.iter().map(|r| &r.item).collect();
    match retrying(|| many(db, &items)).await {
        Ok(outcomes) => {
            for (request, outcome) in batch.into_iter().zip(outcomes) {
                let _ = request.reply.send(Ok(outcome));
            }
        }
        Err(e) if batch.len() == 1 => {
            for request in batch {
                let _ = request.reply.send(Err(e.clone()));
            }
        }
        Err(e) => {
            for request in fail_transient(batch, e) {
                let outcome = alone(db, &request.item, many).await;
                let _ = request.reply.send(outcome);
            }
        }
    }
}

/// Writes `item` as a batch of one: the same statement as a batch of many.
pub(crate) async fn alone<I: Sync, O>(db: &Db, item: &I, many: Many<I, O>) -> StoreResult<O> {
    let items = [item];
    retrying(|| only(many(db, &items))).await
}

/// The one outcome of a batch of one.
async fn only<O>(batch: Boxed<'_, Vec<O>>) -> Result<O, PgError> {
    batch
        .await?
        .pop()
        .ok_or_else(|| crate::error::corrupt("a batch of one answered nothing"))
}

/// After a failed batch: a transient (connection) error answers every caller and
/// returns nothing; anything else returns the batch, to be retried one by one so
/// that a bad write fails alone.
fn fail_transient<I, O>(batch: Vec<Request<I, O>>, error: StoreError) -> Vec<Request<I, O>> {
    if error.is_transient() {
        for request in batch {
            let _ = request.reply.send(Err(error.clone()));
        }
        return Vec::new();
    }
    tracing::debug!(error = %error, size = batch.len(), "batch failed; writing one by one");
    batch
}
