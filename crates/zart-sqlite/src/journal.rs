//! The journal: guarded step saves (the entry and its attempt) and replay loads.

use rusqlite::{params, Connection};
use zart_core::{AttemptWrite, StepRecord, StepSave, StepWrite, StoreResult};

use crate::error::SqlResultExt;
use crate::guard;
use crate::rows::{self, ms, opt_json_text, opt_ms, SELECT_STEP};

/// Inserts or updates a journal entry keyed by (execution, run, name, occurrence);
/// `scheduled_at` keeps its first value.
pub(crate) fn upsert(
    conn: &Connection,
    execution_id: &str,
    run_index: i32,
    step: &StepWrite,
) -> StoreResult<()> {
    upsert_with(conn, execution_id, run_index, step, None)
}

/// The common part of a journal entry's inserts, after `INSERT [OR IGNORE]`.
macro_rules! into_steps {
    () => {
        "INTO steps (execution_id, run_index, name, occurrence, position, kind, status, \
         result, last_error, retryable, retry_attempt, scheduled_at, completed_at, wake_at, \
         attempt_started_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
    };
}

/// [`upsert`], keeping the completing attempt in the row when it started at
/// `attempt_started_at` (see [`StepSave::inline_attempt_start`]).
///
/// A new entry (the common case: a step completes once) is written by
/// `INSERT OR IGNORE`; only when the entry exists does the `ON CONFLICT DO UPDATE`
/// form run. Its update half fires the `steps_keep_inline_attempt` trigger, and a
/// statement that may fire a trigger makes SQLite copy every page it touches into a
/// statement journal, which cost a fifth of a step save.
fn upsert_with(
    conn: &Connection,
    execution_id: &str,
    run_index: i32,
    step: &StepWrite,
    attempt_started_at: Option<i64>,
) -> StoreResult<()> {
    let result = opt_json_text(step.result.as_ref())?;
    let values = params![
        execution_id,
        run_index,
        step.name,
        step.occurrence,
        step.position,
        step.kind.as_str(),
        step.status.as_str(),
        result,
        step.last_error,
        step.retryable,
        step.retry_attempt,
        ms(step.scheduled_at),
        opt_ms(step.completed_at),
        opt_ms(step.wake_at),
        attempt_started_at,
    ];
    let inserted = conn
        .prepare_cached(concat!("INSERT OR IGNORE ", into_steps!()))
        .db()?
        .execute(values)
        .db()?;
    if inserted == 0 {
        conn.prepare_cached(concat!(
            "INSERT ",
            into_steps!(),
            " ON CONFLICT (execution_id, run_index, name, occurrence) DO UPDATE SET \
             position = excluded.position, kind = excluded.kind, status = excluded.status, \
             result = excluded.result, last_error = excluded.last_error, \
             retryable = excluded.retryable, retry_attempt = excluded.retry_attempt, \
             completed_at = excluded.completed_at, wake_at = excluded.wake_at, \
             attempt_started_at = excluded.attempt_started_at"
        ))
        .db()?
        .execute(values)
        .db()?;
    }
    Ok(())
}

fn upsert_attempt(conn: &Connection, save: &StepSave, attempt: &AttemptWrite) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO step_attempts (execution_id, run_index, name, occurrence, attempt_number, \
         status, result, error, started_at, completed_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
         ON CONFLICT (execution_id, run_index, name, occurrence, attempt_number) DO UPDATE SET \
         status = excluded.status, result = excluded.result, error = excluded.error, \
         started_at = excluded.started_at, completed_at = excluded.completed_at",
    )
    .db()?
    .execute(params![
        save.guard.execution_id,
        save.run_index,
        save.step.name,
        save.step.occurrence,
        attempt.attempt_number,
        attempt.status.as_str(),
        opt_json_text(attempt.result.as_ref())?,
        attempt.error,
        ms(attempt.started_at),
        opt_ms(attempt.completed_at),
    ])
    .db()?;
    Ok(())
}

/// Writes a journal entry and its attempt if the guard holds: the attempt in the
/// step row when it can be (see [`StepSave::inline_attempt_start`]; the
/// `steps_keep_inline_attempt` trigger moves it to `step_attempts` if a later save
/// replaces it), otherwise as a row of its own.
pub(crate) fn save(conn: &Connection, save: &StepSave) -> StoreResult<bool> {
    if !guard::check(conn, &save.guard)? {
        return Ok(false);
    }
    let inline = save.inline_attempt_start();
    let id = &save.guard.execution_id;
    upsert_with(conn, id, save.run_index, &save.step, inline.map(ms))?;
    if let (None, Some(attempt)) = (inline, &save.attempt) {
        upsert_attempt(conn, save, attempt)?;
    }
    Ok(true)
}

/// The journal of one run by position, without attempts.
pub(crate) fn load(
    conn: &Connection,
    execution_id: &str,
    run_index: i32,
) -> StoreResult<Vec<StepRecord>> {
    let sql = format!("{SELECT_STEP} WHERE execution_id = ?1 AND run_index = ?2 ORDER BY position, name, occurrence");
    let mut stmt = conn.prepare_cached(&sql).db()?;
    rows::collect(&mut stmt, params![execution_id, run_index], rows::step)
}
