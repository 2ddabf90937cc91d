//! Where a store call runs: a write op on the writer thread, in its next
//! group-commit batch; a read on a reader connection, answered once what it saw is
//! durable (or through the writer when there are no readers: in memory, or with
//! `readers: 0`).

use rusqlite::Connection;
use zart_core::{Signal, StoreResult};

use crate::SqliteStore;

impl SqliteStore {
    /// Runs a write op in the next group-commit batch.
    pub(crate) async fn write<T, F>(&self, op: F) -> StoreResult<T>
    where
        F: Fn(&Connection, &mut Vec<Signal>) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.writer.run(op).await
    }

    /// Runs a read on a reader connection (or through the writer when there is none).
    pub(crate) async fn read<T, F>(&self, read: F) -> StoreResult<T>
    where
        F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        match &self.readers {
            Some(readers) => {
                self.health.check()?;
                let value = readers.run(read).await?;
                if let Some(durable) = &self.durable {
                    durable.settle().await?;
                }
                Ok(value)
            }
            None => self.writer.run(move |conn, _| read(conn)).await,
        }
    }
}
