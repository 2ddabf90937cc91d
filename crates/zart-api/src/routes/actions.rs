//! Operator actions on one execution: retry a dead step, restart, selective rerun.
//!
//! Each takes an optional `Idempotency-Key` header: a request retried with the same
//! key changes nothing and answers 200 with the first answer; the same key used for
//! another kind of action on the execution is a 409.

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zart::ActionOptions;

use crate::dto::{
    ErrorBody, RerunExecution, RerunStarted, RestartExecution, Restarted, RetryStep, StepRetried,
};
use crate::error::ApiError;
use crate::extract::{ApiPath, IdempotencyKey, JsonObject};
use crate::AppState;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(retry_step))
        .routes(routes!(restart_execution))
        .routes(routes!(rerun_execution))
}

/// The documentation of the `Idempotency-Key` header of every action.
const KEY_DOC: &str = "The action's idempotency key (1–255 characters): a request with \
    a key already used on this execution changes nothing and answers the first answer";

/// Gives a dead step a fresh attempt budget: the execution (failed because of it, or
/// parked) runs again from that step, keeping every other completed step.
#[utoipa::path(
    post,
    path = "/executions/{executionId}/retry-step",
    tag = "admin",
    params(
        ("executionId" = String, Path, description = super::EXECUTION_ID_DOC),
        ("Idempotency-Key" = Option<String>, Header, description = KEY_DOC, min_length = 1, max_length = 255),
    ),
    request_body = RetryStep,
    responses(
        (status = 200, description = "Retried (or replayed under the same key)", body = StepRetried),
        (status = 400, description = "Malformed body, invalid step name, triggeredBy or key", body = ErrorBody),
        (status = 404, description = "No such execution or step", body = ErrorBody),
        (status = 409, description = "The step is not dead or not a `ctx.step`, the execution completed or was cancelled, or the key was used for another action", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    )
)]
pub(crate) async fn retry_step(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    IdempotencyKey(key): IdempotencyKey,
    JsonObject(body): JsonObject<RetryStep>,
) -> Result<Json<StepRetried>, ApiError> {
    let options = options(body.triggered_by, key);
    let record = state
        .client
        .retry_step(&id, &body.step_name, options)
        .await?;
    Ok(Json(record.into()))
}

/// Starts a new run (trigger `restart`) of a completed, failed or cancelled execution
/// with an empty journal and the current payload, or `payload` when given. Earlier
/// runs stay readable.
#[utoipa::path(
    post,
    path = "/executions/{executionId}/restart",
    tag = "admin",
    params(
        ("executionId" = String, Path, description = super::EXECUTION_ID_DOC),
        ("Idempotency-Key" = Option<String>, Header, description = KEY_DOC, min_length = 1, max_length = 255),
    ),
    request_body(
        content = Option<RestartExecution>,
        description = "Optional: an empty body is `{}`",
        content_type = "application/json",
    ),
    responses(
        (status = 200, description = "Restarted (or replayed under the same key)", body = Restarted),
        (status = 400, description = "Malformed body, invalid triggeredBy or key", body = ErrorBody),
        (status = 404, description = "No such execution", body = ErrorBody),
        (status = 409, description = "The execution is scheduled or running (cancel it first), or the key was used for another action", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    )
)]
pub(crate) async fn restart_execution(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    IdempotencyKey(key): IdempotencyKey,
    JsonObject(body): JsonObject<RestartExecution>,
) -> Result<Json<Restarted>, ApiError> {
    let options = options(body.triggered_by, key);
    let record = state.client.restart(&id, body.payload, options).await?;
    Ok(Json(record.into()))
}

/// Starts a new run (trigger `selective_rerun`) of a terminal execution: the steps of
/// `rerunSteps` and every dead step, minus `preserveSteps`, run again; every other
/// completed step of the latest run replays its recorded result.
#[utoipa::path(
    post,
    path = "/executions/{executionId}/rerun",
    tag = "admin",
    params(
        ("executionId" = String, Path, description = super::EXECUTION_ID_DOC),
        ("Idempotency-Key" = Option<String>, Header, description = KEY_DOC, min_length = 1, max_length = 255),
    ),
    request_body(
        content = Option<RerunExecution>,
        description = "Optional: an empty body is `{}` (rerun the dead steps)",
        content_type = "application/json",
    ),
    responses(
        (status = 200, description = "The new run (or the first one, replayed under the same key)", body = RerunStarted),
        (status = 400, description = "Malformed body, invalid step name, triggeredBy or key", body = ErrorBody),
        (status = 404, description = "No such execution", body = ErrorBody),
        (status = 409, description = "The execution is scheduled or running, or the key was used for another action", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "A listed name is not a step of the latest run", body = ErrorBody),
    )
)]
pub(crate) async fn rerun_execution(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    IdempotencyKey(key): IdempotencyKey,
    JsonObject(body): JsonObject<RerunExecution>,
) -> Result<Json<RerunStarted>, ApiError> {
    let options = options(body.triggered_by, key);
    let record = state
        .client
        .rerun(&id, body.rerun_steps, body.preserve_steps, options)
        .await?;
    Ok(Json(record.into()))
}

fn options(triggered_by: Option<String>, idempotency_key: Option<String>) -> ActionOptions {
    ActionOptions {
        triggered_by,
        idempotency_key,
    }
}
