//! Retention: deleting finished execution trees, whole, chosen by their roots.
//!
//! A child is never deleted on its own: a running parent may still read its result
//! (and would fail with "child not found"). A root that finished before its status's
//! cutoff goes with all its descendants, and only once every one of them is terminal.

use rusqlite::{params, Connection};
use zart_core::{ExecutionPurge, StoreResult};

use crate::error::SqlResultExt;
use crate::rows::{self, ms};

/// Roots read per page while looking for trees to delete.
const PAGE: u32 = 256;

/// Roots past their status's cutoff, oldest first, after the `(?4, ?5)` cursor. `?6`
/// is the latest cutoff, so the completion index bounds the walk.
const CANDIDATES: &str = "\
    SELECT completed_at, id FROM executions \
    WHERE completed_at < ?6 AND (completed_at, id) > (?4, ?5) AND parent_id IS NULL \
      AND ((status = 'completed' AND completed_at < ?1) \
        OR (status = 'failed' AND completed_at < ?2) \
        OR (status = 'cancelled' AND completed_at < ?3)) \
    ORDER BY completed_at, id LIMIT ?7";

/// A root and all its descendants, with their statuses.
const TREE: &str = "\
    WITH RECURSIVE tree(id, status) AS ( \
        SELECT id, status FROM executions WHERE id = ?1 \
        UNION ALL \
        SELECT e.id, e.status FROM executions e JOIN tree t ON e.parent_id = t.id) \
    SELECT id, status FROM tree";

const DELETES: [&str; 7] = [
    "DELETE FROM actions WHERE execution_id = ?1",
    "DELETE FROM step_attempts WHERE execution_id = ?1",
    "DELETE FROM steps WHERE execution_id = ?1",
    "DELETE FROM events WHERE execution_id = ?1",
    "DELETE FROM runs WHERE execution_id = ?1",
    "DELETE FROM execution_data WHERE execution_id = ?1",
    "DELETE FROM executions WHERE id = ?1",
];

/// Deletes up to `limit` finished trees, oldest root first; returns how many
/// executions went, descendants included. Roots whose tree still has an unfinished
/// execution are skipped, so they never hold back the trees behind them.
pub(crate) fn purge(conn: &Connection, p: &ExecutionPurge) -> StoreResult<u64> {
    let cutoffs = [p.completed_before, p.failed_before, p.cancelled_before];
    let Some(latest) = cutoffs.into_iter().flatten().max() else {
        return Ok(0);
    };
    let (mut trees, mut deleted) = (0u32, 0u64);
    let mut cursor = (i64::MIN, String::new());
    while trees < p.limit {
        let page = candidates(conn, p, ms(latest), &cursor)?;
        for (_, root) in &page {
            if trees == p.limit {
                break;
            }
            if let Some(tree) = finished_tree(conn, root)? {
                delete(conn, &tree)?;
                deleted += tree.len() as u64;
                trees += 1;
            }
        }
        match page.last() {
            Some(last) if page.len() == PAGE as usize => cursor = last.clone(),
            _ => break,
        }
    }
    Ok(deleted)
}

fn candidates(
    conn: &Connection,
    p: &ExecutionPurge,
    latest: i64,
    (after_ms, after_id): &(i64, String),
) -> StoreResult<Vec<(i64, String)>> {
    let mut stmt = conn.prepare_cached(CANDIDATES).db()?;
    let args = params![
        p.completed_before.map(ms),
        p.failed_before.map(ms),
        p.cancelled_before.map(ms),
        after_ms,
        after_id,
        latest,
        PAGE,
    ];
    rows::collect(&mut stmt, args, |row| {
        Ok((row.get(0).db()?, row.get(1).db()?))
    })
}

/// The ids of the tree under `root`, or `None` if one of them is not terminal.
fn finished_tree(conn: &Connection, root: &str) -> StoreResult<Option<Vec<String>>> {
    let mut stmt = conn.prepare_cached(TREE).db()?;
    let tree = rows::collect(&mut stmt, [root], |row| {
        Ok((row.get::<_, String>(0).db()?, row.get::<_, String>(1).db()?))
    })?;
    let terminal = |status: &str| matches!(status, "completed" | "failed" | "cancelled");
    if !tree.iter().all(|(_, status)| terminal(status)) {
        return Ok(None);
    }
    Ok(Some(tree.into_iter().map(|(id, _)| id).collect()))
}

fn delete(conn: &Connection, ids: &[String]) -> StoreResult<()> {
    for id in ids {
        for sql in DELETES {
            conn.prepare_cached(sql).db()?.execute([id]).db()?;
        }
    }
    Ok(())
}
