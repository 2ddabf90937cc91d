//! Transactional enqueue (the outbox pattern): starting an execution inside the
//! caller's own transaction, so that the caller's writes and the start commit
//! atomically. Validation and the answer to an existing id are `start`'s own.

use crate::client::started;
use crate::{Client, ClientError, StartRequest, Started};

impl Client {
    /// Starts an execution inside `tx`, a transaction on the SQLite store's write
    /// connection ([`SqliteStore::transaction`](zart_sqlite::SqliteStore::transaction),
    /// or a [`Ctx::sqlite_transaction`](crate::Ctx::sqlite_transaction) step), so that
    /// the application's own writes and the start commit atomically (the outbox
    /// pattern): the execution exists once the transaction commits, and the store's
    /// workers are woken then; a rollback leaves nothing. The request is validated
    /// and an existing id answered exactly as by [`Client::start`].
    ///
    /// Synchronous, because the transaction's closure is (it runs on the store's
    /// writer thread). The transaction must be on this client's store.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use zart::prelude::*;
    ///
    /// let sqlite = Arc::new(zart::sqlite::SqliteStore::open("sqlite://app.db")?);
    /// let zart = Zart::builder(sqlite.clone()).build();
    /// let client = zart.client();
    /// sqlite
    ///     .transaction(move |tx| {
    ///         tx.execute("INSERT INTO orders (id) VALUES ('o-1')", [])
    ///             .map_err(|e| ClientError::Internal(e.to_string()))?;
    ///         client.start_in_sqlite(tx, StartRequest::new("ship", "o-1".into()))
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn start_in_sqlite(
        &self,
        tx: &zart_sqlite::SqliteTransaction<'_>,
        request: StartRequest,
    ) -> Result<Started, ClientError> {
        let ours = self
            .store()
            .as_any()
            .and_then(|any| any.downcast_ref::<zart_sqlite::SqliteStore>())
            .is_some_and(|store| tx.belongs_to(store));
        if !ours {
            return Err(ClientError::InvalidInput(format!(
                "start_in_sqlite needs a transaction on this client's store, which is {}",
                self.store().backend_name()
            )));
        }
        let new = self.new_execution(&request)?;
        self.ensure_queue_declared(&new)?;
        let outcome = tx.execution_insert(&new)?;
        started(&request, outcome)
    }

    /// Starts an execution inside `tx`, the caller's own transaction on the
    /// PostgreSQL store's database, so that the application's own writes and the
    /// start commit atomically (the outbox pattern): the execution exists once the
    /// caller commits, and the wake-up (`NOTIFY`) fires then; a rollback leaves
    /// nothing. The request is validated and an existing id answered exactly as by
    /// [`Client::start`] (an id being started by another uncommitted transaction
    /// waits for it).
    ///
    /// `tx` must be on the database of this client's store (for example from
    /// [`PgStore::pool`](zart_postgres::PgStore::pool)); the execution is written to
    /// the store's schema.
    ///
    /// ```no_run
    /// # async fn demo(zart: zart::Zart, pool: zart::postgres::sqlx::PgPool) -> Result<(), Box<dyn std::error::Error>> {
    /// use zart::prelude::*;
    ///
    /// let mut tx = pool.begin().await?;
    /// zart::postgres::sqlx::query("INSERT INTO orders (id) VALUES ('o-1')")
    ///     .execute(&mut *tx)
    ///     .await?;
    /// zart.client()
    ///     .start_in(&mut tx, StartRequest::new("ship", "o-1".into()))
    ///     .await?;
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "postgres")]
    pub async fn start_in(
        &self,
        tx: &mut zart_postgres::PgTransaction,
        request: StartRequest,
    ) -> Result<Started, ClientError> {
        let store = self
            .store()
            .as_any()
            .and_then(|any| any.downcast_ref::<zart_postgres::PgStore>())
            .ok_or_else(|| {
                ClientError::InvalidInput(format!(
                    "start_in needs the PostgreSQL store, but this client's store is {}",
                    self.store().backend_name()
                ))
            })?;
        let new = self.new_execution(&request)?;
        self.ensure_queue(&new).await?;
        let outcome = store.execution_insert_in(&mut *tx, &new).await?;
        started(&request, outcome)
    }
}
