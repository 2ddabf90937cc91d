//! Conversions between rows and domain types: timestamps as milliseconds, JSON as
//! text, enums as their stable text form, and the derived `waitingFor`.

use std::str::FromStr;

use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::Row;
use zart_core::{
    AttemptRecord, ExecutionError, ExecutionRecord, ExecutionStatus, RunRecord, StepRecord,
    StoreError, Timestamp, WaitingFor,
};

use crate::error::{corrupt, PgError};

/// The columns [`execution`] reads; `e` is `executions`, `d` is `execution_data`.
pub(crate) const EXECUTION_COLUMNS: &str = "e.id, e.task_name, e.status, e.run_index, \
    e.parent_id, e.scheduled_at, e.started_at, e.updated_at, e.completed_at, \
    e.deadline_at, e.version, e.lease_owner, e.leased_at, e.lease_expires_at, \
    e.wait_kind, e.wait_ref, e.wait_until, e.wait_attempt, d.payload, d.result, d.error, \
    e.queue, e.priority, e.due_at, \
    (SELECT q.rate_tokens < 1 FROM {s}.queues q WHERE q.name = e.queue) AS rate_limited, \
    (SELECT q.key_concurrency <= (SELECT count(*) FROM {s}.executions k \
        WHERE k.lease_owner IS NOT NULL AND k.concurrency_key IS NOT NULL \
          AND k.queue = e.queue AND k.concurrency_key = e.concurrency_key) \
     FROM {s}.queues q WHERE q.name = e.queue AND e.concurrency_key IS NOT NULL) AS key_limited";

/// Milliseconds since the Unix epoch.
pub(crate) fn ms(ts: Timestamp) -> i64 {
    ts.timestamp_millis()
}

/// Optional [`ms`].
pub(crate) fn opt_ms(ts: Option<Timestamp>) -> Option<i64> {
    ts.map(ms)
}

/// A stored millisecond timestamp.
pub(crate) fn ts(ms: i64) -> Result<Timestamp, PgError> {
    chrono::DateTime::from_timestamp_millis(ms).ok_or_else(|| corrupt(format!("timestamp {ms}")))
}

/// Optional [`ts`].
pub(crate) fn opt_ts(ms: Option<i64>) -> Result<Option<Timestamp>, PgError> {
    ms.map(ts).transpose()
}

/// JSON as the text bound to a `$n::json` parameter.
pub(crate) fn json_text(value: &Value) -> String {
    value.to_string()
}

/// Optional [`json_text`].
pub(crate) fn opt_json_text(value: Option<&Value>) -> Option<String> {
    value.map(json_text)
}

/// A `u32` counter as an `INTEGER` column.
pub(crate) fn int(value: u32, what: &str) -> Result<i32, PgError> {
    i32::try_from(value).map_err(|_| {
        PgError::Store(StoreError::InvalidInput(format!(
            "{what} {value} too large"
        )))
    })
}

fn uint(value: i32, what: &str) -> Result<u32, PgError> {
    u32::try_from(value).map_err(|_| corrupt(format!("{what} {value}")))
}

/// An enum stored as text.
pub(crate) fn parse<T: FromStr>(text: &str) -> Result<T, PgError>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e: T::Err| corrupt(e))
}

/// Column `column` of `row`.
pub(crate) fn get<'r, T>(row: &'r PgRow, column: &str) -> Result<T, PgError>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    Ok(row.try_get(column)?)
}

/// An [`ExecutionRecord`] from a row selecting [`EXECUTION_COLUMNS`].
pub(crate) fn execution(row: &PgRow) -> Result<ExecutionRecord, PgError> {
    let status: ExecutionStatus = parse(&get::<String>(row, "status")?)?;
    let error = get::<Option<Value>>(row, "error")?
        .map(serde_json::from_value::<ExecutionError>)
        .transpose()
        .map_err(|e| corrupt(format!("execution error: {e}")))?;
    let waiting_for = if status.is_terminal() {
        None
    } else {
        waiting_for(row)?
    };
    Ok(ExecutionRecord {
        task_name: get(row, "task_name")?,
        id: get(row, "id")?,
        payload: get(row, "payload")?,
        status,
        scheduled_at: ts(get(row, "scheduled_at")?)?,
        completed_at: opt_ts(get(row, "completed_at")?)?,
        version: get(row, "version")?,
        result: get(row, "result")?,
        error,
        waiting_for,
        run_index: get(row, "run_index")?,
        started_at: opt_ts(get(row, "started_at")?)?,
        updated_at: ts(get(row, "updated_at")?)?,
        parent_id: get(row, "parent_id")?,
        deadline_at: opt_ts(get(row, "deadline_at")?)?,
        queue: get(row, "queue")?,
        priority: get(row, "priority")?,
    })
}

/// A due, unleased, unparked execution of a named queue waits for a slot of its
/// key's limit (`key_limited`), else for a token when the queue's last claim left
/// its rate limit's bucket empty (`rate_limited`), else for a slot of its queue. The
/// default queue has no limits, so its due work is simply not claimed yet.
fn queued(row: &PgRow) -> Result<Option<WaitingFor>, PgError> {
    let Some(queue) = get::<Option<String>>(row, "queue")? else {
        return Ok(None);
    };
    if get::<Option<i64>>(row, "due_at")?.is_none() {
        return Ok(None);
    }
    let reason = if get::<Option<bool>>(row, "key_limited")?.unwrap_or(false) {
        zart_core::QueueWaitReason::Key
    } else if get::<Option<bool>>(row, "rate_limited")?.unwrap_or(false) {
        zart_core::QueueWaitReason::Rate
    } else {
        zart_core::QueueWaitReason::Concurrency
    };
    Ok(Some(WaitingFor::Queue { queue, reason }))
}

