//! The group-commit dispatcher shared by every batched write (step saves,
//! execution inserts, execution finishes).
//!
//! Callers queue a request and await its answer. A dispatcher per kind of write
//! waits for a first request, then for a free writer (the writers are shared by all
//! kinds, each holding one pool connection while it writes), then takes everything
//! queued meanwhile (up to [`MAX_BATCH`], at most one request per key, the rest
//! waiting for the next batch) and hands the batch to the kind's write function,
//! which answers each caller after the commit holding its write.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Semaphore};
use zart_core::{StoreError, StoreResult};

use crate::db::Db;

/// The most requests written in one statement.
pub(crate) const MAX_BATCH: usize = 128;

/// Queued requests before callers wait for room.
const QUEUE: usize = 4 * MAX_BATCH;

/// One caller's write and where its answer goes.
pub(crate) struct Request<I, O> {
    pub(crate) item: I,
    pub(crate) reply: oneshot::Sender<StoreResult<O>>,
}

/// A boxed batch write.
pub(crate) type Writing = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Writes a batch and answers every request in it.
pub(crate) type WriteFn<I, O> = fn(Arc<Db>, Vec<Request<I, O>>) -> Writing;

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
    I: Send + 'static,
    O: Send + 'static,
{
    /// Starts the dispatcher; it stops once the queue is dropped and drained.
    pub(crate) fn start<K>(
        db: Arc<Db>,
        writers: Arc<Semaphore>,
        key: fn(&I) -> K,
        write: WriteFn<I, O>,
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
            write,
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
    write: WriteFn<I, O>,
    counters: Arc<Counters>,
}

impl<I, O, K> Dispatch<I, O, K>
where
    I: Send + 'static,
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
            let writing = (self.write)(self.db.clone(), batch);
            tokio::spawn(async move {
                writing.await;
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
