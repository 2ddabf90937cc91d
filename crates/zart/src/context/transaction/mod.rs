//! Transactional steps: a step whose closure writes to the store's own database in
//! the same transaction as the step's journal entry, so its writes and its
//! checkpoint commit together or not at all (exactly-once effects for database
//! work).
//!
//! The transaction is a driver type, so each backend offers its own form:
//! [`Ctx::sqlite_transaction`] (a synchronous closure on the SQLite store's writer
//! thread, given a [`SqliteTransaction`]) and, with the `postgres` feature,
//! [`Ctx::transaction`] (an async closure given a `sqlx` transaction on the
//! PostgreSQL store's pool). Both reach the concrete store through
//! [`Store::as_any`](zart_core::Store::as_any); called on another backend they
//! return a permanent error naming the backend.
//!
//! Apart from where the closure runs, a transactional step is a `ctx.step`: the
//! same journal entry (built by the same [`Completion`]), the same retry policy and
//! attempt accounting, the same replay (a completed entry returns its value without
//! running the closure). A failed attempt's writes are rolled back before the
//! failure is recorded; the retry runs the closure again in a new transaction.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;
use zart_core::{StepHeader, StepKind, StoreResult, TransactionOutcome};
use zart_sqlite::{SqliteStore, SqliteTransaction};

use super::step::{in_sync_attempt, timed_out, to_json, Attempt, Resume};
use super::{in_flight, panicked, park, Ctx, Halt, Reservation};
use crate::retry::StepOptions;
use crate::{TaskError, TaskResult};

/// One attempt of a transactional step, per backend.
trait Body<T>: Send {
    /// Runs the closure and the step save in one transaction of `ctx`'s store.
    fn attempt<'s>(
        &'s mut self,
        ctx: &'s Ctx,
        reserved: &'s Reservation,
        options: &'s StepOptions,
        attempt: u32,
    ) -> BoxFuture<'s, Result<Attempt<T>, Halt>>;
}

