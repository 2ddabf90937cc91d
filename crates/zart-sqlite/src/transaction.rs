//! Transactions of the application's own, on the writer thread: a closure's writes
//! commit together with a step save (a transactional step) or with the executions
//! it starts (transactional enqueue).
//!
//! Why the closure is synchronous and runs on the writer thread: SQLite has one
//! writer at a time, and this store's writer thread owns the only write
//! connection. A transaction on another connection would hold the write lock
//! while the writer thread waits for it (and would surface `SQLITE_BUSY` when the
//! wait runs out); running the closure on the writer's own connection, in a
//! transaction of its own, means no lock is ever contended. `rusqlite` is
//! synchronous, so the closure is too. The price: while the closure runs, every
//! other write of the store waits, so keep it to a few statements (no network
//! calls, no sleeping).

use std::cell::RefCell;
use std::ops::Deref;

use rusqlite::{Connection, DropBehavior, TransactionBehavior};
use zart_core::{
    InsertOutcome, NewExecution, Signal, StepSave, StoreError, StoreResult, TransactionOutcome,
};

use crate::error::SqlResultExt;
use crate::{executions, journal, SqliteStore};

/// A transaction on the store's write connection, handed to the closure of
/// [`SqliteStore::transaction`] or of a transactional step. It derefs to
/// [`rusqlite::Transaction`]: run your own statements on it. It cannot be
/// committed or rolled back by the closure: the store commits it when the closure
/// returns `Ok` (and, for a step, the step save holds), and rolls it back
/// otherwise.
pub struct SqliteTransaction<'c> {
    tx: rusqlite::Transaction<'c>,
    /// Wake-ups to send once the transaction commits.
    signals: RefCell<Vec<Signal>>,
    /// Identifies the store whose connection this is.
    store_id: usize,
}

impl std::fmt::Debug for SqliteTransaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteTransaction").finish_non_exhaustive()
    }
}

impl<'c> Deref for SqliteTransaction<'c> {
    type Target = rusqlite::Transaction<'c>;

    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl<'c> SqliteTransaction<'c> {
    /// `BEGIN IMMEDIATE` on the writer's connection (no transaction is open: see
    /// `Writer::run_alone`). Rolled back when dropped, unless kept by [`Self::keep`].
    fn begin(conn: &'c Connection, store_id: usize) -> StoreResult<Self> {
        let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate).db()?;
        Ok(Self {
            tx,
            signals: RefCell::new(Vec::new()),
            store_id,
        })
    }

    /// Creates an execution in this transaction, as
    /// [`Store::execution_insert`](zart_core::Store::execution_insert) does
    /// (status `scheduled`, or the existing execution with that id unchanged): it
    /// exists once the transaction commits, and the store's workers are woken
    /// then. Callers normally use `zart::Client::start_in_sqlite`, which validates
    /// the request first.
    pub fn execution_insert(&self, params: &NewExecution) -> StoreResult<InsertOutcome> {
        let outcome = executions::insert(&self.tx, params)?;
        if matches!(outcome, InsertOutcome::Created(_)) {
            self.signals.borrow_mut().push(Signal::Work);
        }
        Ok(outcome)
    }

    /// Whether this is a transaction on `store`'s connection.
    pub fn belongs_to(&self, store: &SqliteStore) -> bool {
        self.store_id == store.id()
    }

