//! Operator actions: retry a dead step, restart, selective rerun. Each runs on the
//! writer thread as one transaction that checks the state and changes it, so the
//! checks cannot go stale before the change; the plan (what to change) is decided in
//! `zart_core::admin_plan`, shared with PostgreSQL.

use rusqlite::{params, Connection, OptionalExtension, Row};
use zart_core::admin_plan::{self, ActionState, RunPlan};
use zart_core::{
    ActionKind, ActionMeta, ActionOutcome, ActionRecord, ExecutionRerun, ExecutionRestart,
    ExecutionStatus, Signal, StepRetry, StoreResult,
};

use crate::error::SqlResultExt;
use crate::journal;
use crate::rows::{self, json_text, ms, opt_from_json, parse_enum, ts};

const SELECT_ACTION: &str = "SELECT action_id, execution_id, kind, run_index, step_name, \
    triggered_by, triggered_at, effective_rerun, potentially_stale FROM actions";

pub(crate) fn action(row: &Row<'_>) -> StoreResult<ActionRecord> {
    let kind: String = row.get(2).db()?;
    Ok(ActionRecord {
        action_id: row.get(0).db()?,
        execution_id: row.get(1).db()?,
        kind: parse_enum(&kind)?,
        run_index: row.get(3).db()?,
        step_name: row.get(4).db()?,
        triggered_by: row.get(5).db()?,
        triggered_at: ts(row.get(6).db()?)?,
        effective_rerun: opt_from_json(row.get(7).db()?)?.unwrap_or_default(),
        potentially_stale: opt_from_json(row.get(8).db()?)?.unwrap_or_default(),
    })
}

/// The actions taken on an execution, oldest first.
pub(crate) fn list(conn: &Connection, execution_id: &str) -> StoreResult<Vec<ActionRecord>> {
    let sql = format!("{SELECT_ACTION} WHERE execution_id = ?1 ORDER BY triggered_at, action_id");
    let mut stmt = conn.prepare_cached(&sql).db()?;
    rows::collect(&mut stmt, [execution_id], action)
}

/// The execution's status and run, and the action already recorded under the key.
fn state(conn: &Connection, id: &str, meta: &ActionMeta) -> StoreResult<Option<ActionState>> {
    let row: Option<(String, i32)> = conn
        .prepare_cached("SELECT status, run_index FROM executions WHERE id = ?1")
        .db()?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .db()?;
    let Some((status, run_index)) = row else {
        return Ok(None);
    };
    let replay = match &meta.idempotency_key {
        None => None,
        Some(key) => {
            let sql = format!("{SELECT_ACTION} WHERE execution_id = ?1 AND idempotency_key = ?2");
            let mut stmt = conn.prepare_cached(&sql).db()?;
            rows::collect(&mut stmt, params![id, key], action)?.pop()
        }
    };
    Ok(Some(ActionState {
        status: parse_enum::<ExecutionStatus>(&status)?,
        run_index,
        replay,
    }))
}

