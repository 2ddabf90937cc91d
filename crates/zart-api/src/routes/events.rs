//! Delivering events to executions.

use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::ErrorBody;
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonValue};
use crate::AppState;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(post_event))
}

/// Delivers an event. It is kept in the execution's inbox until the execution waits
/// for that name, and consumed once: an event sent early is not lost.
#[utoipa::path(
    post,
    path = "/events/{executionId}/{eventName}",
    tag = "events",
    params(
        ("executionId" = String, Path, description = super::EXECUTION_ID_DOC),
        ("eventName" = String, Path, description = "The event name (1–255 characters)"),
    ),
    request_body(
        content = Option<serde_json::Value>,
        description = "The event payload: any JSON value; an empty body is `null`",
        content_type = "application/json",
    ),
    responses(
        (status = 202, description = "Stored"),
        (status = 400, description = "Malformed JSON or invalid event name", body = ErrorBody),
        (status = 404, description = "No such execution", body = ErrorBody),
        (status = 409, description = "The execution already finished", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    )
)]
pub(crate) async fn post_event(
    State(state): State<AppState>,
    ApiPath((id, name)): ApiPath<(String, String)>,
    JsonValue(payload): JsonValue,
) -> Result<StatusCode, ApiError> {
    state.client.offer_event(&id, &name, payload).await?;
    Ok(StatusCode::ACCEPTED)
}