    /// Runs the application's closure on this transaction. A `COMMIT` it runs
    /// itself is vetoed (turned into a rollback by a commit hook, removed again
    /// when the closure returns or panics): only the store commits, after the step
    /// save and through its durable path.
    fn run<T, E>(&self, f: impl FnOnce(&Self) -> Result<T, E>) -> Result<T, E> {
        struct Unhook<'a>(&'a Connection);
        impl Drop for Unhook<'_> {
            fn drop(&mut self) {
                self.0.commit_hook(None::<fn() -> bool>);
            }
        }
        self.tx.commit_hook(Some(|| true));
        let _unhook = Unhook(&self.tx);
        f(self)
    }

    /// Fails when the closure ended the transaction itself (a `COMMIT`, vetoed into
    /// a rollback, or a `ROLLBACK`): nothing of it is kept, and what follows would
    /// run outside a transaction.
    fn check_open(&self) -> StoreResult<()> {
        if self.tx.is_autocommit() {
            return Err(StoreError::InvalidInput(
                "the transaction's closure ended the transaction itself (COMMIT or ROLLBACK); \
                 nothing of it was kept: the store commits it"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Leaves the transaction open for the writer to commit, with its wake-ups.
    fn keep(mut self, signals: &mut Vec<Signal>) {
        self.tx.set_drop_behavior(DropBehavior::Ignore);
        signals.append(self.signals.get_mut());
    }
}

impl SqliteStore {
    /// Runs `f` in a transaction of its own on the writer thread and commits it
    /// (durably, before this returns) when `f` returns `Ok`; rolls it back when `f`
    /// returns `Err`. `f` runs exactly once. Executions started in it with
    /// [`SqliteTransaction::execution_insert`] wake the workers at the commit.
    ///
    /// `f` is synchronous and runs on the writer thread, on the store's only write
    /// connection, so it never contends for SQLite's write lock (a second
    /// connection would, and could surface `SQLITE_BUSY`). The price: the store's
    /// other writes wait while it runs, so keep it to a few statements.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), zart_core::StoreError> {
    /// let store = zart_sqlite::SqliteStore::open("sqlite::memory:")?;
    /// let rows = store
    ///     .transaction(|tx| {
    ///         tx.execute_batch("CREATE TABLE orders (id TEXT PRIMARY KEY)")
    ///             .and_then(|()| tx.execute("INSERT INTO orders VALUES ('o-1')", []))
    ///             .map_err(|e| zart_core::StoreError::Internal(e.to_string()))
    ///     })
    ///     .await?;
    /// assert_eq!(rows, 1);
    /// # Ok(()) }
    /// ```
    pub async fn transaction<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&SqliteTransaction<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let id = self.id();
        let ran = self
            .writer
            .run_alone(move |conn, signals| {
                let tx = SqliteTransaction::begin(conn, id)?;
                match tx.run(f) {
                    Ok(value) => {
                        tx.check_open()?;
                        tx.keep(signals);
                        Ok(Ok(value))
                    }
                    Err(e) => Ok(Err(e)),
                }
            })
            .await;
        ran.map_err(E::from)?
    }

    /// A transactional step: runs `f` in a transaction of its own on the writer
    /// thread, then writes the step save that `save` builds from its value, guarded
    /// by the lease, in the same transaction, and commits both (durably) only if
    /// the guard held. `f` runs exactly once; its writes are rolled back when it
    /// fails or the lease is lost. A closure that ended the transaction itself
    /// (see [`SqliteStore::transaction`]) fails with an error saying so. The runtime calls this for
    /// `zart::Ctx::sqlite_transaction`.
    pub async fn step_transaction<T, E, F, S>(
        &self,
        f: F,
        save: S,
    ) -> StoreResult<TransactionOutcome<T, E>>
    where
        F: FnOnce(&SqliteTransaction<'_>) -> Result<T, E> + Send + 'static,
        S: FnOnce(&T) -> StepSave + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let id = self.id();
        self.writer
            .run_alone(move |conn, signals| {
                let tx = SqliteTransaction::begin(conn, id)?;
                let value = match tx.run(f).and_then(|value| {
                    tx.check_open().map_err(E::from)?;
                    Ok(value)
                }) {
                    Ok(value) => value,
                    Err(e) => return Ok(TransactionOutcome::Failed(e)),
                };
                if !journal::save(&tx, &save(&value))? {
                    return Ok(TransactionOutcome::LeaseLost);
                }
                tx.keep(signals);
                Ok(TransactionOutcome::Committed(value))
            })
            .await
    }

    /// What identifies this store (its writer's counters, shared by no other).
    fn id(&self) -> usize {
        std::sync::Arc::as_ptr(&self.counters) as usize
    }
}
