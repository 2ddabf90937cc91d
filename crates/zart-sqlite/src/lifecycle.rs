//! Parking (suspend), finishing and cancelling executions.

use rusqlite::{params, Connection};
use zart_core::{
    CancelOutcome, ExecutionFinish, ExecutionOutcome, ExecutionStatus, ExecutionSuspend, Signal,
    StoreResult, Timestamp, WaitingFor,
};

use crate::claims::{self, guard_params, GUARD};
use crate::codec::*;
use crate::error::SqlResultExt;
use crate::events;
use crate::rows;

/// Drops the lease and parks the execution until `wake_at`, recording what it waits
/// for. If the awaited event is already in the inbox, or the awaited child already
/// finished, it is due at once instead: this closes the race between the worker's
/// last check and the suspension.
pub(crate) fn suspend(
    conn: &Connection,
    params: &ExecutionSuspend,
    signals: &mut Vec<Signal>,
) -> StoreResult<bool> {
    let wait = wait_columns(&params.waiting_for)?;
    let guard = &params.guard;
    let now = ms(guard.now);
    let due_at = if already_satisfied(conn, &guard.execution_id, &params.waiting_for)? {
        Some(params.wake_at.map_or(now, |w| ms(w).min(now)))
    } else {
        opt_ms(params.wake_at)
    };
    let sql = format!(
        "UPDATE executions SET lease_owner = NULL, leased_at = NULL, lease_expires_at = NULL, \
         due_at = ?5, wait_kind = ?6, wait_ref = ?7, wait_until = ?8, wait_attempt = ?9, \
         updated_at = ?4, version = version + 1 WHERE {GUARD}"
    );
    let (id, fence, worker, now_ms) = guard_params(guard);
    let changed = conn
        .prepare_cached(&sql)
        .db()?
        .execute(params![
            id,
            fence,
            worker,
            now_ms,
            due_at,
            wait.kind,
            wait.reference,
            wait.until,
            wait.attempt
        ])
        .db()?;
    if changed == 1 && due_at.is_some_and(|d| d <= now) {
        signals.push(Signal::Work);
    }
    Ok(changed == 1)
}

fn already_satisfied(conn: &Connection, id: &str, waiting_for: &WaitingFor) -> StoreResult<bool> {
    match waiting_for {
        WaitingFor::Event { name, .. } => events::pending(conn, id, name),
        WaitingFor::Child { execution_id } => {
            Ok(rows::status_of(conn, execution_id)?.is_some_and(ExecutionStatus::is_terminal))
        }
        _ => Ok(false),
    }
}

/// Marks the execution and its run terminal, stores the outcome, and wakes a parent
/// parked on it.
pub(crate) fn finish(
    conn: &Connection,
    params: &ExecutionFinish,
    signals: &mut Vec<Signal>,
) -> StoreResult<bool> {
    let guard = &params.guard;
    let (status, result, error) = match &params.outcome {
        ExecutionOutcome::Completed(value) => {
            (ExecutionStatus::Completed, Some(json_text(value)?), None)
        }
        ExecutionOutcome::Failed(err) => (ExecutionStatus::Failed, None, Some(json_text(err)?)),
    };
    // The guard is read, then the row updated by key: the writer thread is the only
    // writer, so nothing changes in between (and no RETURNING, which costs SQLite a
    // temporary table per statement).
    let (id, _, _, now) = guard_params(guard);
    let Some(parent) = claims::check_parent(conn, guard)? else {
        return Ok(false);
    };
    conn.prepare_cached(
        "UPDATE executions SET status = ?3, completed_at = ?2, updated_at = ?2, \
         version = version + 1, lease_owner = NULL, leased_at = NULL, lease_expires_at = NULL, \
         due_at = NULL, wait_kind = NULL, wait_ref = NULL, wait_until = NULL, \
         wait_attempt = NULL WHERE id = ?1",
    )
    .db()?
    .execute(params![id, now, status.as_str()])
    .db()?;
    record_outcome(conn, id, params.run_index, status, (result, error), now)?;
    signals.push(Signal::Finished {
        execution_id: id.to_owned(),
        status,
    });
    if let Some(parent) = parent {
        wake_parent(conn, &parent, id, guard.now, signals)?;
    }
    if has_open_children(conn, id)? {
        cancel_all(conn, &descendants(conn, id)?, now, signals)?;
    }
    Ok(true)
}

/// Whether `id` has an unfinished child its end cancels: one probe of the parent
/// index, so a finish without children pays no recursive query.
fn has_open_children(conn: &Connection, id: &str) -> StoreResult<bool> {
    conn.prepare_cached(
        "SELECT 1 FROM executions WHERE parent_id = ?1 AND parent_close = 'cancel' \
         AND status IN ('scheduled', 'running')",
    )
    .db()?
    .exists([id])
    .db()
}

