//! Rows ↔ records: how domain values are stored in SQLite columns (timestamps as
//! INTEGER milliseconds, JSON as TEXT, enums as their stable text, the parked-on
//! columns), the column lists the queries select, and the mapping of their rows.

use chrono::TimeZone;
use rusqlite::{Connection, OptionalExtension, Row};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use zart_core::{
    AttemptRecord, ExecutionRecord, ExecutionStatus, QueueWaitReason, RunRecord, StepRecord,
    StoreError, StoreResult, Timestamp, WaitingFor,
};

use crate::error::SqlResultExt;

/// Milliseconds since the epoch.
pub(crate) fn ms(ts: Timestamp) -> i64 {
    ts.timestamp_millis()
}

/// Optional milliseconds since the epoch.
pub(crate) fn opt_ms(ts: Option<Timestamp>) -> Option<i64> {
    ts.map(ms)
}

/// A stored millisecond value back to a timestamp.
pub(crate) fn ts(ms: i64) -> StoreResult<Timestamp> {
    chrono::Utc
        .timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| StoreError::Internal(format!("stored timestamp {ms} is out of range")))
}

/// An optional stored millisecond value back to a timestamp.
pub(crate) fn opt_ts(ms: Option<i64>) -> StoreResult<Option<Timestamp>> {
    ms.map(ts).transpose()
}

/// A value as JSON text.
pub(crate) fn json_text<T: Serialize + ?Sized>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::InvalidInput(format!("value cannot be stored as JSON: {e}")))
}

/// An optional value as JSON text.
pub(crate) fn opt_json_text<T: Serialize>(value: Option<&T>) -> StoreResult<Option<String>> {
    value.map(|v| json_text(v)).transpose()
}

/// Stored JSON text back to a value.
pub(crate) fn from_json<T: DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Internal(format!("stored JSON is invalid: {e}")))
}

/// Optional stored JSON text back to a value.
pub(crate) fn opt_from_json<T: DeserializeOwned>(text: Option<String>) -> StoreResult<Option<T>> {
    text.map(|t| from_json(&t)).transpose()
}

/// A stored enum text back to its variant.
pub(crate) fn parse_enum<T>(text: &str) -> StoreResult<T>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e| StoreError::Internal(format!("stored value is invalid: {e}")))
}

/// A stored non-negative integer as `u32`.
pub(crate) fn u32_of(value: i64) -> StoreResult<u32> {
    u32::try_from(value)
        .map_err(|_| StoreError::Internal(format!("stored count {value} is out of range")))
}

/// Parses JSON text that must hold a plain value.
pub(crate) fn value_of(text: &str) -> StoreResult<Value> {
    from_json(text)
}

/// Decodes the parked-on columns; `None` when nothing is recorded.
pub(crate) fn waiting_from_columns(
    kind: Option<&str>,
    reference: Option<String>,
    until: Option<i64>,
    attempt: Option<i64>,
) -> StoreResult<Option<WaitingFor>> {
    let (Some(kind), Some(reference)) = (kind, reference) else {
        return Ok(None);
    };
    let required = |v: Option<i64>| {
        v.ok_or_else(|| StoreError::Internal(format!("parked-on {kind} lacks its time")))
    };
    Ok(Some(match kind {
        "timer" => WaitingFor::Timer {
            step: reference,
            due_at: ts(required(until)?)?,
        },
        "event" => WaitingFor::Event {
            name: reference,
            deadline: opt_ts(until)?,
        },
        "child" => WaitingFor::Child {
            execution_id: reference,
        },
        "retry" => WaitingFor::Retry {
            step: reference,
            attempt: u32_of(required(attempt)?)?,
            retry_at: ts(required(until)?)?,
        },
        "pause" => WaitingFor::Pause {
            rule_id: reference,
            expires_at: opt_ts(until)?,
        },
        other => return Err(StoreError::Internal(format!("unknown wait kind {other:?}"))),
    }))
}

/// Selects an [`ExecutionRecord`]: the hot row, the current run's payload and the
/// result/error from `execution_data`. Append a `WHERE`.
pub(crate) const SELECT_EXECUTION: &str = "SELECT e.id, e.task_name, e.status, e.run_index, \
    e.parent_id, e.scheduled_at, e.started_at, e.updated_at, e.completed_at, e.deadline_at, \
    e.version, e.lease_owner, e.leased_at, e.lease_expires_at, e.wait_kind, e.wait_ref, \
    e.wait_until, e.wait_attempt, r.payload, d.result, d.error, e.queue, e.priority, e.due_at, \
    (SELECT q.rate_tokens < 1 FROM queues q WHERE q.name = e.queue), \
    (SELECT q.key_concurrency <= (SELECT count(*) FROM executions k \
        WHERE k.lease_owner IS NOT NULL AND k.concurrency_key IS NOT NULL \
          AND k.queue = e.queue AND k.concurrency_key = e.concurrency_key) \
     FROM queues q WHERE q.name = e.queue AND e.concurrency_key IS NOT NULL) \
    FROM executions e \
    JOIN runs r ON r.execution_id = e.id AND r.run_index = e.run_index \
    JOIN execution_data d ON d.execution_id = e.id";

