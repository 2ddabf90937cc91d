//! Extractors whose rejections are [`ApiError`]s, and the parsing of query parameters
//! into engine queries with messages that name the offending parameter.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use zart_core::{ExecutionQuery, ExecutionStatus, SortBy, SortOrder};

use crate::error::{body_read_error, ApiError};

/// The default and the longest `wait` long-poll.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// A JSON body; malformed JSON, a wrong shape, a missing `Content-Type` and an
/// oversized body are [`ApiError`]s.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub(crate) struct ApiJson<T>(pub T);

/// Query parameters; a malformed query string is a 400 [`ApiError`].
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub(crate) struct ApiQuery<T>(pub T);

/// Path parameters; an undecodable segment is a 400 [`ApiError`].
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub(crate) struct ApiPath<T>(pub T);

/// Any JSON value as the body; an empty body is `null`. A body with a `Content-Type`
/// other than JSON is a 415.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JsonValue(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonValue {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let declared_json = content_type_is_json(req.headers());
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| body_read_error(e.status()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(Value::Null));
        }
        if declared_json == Some(false) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected a request with `Content-Type: application/json`",
            ));
        }
        serde_json::from_slice(&bytes)
            .map(Self)
            .map_err(|e| ApiError::bad_request(format!("malformed JSON body: {e}")))
    }
}

/// A JSON object body whose fields are all optional or defaulted, so an empty body
/// (or `null`) reads as `{}`: clients send such actions without a body. Otherwise as
/// [`JsonValue`]; a value of the wrong shape is a 400.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JsonObject<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonObject<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let JsonValue(value) = JsonValue::from_request(req, state).await?;
        let value = match value {
            Value::Null => Value::Object(Default::default()),
            other => other,
        };
        serde_json::from_value(value)
            .map(Self)
            .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))
    }
}

/// The `Idempotency-Key` header, when present; one that is not visible ASCII is a
/// 400 (the client checks its length).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct IdempotencyKey(pub Option<String>);

/// The header carrying an idempotency key.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        match parts.headers.get(IDEMPOTENCY_KEY) {
            None => Ok(Self(None)),
            Some(value) => value
                .to_str()
                .map(|v| Self(Some(v.to_owned())))
                .map_err(|_| {
                    ApiError::bad_request("invalid Idempotency-Key header: expected visible ASCII")
                }),
        }
    }
}

/// `None` without a `Content-Type`; otherwise whether it is JSON (`application/json` or
/// `application/*+json`).
fn content_type_is_json(headers: &HeaderMap) -> Option<bool> {
    let value = headers.get(header::CONTENT_TYPE)?;
    let essence = value.to_str().ok().and_then(|v| v.split(';').next());
    Some(essence.is_some_and(|e| {
        let e = e.trim().to_ascii_lowercase();
        e == "application/json" || (e.starts_with("application/") && e.ends_with("+json"))
    }))
}

/// Query parameters of `GET /executions`. An empty value counts as absent.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub(crate) struct ListParams {
    /// Only executions with this status.
    #[param(value_type = Option<ExecutionStatus>)]
    pub status: Option<String>,
    /// Only executions of this task.
    pub task_name: Option<String>,
    /// Only executions scheduled at or after this RFC 3339 instant.
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<String>,
    /// Only executions scheduled at or before this RFC 3339 instant.
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<String>,
    /// Only executions whose id contains this text.
    pub search: Option<String>,
    /// Sort field (default `scheduledAt`).
    #[param(value_type = Option<SortBy>)]
    pub sort_by: Option<String>,
    /// Sort direction (default `desc`).
    #[param(value_type = Option<SortOrder>)]
    pub sort_order: Option<String>,
    /// Page size: 0 to 1000 (default 20).
    #[param(value_type = Option<u32>, maximum = 1000)]
    pub limit: Option<String>,
    /// Rows to skip (default 0).
    #[param(value_type = Option<u32>)]
    pub offset: Option<String>,
}

impl ListParams {
    /// The engine query, or a 400 naming the invalid parameter.
    pub(crate) fn into_query(self) -> Result<ExecutionQuery, ApiError> {
        let mut query = ExecutionQuery::default();
        if let Some(v) = present(&self.status) {
            query.status = Some(v.parse::<ExecutionStatus>().map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid status {v:?}: expected one of {}",
                    names(ExecutionStatus::ALL)
                ))
            })?);
        }
        query.task_name = present(&self.task_name).map(str::to_owned);
        query.search = present(&self.search).map(str::to_owned);
        query.from = present(&self.from)
            .map(|v| parse_instant("from", v))
            .transpose()?;
        query.to = present(&self.to)
            .map(|v| parse_instant("to", v))
            .transpose()?;
        if let Some(v) = present(&self.sort_by) {
            query.sort_by = v.parse::<SortBy>().map_err(ApiError::bad_request)?;
        }
        if let Some(v) = present(&self.sort_order) {
            query.sort_order = v.parse::<SortOrder>().map_err(ApiError::bad_request)?;
        }
        if let Some(v) = present(&self.limit) {
            query.limit = parse_count("limit", v)?;
            if query.limit > zart::MAX_LIST_LIMIT {
                return Err(ApiError::bad_request(format!(
                    "invalid limit {v:?}: must be at most {}",
                    zart::MAX_LIST_LIMIT
                )));
            }
        }
        if let Some(v) = present(&self.offset) {
            query.offset = parse_count("offset", v)?;
        }
        Ok(query)
    }
}

