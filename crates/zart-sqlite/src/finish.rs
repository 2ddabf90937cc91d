//! Finishing an execution: its outcome, its run, the parent parked on it, and the
//! cancellation of the unfinished children its end takes along.

use rusqlite::{params, Connection};
use zart_core::{ExecutionFinish, ExecutionOutcome, ExecutionStatus, Signal, StoreResult};

use crate::cancel;
use crate::error::SqlResultExt;
use crate::guard::{self, guard_params};
use crate::parking::wake_parent;
use crate::rows::json_text;

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
    let Some(parent) = guard::check_parent(conn, guard)? else {
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
        cancel::cancel_ids(conn, &cancel::descendants(conn, id)?, now, signals)?;
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
