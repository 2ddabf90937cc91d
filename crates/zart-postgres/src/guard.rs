//! The lease guard: the one fenced check every guarded write makes, in its single
//! and its batched form.
//!
//! A write holds only while the worker still has the execution's lease: the same
//! fence (no claim since), the same owner, and a lease not yet expired at the
//! caller's `now`. The check and the write are one statement, under a row lock on
//! the execution: a lock writes no new row version, unlike an `UPDATE`, so a step
//! costs one row, not two.

use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::Postgres;
use zart_core::LeaseGuard;

use crate::rows::ms;

/// The WHERE clause of every guarded write: `$1..$4` are bound by [`bind_guard`].
pub(crate) const GUARD: &str =
    "id = $1 AND fence = $2 AND lease_owner = $3 AND lease_expires_at > $4";

/// [`GUARD`] as a CTE named `guarded`: the execution row locked (`FOR NO KEY
/// UPDATE`, re-checked against its latest version) only while the lease check
/// holds, so the write and the check are one atomic statement.
pub(crate) fn guarded() -> String {
    format!("guarded AS (\n    SELECT id FROM {{s}}.executions WHERE {GUARD} FOR NO KEY UPDATE\n)")
}

/// [`GUARD`] taking the execution row `FOR UPDATE`, for a transaction whose next
/// statement must see everything committed while it waited (see `parking.rs`).
pub(crate) fn lock_guarded() -> String {
    format!("SELECT 1 FROM {{s}}.executions WHERE {GUARD} FOR UPDATE")
}

/// Binds `$1..$4` of [`GUARD`].
pub(crate) fn bind_guard<'q>(
    query: Query<'q, Postgres, PgArguments>,
    guard: &'q LeaseGuard,
) -> Query<'q, Postgres, PgArguments> {
    query
        .bind(guard.execution_id.as_str())
        .bind(guard.fence)
        .bind(guard.worker_id.as_str())
        .bind(ms(guard.now))
}

/// The guard of a batch statement, as the CTEs `locked` and `ok`. `input` has the
/// columns `req`, `id`, `fence`, `owner`, `now` (the guard of each request, the ids
/// also in the `$2` array); `locked` holds the execution rows named by `$2`, locked
/// one index probe each, in id order (byte order, like every multi-row locker here,
/// so overlapping batches wait rather than deadlock), at their latest committed
/// version; `ok` keeps the requests whose guard holds against them, so a stale
/// guard fails alone. A probe per id keeps the plan independent of the table's
/// statistics: `id = ANY($2)` was planned, and cached, as a sequential scan while
/// the table was small, then scanned the whole table on every batch.
///
/// `{EXCEPT}` is a further condition on `i`, the input row (`TRUE` for none).
pub(crate) const BATCH_GUARD: &str = "locked AS (
        SELECT e.id, e.fence, e.lease_owner, e.lease_expires_at
        FROM (SELECT DISTINCT k.id COLLATE \"C\" AS id FROM unnest($2::text[]) AS k(id)
            ORDER BY 1) k
        CROSS JOIN LATERAL (
            SELECT x.id, x.fence, x.lease_owner, x.lease_expires_at
            FROM {s}.executions x WHERE x.id = k.id
            FOR NO KEY UPDATE
        ) e
    ), ok AS (
        SELECT i.* FROM input i JOIN locked l ON l.id = i.id AND l.fence = i.fence
            AND l.lease_owner = i.owner AND l.lease_expires_at > i.now
        WHERE {EXCEPT}
    )";
