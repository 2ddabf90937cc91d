//! The PostgreSQL transactional step: an async closure given a `sqlx` transaction on
//! the store's pool, run in the handler's task.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use zart_core::StepKind;
use zart_postgres::{PgStore, PgTransaction, TxFuture};

use super::Body;
use crate::context::step::{guard_future, in_attempt, to_json, Attempt};
use crate::context::{panicked, Ctx, Halt, Reservation};
use crate::retry::StepOptions;
use crate::TaskResult;

impl Ctx {
    /// A transactional step on the PostgreSQL store: begins a transaction on
    /// the store's pool, runs `f` on it, and commits its writes in the same
    /// transaction as the step's journal entry, with the default
    /// [`StepOptions`].
    ///
    /// A crash before the commit leaves neither; after it, both, and a replay
    /// returns the recorded value without running `f`. A failing attempt's
    /// writes are rolled back and the retry runs `f` again in a new
    /// transaction. A worker that lost its lease commits nothing: the journal
    /// entry's write locks the execution row and checks the lease guard in the
    /// same transaction, after `f`, and the whole transaction is rolled back
    /// when it fails.
    ///
    /// `f` borrows the transaction, so it returns a boxed future, as with
    /// `sqlx`'s own `Connection::transaction`:
    ///
    /// ```no_run
    /// # use zart::prelude::*;
    /// # async fn demo(ctx: Ctx, order: String) -> TaskResult<u64> {
    /// let rows: u64 = ctx
    ///     .transaction("record-order", |tx| {
    ///         let order = order.clone();
    ///         Box::pin(async move {
    ///             let done = zart::postgres::sqlx::query("INSERT INTO orders (id) VALUES ($1)")
    ///                 .bind(order)
    ///                 .execute(&mut **tx)
    ///                 .await?;
    ///             Ok(done.rows_affected())
    ///         })
    ///     })
    ///     .await?;
    /// # Ok(rows) }
    /// ```
    pub fn transaction<'a, T, F>(
        &'a self,
        name: &str,
        f: F,
    ) -> impl std::future::Future<Output = TaskResult<T>> + Send + 'a
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: for<'c> FnMut(&'c mut PgTransaction) -> TxFuture<'c, TaskResult<T>> + Send + 'a,
    {
        self.transaction_with(name, StepOptions::default(), f)
    }

    /// [`Ctx::transaction`] with explicit options (retry policy, per-attempt
    /// timeout: an attempt that runs past it is stopped and rolled back).
    pub fn transaction_with<'a, T, F>(
        &'a self,
        name: &str,
        options: StepOptions,
        f: F,
    ) -> impl std::future::Future<Output = TaskResult<T>> + Send + 'a
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: for<'c> FnMut(&'c mut PgTransaction) -> TxFuture<'c, TaskResult<T>> + Send + 'a,
    {
        let reserved = self
            .backend::<PgStore>("ctx.transaction", "PostgreSQL")
            .map(|store| (store, self.reserve(name, StepKind::Step)));
        async move {
            let (store, reserved) = reserved?;
            let body = PgBody { store, f };
            self.run_transaction(reserved, options, body).await
        }
    }
}

/// A PostgreSQL transactional step: the closure runs in the handler's task.
struct PgBody<'a, F> {
    store: &'a PgStore,
    f: F,
}

impl<T, F> Body<T> for PgBody<'_, F>
where
    T: Serialize + Send + 'static,
    F: for<'c> FnMut(&'c mut PgTransaction) -> TxFuture<'c, TaskResult<T>> + Send,
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
        let run = guarded(&mut self.f, attempt, options.timeout);
        let save = move |done: &(T, Value)| completion.save(done.1.clone());
        let store = self.store;
        Box::pin(async move {
            let outcome = store.step_transaction(run, save).await;
            ctx.transacted(reserved, options, attempt, started, outcome)
                .await
        })
    }
}

/// `f` as the store runs it: a panic or a timeout is a retryable error (the
/// transaction is rolled back), and the value comes with its journaled JSON.
fn guarded<'f, T, F>(
    f: &'f mut F,
    attempt: u32,
    timeout: Option<std::time::Duration>,
) -> impl for<'c> FnOnce(&'c mut PgTransaction) -> TxFuture<'c, TaskResult<(T, Value)>> + Send + 'f
where
    T: Serialize + Send + 'static,
    F: for<'c> FnMut(&'c mut PgTransaction) -> TxFuture<'c, TaskResult<T>> + Send,
{
    move |tx| {
        // Moved in, so the call may hold the transaction for all of `'c`.
        let fut = catch_unwind(AssertUnwindSafe(move || {
            let tx = tx;
            f(tx)
        }));
        Box::pin(async move {
            let fut = fut.map_err(panicked)?;
            let value = in_attempt(attempt, guard_future(fut, timeout)).await?;
            let json = to_json(&value)?;
            Ok((value, json))
        })
    }
}
