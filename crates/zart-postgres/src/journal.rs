//! The journal: guarded step saves, written in batches (one statement, one round
//! trip, for one save or many; see `group/` for how batches form), the journal
//! entry upsert the event consumption and the child spawn reuse, and replay loads.

use std::collections::HashSet;

use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::Postgres;
use zart_core::{StepRecord, StepSave, StepWrite};

use crate::error::PgError;
use crate::guard::BATCH_GUARD;
use crate::pool::{renumber, Db};
use crate::rows::{self, int, ms, opt_json_text, opt_ms, request_numbers};

/// The columns a journal entry is written with, in the order both upserts select
/// them.
const STEP_INSERT: &str = "INSERT INTO {s}.steps (execution_id, run_index, name, occurrence,
        position, kind, status, result, last_error, retryable, retry_attempt, scheduled_at,
        completed_at, wake_at, attempt_started_at)";

/// A journal entry is keyed by run, name and occurrence; a save replaces it, keeping
/// the first `scheduled_at`. A replaced attempt kept in the row is moved to
/// `step_attempts` by the `steps_keep_inline_attempt` trigger (migration 2).
const STEP_CONFLICT: &str = "ON CONFLICT (execution_id, run_index, name, occurrence) DO UPDATE SET
        position = EXCLUDED.position, kind = EXCLUDED.kind, status = EXCLUDED.status,
        result = EXCLUDED.result, last_error = EXCLUDED.last_error,
        retryable = EXCLUDED.retryable, retry_attempt = EXCLUDED.retry_attempt,
        completed_at = EXCLUDED.completed_at, wake_at = EXCLUDED.wake_at,
        attempt_started_at = EXCLUDED.attempt_started_at";

/// Upserts a journal entry of execution `$1` for each row of `source`, storing
/// `result`, with no attempt in the row: the step written by another guarded write
/// (an event consumed, a child spawned). Its parameters follow the guard's `$1..$4`
/// and are bound by [`bind_step`].
pub(crate) fn step_upsert(source: &str, result: &str) -> String {
    renumber(
        &format!(
            "{STEP_INSERT}
    SELECT $1, #1, #2, #3, #4, #5, #6, {result}, #8, #9, #10, #11, #12, #13, NULL::bigint
    FROM {source}
    {STEP_CONFLICT}"
        ),
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

/// Binds the 13 parameters of [`step_upsert`].
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

/// The step save, for a batch of saves at most one per journal entry. The guard
/// (`locked`, `ok`: see [`BATCH_GUARD`]) keeps the saves whose lease holds. `step`
/// reads `attempt` so that the attempt rows are written first: a step row replaced
/// by the save may move its kept attempt into `step_attempts` (the trigger of
/// migration 2), and that insert must come second, where it yields to an attempt
/// row of the same number written by this save (`ON CONFLICT DO NOTHING`) instead
/// of making this save's `ON CONFLICT DO UPDATE` meet the same row twice. An
/// attempt kept in its step row (`attempt_started_at`, see
/// `StepSave::inline_attempt_start`) has no entry in the attempt arrays. The row
/// lock is the whole guard: the execution row gets no new version per step.
/// Returns the request numbers of the saves written.
const SAVE: &str = "
    WITH input AS (
        SELECT * FROM unnest($1::int[], $2::text[], $3::bigint[], $4::text[],
            $5::bigint[], $6::int[], $7::text[], $8::int[], $9::int[], $10::text[],
            $11::text[], $12::text[], $13::text[], $14::bool[], $15::int[],
            $16::bigint[], $17::bigint[], $18::bigint[], $26::bigint[])
        AS i(req, id, fence, owner, now, run_index, name, occurrence, position, kind,
            status, result, last_error, retryable, retry_attempt, scheduled_at,
            completed_at, wake_at, attempt_started_at)
    ), {BATCH_GUARD}, attempt AS (
        INSERT INTO {s}.step_attempts (execution_id, run_index, name, occurrence,
            attempt_number, status, result, error, started_at, completed_at)
        SELECT ok.id, ok.run_index, ok.name, ok.occurrence, a.number, a.status,
            a.result::json, a.error, a.started_at, a.completed_at
        FROM unnest($19::int[], $20::int[], $21::text[], $22::text[], $23::text[],
            $24::bigint[], $25::bigint[])
            AS a(req, number, status, result, error, started_at, completed_at)
        JOIN ok ON ok.req = a.req
        ON CONFLICT (execution_id, run_index, name, occurrence, attempt_number)
        DO UPDATE SET status = EXCLUDED.status, result = EXCLUDED.result,
            error = EXCLUDED.error, started_at = EXCLUDED.started_at,
            completed_at = EXCLUDED.completed_at
        RETURNING 1
    ), step AS (
        {STEP_INSERT}
        SELECT id, run_index, name, occurrence, position, kind, status, result::json,
            last_error, retryable, retry_attempt, scheduled_at, completed_at, wake_at,
            attempt_started_at
        FROM ok WHERE (SELECT count(*) FROM attempt) >= 0
        {STEP_CONFLICT}
    )
    SELECT req FROM ok";

/// One array per column of `input`.
#[derive(Default)]
struct Columns<'a> {
    req: Vec<i32>,
    id: Vec<&'a str>,
    fence: Vec<i64>,
    owner: Vec<&'a str>,
    now: Vec<i64>,
    run_index: Vec<i32>,
    name: Vec<&'a str>,
    occurrence: Vec<i32>,
    position: Vec<i32>,
    kind: Vec<&'static str>,
    status: Vec<&'static str>,
    result: Vec<Option<String>>,
    last_error: Vec<Option<&'a str>>,
    retryable: Vec<bool>,
    retry_attempt: Vec<i32>,
    scheduled_at: Vec<i64>,
    completed_at: Vec<Option<i64>>,
    wake_at: Vec<Option<i64>>,
    attempt_started_at: Vec<Option<i64>>,
}

/// One array per column of the attempts.
#[derive(Default)]
struct Attempts<'a> {
    req: Vec<i32>,
    number: Vec<i32>,
    status: Vec<&'static str>,
    result: Vec<Option<String>>,
    error: Vec<Option<&'a str>>,
    started_at: Vec<i64>,
    completed_at: Vec<Option<i64>>,
}

