//! Retention: deleting old finished executions with everything they own.

use zart_core::ExecutionPurge;

use crate::db::Db;
use crate::errors::PgError;
use crate::rows::ms;

/// Deletes the oldest finished executions and everything they own, in one
/// statement. Rows locked by a concurrent purge are skipped.
const PURGE: &str = "
    WITH victims AS (
        SELECT id FROM {s}.executions
        WHERE completed_at < $1 AND status IN ('completed', 'failed', 'cancelled')
        ORDER BY completed_at LIMIT $2
        FOR UPDATE SKIP LOCKED
    ), attempts AS (
        DELETE FROM {s}.step_attempts WHERE execution_id IN (SELECT id FROM victims)
    ), steps AS (
        DELETE FROM {s}.steps WHERE execution_id IN (SELECT id FROM victims)
    ), events AS (
        DELETE FROM {s}.events WHERE execution_id IN (SELECT id FROM victims)
    ), runs AS (
        DELETE FROM {s}.runs WHERE execution_id IN (SELECT id FROM victims)
    ), data AS (
        DELETE FROM {s}.execution_data WHERE execution_id IN (SELECT id FROM victims)
    ), gone AS (
        DELETE FROM {s}.executions WHERE id IN (SELECT id FROM victims) RETURNING id
    )
    SELECT count(*) FROM gone";

pub(crate) async fn purge(db: &Db, p: &ExecutionPurge) -> Result<u64, PgError> {
    if p.limit == 0 {
        return Ok(0);
    }
    let deleted: i64 = sqlx::query_scalar(&db.sql(PURGE))
        .bind(ms(p.finished_before))
        .bind(i64::from(p.limit))
        .fetch_one(&db.pool)
        .await?;
    Ok(u64::try_from(deleted).unwrap_or_default())
}
