//! Leasing work: claims, the next due time, lease renewal, and the takeover of
//! every lease at open.

use rusqlite::{params, Connection, OptionalExtension};
use zart_core::{ClaimedExecution, ExecutionClaim, LeaseRenew, StoreResult, Timestamp};

use crate::error::SqlResultExt;
use crate::guard::GUARD;
use crate::rows::{self, ms, opt_ts, value_of};

/// Leases up to `limit` claimable executions, earliest due first: unleased ones due
/// at or before `now`, and those whose lease expired (due at their expiry).
///
/// Each arm walks its partial index in order with its own limit, so a large backlog
/// costs no sort; `+status` keeps the planner off the status index (terminal rows
/// have neither a due time nor a lease, so the check is only a safety net).
pub(crate) fn claim(
    conn: &Connection,
    claim: &ExecutionClaim,
) -> StoreResult<Vec<ClaimedExecution>> {
    let mut select = conn
        .prepare_cached(
            "SELECT id FROM ( \
               SELECT * FROM (SELECT id, due_at AS t FROM executions \
                 WHERE lease_owner IS NULL AND due_at IS NOT NULL AND due_at <= ?1 \
                   AND +status IN ('scheduled', 'running') ORDER BY due_at, id LIMIT ?2) \
               UNION ALL \
               SELECT * FROM (SELECT id, lease_expires_at AS t FROM executions \
                 WHERE lease_owner IS NOT NULL AND lease_expires_at <= ?1 \
                   AND +status IN ('scheduled', 'running') ORDER BY lease_expires_at, id LIMIT ?2) \
             ) ORDER BY t, id LIMIT ?2",
        )
        .db()?;
    let ids = rows::collect(&mut select, params![ms(claim.now), claim.limit], |r| {
        r.get::<_, String>(0).db()
    })?;
    ids.iter().map(|id| lease(conn, id, claim)).collect()
}

fn lease(conn: &Connection, id: &str, claim: &ExecutionClaim) -> StoreResult<ClaimedExecution> {
    let now = ms(claim.now);
    // Read, then update by key (the writer thread is the only writer; RETURNING would
    // cost SQLite a temporary table per row).
    let (fence, task_name, run_index, deadline_at, parent_id, payload, trace_context): (
        i64,
        String,
        i32,
        Option<i64>,
        Option<String>,
        String,
        Option<String>,
    ) = conn
        .prepare_cached(
            "SELECT e.fence, e.task_name, e.run_index, e.deadline_at, e.parent_id, d.payload, \
             d.trace_context FROM executions e JOIN execution_data d ON d.execution_id = e.id WHERE e.id = ?1",
        )
        .db()?
        .query_row([id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .db()?;
    let fence = fence + 1;
    conn.prepare_cached(
        "UPDATE executions SET lease_owner = ?2, leased_at = ?3, lease_expires_at = ?4, \
         fence = ?5, status = 'running', started_at = coalesce(started_at, ?3), \
         updated_at = ?3, version = version + 1, due_at = NULL, wait_kind = NULL, \
         wait_ref = NULL, wait_until = NULL, wait_attempt = NULL \
         WHERE id = ?1",
    )
    .db()?
    .execute(params![
        id,
        claim.worker_id,
        now,
        ms(claim.lease_expires_at),
        fence
    ])
    .db()?;
    // The run row is left alone: while its execution is live, a run's status and
    // start are read from the execution (see `rows::SELECT_RUN`).
    Ok(ClaimedExecution {
        id: id.to_owned(),
        task_name,
        payload: value_of(&payload)?,
        run_index,
        fence,
        deadline_at: opt_ts(deadline_at)?,
        parent_id,
        trace_context,
    })
}

/// The earliest due time of unleased work or expiry of a held lease.
pub(crate) fn next_due(conn: &Connection) -> StoreResult<Option<Timestamp>> {
    let earliest: Option<i64> = conn
        .prepare_cached(
            "SELECT min(t) FROM ( \
               SELECT min(due_at) AS t FROM executions \
                 WHERE lease_owner IS NULL AND due_at IS NOT NULL \
                   AND +status IN ('scheduled', 'running') \
               UNION ALL \
               SELECT min(lease_expires_at) AS t FROM executions \
                 WHERE lease_owner IS NOT NULL AND +status IN ('scheduled', 'running') \
             )",
        )
        .db()?
        .query_row([], |r| r.get(0))
        .optional()
        .db()?
        .flatten();
    opt_ts(earliest)
}

/// Extends each lease still held by the worker; returns the ids renewed, in request
/// order.
pub(crate) fn renew(conn: &Connection, renew: &LeaseRenew) -> StoreResult<Vec<String>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "UPDATE executions SET lease_expires_at = ?5 WHERE {GUARD}"
        ))
        .db()?;
    let mut renewed = Vec::new();
    for (id, fence) in &renew.leases {
        let changed = stmt
            .execute(params![
                id,
                fence,
                renew.worker_id,
                ms(renew.now),
                ms(renew.expires_at)
            ])
            .db()?;
        if changed == 1 {
            renewed.push(id.clone());
        }
    }
    Ok(renewed)
}

/// Takes every lease in the database away from its holder, making the execution due
/// now and bumping its fence (a write under an old lease then fails its guard). Run
/// at open by a process that just became the file's owner (see [`crate::owner`]):
/// the holders are gone, so their executions resume at once instead of after their
/// lease time. Returns how many leases were taken.
pub(crate) fn release_all(conn: &Connection, now: i64) -> StoreResult<usize> {
    conn.execute(
        "UPDATE executions SET lease_owner = NULL, leased_at = NULL, lease_expires_at = NULL, \
         due_at = ?1, updated_at = ?1, fence = fence + 1, version = version + 1, \
         wait_kind = NULL, wait_ref = NULL, wait_until = NULL, wait_attempt = NULL \
         WHERE lease_owner IS NOT NULL",
        [now],
    )
    .db()
}