/// Stores the result or error of a finished execution and closes its run.
fn record_outcome(
    conn: &Connection,
    id: &str,
    run_index: i32,
    status: ExecutionStatus,
    (result, error): (Option<String>, Option<String>),
    now: i64,
) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE execution_data SET result = ?2, error = ?3 WHERE execution_id = ?1",
    )
    .db()?
    .execute(params![id, result, error])
    .db()?;
    conn.prepare_cached(
        "UPDATE runs SET status = ?3, result = ?4, completed_at = ?5, \
         started_at = coalesce(started_at, (SELECT started_at FROM executions WHERE id = ?1)) \
         WHERE execution_id = ?1 AND run_index = ?2",
    )
    .db()?
    .execute(params![id, run_index, status.as_str(), result, now])
    .db()?;
    Ok(())
}

/// Makes `parent` due now if it is unleased and parked on `child`.
fn wake_parent(
    conn: &Connection,
    parent: &str,
    child: &str,
    now: Timestamp,
    signals: &mut Vec<Signal>,
) -> StoreResult<()> {
    let woken = conn
        .prepare_cached(
            "UPDATE executions SET due_at = ?3 WHERE id = ?1 AND lease_owner IS NULL \
             AND wait_kind = 'child' AND wait_ref = ?2 AND status IN ('scheduled', 'running') \
             AND (due_at IS NULL OR due_at > ?3)",
        )
        .db()?
        .execute(params![parent, child, ms(now)])
        .db()?;
    if woken == 1 {
        signals.push(Signal::Work);
    }
    Ok(())
}

/// Cancels the execution and its unfinished descendants, bumping their fences so no
/// lease on them can write again.
pub(crate) fn cancel(
    conn: &Connection,
    id: &str,
    now: Timestamp,
    signals: &mut Vec<Signal>,
) -> StoreResult<CancelOutcome> {
    match rows::status_of(conn, id)? {
        None => return Ok(CancelOutcome::NotFound),
        Some(status) if status.is_terminal() => return Ok(CancelOutcome::AlreadyTerminal(status)),
        Some(_) => {}
    }
    let mut ids = vec![id.to_owned()];
    ids.extend(descendants(conn, id)?);
    cancel_all(conn, &ids, ms(now), signals)?;
    let parent: Option<String> = conn
        .prepare_cached("SELECT parent_id FROM executions WHERE id = ?1")
        .db()?
        .query_row([id], |r| r.get(0))
        .db()?;
    if let Some(parent) = parent {
        wake_parent(conn, &parent, id, now, signals)?;
    }
    Ok(CancelOutcome::Cancelled(ids))
}

/// The unfinished descendants of `id` that end with it: those reached through
/// children whose parent-close policy is `cancel` (an abandoned child and its
/// subtree are not). UNION (not UNION ALL) deduplicates, so even a corrupt parent
/// cycle ends.
fn descendants(conn: &Connection, id: &str) -> StoreResult<Vec<String>> {
    let mut tree = conn
        .prepare_cached(
            "WITH RECURSIVE tree(id) AS ( \
               SELECT ?1 UNION SELECT e.id FROM executions e JOIN tree t ON e.parent_id = t.id \
               WHERE e.parent_close = 'cancel' \
             ) SELECT e.id FROM tree JOIN executions e ON e.id = tree.id \
             WHERE e.id <> ?1 AND e.status IN ('scheduled', 'running') ORDER BY e.id",
        )
        .db()?;
    rows::collect(&mut tree, [id], |r| r.get::<_, String>(0).db())
}

/// Cancels each of `ids` and signals `Finished` for it.
fn cancel_all(
    conn: &Connection,
    ids: &[String],
    now: i64,
    signals: &mut Vec<Signal>,
) -> StoreResult<()> {
    for target in ids {
        cancel_one(conn, target, now)?;
        signals.push(Signal::Finished {
            execution_id: target.clone(),
            status: ExecutionStatus::Cancelled,
        });
    }
    Ok(())
}

fn cancel_one(conn: &Connection, id: &str, now: i64) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE executions SET status = 'cancelled', completed_at = ?2, updated_at = ?2, \
         version = version + 1, fence = fence + 1, lease_owner = NULL, leased_at = NULL, \
         lease_expires_at = NULL, due_at = NULL, wait_kind = NULL, wait_ref = NULL, \
         wait_until = NULL, wait_attempt = NULL WHERE id = ?1",
    )
    .db()?
    .execute(params![id, now])
    .db()?;
    conn.prepare_cached(
        "UPDATE runs SET status = 'cancelled', completed_at = ?2, \
         started_at = coalesce(started_at, (SELECT started_at FROM executions WHERE id = ?1)) \
         WHERE execution_id = ?1 AND status IN ('scheduled', 'running')",
    )
    .db()?
    .execute(params![id, now])
    .db()?;
    Ok(())
}