impl Ctx {
    /// A transactional step on the SQLite store: runs `f` with a transaction on the
    /// store's write connection and commits its writes in the same transaction as
    /// the step's journal entry, with the default [`StepOptions`].
    ///
    /// A crash before the commit leaves neither; after it, both, and a replay
    /// returns the recorded value without running `f`. A failing attempt's writes
    /// are rolled back and the retry runs `f` again in a new transaction. A worker
    /// that lost its lease commits nothing: the guard is checked in the same
    /// transaction, after `f`.
    ///
    /// `f` is synchronous and runs on the store's writer thread, because SQLite has
    /// one writer and that thread owns the write connection (a transaction on
    /// another connection would contend for the write lock). Every other write of
    /// the store waits while it runs, lease renewals included: keep it to a few
    /// statements, well under the lease (a closure that outlives the lease is
    /// rolled back at its save and runs again once the execution is claimed
    /// again). A timeout of [`StepOptions`] cannot stop it midway; it is checked
    /// when `f` returns, and an attempt that ran over it is rolled back and counted
    /// as timed out.
    ///
    /// ```no_run
    /// # use zart::prelude::*;
    /// # async fn demo(ctx: Ctx, order: String) -> TaskResult<usize> {
    /// let rows: usize = ctx
    ///     .sqlite_transaction("record-order", move |tx| {
    ///         Ok(tx.execute("INSERT INTO orders (id) VALUES (?1)", [&order])?)
    ///     })
    ///     .await?;
    /// # Ok(rows) }
    /// ```
    pub fn sqlite_transaction<'a, T, F>(
        &'a self,
        name: &str,
        f: F,
    ) -> impl std::future::Future<Output = TaskResult<T>> + Send + 'a
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: FnMut(&SqliteTransaction<'_>) -> TaskResult<T> + Send + 'static,
    {
        self.sqlite_transaction_with(name, StepOptions::default(), f)
    }

    /// [`Ctx::sqlite_transaction`] with explicit options (retry policy, timeout).
    pub fn sqlite_transaction_with<'a, T, F>(
        &'a self,
        name: &str,
        options: StepOptions,
        f: F,
    ) -> impl std::future::Future<Output = TaskResult<T>> + Send + 'a
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: FnMut(&SqliteTransaction<'_>) -> TaskResult<T> + Send + 'static,
    {
        let reserved = self
            .backend::<SqliteStore>("ctx.sqlite_transaction", "SQLite")
            .map(|store| (store, self.reserve(name, StepKind::Step)));
        async move {
            let (store, reserved) = reserved?;
            let body = SqliteBody {
                store,
                f: Arc::new(Mutex::new(f)),
            };
            self.run_transaction(reserved, options, body).await
        }
    }

    /// The concrete store of type `S`, or the error of calling `what` (which needs
    /// the `backend` store) on another one.
    pub(crate) fn backend<S: 'static>(&self, what: &str, backend: &str) -> TaskResult<&S> {
        let store = self.store();
        store
            .as_any()
            .and_then(|any| any.downcast_ref::<S>())
            .ok_or_else(|| {
                TaskError::permanent(format!(
                    "{what} needs the {backend} store, but this execution runs on {}",
                    store.backend_name()
                ))
            })
    }

    /// Runs a transactional step at `reserved` like [`Ctx::step`] runs its attempts.
    async fn run_transaction<T, B>(
        &self,
        reserved: Result<Reservation, Halt>,
        options: StepOptions,
        mut body: B,
    ) -> TaskResult<T>
    where
        T: DeserializeOwned + Send,
        B: Body<T>,
    {
        let reserved = match reserved {
            Ok(reserved) => reserved,
            Err(halt) => return park(halt).await,
        };
        match self.attempts(&reserved, &options, &mut body).await {
            Ok(result) => result,
            Err(halt) => park(halt).await,
        }
    }

    /// The attempt loop of [`Ctx::step`]: replay, then attempts with backoffs.
    async fn attempts<T, B>(
        &self,
        reserved: &Reservation,
        options: &StepOptions,
        body: &mut B,
    ) -> Result<TaskResult<T>, Halt>
    where
        T: DeserializeOwned + Send,
        B: Body<T>,
    {
        let mut made = match self.resume(reserved).await? {
            Resume::Done(result) => return Ok(result),
            Resume::After(made) => made,
        };
        loop {
            let attempt = made + 1;
            let span = crate::spans::step_attempt(reserved, attempt);
            let outcome = in_flight(self, body.attempt(self, reserved, options, attempt))
                .instrument(span.clone())
                .await;
            crate::spans::record_attempt(&span, &outcome);
            let outcome = outcome?;
            match outcome {
                Attempt::Done(result) => return Ok(result),
                Attempt::RetryAt(retry_at) => {
                    made = attempt;
                    self.backoff(reserved, attempt + 1, retry_at).await?;
                }
            }
        }
    }

    /// Records what a transactional attempt that started at `started` did: a
    /// failure is recorded as a `ctx.step` failure (its writes are already rolled
    /// back), a lost lease halts the run as a failed step save does.
    async fn transacted<T>(
        &self,
        reserved: &Reservation,
        options: &StepOptions,
        attempt: u32,
        started: (zart_core::Timestamp, Instant),
        outcome: StoreResult<TransactionOutcome<(T, Value), TaskError>>,
    ) -> Result<Attempt<T>, Halt> {
        let committed = matches!(outcome, Ok(TransactionOutcome::Committed(_)));
        self.metrics()
            .step_attempt(self.task_name(), committed, started.1.elapsed());
        match outcome {
            Ok(TransactionOutcome::Committed((value, _))) => Ok(Attempt::Done(Ok(value))),
            Ok(TransactionOutcome::Failed(err)) => {
                let now = self.now_wall();
                let header = StepHeader {
                    retry_attempt: attempt,
                    ..reserved.header(now)
                };
                self.attempt_failed(reserved, options, header, (started.0, now), err)
                    .await
            }
            Ok(TransactionOutcome::LeaseLost) => Err(self.halt(Halt::LeaseLost)),
            Err(e) => Err(self.halt(Halt::store(&e))),
        }
    }
}

/// A SQLite transactional step: the closure is shared with the writer thread, which
/// runs it once per attempt.
struct SqliteBody<'a, F> {
    store: &'a SqliteStore,
    f: Arc<Mutex<F>>,
}

impl<T, F> Body<T> for SqliteBody<'_, F>
where
    T: Serialize + Send + 'static,
    F: FnMut(&SqliteTransaction<'_>) -> TaskResult<T> + Send + 'static,
{
    fn attempt<'s>(
        &'s mut self,
        ctx: &'s Ctx,
        reserved: &'s Reservation,
        options: &'s StepOptions,
        attempt: u32,
    ) -> BoxFuture<'s, Result<Attempt<T>, Halt>> {
        let started = (ctx.now_wall(), Instant::now());
        let completion = ctx.completion(reserved, attempt, started.0);
        let (f, timeout) = (Arc::clone(&self.f), options.timeout);
        let run = move |tx: &SqliteTransaction<'_>| {
            let ran = Instant::now();
            let value = in_sync_attempt(attempt, || {
                catch_unwind(AssertUnwindSafe(|| {
                    let mut f = f.lock().unwrap_or_else(|e| e.into_inner());
                    (*f)(tx)
                }))
            })
            .unwrap_or_else(|panic| Err(panicked(panic)))?;
            if let Some(limit) = timeout.filter(|limit| ran.elapsed() > *limit) {
                return Err(timed_out(limit));
            }
            let json = to_json(&value)?;
            Ok((value, json))
        };
        let save = move |done: &(T, Value)| completion.save(done.1.clone());
        Box::pin(async move {
            let outcome = self.store.step_transaction(run, save).await;
            ctx.transacted(reserved, options, attempt, started, outcome)
                .await
        })
    }
}

#[cfg(feature = "postgres")]
mod postgres;
