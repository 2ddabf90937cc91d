//! The journal: guarded step saves (one statement, one round trip) and replay
//! loads.

use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{Postgres, Row};
use zart_core::{StepRecord, StepSave, StepWrite};

use crate::db::{bind_guard, renumber, Db, GUARD};
use crate::errors::PgError;
use crate::rows::{self, int, ms, opt_json_text, opt_ms};

/// The guard as a CTE: the execution row locked (`FOR NO KEY UPDATE`, re-checked
/// against its latest version) only while the lease check holds, so the write and
/// the check are one atomic statement. A row lock writes no new row version, unlike
/// an `UPDATE`, so a step costs one row, not two.
pub(crate) const GUARDED: &str = "guarded AS (
    SELECT id FROM {s}.executions WHERE {GUARD} FOR NO KEY UPDATE
)";

/// Upserts a journal entry of execution `$1` for each row of `{source}`, keyed by
/// run, name and occurrence, keeping the first `scheduled_at`. Parameters `#1..#13`
/// are bound by [`bind_step`]; `{result}` is the stored value, `{inline}` the start
/// of the completing attempt kept in the row (see `StepSave::inline_attempt_start`;
/// the `steps_keep_inline_attempt` trigger moves a replaced one to `step_attempts`).
const STEP_UPSERT: &str = "
    INSERT INTO {s}.steps (execution_id, run_index, name, occurrence, position, kind,
        status, result, last_error, retryable, retry_attempt, scheduled_at,
        completed_at, wake_at, attempt_started_at)
    SELECT $1, #1, #2, #3, #4, #5, #6, {result}, #8, #9, #10, #11, #12, #13, {inline}
    FROM {source}
    ON CONFLICT (execution_id, run_index, name, occurrence) DO UPDATE SET
        position = EXCLUDED.position, kind = EXCLUDED.kind, status = EXCLUDED.status,
        result = EXCLUDED.result, last_error = EXCLUDED.last_error,
        retryable = EXCLUDED.retryable, retry_attempt = EXCLUDED.retry_attempt,
        completed_at = EXCLUDED.completed_at, wake_at = EXCLUDED.wake_at,
        attempt_started_at = EXCLUDED.attempt_started_at";

/// [`STEP_UPSERT`] reading from `source`, storing `result`, parameters after `$4`,
/// with no attempt in the row.
pub(crate) fn step_upsert(source: &str, result: &str) -> String {
    step_upsert_inline(source, result, "NULL::bigint")
}

/// [`step_upsert`] storing `inline` as the start of the attempt kept in the row.
fn step_upsert_inline(source: &str, result: &str, inline: &str) -> String {
    renumber(
        &STEP_UPSERT
            .replace("{source}", source)
            .replace("{result}", result)
            .replace("{inline}", inline),
        4,
    )
}

/// Rejects counters that do not fit the journal's `INTEGER` columns.
pub(crate) fn check(step: &StepWrite) -> Result<(), PgError> {
    int(step.occurrence, "occurrence")?;
    int(step.position, "position")?;
    int(step.retry_attempt, "retry_attempt")?;
    Ok(())
}

/// Binds `#1..#13` of [`STEP_UPSERT`].
pub(crate) fn bind_step<'q>(
    query: Query<'q, Postgres, PgArguments>,
    run_index: i32,
    step: &'q StepWrite,
) -> Result<Query<'q, Postgres, PgArguments>, PgError> {
    Ok(query
        .bind(run_index)
        .bind(step.name.as_str())
        .bind(int(step.occurrence, "occurrence")?)
        .bind(int(step.position, "position")?)
        .bind(step.kind.as_str())
        .bind(step.status.as_str())
        .bind(opt_json_text(step.result.as_ref()))
        .bind(step.last_error.as_deref())
        .bind(step.retryable)
        .bind(int(step.retry_attempt, "retry_attempt")?)
        .bind(ms(step.scheduled_at))
        .bind(opt_ms(step.completed_at))
        .bind(opt_ms(step.wake_at)))
}

/// Written before the step (see `steps_many::SAVE_MANY` for why), so the step's
/// source reads it.
const ATTEMPT_UPSERT: &str = ", attempt AS (
    INSERT INTO {s}.step_attempts (execution_id, run_index, name, occurrence,
        attempt_number, status, result, error, started_at, completed_at)
    SELECT $1, $5, $6, $7, $18, $19, $20::json, $21, $22, $23 FROM guarded
    ON CONFLICT (execution_id, run_index, name, occurrence, attempt_number) DO UPDATE SET
        status = EXCLUDED.status, result = EXCLUDED.result, error = EXCLUDED.error,
        started_at = EXCLUDED.started_at, completed_at = EXCLUDED.completed_at
    RETURNING 1
)";

/// Writes a journal entry and its attempt if the guard holds: the attempt in the
/// step row when it can be, otherwise as a row of its own.
pub(crate) async fn save(db: &Db, p: &StepSave) -> Result<bool, PgError> {
    let inline = p.inline_attempt_start();
    let row_attempt = p.attempt.as_ref().filter(|_| inline.is_none());
    let (inline_sql, attempt, source) = match (inline, row_attempt) {
        (Some(_), _) => ("$18::bigint", "", "guarded"),
        (None, Some(_)) => (
            "NULL::bigint",
            ATTEMPT_UPSERT,
            "guarded WHERE (SELECT count(*) FROM attempt) >= 0",
        ),
        (None, None) => ("NULL::bigint", "", "guarded"),
    };
    let sql = db.sql(&format!(
        "WITH {}{attempt}, step AS ({}) SELECT count(*) FROM guarded",
        GUARDED.replace("{GUARD}", GUARD),
        step_upsert_inline(source, "#7::json", inline_sql),
    ));
    let mut query = bind_step(
        bind_guard(sqlx::query(&sql), &p.guard),
        p.run_index,
        &p.step,
    )?;
    if let Some(started_at) = inline {
        query = query.bind(ms(started_at));
    }
    if let Some(a) = row_attempt {
        query = query
            .bind(int(a.attempt_number, "attempt_number")?)
            .bind(a.status.as_str())
            .bind(opt_json_text(a.result.as_ref()))
            .bind(a.error.as_deref())
            .bind(ms(a.started_at))
            .bind(opt_ms(a.completed_at));
    }
    let applied: i64 = query.fetch_one(&db.pool).await?.try_get(0)?;
    Ok(applied > 0)
}

pub(crate) async fn journal(
    db: &Db,
    conn: impl sqlx::PgExecutor<'_>,
    execution_id: &str,
    run_index: i32,
) -> Result<Vec<StepRecord>, PgError> {
    let sql = db.sql(
        "SELECT name, occurrence, position, kind, status, result, last_error, retryable,
            retry_attempt, scheduled_at, completed_at, wake_at
         FROM {s}.steps WHERE execution_id = $1 AND run_index = $2
         ORDER BY position, name, occurrence",
    );
    let found = sqlx::query(&sql)
        .bind(execution_id)
        .bind(run_index)
        .fetch_all(conn)
        .await?;
    found.iter().map(rows::step).collect()
}
