//! The batched execution insert: many new executions in one statement and one
//! commit, with one wake-up for the batch (see `batch.rs` for when it is used).

use std::collections::HashMap;

use zart_core::{ExecutionRecord, InsertOutcome, NewExecution};

use crate::batch::{column, request_numbers, request_of};
use crate::db::{work_if, Db, Written};
use crate::errors::{corrupt, PgError};
use crate::rows::{self, json_text, ms, opt_ms, EXECUTION_COLUMNS};

/// Inserts, in id order (so overlapping batches wait rather than deadlock), every
/// input whose id is new, with its data row and run 1; returns the created rows.
/// The ids of one batch are distinct.
const INSERT_MANY: &str = "
    WITH input AS (
        SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[],
            $5::bigint[], $6::bigint[], $7::bigint[], $8::text[])
        AS i(req, id, task_name, parent_id, now, deadline_at, run_at, payload)
    ), new_execution AS (
        INSERT INTO {s}.executions (id, task_name, status, run_index, parent_id,
            scheduled_at, updated_at, deadline_at, version, due_at, fence)
        SELECT id, task_name, 'scheduled', 1, parent_id, now, now, deadline_at, 1,
            run_at, 0
        FROM input ORDER BY id
        ON CONFLICT (id) DO NOTHING
        RETURNING *
    ), new_data AS (
        INSERT INTO {s}.execution_data (execution_id, payload)
        SELECT n.id, i.payload::json FROM new_execution n JOIN input i ON i.id = n.id
    ), new_run AS (
        INSERT INTO {s}.runs (execution_id, run_index, payload, status, trigger)
        SELECT n.id, 1, i.payload::json, 'scheduled', 'initial'
        FROM new_execution n JOIN input i ON i.id = n.id
    ), new_notify AS (
        SELECT pg_notify($9, 'w') WHERE EXISTS (SELECT 1 FROM new_execution)
    )
    SELECT i.req, e.id, e.task_name, e.status, e.run_index, e.parent_id,
        e.scheduled_at, e.started_at, e.updated_at, e.completed_at, e.deadline_at,
        e.version, e.lease_owner, e.leased_at, e.lease_expires_at, e.wait_kind,
        e.wait_ref, e.wait_until, e.wait_attempt, i.payload::json AS payload,
        NULL::json AS result, NULL::json AS error,
        (SELECT count(*) FROM new_notify) AS notified
    FROM new_execution e JOIN input i ON i.id = e.id";

/// Writes `news` (distinct ids) in one statement; returns each one's outcome, in
/// order. Ids that existed are read after the commit (a concurrent insert of one
/// has committed by then: `ON CONFLICT` waited for it).
pub(crate) async fn insert_many(
    db: &Db,
    news: &[&NewExecution],
) -> Result<Vec<Written<InsertOutcome>>, PgError> {
    let created_rows = sqlx::query(&db.sql(INSERT_MANY))
        .bind(request_numbers(news.len())?)
        .bind(column(news, |n| n.id.as_str()))
        .bind(column(news, |n| n.task_name.as_str()))
        .bind(column(news, |n| n.parent_id.as_deref()))
        .bind(column(news, |n| ms(n.now)))
        .bind(column(news, |n| opt_ms(n.deadline_at)))
        .bind(column(news, |n| ms(n.run_at)))
        .bind(column(news, |n| json_text(&n.payload)))
        .bind(db.channel())
        .fetch_all(&db.pool)
        .await?;
    let mut created: HashMap<usize, ExecutionRecord> = HashMap::new();
    for row in &created_rows {
        created.insert(request_of(row)?, rows::execution(row)?);
    }
    let missing: Vec<&str> = (0..news.len())
        .filter(|i| !created.contains_key(i))
        .map(|i| news[i].id.as_str())
        .collect();
    let mut existing = existing(db, &missing).await?;
    let mut outcomes = Vec::with_capacity(news.len());
    for (i, new) in news.iter().enumerate() {
        let outcome = match created.remove(&i) {
            Some(record) => (InsertOutcome::Created(record), work_if(true)),
            None => match existing.remove(new.id.as_str()) {
                Some(record) => (InsertOutcome::Existing(record), Vec::new()),
                None => return Err(corrupt(format!("execution {} vanished", new.id))),
            },
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

async fn existing(db: &Db, ids: &[&str]) -> Result<HashMap<String, ExecutionRecord>, PgError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = db.sql(&format!(
        "SELECT {EXECUTION_COLUMNS} FROM {{s}}.executions e
         JOIN {{s}}.execution_data d ON d.execution_id = e.id WHERE e.id = ANY($1)"
    ));
    let found = sqlx::query(&sql).bind(ids).fetch_all(&db.pool).await?;
    found
        .iter()
        .map(|row| rows::execution(row).map(|r| (r.id.clone(), r)))
        .collect()
}
