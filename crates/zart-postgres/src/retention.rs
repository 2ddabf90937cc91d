//! Retention: deleting finished execution trees, whole, chosen by their roots.
//!
//! A child is never deleted on its own: a running parent may still read its result
//! (and would fail with "child not found"). A root that finished before its status's
//! cutoff goes with all its descendants, and only once every one of them is terminal.

use zart_core::ExecutionPurge;

use crate::error::PgError;
use crate::pool::Db;
use crate::rows::ms;

/// Picks the oldest roots past their status's cutoff whose trees are all terminal
/// (roots with an unfinished descendant are skipped, never blocking the ones behind),
/// then deletes those trees and everything they own (operator actions included), in
/// one statement. `$4` is the
/// latest cutoff, so the completion index bounds the walk. Roots locked by a
/// concurrent purge are skipped.
const PURGE: &str = "
    WITH RECURSIVE roots AS (
        SELECT r.id FROM {s}.executions r
        WHERE r.completed_at < $4 AND r.parent_id IS NULL
          AND ((r.status = 'completed' AND r.completed_at < $1)
            OR (r.status = 'failed' AND r.completed_at < $2)
            OR (r.status = 'cancelled' AND r.completed_at < $3))
          AND NOT EXISTS (
              WITH RECURSIVE below AS (
                  SELECT c.id, c.status FROM {s}.executions c WHERE c.parent_id = r.id
                  UNION ALL
                  SELECT c.id, c.status FROM {s}.executions c JOIN below b ON c.parent_id = b.id
              )
              SELECT 1 FROM below
              WHERE below.status NOT IN ('completed', 'failed', 'cancelled'))
        ORDER BY r.completed_at, r.id LIMIT $5
        FOR UPDATE OF r SKIP LOCKED
    ), tree AS (
        SELECT id FROM roots
        UNION ALL
        SELECT c.id FROM {s}.executions c JOIN tree t ON c.parent_id = t.id
    ), actions AS (
        DELETE FROM {s}.actions WHERE execution_id IN (SELECT id FROM tree)
    ), attempts AS (
        DELETE FROM {s}.step_attempts WHERE execution_id IN (SELECT id FROM tree)
    ), steps AS (
        DELETE FROM {s}.steps WHERE execution_id IN (SELECT id FROM tree)
    ), events AS (
        DELETE FROM {s}.events WHERE execution_id IN (SELECT id FROM tree)
    ), runs AS (
        DELETE FROM {s}.runs WHERE execution_id IN (SELECT id FROM tree)
    ), data AS (
        DELETE FROM {s}.execution_data WHERE execution_id IN (SELECT id FROM tree)
    ), gone AS (
        DELETE FROM {s}.executions WHERE id IN (SELECT id FROM tree) RETURNING id
    )
    SELECT count(*) FROM gone";

/// Deletes up to `limit` finished trees, oldest root first; returns how many
/// executions went, descendants included.
pub(crate) async fn purge(db: &Db, p: &ExecutionPurge) -> Result<u64, PgError> {
    let cutoffs = [p.completed_before, p.failed_before, p.cancelled_before];
    let Some(latest) = cutoffs.into_iter().flatten().max() else {
        return Ok(0);
    };
    if p.limit == 0 {
        return Ok(0);
    }
    let deleted: i64 = sqlx::query_scalar(&db.sql(PURGE))
        .bind(p.completed_before.map(ms))
        .bind(p.failed_before.map(ms))
        .bind(p.cancelled_before.map(ms))
        .bind(ms(latest))
        .bind(i64::from(p.limit))
        .fetch_one(&db.pool)
        .await?;
    Ok(u64::try_from(deleted).unwrap_or_default())
}
