//! Cancelling an execution with its cascade: the unfinished descendants that end
//! with it, each fenced off so no lease on them can write again.

use rusqlite::{params, Connection};
use zart_core::{CancelOutcome, ExecutionStatus, Signal, StoreResult, Timestamp};

use crate::error::SqlResultExt;
use crate::parking::wake_parent;
use crate::rows::{self, ms};

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
    cancel_ids(conn, &ids, ms(now), signals)?;
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
pub(crate) fn descendants(conn: &Connection, id: &str) -> StoreResult<Vec<String>> {
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
pub(crate) fn cancel_ids(
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