fn columns<'a>(saves: &[&'a StepSave]) -> Result<(Columns<'a>, Attempts<'a>), PgError> {
    let mut c = Columns::default();
    let mut a = Attempts::default();
    for (save, req) in saves.iter().zip(request_numbers(saves.len())?) {
        let (g, s) = (&save.guard, &save.step);
        c.req.push(req);
        c.id.push(&g.execution_id);
        c.fence.push(g.fence);
        c.owner.push(&g.worker_id);
        c.now.push(ms(g.now));
        c.run_index.push(save.run_index);
        c.name.push(&s.name);
        c.occurrence.push(int(s.occurrence, "occurrence")?);
        c.position.push(int(s.position, "position")?);
        c.kind.push(s.kind.as_str());
        c.status.push(s.status.as_str());
        c.result.push(opt_json_text(s.result.as_ref()));
        c.last_error.push(s.last_error.as_deref());
        c.retryable.push(s.retryable);
        c.retry_attempt.push(int(s.retry_attempt, "retry_attempt")?);
        c.scheduled_at.push(ms(s.scheduled_at));
        c.completed_at.push(opt_ms(s.completed_at));
        c.wake_at.push(opt_ms(s.wake_at));
        let inline = save.inline_attempt_start();
        c.attempt_started_at.push(inline.map(ms));
        if let (None, Some(attempt)) = (inline, &save.attempt) {
            a.req.push(req);
            a.number
                .push(int(attempt.attempt_number, "attempt_number")?);
            a.status.push(attempt.status.as_str());
            a.result.push(opt_json_text(attempt.result.as_ref()));
            a.error.push(attempt.error.as_deref());
            a.started_at.push(ms(attempt.started_at));
            a.completed_at.push(opt_ms(attempt.completed_at));
        }
    }
    Ok((c, a))
}

/// The text of [`SAVE`].
fn save_sql() -> String {
    SAVE.replace("{BATCH_GUARD}", &BATCH_GUARD.replace("{EXCEPT}", "TRUE"))
        .replace("{STEP_INSERT}", STEP_INSERT)
        .replace("{STEP_CONFLICT}", STEP_CONFLICT)
}

/// Writes `saves` (at most one per journal entry) in one statement; returns, for
/// each in order, whether its guard held.
pub(crate) async fn save(db: &Db, saves: &[&StepSave]) -> Result<Vec<bool>, PgError> {
    save_on(db, db.writes(), saves).await
}

/// [`save`] on `conn`: the batch's own transaction, or the application's (a
/// transactional step, see `transaction.rs`).
pub(crate) async fn save_on(
    db: &Db,
    conn: impl sqlx::PgExecutor<'_>,
    saves: &[&StepSave],
) -> Result<Vec<bool>, PgError> {
    let (c, a) = columns(saves)?;
    let written: Vec<i32> = sqlx::query_scalar(&db.sql(&save_sql()))
        .bind(c.req)
        .bind(c.id)
        .bind(c.fence)
        .bind(c.owner)
        .bind(c.now)
        .bind(c.run_index)
        .bind(c.name)
        .bind(c.occurrence)
        .bind(c.position)
        .bind(c.kind)
        .bind(c.status)
        .bind(c.result)
        .bind(c.last_error)
        .bind(c.retryable)
        .bind(c.retry_attempt)
        .bind(c.scheduled_at)
        .bind(c.completed_at)
        .bind(c.wake_at)
        .bind(a.req)
        .bind(a.number)
        .bind(a.status)
        .bind(a.result)
        .bind(a.error)
        .bind(a.started_at)
        .bind(a.completed_at)
        .bind(c.attempt_started_at)
        .fetch_all(conn)
        .await?;
    let written: HashSet<usize> = written
        .into_iter()
        .filter_map(|r| usize::try_from(r).ok())
        .collect();
    Ok((0..saves.len()).map(|i| written.contains(&i)).collect())
}

/// The journal of one run, in replay order.
pub(crate) async fn load(
    db: &Db,
    conn: impl sqlx::PgExecutor<'_>,
    execution_id: &str,
    run_index: i32,
) -> Result<Vec<StepRecord>, PgError> {
    let sql = db.sql(
        "SELECT name, occurrence, position, kind, status, result, last_error, retryable,
            retry_attempt, scheduled_at, completed_at, wake_at, attempt_base
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
