//! Read-only connections serving reads concurrently with the writer (WAL mode).
//!
//! A connection is lent to one blocking task at a time and always comes back: a
//! [`Loan`] owns it together with the permit that admitted the read, and returns the
//! connection to the pool before the permit when dropped: when the read ends, when
//! it panics, or when the blocking task never runs. The future awaiting the read may
//! be dropped at any time (an HTTP client disconnects, a `timeout` fires): the read
//! still finishes on its thread and the connection is put back, so the pool never
//! shrinks.

use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use zart_core::{StoreError, StoreResult};

use crate::error::SqlResultExt;

/// A small pool of read-only connections. Each read runs on a blocking thread inside
/// its own deferred transaction, so a multi-query read sees one snapshot.
pub(crate) struct Readers {
    idle: Arc<Mutex<Vec<Connection>>>,
    /// One permit per idle connection: a holder is sure to find one in `idle`.
    permits: Arc<Semaphore>,
}

impl Readers {
    /// A pool over `conns`.
    pub(crate) fn new(conns: Vec<Connection>) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(conns.len())),
            idle: Arc::new(Mutex::new(conns)),
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
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("the SQLite reader pool is closed".into()))?;
        let loan = Loan::take(&self.idle, permit)?;
        tokio::task::spawn_blocking(move || match &loan.conn {
            Some(conn) => snapshot(conn, read),
            None => Err(StoreError::Internal("no idle SQLite reader".into())),
        })
        .await
        .unwrap_or_else(|_| Err(StoreError::Internal("a SQLite read panicked".into())))
    }
}

/// A connection out of the pool, and the permit that admitted its read. Dropping it
/// ends any transaction left open and puts the connection back, then frees the
/// permit (fields drop after `drop` runs).
struct Loan {
    /// Always `Some` until `drop` puts it back.
    conn: Option<Connection>,
    idle: Arc<Mutex<Vec<Connection>>>,
    _permit: OwnedSemaphorePermit,
}

impl Loan {
    fn take(idle: &Arc<Mutex<Vec<Connection>>>, permit: OwnedSemaphorePermit) -> StoreResult<Loan> {
        let conn = lock(idle)
            .pop()
            .ok_or_else(|| StoreError::Internal("no idle SQLite reader".into()))?;
        Ok(Loan {
            conn: Some(conn),
            idle: idle.clone(),
            _permit: permit,
        })
    }
}

impl Drop for Loan {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // A read that panicked mid-transaction leaves it open; the next BEGIN
            // would fail.
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            lock(&self.idle).push(conn);
        }
    }
}

fn lock(idle: &Mutex<Vec<Connection>>) -> MutexGuard<'_, Vec<Connection>> {
    idle.lock().unwrap_or_else(|e| e.into_inner())
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
