//! Start, list, inspect, wait for and cancel executions; counts by status.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zart::StartRequest;

use crate::dto::{ErrorBody, Execution, StartExecution, Stats};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, ListParams, WaitParams};
use crate::AppState;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_executions, start_execution))
        .routes(routes!(get_execution))
        .routes(routes!(cancel_execution))
        .routes(routes!(wait_execution))
        .routes(routes!(get_stats))
}

/// A filtered, sorted page of executions.
#[utoipa::path(
    get,
    path = "/executions",
    tag = "executions",
    params(ListParams),
    responses(
        (status = 200, description = "The executions", body = Vec<Execution>),
        (status = 400, description = "An invalid filter, sort or paging value", body = ErrorBody),
    )
)]
pub(crate) async fn list_executions(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Vec<Execution>>, ApiError> {
    let query = params.into_query()?;
    let executions = state.client.list(query).await?;
    Ok(Json(executions.into_iter().map(Into::into).collect()))
}

/// Starts an execution, idempotently by `executionId`, deduplicated by
/// `deduplicationId`.
#[utoipa::path(
    post,
    path = "/executions",
    tag = "executions",
    request_body = StartExecution,
    params(
        ("traceparent" = Option<String>, Header, description = "W3C trace context: the execution's spans continue this trace (stored with it); an invalid value is ignored"),
        ("tracestate" = Option<String>, Header, description = "W3C trace state, stored with `traceparent`"),
    ),
    responses(
        (status = 201, description = "Created", body = Execution),
        (status = 200, description = "Idempotent replay (same id, task and payload), or deduplicated: an unfinished execution of the queue holds the `deduplicationId`", body = Execution),
        (status = 400, description = "Malformed body, invalid id or payload", body = ErrorBody),
        (status = 409, description = "The id exists with another task or payload", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not `application/json`", body = ErrorBody),
        (status = 422, description = "Unknown task name or queue", body = ErrorBody),
    )
)]
pub(crate) async fn start_execution(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<StartExecution>,
) -> Result<(StatusCode, Json<Execution>), ApiError> {
    let priority = match body.priority {
        None => 0,
        Some(p) => i32::try_from(p)
            .ok()
            .filter(|p| zart::core::validate_priority(*p).is_ok())
            .ok_or_else(|| {
                zart::ClientError::InvalidInput(format!(
                    "priority must be between {} and {}, got {p}",
                    zart::core::MIN_PRIORITY,
                    zart::core::MAX_PRIORITY
                ))
            })?,
    };
    let request = StartRequest {
        id: body.execution_id,
        task_name: body.task_name,
        payload: body.payload,
        deadline_at: None,
        trace_context: super::trace_context(&headers),
        queue: body.queue,
        priority,
        deduplication_id: body.deduplication_id,
        concurrency_key: body.concurrency_key,
    };
    let started = state.client.start(request).await?;
    let status = if started.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(started.execution.into())))
}

/// One execution.
#[utoipa::path(
    get,
    path = "/executions/{executionId}",
    tag = "executions",
    params(("executionId" = String, Path, description = super::EXECUTION_ID_DOC)),
    responses(
        (status = 200, description = "The execution", body = Execution),
        (status = 404, description = "No such execution", body = ErrorBody),
    )
)]
pub(crate) async fn get_execution(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Execution>, ApiError> {
    Ok(Json(state.client.get(&id).await?.into()))
}

/// Cancels an unfinished execution and its unfinished children.
#[utoipa::path(
    post,
    path = "/executions/{executionId}/cancel",
    tag = "executions",
    params(("executionId" = String, Path, description = super::EXECUTION_ID_DOC)),
    responses(
        (status = 204, description = "Cancelled"),
        (status = 404, description = "No such execution", body = ErrorBody),
        (status = 409, description = "Already completed, failed or cancelled", body = ErrorBody),
    )
)]
pub(crate) async fn cancel_execution(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.client.cancel(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Long-polls until the execution is terminal (completed, failed or cancelled).
#[utoipa::path(
    get,
    path = "/executions/{executionId}/wait",
    tag = "executions",
    params(("executionId" = String, Path, description = super::EXECUTION_ID_DOC), WaitParams),
    responses(
        (status = 200, description = "The terminal execution", body = Execution),
        (status = 400, description = "Invalid timeoutSecs", body = ErrorBody),
        (status = 404, description = "No such execution", body = ErrorBody),
        (status = 504, description = "Not terminal within the timeout", body = ErrorBody),
    )
)]
pub(crate) async fn wait_execution(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<WaitParams>,
) -> Result<Json<Execution>, ApiError> {
    let timeout = params.timeout()?;
    Ok(Json(state.client.wait(&id, timeout).await?.into()))
}

/// Counts of executions by status.
#[utoipa::path(
    get,
    path = "/stats",
    tag = "executions",
    responses((status = 200, description = "Counts by status", body = Stats))
)]
pub(crate) async fn get_stats(State(state): State<AppState>) -> Result<Json<Stats>, ApiError> {
    Ok(Json(state.client.stats().await?.into()))
}