/// A held lease, else the parked-on columns, else a queue's slot.
fn waiting_for(row: &PgRow) -> Result<Option<WaitingFor>, PgError> {
    if let Some(worker_id) = get::<Option<String>>(row, "lease_owner")? {
        return Ok(Some(WaitingFor::Lease {
            worker_id,
            since: required_ts(row, "leased_at")?,
            expires_at: required_ts(row, "lease_expires_at")?,
        }));
    }
    let Some(kind) = get::<Option<String>>(row, "wait_kind")? else {
        return queued(row);
    };
    let reference: String = get::<Option<String>>(row, "wait_ref")?
        .ok_or_else(|| corrupt("parked execution without wait_ref"))?;
    let until = opt_ts(get(row, "wait_until")?)?;
    let waiting = match kind.as_str() {
        "timer" => WaitingFor::Timer {
            step: reference,
            due_at: until.ok_or_else(|| corrupt("timer without due time"))?,
        },
        "event" => WaitingFor::Event {
            name: reference,
            deadline: until,
        },
        "child" => WaitingFor::Child {
            execution_id: reference,
        },
        "retry" => WaitingFor::Retry {
            step: reference,
            attempt: uint(
                get::<Option<i32>>(row, "wait_attempt")?.unwrap_or_default(),
                "wait_attempt",
            )?,
            retry_at: until.ok_or_else(|| corrupt("retry without due time"))?,
        },
        "pause" => WaitingFor::Pause {
            rule_id: reference,
            expires_at: until,
        },
        other => return Err(corrupt(format!("wait kind {other:?}"))),
    };
    Ok(Some(waiting))
}

fn required_ts(row: &PgRow, column: &str) -> Result<Timestamp, PgError> {
    let value: Option<i64> = get(row, column)?;
    ts(value.ok_or_else(|| corrupt(format!("{column} missing")))?)
}

/// A [`RunRecord`] from a `runs` row (see `detail::runs`).
pub(crate) fn run(row: &PgRow) -> Result<RunRecord, PgError> {
    let execution_id: String = get(row, "execution_id")?;
    let run_index: i32 = get(row, "run_index")?;
    Ok(RunRecord {
        run_id: zart_core::run_id(&execution_id, run_index),
        execution_id,
        run_index,
        payload: get(row, "payload")?,
        status: parse(&get::<String>(row, "status")?)?,
        result: get(row, "result")?,
        started_at: opt_ts(get(row, "started_at")?)?,
        completed_at: opt_ts(get(row, "completed_at")?)?,
        trigger: parse(&get::<String>(row, "trigger")?)?,
        triggered_by: get(row, "triggered_by")?,
        triggered_at: opt_ts(get(row, "triggered_at")?)?,
    })
}

/// A [`StepRecord`] (without attempts) from a `steps` row.
pub(crate) fn step(row: &PgRow) -> Result<StepRecord, PgError> {
    let name: String = get(row, "name")?;
    let occurrence = uint(get(row, "occurrence")?, "occurrence")?;
    Ok(StepRecord {
        step_id: zart_core::step_id(&name, occurrence),
        name,
        occurrence,
        position: uint(get(row, "position")?, "position")?,
        kind: parse(&get::<String>(row, "kind")?)?,
        status: parse(&get::<String>(row, "status")?)?,
        retry_attempt: uint(get(row, "retry_attempt")?, "retry_attempt")?,
        result: get(row, "result")?,
        last_error: get(row, "last_error")?,
        retryable: get(row, "retryable")?,
        scheduled_at: ts(get(row, "scheduled_at")?)?,
        completed_at: opt_ts(get(row, "completed_at")?)?,
        wake_at: opt_ts(get(row, "wake_at")?)?,
        attempt_base: uint(get(row, "attempt_base")?, "attempt_base")?,
        attempts: Vec::new(),
    })
}

/// An [`AttemptRecord`] from a `step_attempts` row.
pub(crate) fn attempt(row: &PgRow) -> Result<AttemptRecord, PgError> {
    Ok(AttemptRecord {
        attempt_number: uint(get(row, "attempt_number")?, "attempt_number")?,
        status: parse(&get::<String>(row, "status")?)?,
        result: get(row, "result")?,
        error: get(row, "error")?,
        started_at: ts(get(row, "started_at")?)?,
        completed_at: opt_ts(get(row, "completed_at")?)?,
    })
}

/// `0..n` as the `req` column of a batch statement, which answers by request number.
pub(crate) fn request_numbers(n: usize) -> Result<Vec<i32>, PgError> {
    (0..n)
        .map(|i| i32::try_from(i).map_err(|_| corrupt("batch too large")))
        .collect()
}

/// The request number (`req` column) a row of a batch statement answers.
pub(crate) fn request_of(row: &PgRow) -> Result<usize, PgError> {
    usize::try_from(row.try_get::<i32, _>("req")?).map_err(corrupt)
}

/// One array parameter of a batch statement: `f` of each request, in order.
pub(crate) fn column<'a, I: ?Sized, T>(items: &[&'a I], f: impl Fn(&'a I) -> T) -> Vec<T> {
    items.iter().map(|&item| f(item)).collect()
}