/// Query parameters of `GET /executions/{executionId}/wait`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct WaitParams {
    /// Seconds to wait for a terminal status: default 30, capped at 30
    /// (`timeout_secs` is accepted as an alias).
    #[serde(rename = "timeoutSecs", alias = "timeout_secs")]
    #[param(rename = "timeoutSecs", value_type = Option<u64>, maximum = 30)]
    pub timeout_secs: Option<String>,
}

impl WaitParams {
    /// The long-poll duration, or a 400.
    pub(crate) fn timeout(&self) -> Result<Duration, ApiError> {
        match present(&self.timeout_secs) {
            None => Ok(MAX_WAIT),
            Some(v) => match v.parse::<u64>() {
                Ok(secs) => Ok(Duration::from_secs(secs).min(MAX_WAIT)),
                // A whole number too large for u64 is still a whole number: capped.
                Err(_) if v.bytes().all(|b| b.is_ascii_digit()) => Ok(MAX_WAIT),
                Err(_) => Err(ApiError::bad_request(format!(
                    "invalid timeoutSecs {v:?}: expected a whole number of seconds"
                ))),
            },
        }
    }
}

/// The default page size of `GET /executions/{executionId}/events`.
pub(crate) const DEFAULT_EVENT_PAGE: u32 = 50;

/// Query parameters of `GET /executions/{executionId}/events`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub(crate) struct EventListParams {
    /// Page size: 1 to 1000 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// Only events with a smaller sequence: the `nextBefore` of the previous page.
    #[param(value_type = Option<i64>, minimum = 1)]
    pub before: Option<String>,
}

impl EventListParams {
    /// `(before_sequence, limit)`, or a 400 naming the invalid parameter.
    pub(crate) fn page(&self) -> Result<(Option<i64>, u32), ApiError> {
        let max = zart::core::MAX_EVENT_PAGE;
        let limit = match present(&self.limit) {
            None => DEFAULT_EVENT_PAGE,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if (1..=max).contains(&n) => n,
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "invalid limit {v:?}: expected a whole number from 1 to {max}"
                    )))
                }
            },
        };
        let before = match present(&self.before) {
            None => None,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n >= 1 => Some(n),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "invalid before {v:?}: expected an event sequence (1, 2, ...)"
                    )))
                }
            },
        };
        Ok((before, limit))
    }
}

/// Query parameters of the admin detail route.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub(crate) struct DetailParams {
    /// The run whose steps to show: a run index (`2`) or a run id (`"{executionId}:2"`);
    /// the current run when absent.
    pub run_id: Option<String>,
}

impl DetailParams {
    /// The run index asked for, or a 400.
    pub(crate) fn run_index(&self, execution_id: &str) -> Result<Option<i32>, ApiError> {
        let Some(v) = present(&self.run_id) else {
            return Ok(None);
        };
        let index = match v.rsplit_once(':') {
            Some((id, index)) if id == execution_id => index,
            Some(_) => {
                return Err(ApiError::bad_request(format!(
                    "invalid runId {v:?}: it is not a run of execution {execution_id:?}"
                )))
            }
            None => v,
        };
        match index.parse::<i32>() {
            Ok(n) if n >= 1 => Ok(Some(n)),
            _ => Err(ApiError::bad_request(format!(
                "invalid runId {v:?}: expected a run index (1, 2, ...) or a run id \"{execution_id}:N\""
            ))),
        }
    }
}

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

fn names<T: std::fmt::Display>(all: &[T]) -> String {
    all.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn parse_instant(name: &str, value: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            ApiError::bad_request(format!(
                "invalid {name} {value:?}: expected an RFC 3339 date-time such as 2024-05-01T12:00:00Z"
            ))
        })
}

fn parse_count(name: &str, value: &str) -> Result<u32, ApiError> {
    value.parse::<u32>().map_err(|_| {
        ApiError::bad_request(format!(
            "invalid {name} {value:?}: expected a non-negative integer"
        ))
    })
}

#[cfg(test)]
mod tests;
