//! Transactions of the application's own: a closure's writes commit together with
//! a step save (a transactional step), and an execution is created inside the
//! caller's transaction (transactional enqueue).
//!
//! The step save is the same statement as every other (`journal.rs`), run on the
//! application's transaction after its closure: it locks the execution row (`FOR
//! NO KEY UPDATE`) and writes the entry only while the lease guard holds, so a
//! worker that lost its lease writes no step, and the whole transaction, the
//! application's rows included, is rolled back. The row is locked at the end, not
//! before the closure: a lock held for the closure's whole run would block the
//! worker's lease renewals (one statement for all its leases) for as long.
//! Between the lock and the commit nothing else runs, so a claim by another
//! worker either committed before the lock (the guard fails) or waits for the
//! commit (and then sees the step completed).

use std::future::Future;
use std::pin::Pin;

use zart_core::{
    InsertOutcome, NewExecution, StepSave, StoreError, StoreResult, TransactionOutcome,
};

use crate::error::{map_sqlx, sqlstate};
use crate::{executions, journal, PgStore};

/// The application's transaction on the store's database, as the closure of a
/// transactional step receives it: run your own statements on `&mut **tx`.
pub type PgTransaction = sqlx::Transaction<'static, sqlx::Postgres>;

/// The future a transactional step's closure returns: boxed, because it borrows the
/// transaction it is given (as with `sqlx`'s own `Connection::transaction`, write
/// `|tx| Box::pin(async move { ... })`).
pub type TxFuture<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

impl PgStore {
    /// A transactional step: begins a transaction on the store's pool, runs `f` on
    /// it, then writes the step save that `save` builds from `f`'s value, guarded by
    /// the lease, in the same transaction, and commits only if the guard held. When
    /// `f` fails or the lease was lost, the transaction (with `f`'s writes) is
    /// rolled back. A closure that returns `Ok` from a transaction it left aborted
    /// (it ignored a failed statement) fails too, with an error saying so. The
    /// runtime calls this for `zart::Ctx::transaction`.
    pub async fn step_transaction<T, E, F, S>(
        &self,
        f: F,
        save: S,
    ) -> StoreResult<TransactionOutcome<T, E>>
    where
        F: for<'c> FnOnce(&'c mut PgTransaction) -> TxFuture<'c, Result<T, E>> + Send,
        S: FnOnce(&T) -> StepSave + Send,
        T: Send,
        E: From<StoreError> + Send,
    {
        let mut tx = self.begin().await?;
        let value = match f(&mut tx).await {
            Ok(value) => value,
            Err(e) => {
                rollback(tx).await;
                return Ok(TransactionOutcome::Failed(e));
            }
        };
        let params = save(&value);
        let held = match journal::save_on(self.db(), &mut *tx, &[&params]).await {
            Ok(held) => held,
            Err(e) if sqlstate(&e).as_deref() == Some(IN_FAILED_TRANSACTION) => {
                rollback(tx).await;
                return Ok(TransactionOutcome::Failed(E::from(aborted())));
            }
            Err(e) => return Err(e.into()),
        };
        if !held.first().copied().unwrap_or(false) {
            rollback(tx).await;
            return Ok(TransactionOutcome::LeaseLost);
        }
        tx.commit().await.map_err(map_sqlx)?;
        Ok(TransactionOutcome::Committed(value))
    }

    /// Creates an execution inside the caller's transaction `conn` (transactional
    /// enqueue, the outbox pattern), as [`Store::execution_insert`] does: it exists
    /// once the caller commits, and the wake-up (`NOTIFY`) is sent then; nothing
    /// is left if the caller rolls back. An existing execution with the id is
    /// returned unchanged. `conn` must be on this store's database (the schema is
    /// this store's). Callers normally use `zart::Client::start_in`, which
    /// validates the request first.
    ///
    /// Without a LISTEN connection ([`PgOptions::listen`](crate::PgOptions::listen)
    /// off) workers find the execution by polling.
    ///
    /// [`Store::execution_insert`]: zart_core::Store::execution_insert
    pub async fn execution_insert_in(
        &self,
        conn: &mut sqlx::PgConnection,
        params: &NewExecution,
    ) -> StoreResult<InsertOutcome> {
        let (outcome, _hints) = executions::insert_in(self.db(), conn, params)
            .await
            .map_err(StoreError::from)?;
        Ok(outcome)
    }

    /// A new transaction on the pool, failing fast while the server is down.
    async fn begin(&self) -> StoreResult<PgTransaction> {
        let pool = self.pool().clone();
        self.checked(async move { pool.begin().await.map_err(map_sqlx) })
            .await
    }
}

/// `in_failed_sql_transaction`: a statement failed earlier in the transaction, and
/// PostgreSQL refuses every later one until it is rolled back.
const IN_FAILED_TRANSACTION: &str = "25P02";

/// The error of a closure that returned `Ok` from a transaction it left aborted.
fn aborted() -> StoreError {
    StoreError::InvalidInput(
        "the transaction's closure returned Ok, but a statement of it had failed and \
         aborted the transaction (return that statement's error instead of ignoring it)"
            .into(),
    )
}

/// Rolls `tx` back; a failure only means the connection is gone, which rolls it
/// back too.
async fn rollback(tx: PgTransaction) {
    if let Err(e) = tx.rollback().await {
        tracing::debug!(error = %e, "rollback of a step transaction failed");
    }
}
