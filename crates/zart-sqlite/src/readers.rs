//! Read-only connections serving reads concurrently with the writer (WAL mode).

use std::sync::Mutex;

use rusqlite::Connection;
use tokio::sync::Semaphore;
use zart_core::{StoreError, StoreResult};

use crate::error::SqlResultExt;

/// A small pool of read-only connections. Each read runs on a blocking thread inside
/// its own deferred transaction, so a multi-query read sees one snapshot.
pub(crate) struct Readers {
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl Readers {
    /// A pool over `conns`.
    pub(crate) fn new(conns: Vec<Connection>) -> Self {
        let permits = Semaphore::new(conns.len());
        Self {
            idle: Mutex::new(conns),
            permits,
        }
    }

    /// Runs `read` on an idle connection.
    pub(crate) async fn run<T, F>(&self, read: F) -> StoreResult<T>
    where
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Unavailable("the SQLite reader pool is closed".into()))?;
        let conn = self
            .lock()
            .pop()
            .ok_or_else(|| StoreError::Internal("no idle SQLite reader".into()))?;
        let joined = tokio::task::spawn_blocking(move || {
            let result = snapshot(&conn, read);
            (conn, result)
        })
        .await;
        match joined {
            Ok((conn, result)) => {
                self.lock().push(conn);
                result
            }
            // The connection is lost with the panicked task; keep the pool's size honest.
            Err(_) => {
                permit.forget();
                Err(StoreError::Internal("a SQLite read panicked".into()))
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn snapshot<T>(
    conn: &Connection,
    read: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    conn.prepare_cached("BEGIN")
        .and_then(|mut s| s.execute([]))
        .db()?;
    let result = read(conn);
    let end = conn
        .prepare_cached("COMMIT")
        .and_then(|mut s| s.execute([]));
    if end.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    let value = result?;
    end.db()?;
    Ok(value)
}