fn record(conn: &Connection, meta: &ActionMeta, rec: &ActionRecord) -> StoreResult<()> {
    let effective = (!rec.effective_rerun.is_empty())
        .then(|| json_text(&rec.effective_rerun))
        .transpose()?;
    let stale = (!rec.potentially_stale.is_empty())
        .then(|| json_text(&rec.potentially_stale))
        .transpose()?;
    conn.prepare_cached(
        "INSERT INTO actions (action_id, execution_id, kind, run_index, step_name, \
         triggered_by, triggered_at, idempotency_key, effective_rerun, potentially_stale) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )
    .db()?
    .execute(params![
        rec.action_id,
        rec.execution_id,
        rec.kind.as_str(),
        rec.run_index,
        rec.step_name,
        rec.triggered_by,
        ms(rec.triggered_at),
        meta.idempotency_key,
        effective,
        stale,
    ])
    .db()?;
    Ok(())
}

/// Makes the execution due now for a fresh claim: unleased (the fence moves on, so a
/// worker still holding it cannot write), not parked. A finished execution being
/// requeued gives up its deduplication id, so the new run never collides with a
/// live execution that took the id meanwhile.
const REQUEUE: &str = "lease_owner = NULL, leased_at = NULL, lease_expires_at = NULL, \
    fence = fence + 1, due_at = ?2, updated_at = ?2, version = version + 1, \
    wait_kind = NULL, wait_ref = NULL, wait_until = NULL, wait_attempt = NULL, \
    dedup_id = CASE WHEN status IN ('scheduled', 'running') THEN dedup_id END";

/// Retries the dead step(s) named in `p`.
pub(crate) fn step_retry(
    conn: &Connection,
    p: &StepRetry,
    signals: &mut Vec<Signal>,
) -> StoreResult<ActionOutcome> {
    let id = &p.execution_id;
    let Some(state) = state(conn, id, &p.meta)? else {
        return Ok(ActionOutcome::NotFound);
    };
    if let Some(outcome) = admin_plan::precheck_retry(&state) {
        return Ok(outcome);
    }
    let journal = journal::load(conn, id, state.run_index)?;
    let plan = match admin_plan::plan_retry(&p.step_name, &journal) {
        Ok(plan) => plan,
        Err(outcome) => return Ok(outcome),
    };
    for step in &plan.steps {
        conn.prepare_cached(
            "UPDATE steps SET status = 'scheduled', attempt_base = retry_attempt, \
             wake_at = NULL, completed_at = NULL \
             WHERE execution_id = ?1 AND run_index = ?2 AND name = ?3 AND occurrence = ?4",
        )
        .db()?
        .execute(params![id, state.run_index, step.name, step.occurrence])
        .db()?;
    }
    let now = ms(p.meta.now);
    conn.prepare_cached(&format!(
        "UPDATE executions SET status = 'running', completed_at = NULL, {REQUEUE} WHERE id = ?1"
    ))
    .db()?
    .execute(params![id, now])
    .db()?;
    conn.prepare_cached(
        "UPDATE execution_data SET result = NULL, error = NULL WHERE execution_id = ?1",
    )
    .db()?
    .execute([id])
    .db()?;
    conn.prepare_cached(
        "UPDATE runs SET status = 'running', result = NULL, completed_at = NULL \
         WHERE execution_id = ?1 AND run_index = ?2",
    )
    .db()?
    .execute(params![id, state.run_index])
    .db()?;
    let rec = admin_plan::retry_record(p, state.run_index, &plan);
    record(conn, &p.meta, &rec)?;
    signals.push(Signal::Work);
    Ok(ActionOutcome::Applied(rec))
}

/// Starts a new run with an empty journal.
pub(crate) fn restart(
    conn: &Connection,
    p: &ExecutionRestart,
    signals: &mut Vec<Signal>,
) -> StoreResult<ActionOutcome> {
    let id = &p.execution_id;
    let Some(state) = state(conn, id, &p.meta)? else {
        return Ok(ActionOutcome::NotFound);
    };
    if let Some(outcome) = admin_plan::precheck_new_run(&state, ActionKind::Restart) {
        return Ok(outcome);
    }
    let payload = match &p.payload {
        Some(value) => json_text(value)?,
        None => current_payload(conn, id)?,
    };
    let plan = admin_plan::plan_restart(&state);
    new_run(conn, id, &payload, &p.meta, &plan, signals)?;
    let rec = admin_plan::run_record(id, ActionKind::Restart, &p.meta, plan);
    record(conn, &p.meta, &rec)?;
    Ok(ActionOutcome::Applied(rec))
}

/// Starts a new run that keeps the completed steps outside the effective rerun set.
pub(crate) fn rerun(
    conn: &Connection,
    p: &ExecutionRerun,
    signals: &mut Vec<Signal>,
) -> StoreResult<ActionOutcome> {
    let id = &p.execution_id;
    let Some(state) = state(conn, id, &p.meta)? else {
        return Ok(ActionOutcome::NotFound);
    };
    if let Some(outcome) = admin_plan::precheck_new_run(&state, ActionKind::SelectiveRerun) {
        return Ok(outcome);
    }
    let journal = journal::load(conn, id, state.run_index)?;
    let plan = match admin_plan::plan_rerun(&state, p, &journal) {
        Ok(plan) => plan,
        Err(outcome) => return Ok(outcome),
    };
    let payload = current_payload(conn, id)?;
    new_run(conn, id, &payload, &p.meta, &plan, signals)?;
    for step in &plan.kept {
        conn.prepare_cached(
            "INSERT INTO steps (execution_id, run_index, name, occurrence, position, kind, \
             status, result, last_error, retryable, retry_attempt, scheduled_at, completed_at, \
             wake_at, attempt_started_at, attempt_base) \
             SELECT execution_id, ?3, name, occurrence, position, kind, status, result, \
             last_error, retryable, retry_attempt, scheduled_at, completed_at, wake_at, NULL, \
             attempt_base FROM steps \
             WHERE execution_id = ?1 AND run_index = ?2 AND name = ?4 AND occurrence = ?5",
        )
        .db()?
        .execute(params![
            id,
            state.run_index,
            plan.run_index,
            step.name,
            step.occurrence
        ])
        .db()?;
    }
    let rec = admin_plan::run_record(id, ActionKind::SelectiveRerun, &p.meta, plan);
    record(conn, &p.meta, &rec)?;
    Ok(ActionOutcome::Applied(rec))
}

fn current_payload(conn: &Connection, id: &str) -> StoreResult<String> {
    conn.prepare_cached("SELECT payload FROM execution_data WHERE execution_id = ?1")
        .db()?
        .query_row([id], |r| r.get(0))
        .db()
}

/// Inserts the run, points the execution at it (scheduled, due now, no outcome) and
/// signals `Work`.
fn new_run(
    conn: &Connection,
    id: &str,
    payload: &str,
    meta: &ActionMeta,
    plan: &RunPlan,
    signals: &mut Vec<Signal>,
) -> StoreResult<()> {
    let now = ms(meta.now);
    conn.prepare_cached(
        "INSERT INTO runs (execution_id, run_index, payload, status, trigger, triggered_by, \
         triggered_at) VALUES (?1, ?2, ?3, 'scheduled', ?4, ?5, ?6)",
    )
    .db()?
    .execute(params![
        id,
        plan.run_index,
        payload,
        plan.trigger.as_str(),
        meta.triggered_by,
        now
    ])
    .db()?;
    conn.prepare_cached(&format!(
        "UPDATE executions SET status = 'scheduled', run_index = ?3, completed_at = NULL, \
         started_at = NULL, {REQUEUE} WHERE id = ?1"
    ))
    .db()?
    .execute(params![id, now, plan.run_index])
    .db()?;
    conn.prepare_cached(
        "UPDATE execution_data SET payload = ?2, result = NULL, error = NULL \
         WHERE execution_id = ?1",
    )
    .db()?
    .execute(params![id, payload])
    .db()?;
    signals.push(Signal::Work);
    Ok(())
}
