//! Leasing work: claims with `FOR UPDATE SKIP LOCKED`, the next due time, lease
//! renewal.

use std::collections::HashSet;

use sqlx::Row;
use zart_core::{ClaimedExecution, ExecutionClaim, LeaseRenew, Timestamp};

use crate::error::PgError;
use crate::pool::Db;
use crate::rows::{ms, ts};

/// Expired leases first, then due unleased work, each through its partial index.
/// Rows locked by a concurrent claim are skipped, not waited for; the CTEs are read
/// lazily, so `due` locks only the rows the limit still needs. The run rows are
/// left alone: a live run's status and start are its execution's (see
/// `executions::runs`), so a claim writes one row per execution.
const CLAIM: &str = "
    WITH expired AS (
        SELECT id FROM {s}.executions
        WHERE lease_owner IS NOT NULL AND lease_expires_at <= $2
        ORDER BY lease_expires_at LIMIT $4
        FOR UPDATE SKIP LOCKED
    ), due AS (
        SELECT id FROM {s}.executions
        WHERE lease_owner IS NULL AND status IN ('scheduled', 'running') AND due_at <= $2
        ORDER BY due_at LIMIT $4
        FOR UPDATE SKIP LOCKED
    ), picked AS (
        (SELECT id FROM expired) UNION ALL (SELECT id FROM due) LIMIT $4
    ), claimed AS (
        UPDATE {s}.executions e SET
            status = 'running', lease_owner = $1, leased_at = $2, lease_expires_at = $3,
            fence = e.fence + 1, version = e.version + 1, updated_at = $2,
            started_at = COALESCE(e.started_at, $2), due_at = NULL, wait_kind = NULL,
            wait_ref = NULL, wait_until = NULL, wait_attempt = NULL
        FROM picked WHERE e.id = picked.id
        RETURNING e.id, e.task_name, e.run_index, e.fence, e.deadline_at, e.parent_id
    )
    SELECT c.id, c.task_name, c.run_index, c.fence, c.deadline_at, c.parent_id,
           d.payload, d.trace_context
    FROM claimed c JOIN {s}.execution_data d ON d.execution_id = c.id";

pub(crate) async fn claim(db: &Db, p: &ExecutionClaim) -> Result<Vec<ClaimedExecution>, PgError> {
    if p.limit == 0 {
        return Ok(Vec::new());
    }
    let sql = db.sql(CLAIM);
    let found = sqlx::query(&sql)
        .bind(p.worker_id.as_str())
        .bind(ms(p.now))
        .bind(ms(p.lease_expires_at))
        .bind(i64::from(p.limit))
        .fetch_all(&db.pool)
        .await?;
    found
        .iter()
        .map(|row| {
            Ok(ClaimedExecution {
                id: row.try_get("id")?,
                task_name: row.try_get("task_name")?,
                payload: row.try_get("payload")?,
                run_index: row.try_get("run_index")?,
                fence: row.try_get("fence")?,
                deadline_at: row
                    .try_get::<Option<i64>, _>("deadline_at")?
                    .map(ts)
                    .transpose()?,
                parent_id: row.try_get("parent_id")?,
                trace_context: row.try_get("trace_context")?,
            })
        })
        .collect()
}

const NEXT_DUE: &str = "
    SELECT LEAST(
        (SELECT min(due_at) FROM {s}.executions
         WHERE lease_owner IS NULL AND status IN ('scheduled', 'running')),
        (SELECT min(lease_expires_at) FROM {s}.executions WHERE lease_owner IS NOT NULL)
    )";

pub(crate) async fn next_due(db: &Db) -> Result<Option<Timestamp>, PgError> {
    let sql = db.sql(NEXT_DUE);
    let next: Option<i64> = sqlx::query_scalar(&sql).fetch_one(&db.pool).await?;
    next.map(ts).transpose()
}

/// One statement for all leases; a lease renews only while it is still valid. Rows
/// are locked in id order, like a batch of step saves, so the two never deadlock,
/// each by an index probe (see `guard::BATCH_GUARD`).
const RENEW: &str = "
    WITH held AS (
        SELECT e.id FROM (SELECT * FROM unnest($4::text[], $5::bigint[]) AS l(id, fence)
            ORDER BY id COLLATE \"C\") l
        CROSS JOIN LATERAL (
            SELECT x.id FROM {s}.executions x
            WHERE x.id = l.id AND x.fence = l.fence AND x.lease_owner = $1
              AND x.lease_expires_at > $2
            FOR NO KEY UPDATE
        ) e
    )
    UPDATE {s}.executions e SET lease_expires_at = $3
    FROM held WHERE e.id = held.id
    RETURNING e.id, e.fence";

pub(crate) async fn renew(db: &Db, p: &LeaseRenew) -> Result<Vec<String>, PgError> {
    if p.leases.is_empty() {
        return Ok(Vec::new());
    }
    let (ids, fences): (Vec<&str>, Vec<i64>) =
        p.leases.iter().map(|(id, f)| (id.as_str(), *f)).unzip();
    // Answered by (id, fence): a stale fence listed beside the current one for the
    // same id is not renewed.
    let renewed: HashSet<(String, i64)> = sqlx::query_as(&db.sql(RENEW))
        .bind(p.worker_id.as_str())
        .bind(ms(p.now))
        .bind(ms(p.expires_at))
        .bind(ids)
        .bind(fences)
        .fetch_all(&db.pool)
        .await?
        .into_iter()
        .collect();
    // In the caller's order.
    Ok(p.leases
        .iter()
        .filter(|(id, fence)| renewed.contains(&(id.clone(), *fence)))
        .map(|(id, _)| id.clone())
        .collect())
}
