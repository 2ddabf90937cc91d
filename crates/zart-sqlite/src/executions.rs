//! Creating, reading, listing and counting executions.

use rusqlite::{params, types::Value as SqlValue, Connection, OptionalExtension};
use zart_core::{
    ExecutionQuery, ExecutionRecord, ExecutionStatus, InsertOutcome, NewExecution, SortBy,
    SortOrder, Stats, StoreError, StoreResult,
};

use crate::error::SqlResultExt;
use crate::rows::{self, json_text, ms, opt_ms, opt_ts, parse_enum, ts, SELECT_EXECUTION};

/// Creates the execution, its data row and run 1, or returns the existing one (by
/// id, or the unfinished one of the queue with the same deduplication id).
pub(crate) fn insert(conn: &Connection, new: &NewExecution) -> StoreResult<InsertOutcome> {
    let exists = conn
        .prepare_cached("SELECT 1 FROM executions WHERE id = ?1")
        .db()?
        .exists([&new.id])
        .db()?;
    if exists {
        let existing = get(conn, &new.id)?
            .ok_or_else(|| StoreError::Internal("execution without its run or data".into()))?;
        return Ok(InsertOutcome::Existing(existing));
    }
    if let Some(dedup) = &new.deduplication_id {
        // The same predicate as the unique index `executions_dedup`, so it is used.
        let holder: Option<String> = conn
            .prepare_cached(
                "SELECT id FROM executions WHERE ifnull(queue, '') = ifnull(?1, '') \
                 AND dedup_id = ?2 AND dedup_id IS NOT NULL \
                 AND status IN ('scheduled', 'running')",
            )
            .db()?
            .query_row(params![new.queue, dedup], |r| r.get(0))
            .optional()
            .db()?;
        if let Some(holder) = holder {
            let existing = get(conn, &holder)?
                .ok_or_else(|| StoreError::Internal("execution without its run or data".into()))?;
            return Ok(InsertOutcome::Deduplicated(existing));
        }
    }
    let payload = json_text(&new.payload)?;
    conn.prepare_cached(
        "INSERT INTO executions (id, task_name, status, run_index, parent_id, scheduled_at, \
         updated_at, deadline_at, version, due_at, fence, queue, priority, dedup_id, \
         concurrency_key, key_seq) \
         VALUES (?1, ?2, 'scheduled', 1, ?3, ?4, ?4, ?5, 1, ?6, 0, ?7, ?8, ?9, ?10, \
           CASE WHEN ?10 IS NULL THEN 0 ELSE max( \
             coalesce((SELECT key_clock FROM queues WHERE name = ?7), 0), \
             coalesce((SELECT max(key_seq) + 1 FROM executions WHERE queue = ?7 \
               AND concurrency_key = ?10 AND status IN ('scheduled', 'running')), 0)) END)",
    )
    .db()?
    .execute(params![
        new.id,
        new.task_name,
        new.parent_id,
        ms(new.now),
        opt_ms(new.deadline_at),
        ms(new.run_at),
        new.queue,
        new.priority,
        new.deduplication_id,
        new.concurrency_key
    ])
    .db()?;
    conn.prepare_cached(
        "INSERT INTO execution_data (execution_id, payload, trace_context) VALUES (?1, ?2, ?3)",
    )
    .db()?
    .execute(params![new.id, payload, new.trace_context])
    .db()?;
    conn.prepare_cached(
        "INSERT INTO runs (execution_id, run_index, payload, status, trigger) \
         VALUES (?1, 1, ?2, 'scheduled', 'initial')",
    )
    .db()?
    .execute(params![new.id, payload])
    .db()?;
    // Built from what was written rather than read back: the row is exactly this.
    let now = ts(ms(new.now))?;
    Ok(InsertOutcome::Created(ExecutionRecord {
        id: new.id.clone(),
        task_name: new.task_name.clone(),
        status: ExecutionStatus::Scheduled,
        run_index: 1,
        parent_id: new.parent_id.clone(),
        scheduled_at: now,
        started_at: None,
        updated_at: now,
        completed_at: None,
        deadline_at: opt_ts(opt_ms(new.deadline_at))?,
        version: 1,
        waiting_for: rows::queued(
            new.queue.clone(),
            Some(ms(new.run_at)),
            rows::queue_blocks(conn, new.queue.as_deref(), new.concurrency_key.as_deref())?,
        ),
        payload: new.payload.clone(),
        result: None,
        error: None,
        queue: new.queue.clone(),
        priority: new.priority,
    }))
}

