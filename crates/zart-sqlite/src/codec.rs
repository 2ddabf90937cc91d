//! Encoding of domain values in SQLite columns: timestamps as INTEGER milliseconds,
//! JSON as TEXT, enums as their stable text, `WaitingFor` as the parked-on columns.

use chrono::TimeZone;
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use zart_core::{StoreError, StoreResult, Timestamp, WaitingFor};

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

/// The parked-on columns `(wait_kind, wait_ref, wait_until, wait_attempt)`.
pub(crate) struct WaitColumns {
    pub(crate) kind: &'static str,
    pub(crate) reference: String,
    pub(crate) until: Option<i64>,
    pub(crate) attempt: Option<i64>,
}

/// Encodes what a suspended execution waits for; a lease is not something to park on.
pub(crate) fn wait_columns(waiting_for: &WaitingFor) -> StoreResult<WaitColumns> {
    let (kind, reference, until, attempt) = match waiting_for {
        WaitingFor::Timer { step, due_at } => ("timer", step.clone(), Some(ms(*due_at)), None),
        WaitingFor::Event { name, deadline } => ("event", name.clone(), opt_ms(*deadline), None),
        WaitingFor::Child { execution_id } => ("child", execution_id.clone(), None, None),
        WaitingFor::Retry {
            step,
            attempt,
            retry_at,
        } => (
            "retry",
            step.clone(),
            Some(ms(*retry_at)),
            Some(i64::from(*attempt)),
        ),
        WaitingFor::Lease { .. } => {
            return Err(StoreError::InvalidInput(
                "an execution cannot be suspended waiting for a lease".into(),
            ))
        }
    };
    Ok(WaitColumns {
        kind,
        reference,
        until,
        attempt,
    })
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
        other => return Err(StoreError::Internal(format!("unknown wait kind {other:?}"))),
    }))
}
