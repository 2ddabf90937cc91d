//! The writer's health, which `ping` (and so `/readyz`) reports.
//!
//! Two ways the store can be unable to write while its reads still work:
//! - a write failed for lack of space or an I/O error (`SQLITE_FULL`,
//!   `SQLITE_IOERR`): the store is *failing* until a transaction that changed
//!   something commits again. `ping` then tries a small real write itself, so an idle
//!   store recovers without waiting for traffic that a failing readiness check keeps
//!   away;
//! - the writer thread stopped (it panicked): the store is *stopped* for good, and
//!   every read and write fails at once instead of waiting for a commit that will
//!   never come.
//!
//! Both flags are single atomics: the writer updates them once per transaction.

use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::Connection;
use zart_core::{StoreError, StoreResult};

use crate::error::SqlResultExt;
use crate::SqliteStore;

/// Shared by the store, the writer thread and its handle.
#[derive(Debug, Default)]
pub(crate) struct Health {
    failing: AtomicBool,
    stopped: AtomicBool,
}

/// The error of every read and write once the writer thread stopped.
pub(crate) fn writer_stopped() -> StoreError {
    StoreError::Unavailable("the SQLite writer thread stopped; restart the process".into())
}

impl Health {
    /// `Err` once the writer thread stopped.
    pub(crate) fn check(&self) -> StoreResult<()> {
        if self.stopped.load(Ordering::Acquire) {
            return Err(writer_stopped());
        }
        Ok(())
    }

    /// Whether a write failed for lack of space or an I/O error and none has
    /// succeeded since.
    pub(crate) fn failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    /// Records the end of a transaction: `io_failed` if any statement in it hit an
    /// I/O error or a full disk, `wrote` if it committed changes.
    pub(crate) fn transaction_ended(&self, wrote: bool, io_failed: bool) {
        let failing = if io_failed {
            true
        } else if wrote {
            false
        } else {
            return;
        };
        if self.failing() != failing {
            if failing {
                tracing::error!("a SQLite write failed for lack of space or an I/O error; the store reports not ready until a write succeeds");
            } else {
                tracing::info!("SQLite writes succeed again");
            }
            self.failing.store(failing, Ordering::Relaxed);
        }
    }

    /// Marks the writer thread stopped, for good.
    pub(crate) fn stop(&self) {
        if !self.stopped.swap(true, Ordering::AcqRel) {
            tracing::error!("the SQLite writer thread died; the store stops accepting work");
        }
    }
}

/// A small real write that must allocate pages: a scratch row of 16 KiB (several
/// overflow pages) inserted into `schema_migrations` and deleted in the same
/// transaction, so no reader ever sees it. It fails with `SQLITE_FULL` while the
/// database cannot grow.
pub(crate) fn probe(conn: &Connection) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO schema_migrations (version, name, applied_at) \
         VALUES (-1, hex(zeroblob(8192)), 0)",
    )
    .and_then(|mut s| s.execute([]))
    .db()?;
    conn.prepare_cached("DELETE FROM schema_migrations WHERE version = -1")
        .and_then(|mut s| s.execute([]))
        .db()?;
    Ok(())
}

impl SqliteStore {
    /// Whether the store can serve: the writer thread runs, no fsync failed, a read
    /// succeeds, and writes work: after a write failed for lack of space or an I/O
    /// error, a small real write (see [`probe`]) must succeed first.
    pub(crate) async fn check_ready(&self) -> StoreResult<()> {
        self.health.check()?;
        if self.health.failing() {
            self.write(|conn, _| probe(conn)).await?;
        }
        self.read(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(crate::error::map)
        })
        .await
    }
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;
