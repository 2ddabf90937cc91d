//! Pause rules: create, list the active ones, resume (delete).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::{CreatePause, ErrorBody, PauseRule, RulesDeleted};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::AppState;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_pauses, create_pause))
        .routes(routes!(resume_pause, delete_pause))
}

/// The path parameter of the rule routes.
const RULE_ID_DOC: &str = "The pause rule's id";

/// Creates a pause rule: every matching execution stops before its next matching step
/// and parks, holding no worker, until the rule is deleted or expires.
#[utoipa::path(
    post,
    path = "/pause",
    tag = "admin",
    request_body = CreatePause,
    responses(
        (status = 201, description = "Created", body = PauseRule),
        (status = 400, description = "Malformed body, an invalid glob, an expiresAt not in the future, or a field too long", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not `application/json`", body = ErrorBody),
        (status = 422, description = "No selector: none of executionId, taskName and stepPattern", body = ErrorBody),
    )
)]
pub(crate) async fn create_pause(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreatePause>,
) -> Result<(StatusCode, Json<PauseRule>), ApiError> {
    let rule = state.client.pause(body.into()).await?;
    Ok((StatusCode::CREATED, Json(rule.into())))
}

/// The active pause rules (neither deleted nor expired), oldest first.
#[utoipa::path(
    get,
    path = "/pause",
    tag = "admin",
    responses((status = 200, description = "The active rules", body = Vec<PauseRule>))
)]
pub(crate) async fn list_pauses(
    State(state): State<AppState>,
) -> Result<Json<Vec<PauseRule>>, ApiError> {
    let rules = state.client.pauses().await?;
    Ok(Json(rules.into_iter().map(Into::into).collect()))
}

/// Resumes: deletes the rule, releasing every execution it held.
#[utoipa::path(
    post,
    path = "/pause/{ruleId}",
    tag = "admin",
    params(("ruleId" = String, Path, description = RULE_ID_DOC)),
    responses(
        (status = 200, description = "Deleted now (1) or before (0)", body = RulesDeleted),
        (status = 404, description = "No such rule", body = ErrorBody),
    )
)]
pub(crate) async fn resume_pause(
    State(state): State<AppState>,
    ApiPath(rule_id): ApiPath<String>,
) -> Result<Json<RulesDeleted>, ApiError> {
    let rules_deleted = state.client.resume(&rule_id).await?;
    Ok(Json(RulesDeleted { rules_deleted }))
}

/// Deletes the rule, releasing every execution it held; a rule deleted before answers
/// 204 too.
#[utoipa::path(
    delete,
    path = "/pause/{ruleId}",
    tag = "admin",
    params(("ruleId" = String, Path, description = RULE_ID_DOC)),
    responses(
        (status = 204, description = "Deleted (now or before)"),
        (status = 404, description = "No such rule", body = ErrorBody),
    )
)]
pub(crate) async fn delete_pause(
    State(state): State<AppState>,
    ApiPath(rule_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.client.resume(&rule_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