/// Maps a row of [`SELECT_EXECUTION`].
pub(crate) fn execution(row: &Row<'_>) -> StoreResult<ExecutionRecord> {
    let status: ExecutionStatus = parse_enum(&row.get::<_, String>(2).db()?)?;
    let lease_owner: Option<String> = row.get(11).db()?;
    let waiting_for = if status.is_terminal() {
        None
    } else if let Some(worker_id) = lease_owner {
        Some(WaitingFor::Lease {
            worker_id,
            since: ts(row.get(12).db()?)?,
            expires_at: ts(row.get(13).db()?)?,
        })
    } else {
        let kind: Option<String> = row.get(14).db()?;
        let parked = waiting_from_columns(
            kind.as_deref(),
            row.get(15).db()?,
            row.get(16).db()?,
            row.get(17).db()?,
        )?;
        let due: Option<i64> = row.get(23).db()?;
        let rate_limited: Option<bool> = row.get(24).db()?;
        let key_limited: Option<bool> = row.get(25).db()?;
        let blocked = QueueBlocks {
            rate: rate_limited.unwrap_or(false),
            key: key_limited.unwrap_or(false),
        };
        parked.or(queued(row.get(21).db()?, due, blocked))
    };
    Ok(ExecutionRecord {
        id: row.get(0).db()?,
        task_name: row.get(1).db()?,
        status,
        run_index: row.get(3).db()?,
        parent_id: row.get(4).db()?,
        scheduled_at: ts(row.get(5).db()?)?,
        started_at: opt_ts(row.get(6).db()?)?,
        updated_at: ts(row.get(7).db()?)?,
        completed_at: opt_ts(row.get(8).db()?)?,
        deadline_at: opt_ts(row.get(9).db()?)?,
        version: row.get(10).db()?,
        waiting_for,
        payload: value_of(&row.get::<_, String>(18).db()?)?,
        result: opt_from_json(row.get(19).db()?)?,
        error: opt_from_json(row.get(20).db()?)?,
        queue: row.get(21).db()?,
        priority: row.get(22).db()?,
    })
}

/// What holds a due execution of a named queue back besides a free slot.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct QueueBlocks {
    /// The queue's last claim left its rate limit's bucket empty.
    pub(crate) rate: bool,
    /// Its concurrency key runs as many executions as the queue's per-key limit.
    pub(crate) key: bool,
}

/// A due, unleased, unparked execution of a named queue waits for its key's limit,
/// else for a rate-limit token, else for a slot of its queue. The default queue has
/// no limits, so its due work is simply not claimed yet.
pub(crate) fn queued(
    queue: Option<String>,
    due_at: Option<i64>,
    blocked: QueueBlocks,
) -> Option<WaitingFor> {
    let queue = queue?;
    due_at?;
    let reason = if blocked.key {
        QueueWaitReason::Key
    } else if blocked.rate {
        QueueWaitReason::Rate
    } else {
        QueueWaitReason::Concurrency
    };
    Some(WaitingFor::Queue { queue, reason })
}

