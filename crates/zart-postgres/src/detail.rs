//! The admin detail view (one execution with its runs, steps and attempts, and the
//! operator actions taken on it), the runs list, and the inbox listing.

use std::collections::HashMap;

use sqlx::Row;
use zart_core::{
    AttemptRecord, DetailQuery, EventListQuery, EventRecord, ExecutionDetail, RunRecord,
    MAX_EVENT_PAGE,
};

use crate::error::PgError;
use crate::pool::Db;
use crate::rows::{self, EXECUTION_COLUMNS};
use crate::{actions, journal};

/// Reads everything in one read-only snapshot, so the steps match the execution.
pub(crate) async fn detail(db: &Db, q: &DetailQuery) -> Result<Option<ExecutionDetail>, PgError> {
    let mut tx = db.pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let sql = db.sql(&format!(
        "SELECT {EXECUTION_COLUMNS} FROM {{s}}.executions e
         JOIN {{s}}.execution_data d ON d.execution_id = e.id WHERE e.id = $1"
    ));
    let Some(row) = sqlx::query(&sql)
        .bind(&q.execution_id)
        .fetch_optional(&mut *tx)
        .await?
    else {
        return Ok(None);
    };
    let execution = rows::execution(&row)?;
    let run_index = q.run_index.unwrap_or(execution.run_index);
    let runs = runs(db, &mut *tx, &q.execution_id).await?;
    let mut steps = journal::load(db, &mut *tx, &q.execution_id, run_index).await?;
    let mut attempts = attempts(db, &mut tx, &q.execution_id, run_index).await?;
    for step in &mut steps {
        if let Some(found) = attempts.remove(&(step.name.clone(), step.occurrence)) {
            step.attempts = found;
        }
        step.fill_attempt_results();
    }
    let actions = actions::list(db, &mut *tx, &q.execution_id).await?;
    tx.commit().await?;
    Ok(Some(ExecutionDetail {
        execution,
        runs,
        steps,
        actions,
    }))
}

type Attempts = HashMap<(String, u32), Vec<AttemptRecord>>;

async fn attempts(
    db: &Db,
    tx: &mut sqlx::PgConnection,
    execution_id: &str,
    run_index: i32,
) -> Result<Attempts, PgError> {
    let sql = db.sql(
        "SELECT name, occurrence, attempt_number, status, result, error, started_at,
            completed_at
         FROM {s}.step_attempts WHERE execution_id = $1 AND run_index = $2
         UNION ALL
         -- The attempts kept in their step rows (migration 0002); an attempt row of
         -- the same number, which only a later save of the step writes, wins.
         SELECT s.name, s.occurrence, s.retry_attempt, 'completed', NULL::json,
            NULL::text, s.attempt_started_at, s.completed_at
         FROM {s}.steps s WHERE s.execution_id = $1 AND s.run_index = $2
           AND s.attempt_started_at IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM {s}.step_attempts a
               WHERE a.execution_id = s.execution_id AND a.run_index = s.run_index
                 AND a.name = s.name AND a.occurrence = s.occurrence
                 AND a.attempt_number = s.retry_attempt)
         ORDER BY 1, 2, 3",
    );
    let found = sqlx::query(&sql)
        .bind(execution_id)
        .bind(run_index)
        .fetch_all(&mut *tx)
        .await?;
    let mut by_step = Attempts::new();
    for row in &found {
        let name: String = row.try_get("name")?;
        let occurrence: i32 = row.try_get("occurrence")?;
        let occurrence = u32::try_from(occurrence).unwrap_or_default();
        by_step
            .entry((name, occurrence))
            .or_default()
            .push(rows::attempt(row)?);
    }
    Ok(by_step)
}

/// The runs of execution `id`, oldest first.
pub(crate) async fn runs(
    db: &Db,
    conn: impl sqlx::PgExecutor<'_>,
    id: &str,
) -> Result<Vec<RunRecord>, PgError> {
    // A run's row is written when the run is created and when it ends; claims do
    // not touch it. Until it ends, the current run's status and start are its
    // execution's.
    let sql = db.sql(
        "SELECT r.execution_id, r.run_index, r.payload,
            CASE WHEN r.completed_at IS NULL AND r.run_index = e.run_index THEN e.status
                ELSE r.status END AS status,
            r.result,
            COALESCE(r.started_at,
                CASE WHEN r.run_index = e.run_index THEN e.started_at END) AS started_at,
            r.completed_at, r.trigger, r.triggered_by, r.triggered_at
        FROM {s}.runs r JOIN {s}.executions e ON e.id = r.execution_id
        WHERE r.execution_id = $1 ORDER BY r.run_index",
    );
    let found = sqlx::query(&sql).bind(id).fetch_all(conn).await?;
    found.iter().map(rows::run).collect()
}

pub(crate) async fn run_list(db: &Db, id: &str) -> Result<Option<Vec<RunRecord>>, PgError> {
    let found = runs(db, &db.pool, id).await?;
    if !found.is_empty() {
        return Ok(Some(found));
    }
    let sql = db.sql("SELECT EXISTS (SELECT 1 FROM {s}.executions WHERE id = $1)");
    let exists: bool = sqlx::query_scalar(&sql)
        .bind(id)
        .fetch_one(&db.pool)
        .await?;
    Ok(exists.then_some(found))
}

/// One page of an execution's inbox, newest first; `None` if it does not exist.
pub(crate) async fn event_list(
    db: &Db,
    query: &EventListQuery,
) -> Result<Option<Vec<EventRecord>>, PgError> {
    let limit = i64::from(query.limit.clamp(1, MAX_EVENT_PAGE));
    // The existence check and the page in one statement: an execution without
    // events is an empty page, an unknown one no row at all.
    let sql = db.sql(
        "SELECT e.id, ev.seq, ev.name, ev.payload, ev.created_at, ev.consumed_at,
            ev.consumed_by, ev.idempotency_key
        FROM {s}.executions e
        LEFT JOIN LATERAL (
            SELECT seq, name, payload, created_at, consumed_at, consumed_by, idempotency_key
            FROM {s}.events
            WHERE execution_id = e.id AND ($2::BIGINT IS NULL OR seq < $2)
            ORDER BY seq DESC LIMIT $3
        ) ev ON TRUE
        WHERE e.id = $1
        ORDER BY ev.seq DESC",
    );
    let found = sqlx::query(&sql)
        .bind(&query.execution_id)
        .bind(query.before_sequence)
        .bind(limit)
        .fetch_all(&db.pool)
        .await?;
    if found.is_empty() {
        return Ok(None);
    }
    let mut events = Vec::with_capacity(found.len());
    for row in &found {
        let Some(sequence) = rows::get::<Option<i64>>(row, "seq")? else {
            continue;
        };
        events.push(EventRecord {
            sequence,
            name: rows::get(row, "name")?,
            payload: rows::get(row, "payload")?,
            received_at: rows::ts(rows::get(row, "created_at")?)?,
            consumed_at: rows::opt_ts(rows::get(row, "consumed_at")?)?,
            consumed_by: rows::get(row, "consumed_by")?,
            idempotency_key: rows::get(row, "idempotency_key")?,
        });
    }
    Ok(Some(events))
}
