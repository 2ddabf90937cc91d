//! Operator actions: retry a dead step, restart, selective rerun. Each is one
//! transaction that first locks the execution's row `FOR UPDATE`, then checks the
//! state and changes it, so the checks cannot go stale before the change: a second
//! action on the same execution (from any process) waits for the first to commit
//! and then sees its result (a changed state, or its idempotency key), and a worker's
//! guarded write, which locks the same row, either commits first or finds the fence
//! moved on. What to change is decided in `zart_core::admin_plan`, shared with
//! SQLite; this file only reads and writes.

use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgExecutor, Postgres, Transaction};
use zart_core::admin_plan::{self, ActionState, RunPlan, StepKey};
use zart_core::{
    ActionKind, ActionMeta, ActionOutcome, ActionRecord, ExecutionRerun, ExecutionRestart,
    ExecutionStatus, StepRetry, StoreError,
};

use crate::error::{corrupt, PgError};
use crate::journal;
use crate::listen::WORK;
use crate::pool::{work_if, Db, Written};
use crate::rows::{self, get, int, json_text, ms, ts};

const SELECT_ACTION: &str = "SELECT action_id, execution_id, kind, run_index, step_name,
    triggered_by, triggered_at, effective_rerun, potentially_stale FROM {s}.actions";

/// An [`ActionRecord`] from a row of [`SELECT_ACTION`]; the JSON lists are NULL when
/// empty.
fn action(row: &PgRow) -> Result<ActionRecord, PgError> {
    let invalid = |e: serde_json::Error| corrupt(format!("action lists: {e}"));
    let effective: Option<Value> = get(row, "effective_rerun")?;
    let stale: Option<Value> = get(row, "potentially_stale")?;
    Ok(ActionRecord {
        action_id: get(row, "action_id")?,
        execution_id: get(row, "execution_id")?,
        kind: rows::parse(&get::<String>(row, "kind")?)?,
        run_index: get(row, "run_index")?,
        step_name: get(row, "step_name")?,
        triggered_by: get(row, "triggered_by")?,
        triggered_at: ts(get(row, "triggered_at")?)?,
        effective_rerun: effective
            .map(serde_json::from_value)
            .transpose()
            .map_err(invalid)?
            .unwrap_or_default(),
        potentially_stale: stale
            .map(serde_json::from_value)
            .transpose()
            .map_err(invalid)?
            .unwrap_or_default(),
    })
}

/// The actions taken on an execution, oldest first.
pub(crate) async fn list(
    db: &Db,
    conn: impl PgExecutor<'_>,
    execution_id: &str,
) -> Result<Vec<ActionRecord>, PgError> {
    let sql = db.sql(&format!(
        "{SELECT_ACTION} WHERE execution_id = $1 ORDER BY triggered_at, action_id"
    ));
    let found = sqlx::query(&sql).bind(execution_id).fetch_all(conn).await?;
    found.iter().map(action).collect()
}