/// What holds back a new execution of `queue` with concurrency key `key`.
pub(crate) fn queue_blocks(
    conn: &Connection,
    queue: Option<&str>,
    key: Option<&str>,
) -> StoreResult<QueueBlocks> {
    let Some(queue) = queue else {
        return Ok(QueueBlocks::default());
    };
    let limits: Option<(Option<bool>, Option<bool>)> = conn
        .prepare_cached(
            "SELECT q.rate_tokens < 1, q.key_concurrency <= (SELECT count(*) FROM executions k \
               WHERE k.lease_owner IS NOT NULL AND k.concurrency_key IS NOT NULL \
                 AND k.queue = q.name AND k.concurrency_key = ?2) \
             FROM queues q WHERE q.name = ?1",
        )
        .db()?
        .query_row(rusqlite::params![queue, key], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .db()?;
    let (rate, key_limited) = limits.unwrap_or_default();
    Ok(QueueBlocks {
        rate: rate.unwrap_or(false),
        key: key.is_some() && key_limited.unwrap_or(false),
    })
}

/// The status of an execution, if it exists.
pub(crate) fn status_of(conn: &Connection, id: &str) -> StoreResult<Option<ExecutionStatus>> {
    let mut stmt = conn
        .prepare_cached("SELECT status FROM executions WHERE id = ?1")
        .db()?;
    let text: Option<String> = stmt.query_row([id], |r| r.get(0)).optional().db()?;
    text.map(|t| parse_enum(&t)).transpose()
}

/// Selects a [`RunRecord`] (`r`, joined to its execution `e`). Append a `WHERE`.
///
/// A run's row is written when the run is created and when it ends; claims do not
/// touch it. Until it ends, the current run's status and start are its execution's.
pub(crate) const SELECT_RUN: &str = "SELECT r.execution_id, r.run_index, r.payload, \
    CASE WHEN r.completed_at IS NULL AND r.run_index = e.run_index THEN e.status \
      ELSE r.status END, \
    r.result, \
    coalesce(r.started_at, CASE WHEN r.run_index = e.run_index THEN e.started_at END), \
    r.completed_at, r.trigger, r.triggered_by, r.triggered_at \
    FROM runs r JOIN executions e ON e.id = r.execution_id";

/// Maps a row of [`SELECT_RUN`].
pub(crate) fn run(row: &Row<'_>) -> StoreResult<RunRecord> {
    let execution_id: String = row.get(0).db()?;
    let run_index: i32 = row.get(1).db()?;
    Ok(RunRecord {
        run_id: zart_core::run_id(&execution_id, run_index),
        execution_id,
        run_index,
        payload: value_of(&row.get::<_, String>(2).db()?)?,
        status: parse_enum(&row.get::<_, String>(3).db()?)?,
        result: opt_from_json(row.get(4).db()?)?,
        started_at: opt_ts(row.get(5).db()?)?,
        completed_at: opt_ts(row.get(6).db()?)?,
        trigger: parse_enum(&row.get::<_, String>(7).db()?)?,
        triggered_by: row.get(8).db()?,
        triggered_at: opt_ts(row.get(9).db()?)?,
    })
}

/// Selects a [`StepRecord`] (without attempts). Append a `WHERE`.
pub(crate) const SELECT_STEP: &str = "SELECT name, occurrence, position, kind, status, \
    retry_attempt, result, last_error, retryable, scheduled_at, completed_at, wake_at, \
    attempt_base FROM steps";

/// Maps a row of [`SELECT_STEP`].
pub(crate) fn step(row: &Row<'_>) -> StoreResult<StepRecord> {
    let name: String = row.get(0).db()?;
    let occurrence = u32_of(row.get(1).db()?)?;
    Ok(StepRecord {
        step_id: zart_core::step_id(&name, occurrence),
        name,
        occurrence,
        position: u32_of(row.get(2).db()?)?,
        kind: parse_enum(&row.get::<_, String>(3).db()?)?,
        status: parse_enum(&row.get::<_, String>(4).db()?)?,
        retry_attempt: u32_of(row.get(5).db()?)?,
        result: opt_from_json(row.get(6).db()?)?,
        last_error: row.get(7).db()?,
        retryable: row.get(8).db()?,
        scheduled_at: ts(row.get(9).db()?)?,
        completed_at: opt_ts(row.get(10).db()?)?,
        wake_at: opt_ts(row.get(11).db()?)?,
        attempt_base: u32_of(row.get(12).db()?)?,
        attempts: Vec::new(),
    })
}

/// Selects `(name, occurrence)` and an [`AttemptRecord`]. Append a `WHERE`.
pub(crate) const SELECT_ATTEMPT: &str = "SELECT name, occurrence, attempt_number, status, \
    result, error, started_at, completed_at FROM step_attempts";

/// The attempts kept in their step rows (migration 0002), in the columns of
/// [`SELECT_ATTEMPT`], for execution `?1` and run `?2`. An attempt row with the same
/// number, which only a save after the step's has written, wins.
pub(crate) const SELECT_INLINE_ATTEMPT: &str = "SELECT s.name, s.occurrence, \
    s.retry_attempt, 'completed', NULL, NULL, s.attempt_started_at, s.completed_at \
    FROM steps s WHERE s.execution_id = ?1 AND s.run_index = ?2 \
    AND s.attempt_started_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM step_attempts a \
      WHERE a.execution_id = s.execution_id AND a.run_index = s.run_index \
      AND a.name = s.name AND a.occurrence = s.occurrence \
      AND a.attempt_number = s.retry_attempt)";

/// Maps a row of [`SELECT_ATTEMPT`] to its step key and the attempt.
pub(crate) fn attempt(row: &Row<'_>) -> StoreResult<((String, u32), AttemptRecord)> {
    let key = (row.get(0).db()?, u32_of(row.get(1).db()?)?);
    let record = AttemptRecord {
        attempt_number: u32_of(row.get(2).db()?)?,
        status: parse_enum(&row.get::<_, String>(3).db()?)?,
        result: opt_from_json(row.get(4).db()?)?,
        error: row.get(5).db()?,
        started_at: ts(row.get(6).db()?)?,
        completed_at: opt_ts(row.get(7).db()?)?,
    };
    Ok((key, record))
}

/// Collects every row of `stmt` run with `params` through `map`.
pub(crate) fn collect<T>(
    stmt: &mut rusqlite::CachedStatement<'_>,
    params: impl rusqlite::Params,
    map: impl Fn(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut rows = stmt.query(params).db()?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().db()? {
        out.push(map(row)?);
    }
    Ok(out)
}
