//! Creating and reading executions: insert, get, list, stats and runs.

use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{Postgres, QueryBuilder, Row};
use zart_core::{
    ExecutionQuery, ExecutionRecord, ExecutionStatus, InsertOutcome, NewExecution,
    ParentClosePolicy, RunRecord, SortBy, SortOrder, Stats,
};

use crate::db::{renumber, work_if, Db, Written};
use crate::errors::PgError;
use crate::rows::{self, json_text, ms, opt_ms, EXECUTION_COLUMNS};

/// Inserts the execution, its data row and run 1, or nothing if the id exists,
/// for each row of a CTE named `source` defined before. Parameters `#1..#8` (see
/// [`renumber`](crate::db::renumber)) are bound by [`bind_new`]; `{PARENT_CLOSE}`
/// is replaced by a policy's SQL literal (see [`parent_close_sql`]).
pub(crate) const INSERT_CTES: &str = "
    new_execution AS (
        INSERT INTO {s}.executions (id, task_name, status, run_index, parent_id,
            scheduled_at, updated_at, deadline_at, version, due_at, fence, parent_close)
        SELECT #1, #2, 'scheduled', 1, #3, #4, #4, #5, 1, #6, 0, {PARENT_CLOSE} FROM source
        ON CONFLICT (id) DO NOTHING
        RETURNING *
    ), new_data AS (
        INSERT INTO {s}.execution_data (execution_id, payload)
        SELECT id, #7::json FROM new_execution
    ), new_run AS (
        INSERT INTO {s}.runs (execution_id, run_index, payload, status, trigger)
        SELECT id, 1, #7::json, 'scheduled', 'initial' FROM new_execution
    ), new_notify AS (
        SELECT pg_notify(#8, 'w') FROM new_execution
    )";

const INSERT: &str = "WITH source AS (SELECT 1), {INSERT_CTES}
    SELECT e.id, e.task_name, e.status, e.run_index, e.parent_id, e.scheduled_at,
        e.started_at, e.updated_at, e.completed_at, e.deadline_at, e.version,
        e.lease_owner, e.leased_at, e.lease_expires_at, e.wait_kind, e.wait_ref,
        e.wait_until, e.wait_attempt, $7::json AS payload, NULL::json AS result,
        NULL::json AS error, (SELECT count(*) FROM new_notify) AS notified
    FROM new_execution e";

/// `policy` as a SQL literal for `{PARENT_CLOSE}` of [`INSERT_CTES`] (its text is one
/// of two constants, never user input).
pub(crate) fn parent_close_sql(policy: ParentClosePolicy) -> String {
    format!("'{}'", policy.as_str())
}

/// Binds `#1..#8` of [`INSERT_CTES`] as the query's next parameters.
pub(crate) fn bind_new<'q>(
    query: Query<'q, Postgres, PgArguments>,
    new: &'q NewExecution,
    channel: &'q str,
) -> Query<'q, Postgres, PgArguments> {
    query
        .bind(new.id.as_str())
        .bind(new.task_name.as_str())
        .bind(new.parent_id.as_deref())
        .bind(ms(new.now))
        .bind(opt_ms(new.deadline_at))
        .bind(ms(new.run_at))
        .bind(json_text(&new.payload))
        .bind(channel)
}

pub(crate) async fn insert(db: &Db, new: &NewExecution) -> Result<Written<InsertOutcome>, PgError> {
    let ctes = renumber(INSERT_CTES, 0).replace("{PARENT_CLOSE}", "'cancel'");
    let sql = db.sql(&INSERT.replace("{INSERT_CTES}", &ctes));
    let created = bind_new(sqlx::query(&sql), new, db.channel())
        .fetch_optional(&db.pool)
        .await?;
    if let Some(row) = created {
        let created = rows::execution(&row)?;
        return Ok((InsertOutcome::Created(created), work_if(true)));
    }
    // The id exists (a concurrent insert of it has committed by now: ON CONFLICT
    // waited for it), so this read sees it.
    match get(db, &new.id).await? {
        Some(existing) => Ok((InsertOutcome::Existing(existing), Vec::new())),
        None => Err(crate::errors::corrupt(format!(
            "execution {} vanished",
            new.id
        ))),
    }
}

pub(crate) async fn get(db: &Db, id: &str) -> Result<Option<ExecutionRecord>, PgError> {
    let sql = db.sql(&format!(
        "SELECT {EXECUTION_COLUMNS} FROM {{s}}.executions e
         JOIN {{s}}.execution_data d ON d.execution_id = e.id WHERE e.id = $1"
    ));
    let row = sqlx::query(&sql).bind(id).fetch_optional(&db.pool).await?;
    row.as_ref().map(rows::execution).transpose()
}

pub(crate) async fn list(db: &Db, q: &ExecutionQuery) -> Result<Vec<ExecutionRecord>, PgError> {
    let head = db.sql(&format!(
        "SELECT {EXECUTION_COLUMNS} FROM {{s}}.executions e
         JOIN {{s}}.execution_data d ON d.execution_id = e.id WHERE TRUE"
    ));
    let mut b = QueryBuilder::<Postgres>::new(head);
    if let Some(status) = q.status {
        b.push(" AND e.status = ").push_bind(status.as_str());
    }
    if let Some(task) = &q.task_name {
        b.push(" AND e.task_name = ").push_bind(task.as_str());
    }
    if let Some(from) = q.from {
        b.push(" AND e.scheduled_at >= ").push_bind(ms(from));
    }
    if let Some(to) = q.to {
        b.push(" AND e.scheduled_at <= ").push_bind(ms(to));
    }
    if let Some(search) = &q.search {
        // strpos matches literally: no LIKE wildcards to escape.
        b.push(" AND strpos(e.id, ")
            .push_bind(search.as_str())
            .push(") > 0");
    }
    let column = match q.sort_by {
        SortBy::ScheduledAt => "e.scheduled_at",
        SortBy::Status => "e.status",
        SortBy::TaskName => "e.task_name",
    };
    let order = match q.sort_order {
        SortOrder::Asc => "ASC",
        SortOrder::Desc => "DESC",
    };
    b.push(format!(" ORDER BY {column} {order}, e.id {order} LIMIT "))
        .push_bind(i64::from(q.limit))
        .push(" OFFSET ")
        .push_bind(i64::from(q.offset));
    let found = b.build().fetch_all(&db.pool).await?;
    found.iter().map(rows::execution).collect()
}

pub(crate) async fn stats(db: &Db) -> Result<Stats, PgError> {
    let sql = db.sql("SELECT status, count(*) AS n FROM {s}.executions GROUP BY status");
    let mut stats = Stats::default();
    for row in sqlx::query(&sql).fetch_all(&db.pool).await? {
        let status: ExecutionStatus = rows::parse(row.try_get::<&str, _>("status")?)?;
        let n = u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or_default();
        match status {
            ExecutionStatus::Scheduled => stats.scheduled = n,
            ExecutionStatus::Running => stats.running = n,
            ExecutionStatus::Completed => stats.completed = n,
            ExecutionStatus::Failed => stats.failed = n,
            ExecutionStatus::Cancelled => stats.cancelled = n,
        }
    }
    Ok(stats)
}

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
            r.completed_at, r.trigger
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