/// One execution by id.
pub(crate) fn get(conn: &Connection, id: &str) -> StoreResult<Option<ExecutionRecord>> {
    let sql = format!("{SELECT_EXECUTION} WHERE e.id = ?1");
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let mut rows = stmt.query([id]).db()?;
    match rows.next().db()? {
        Some(row) => rows::execution(row).map(Some),
        None => Ok(None),
    }
}

/// A filtered, sorted page. Ties in the sort field are broken by id in the same
/// direction; `search` is a literal, case-sensitive substring (`instr`, not `LIKE`).
pub(crate) fn list(conn: &Connection, query: &ExecutionQuery) -> StoreResult<Vec<ExecutionRecord>> {
    let (filter, mut args) = filters(query);
    let column = match query.sort_by {
        SortBy::ScheduledAt => "e.scheduled_at",
        SortBy::Status => "e.status",
        SortBy::TaskName => "e.task_name",
    };
    let dir = match query.sort_order {
        SortOrder::Asc => "ASC",
        SortOrder::Desc => "DESC",
    };
    args.push(SqlValue::Integer(i64::from(query.limit)));
    args.push(SqlValue::Integer(i64::from(query.offset)));
    let sql =
        format!("{SELECT_EXECUTION}{filter} ORDER BY {column} {dir}, e.id {dir} LIMIT ? OFFSET ?");
    let mut stmt = conn.prepare_cached(&sql).db()?;
    rows::collect(&mut stmt, rusqlite::params_from_iter(args), rows::execution)
}

/// The `WHERE` clause of a list query and its arguments.
fn filters(query: &ExecutionQuery) -> (String, Vec<SqlValue>) {
    let text = |s: &str| SqlValue::Text(s.to_owned());
    let candidates = [
        ("e.status = ?", query.status.map(|s| text(s.as_str()))),
        ("e.task_name = ?", query.task_name.as_deref().map(text)),
        (
            "e.scheduled_at >= ?",
            query.from.map(|t| SqlValue::Integer(ms(t))),
        ),
        (
            "e.scheduled_at <= ?",
            query.to.map(|t| SqlValue::Integer(ms(t))),
        ),
        ("instr(e.id, ?) > 0", query.search.as_deref().map(text)),
    ];
    let (clauses, args): (Vec<&str>, Vec<SqlValue>) = candidates
        .into_iter()
        .filter_map(|(clause, arg)| arg.map(|a| (clause, a)))
        .unzip();
    if clauses.is_empty() {
        (String::new(), args)
    } else {
        (format!(" WHERE {}", clauses.join(" AND ")), args)
    }
}

/// Counts by status.
pub(crate) fn stats(conn: &Connection) -> StoreResult<Stats> {
    let mut stmt = conn
        .prepare_cached("SELECT status, count(*) FROM executions GROUP BY status")
        .db()?;
    let counts = rows::collect(&mut stmt, [], |row| {
        let status: ExecutionStatus = parse_enum(&row.get::<_, String>(0).db()?)?;
        let count: i64 = row.get(1).db()?;
        Ok((status, u64::try_from(count).unwrap_or(0)))
    })?;
    let mut stats = Stats::default();
    for (status, count) in counts {
        let slot = match status {
            ExecutionStatus::Scheduled => &mut stats.scheduled,
            ExecutionStatus::Running => &mut stats.running,
            ExecutionStatus::Completed => &mut stats.completed,
            ExecutionStatus::Failed => &mut stats.failed,
            ExecutionStatus::Cancelled => &mut stats.cancelled,
        };
        *slot = count;
    }
    Ok(stats)
}
