//! Finishing an execution, and waking the parent parked on it, in one statement;
//! with unfinished children to cancel, in one transaction with their cancellation.

use sqlx::{PgExecutor, Row};
use zart_core::{ExecutionFinish, ExecutionOutcome, ExecutionStatus, Signal};

use crate::cancel::{cancel_ids, lock_descendants};
use crate::db::{bind_guard, work_if, Db, Written, GUARD};
use crate::errors::{corrupt, PgError};
use crate::listen::{finished_payload, WORK};
use crate::rows::{json_text, opt_json_text};

/// The `parent` CTE locks the parent row whatever its state and reads its latest
/// committed version. A parent suspending on this child concurrently either
/// committed before the lock was granted (and is seen parked here, so it is woken),
/// or takes its own lock after this commit and then sees the child finished.
///
/// It applies only when no child is left to cancel ([`OPEN_CHILDREN`], one probe of
/// the parent index), and says so in `blocked`: the cancellation then goes first
/// (see [`finish_with_children`]).
const FINISH: &str = "
    WITH finished AS (
        UPDATE {s}.executions SET status = $5, completed_at = $4, updated_at = $4,
            version = version + 1, lease_owner = NULL, leased_at = NULL,
            lease_expires_at = NULL, due_at = NULL, wait_kind = NULL, wait_ref = NULL,
            wait_until = NULL, wait_attempt = NULL
        WHERE {GUARD} AND NOT EXISTS ({OPEN_CHILDREN})
        RETURNING id, parent_id, started_at
    ), data AS (
        UPDATE {s}.execution_data d SET result = $6::json, error = $7::json
        FROM finished f WHERE d.execution_id = f.id
    ), run AS (
        UPDATE {s}.runs r SET status = $5, result = $6::json, completed_at = $4,
            started_at = COALESCE(r.started_at, f.started_at)
        FROM finished f WHERE r.execution_id = f.id AND r.run_index = $8
    ), parent AS (
        SELECT p.id, p.status, p.lease_owner, p.wait_kind, p.wait_ref
        FROM {s}.executions p JOIN finished f ON p.id = f.parent_id
        FOR UPDATE OF p
    ), woken AS (
        UPDATE {s}.executions x SET due_at = LEAST(COALESCE(x.due_at, $4), $4)
        FROM parent p, finished f
        WHERE x.id = p.id AND p.status IN ('scheduled', 'running')
          AND p.lease_owner IS NULL AND p.wait_kind = 'child' AND p.wait_ref = f.id
        RETURNING x.id
    ), notify AS (
        SELECT pg_notify($9, $10) FROM finished
        UNION ALL
        SELECT pg_notify($9, $11) FROM woken
    )
    SELECT (SELECT count(*) FROM finished) AS applied, (SELECT count(*) FROM notify) AS n,
        EXISTS ({OPEN_CHILDREN}) AS blocked";

/// The unfinished children of execution `$1` that its end cancels.
pub(crate) const OPEN_CHILDREN: &str = "SELECT 1 FROM {s}.executions c
    WHERE c.parent_id = $1 AND c.parent_close = 'cancel'
        AND c.status IN ('scheduled', 'running')";

/// What the finish statement reported.
struct Finished {
    applied: bool,
    blocked: bool,
    signals: Vec<Signal>,
}

pub(crate) async fn finish(db: &Db, p: &ExecutionFinish) -> Result<Written<bool>, PgError> {
    let done = statement(db, &db.pool, p).await?;
    if done.applied {
        return Ok((true, done.signals));
    }
    if done.blocked {
        return finish_with_children(db, p).await;
    }
    Ok((false, Vec::new()))
}

/// Cancels the children (and their subtrees) that end with the execution, then
/// finishes it, in one transaction: descendants are locked before the execution, the
/// order a finishing child takes (itself, then its parent), so the two cannot
/// deadlock. Nothing is kept if the guard no longer holds.
pub(crate) async fn finish_with_children(
    db: &Db,
    p: &ExecutionFinish,
) -> Result<Written<bool>, PgError> {
    let mut tx = db.pool.begin().await?;
    let ids: Vec<String> = lock_descendants(db, &mut tx, &p.guard.execution_id)
        .await?
        .into_iter()
        .collect();
    let mut signals = cancel_ids(db, &mut tx, &ids, p.guard.now).await?;
    let done = statement(db, &mut *tx, p).await?;
    if !done.applied {
        tx.rollback().await?;
        return Ok((false, Vec::new()));
    }
    tx.commit().await?;
    signals.extend(done.signals);
    Ok((true, signals))
}

async fn statement<'c>(
    db: &Db,
    conn: impl PgExecutor<'c>,
    p: &ExecutionFinish,
) -> Result<Finished, PgError> {
    let (status, result, error) = match &p.outcome {
        ExecutionOutcome::Completed(value) => (ExecutionStatus::Completed, Some(value), None),
        ExecutionOutcome::Failed(error) => {
            let error = serde_json::to_value(error).map_err(corrupt)?;
            (ExecutionStatus::Failed, None, Some(json_text(&error)))
        }
    };
    let sql = db.sql(
        &FINISH
            .replace("{GUARD}", GUARD)
            .replace("{OPEN_CHILDREN}", OPEN_CHILDREN),
    );
    let row = bind_guard(sqlx::query(&sql), &p.guard)
        .bind(status.as_str())
        .bind(opt_json_text(result))
        .bind(error)
        .bind(p.run_index)
        .bind(db.channel())
        .bind(finished_payload(&p.guard.execution_id, status))
        .bind(WORK)
        .fetch_one(conn)
        .await?;
    let applied = row.try_get::<i64, _>("applied")? > 0;
    let mut signals = Vec::new();
    if applied {
        signals.push(Signal::Finished {
            execution_id: p.guard.execution_id.clone(),
            status,
        });
        // One hint for the finish itself, one more if the parent was woken.
        signals.extend(work_if(row.try_get::<i64, _>("n")? > 1));
    }
    Ok(Finished {
        applied,
        blocked: row.try_get("blocked")?,
        signals,
    })
}
