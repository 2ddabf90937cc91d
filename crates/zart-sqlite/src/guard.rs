//! The lease guard: the one fenced check every guarded write makes.
//!
//! A write on behalf of a lease applies only while the lease is still held: the
//! execution's fence is the one the claim handed out, the owner is the claiming
//! worker, and the lease has not expired at the caller's `now`. A write either
//! appends [`GUARD`] to its `UPDATE` (release, suspend, renewal) or calls [`check`]
//! (or [`check_parent`]) first and then writes by key. Both are the same test: the
//! writer thread is the only writer, so nothing changes the row between the check
//! and a write in the same transaction (PostgreSQL, with many writers, locks the row
//! instead).

use rusqlite::{Connection, OptionalExtension};
use zart_core::{LeaseGuard, StoreResult};

use crate::error::SqlResultExt;
use crate::rows::ms;

/// The guard's condition, as a literal so that [`CHECK`] can be built from it.
macro_rules! guard_condition {
    () => {
        "id = ?1 AND fence = ?2 AND lease_owner = ?3 AND lease_expires_at > ?4"
    };
}

/// The `WHERE` of every guarded write: the fence, the owner and an unexpired lease.
/// Parameters `?1` id, `?2` fence, `?3` worker, `?4` now (see [`guard_params`]).
pub(crate) const GUARD: &str = guard_condition!();

/// Reads the parent of the execution whose lease the guard names, if still held.
const CHECK: &str = concat!(
    "SELECT parent_id FROM executions WHERE ",
    guard_condition!()
);

/// Checks the guard in the caller's transaction; `false` when the lease is no
/// longer held.
pub(crate) fn check(conn: &Connection, guard: &LeaseGuard) -> StoreResult<bool> {
    Ok(check_parent(conn, guard)?.is_some())
}

/// [`check`] that also reads the execution's parent: `None` when the lease is no
/// longer held, `Some(parent_id)` otherwise.
pub(crate) fn check_parent(
    conn: &Connection,
    guard: &LeaseGuard,
) -> StoreResult<Option<Option<String>>> {
    conn.prepare_cached(CHECK)
        .db()?
        .query_row(guard_params(guard), |r| r.get(0))
        .optional()
        .db()
}

/// The four guard parameters, in [`GUARD`] order.
pub(crate) fn guard_params(guard: &LeaseGuard) -> (&str, i64, &str, i64) {
    (
        &guard.execution_id,
        guard.fence,
        &guard.worker_id,
        ms(guard.now),
    )
}