/// Locks the execution's row and reads its status and run, and the action already
/// recorded under the key; `None` if there is no such execution.
async fn state(
    db: &Db,
    tx: &mut PgConnection,
    id: &str,
    meta: &ActionMeta,
) -> Result<Option<ActionState>, PgError> {
    let lock = db.sql("SELECT status, run_index FROM {s}.executions WHERE id = $1 FOR UPDATE");
    let Some(row) = sqlx::query(&lock).bind(id).fetch_optional(&mut *tx).await? else {
        return Ok(None);
    };
    let replay = match &meta.idempotency_key {
        None => None,
        Some(key) => {
            let sql = db.sql(&format!(
                "{SELECT_ACTION} WHERE execution_id = $1 AND idempotency_key = $2"
            ));
            let found = sqlx::query(&sql)
                .bind(id)
                .bind(key.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            found.as_ref().map(action).transpose()?
        }
    };
    Ok(Some(ActionState {
        status: rows::parse::<ExecutionStatus>(&get::<String>(&row, "status")?)?,
        run_index: get(&row, "run_index")?,
        replay,
    }))
}

/// A list's JSON text, when it is not empty: the column is NULL when empty.
fn list_text(encoded: Option<serde_json::Result<String>>) -> Result<Option<String>, PgError> {
    encoded
        .transpose()
        .map_err(|e| PgError::Store(StoreError::Internal(format!("action lists: {e}"))))
}

async fn record(
    db: &Db,
    tx: &mut PgConnection,
    meta: &ActionMeta,
    rec: &ActionRecord,
) -> Result<(), PgError> {
    let effective = list_text(
        (!rec.effective_rerun.is_empty()).then(|| serde_json::to_string(&rec.effective_rerun)),
    )?;
    let stale = list_text(
        (!rec.potentially_stale.is_empty()).then(|| serde_json::to_string(&rec.potentially_stale)),
    )?;
    let sql = db.sql(
        "INSERT INTO {s}.actions (action_id, execution_id, kind, run_index, step_name,
            triggered_by, triggered_at, idempotency_key, effective_rerun, potentially_stale)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::json, $10::json)",
    );
    sqlx::query(&sql)
        .bind(rec.action_id.as_str())
        .bind(rec.execution_id.as_str())
        .bind(rec.kind.as_str())
        .bind(rec.run_index)
        .bind(rec.step_name.as_deref())
        .bind(rec.triggered_by.as_str())
        .bind(ms(rec.triggered_at))
        .bind(meta.idempotency_key.as_deref())
        .bind(effective)
        .bind(stale)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Makes execution `$1` due at `$2` for a fresh claim: unleased (the fence moves on,
/// so a worker still holding it cannot write), not parked.
/// A finished execution being requeued gives up its deduplication id, so the new
/// run never collides with a live execution that took the id meanwhile.
const REQUEUE: &str = "lease_owner = NULL, leased_at = NULL, lease_expires_at = NULL,
    fence = fence + 1, due_at = $2, updated_at = $2, version = version + 1,
    wait_kind = NULL, wait_ref = NULL, wait_until = NULL, wait_attempt = NULL,
    dedup_id = CASE WHEN status IN ('scheduled', 'running') THEN dedup_id END";

/// Schedules the dead entries `($4, $5)` (names, occurrences) of run `$3` of
/// execution `$1` again, each with a fresh budget, and makes the execution and the
/// run running again, without outcome, due at `$2`.
const RETRY: &str = "
    WITH retried AS (
        UPDATE {s}.steps s SET status = 'scheduled', attempt_base = s.retry_attempt,
            wake_at = NULL, completed_at = NULL
        FROM unnest($4::text[], $5::int[]) AS k(name, occurrence)
        WHERE s.execution_id = $1 AND s.run_index = $3
          AND s.name = k.name AND s.occurrence = k.occurrence
    ), execution AS (
        UPDATE {s}.executions SET status = 'running', completed_at = NULL, {REQUEUE}
        WHERE id = $1
    ), data AS (
        UPDATE {s}.execution_data SET result = NULL, error = NULL WHERE execution_id = $1
    ), run AS (
        UPDATE {s}.runs SET status = 'running', result = NULL, completed_at = NULL
        WHERE execution_id = $1 AND run_index = $3
    ), notify AS (
        SELECT pg_notify($6, $7)
    )
    SELECT count(*) FROM notify";

/// Retries the dead step(s) named in `p`.
pub(crate) async fn step_retry(db: &Db, p: &StepRetry) -> Result<Written<ActionOutcome>, PgError> {
    let mut tx = db.pool.begin().await?;
    let outcome = retry_in(db, &mut tx, p).await;
    settle(tx, outcome).await
}

async fn retry_in(db: &Db, tx: &mut PgConnection, p: &StepRetry) -> Result<ActionOutcome, PgError> {
    let id = p.execution_id.as_str();
    let Some(state) = state(db, tx, id, &p.meta).await? else {
        return Ok(ActionOutcome::NotFound);
    };
    if let Some(outcome) = admin_plan::precheck_retry(&state) {
        return Ok(outcome);
    }
    let journal = journal::load(db, &mut *tx, id, state.run_index).await?;
    let plan = match admin_plan::plan_retry(&p.step_name, &journal) {
        Ok(plan) => plan,
        Err(outcome) => return Ok(outcome),
    };
    let (names, occurrences) = keys(&plan.steps)?;
    sqlx::query(&db.sql(&RETRY.replace("{REQUEUE}", REQUEUE)))
        .bind(id)
        .bind(ms(p.meta.now))
        .bind(state.run_index)
        .bind(names)
        .bind(occurrences)
        .bind(db.channel())
        .bind(WORK)
        .execute(&mut *tx)
        .await?;
    let rec = admin_plan::retry_record(p, state.run_index, &plan);
    record(db, tx, &p.meta, &rec).await?;
    Ok(ActionOutcome::Applied(rec))
}

/// Starts a new run with an empty journal.
pub(crate) async fn restart(
    db: &Db,
    p: &ExecutionRestart,
) -> Result<Written<ActionOutcome>, PgError> {
    let mut tx = db.pool.begin().await?;
    let outcome = restart_in(db, &mut tx, p).await;
    settle(tx, outcome).await
}

async fn restart_in(
    db: &Db,
    tx: &mut PgConnection,
    p: &ExecutionRestart,
) -> Result<ActionOutcome, PgError> {
    let id = p.execution_id.as_str();
    let Some(state) = state(db, tx, id, &p.meta).await? else {
        return Ok(ActionOutcome::NotFound);
    };
    if let Some(outcome) = admin_plan::precheck_new_run(&state, ActionKind::Restart) {
        return Ok(outcome);
    }
    let plan = admin_plan::plan_restart(&state);
    let payload = p.payload.as_ref().map(json_text);
    new_run(db, tx, id, payload, &p.meta, &plan, state.run_index).await?;
    let rec = admin_plan::run_record(id, ActionKind::Restart, &p.meta, plan);
    record(db, tx, &p.meta, &rec).await?;
    Ok(ActionOutcome::Applied(rec))
}

/// Starts a new run that keeps the completed steps outside the effective rerun set.
pub(crate) async fn rerun(db: &Db, p: &ExecutionRerun) -> Result<Written<ActionOutcome>, PgError> {
    let mut tx = db.pool.begin().await?;
    let outcome = rerun_in(db, &mut tx, p).await;
    settle(tx, outcome).await
}

async fn rerun_in(
    db: &Db,
    tx: &mut PgConnection,
    p: &ExecutionRerun,
) -> Result<ActionOutcome, PgError> {
    let id = p.execution_id.as_str();
    let Some(state) = state(db, tx, id, &p.meta).await? else {
        return Ok(ActionOutcome::NotFound);
    };
    if let Some(outcome) = admin_plan::precheck_new_run(&state, ActionKind::SelectiveRerun) {
        return Ok(outcome);
    }
    let journal = journal::load(db, &mut *tx, id, state.run_index).await?;
    let plan = match admin_plan::plan_rerun(&state, p, &journal) {
        Ok(plan) => plan,
        Err(outcome) => return Ok(outcome),
    };
    new_run(db, tx, id, None, &p.meta, &plan, state.run_index).await?;
    let rec = admin_plan::run_record(id, ActionKind::SelectiveRerun, &p.meta, plan);
    record(db, tx, &p.meta, &rec).await?;
    Ok(ActionOutcome::Applied(rec))
}

/// Ends an action's transaction at once: commits an applied action (its `Work` hint
/// fires then) and rolls back anything else. A transaction merely dropped is rolled
/// back only when its connection is next used, and keeps the execution's row locked
/// until then: a claim right after the answer would skip the row.
async fn settle(
    tx: Transaction<'_, Postgres>,
    outcome: Result<ActionOutcome, PgError>,
) -> Result<Written<ActionOutcome>, PgError> {
    match outcome {
        Ok(applied @ ActionOutcome::Applied(_)) => {
            tx.commit().await?;
            Ok((applied, work_if(true)))
        }
        Ok(other) => {
            tx.rollback().await?;
            Ok((other, Vec::new()))
        }
        Err(e) => {
            // The error is the news; a failed rollback adds nothing (the connection
            // is then broken and not reused).
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// Inserts run `$3` of execution `$1` (payload `$4`, or the current one when NULL;
/// trigger `$5`, by `$6` at `$2`), copies the entries `($7, $8)` (names,
/// occurrences) of run `$9` into it, and points the execution at it: scheduled,
/// due at `$2`, without outcome.
const NEW_RUN: &str = "
    WITH source AS (
        SELECT COALESCE($4::json, d.payload) AS payload
        FROM {s}.execution_data d WHERE d.execution_id = $1
    ), run AS (
        INSERT INTO {s}.runs (execution_id, run_index, payload, status, trigger,
            triggered_by, triggered_at)
        SELECT $1, $3, payload, 'scheduled', $5, $6, $2 FROM source
    ), kept AS (
        INSERT INTO {s}.steps (execution_id, run_index, name, occurrence, position, kind,
            status, result, last_error, retryable, retry_attempt, scheduled_at,
            completed_at, wake_at, attempt_started_at, attempt_base)
        SELECT s.execution_id, $3, s.name, s.occurrence, s.position, s.kind, s.status,
            s.result, s.last_error, s.retryable, s.retry_attempt, s.scheduled_at,
            s.completed_at, s.wake_at, NULL, s.attempt_base
        FROM {s}.steps s JOIN unnest($7::text[], $8::int[]) AS k(name, occurrence)
            ON s.name = k.name AND s.occurrence = k.occurrence
        WHERE s.execution_id = $1 AND s.run_index = $9
    ), execution AS (
        UPDATE {s}.executions SET status = 'scheduled', run_index = $3, completed_at = NULL,
            started_at = NULL, {REQUEUE}
        WHERE id = $1
    ), data AS (
        UPDATE {s}.execution_data d SET payload = source.payload, result = NULL,
            error = NULL
        FROM source WHERE d.execution_id = $1
    ), notify AS (
        SELECT pg_notify($10, $11)
    )
    SELECT count(*) FROM notify";

/// Writes [`NEW_RUN`] for `plan`, copying its kept entries of run `from`.
async fn new_run(
    db: &Db,
    tx: &mut PgConnection,
    id: &str,
    payload: Option<String>,
    meta: &ActionMeta,
    plan: &RunPlan,
    from: i32,
) -> Result<(), PgError> {
    let (names, occurrences) = keys(&plan.kept)?;
    sqlx::query(&db.sql(&NEW_RUN.replace("{REQUEUE}", REQUEUE)))
        .bind(id)
        .bind(ms(meta.now))
        .bind(plan.run_index)
        .bind(payload)
        .bind(plan.trigger.as_str())
        .bind(meta.triggered_by.as_str())
        .bind(names)
        .bind(occurrences)
        .bind(from)
        .bind(db.channel())
        .bind(WORK)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Journal keys as the two arrays (names, occurrences) the statements unnest.
fn keys(steps: &[StepKey]) -> Result<(Vec<&str>, Vec<i32>), PgError> {
    let names = steps.iter().map(|s| s.name.as_str()).collect();
    let occurrences = steps
        .iter()
        .map(|s| int(s.occurrence, "occurrence"))
        .collect::<Result<_, _>>()?;
    Ok((names, occurrences))
}
