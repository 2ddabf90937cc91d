//! Schedules: create, list, read, delete, pause, resume, trigger.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::{CreateSchedule, ErrorBody, Execution, Schedule};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::AppState;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_schedules, create_schedule))
        .routes(routes!(get_schedule, delete_schedule))
        .routes(routes!(pause_schedule))
        .routes(routes!(resume_schedule))
        .routes(routes!(trigger_schedule))
}

/// The path parameter of the schedule routes.
const SCHEDULE_ID_DOC: &str = "The schedule's id";

/// Creates a schedule. Creating one that exists with the same settings answers it
/// unchanged; with other settings, 409.
#[utoipa::path(
    post,
    path = "/schedules",
    tag = "admin",
    request_body = CreateSchedule,
    responses(
        (status = 201, description = "Created (or found with the same settings)", body = Schedule),
        (status = 400, description = "Malformed body; an invalid cron expression, time zone or interval (the message says what is wrong); both or neither of cron and intervalSecs", body = ErrorBody),
        (status = 409, description = "A schedule of that id exists with other settings", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not `application/json`", body = ErrorBody),
        (status = 422, description = "No such task", body = ErrorBody),
    )
)]
pub(crate) async fn create_schedule(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateSchedule>,
) -> Result<(StatusCode, Json<Schedule>), ApiError> {
    let schedule = if body.paused {
        state.client.create_paused_schedule(body.into()).await?
    } else {
        state.client.create_schedule(body.into()).await?
    };
    Ok((StatusCode::CREATED, Json(schedule.into())))
}

/// Every schedule, by id.
#[utoipa::path(
    get,
    path = "/schedules",
    tag = "admin",
    responses((status = 200, description = "The schedules", body = Vec<Schedule>))
)]
pub(crate) async fn list_schedules(
    State(state): State<AppState>,
) -> Result<Json<Vec<Schedule>>, ApiError> {
    let schedules = state.client.schedules().await?;
    Ok(Json(schedules.into_iter().map(Into::into).collect()))
}

/// One schedule, with its next 5 fire times and its last firing.
#[utoipa::path(
    get,
    path = "/schedules/{scheduleId}",
    tag = "admin",
    params(("scheduleId" = String, Path, description = SCHEDULE_ID_DOC)),
    responses(
        (status = 200, description = "The schedule", body = Schedule),
        (status = 404, description = "No such schedule", body = ErrorBody),
    )
)]
pub(crate) async fn get_schedule(
    State(state): State<AppState>,
    ApiPath(schedule_id): ApiPath<String>,
) -> Result<Json<Schedule>, ApiError> {
    Ok(Json(state.client.schedule(&schedule_id).await?.into()))
}

/// Deletes a schedule; the executions it started stay.
#[utoipa::path(
    delete,
    path = "/schedules/{scheduleId}",
    tag = "admin",
    params(("scheduleId" = String, Path, description = SCHEDULE_ID_DOC)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such schedule", body = ErrorBody),
    )
)]
pub(crate) async fn delete_schedule(
    State(state): State<AppState>,
    ApiPath(schedule_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.client.delete_schedule(&schedule_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pauses a schedule: it fires nothing until resumed.
#[utoipa::path(
    post,
    path = "/schedules/{scheduleId}/pause",
    tag = "admin",
    params(("scheduleId" = String, Path, description = SCHEDULE_ID_DOC)),
    responses(
        (status = 200, description = "Paused (now or before)", body = Schedule),
        (status = 404, description = "No such schedule", body = ErrorBody),
    )
)]
pub(crate) async fn pause_schedule(
    State(state): State<AppState>,
    ApiPath(schedule_id): ApiPath<String>,
) -> Result<Json<Schedule>, ApiError> {
    Ok(Json(
        state.client.pause_schedule(&schedule_id).await?.into(),
    ))
}

/// Resumes a paused schedule from its next slot after now; slots that passed while
/// it was paused do not fire.
#[utoipa::path(
    post,
    path = "/schedules/{scheduleId}/resume",
    tag = "admin",
    params(("scheduleId" = String, Path, description = SCHEDULE_ID_DOC)),
    responses(
        (status = 200, description = "Running (now or before)", body = Schedule),
        (status = 404, description = "No such schedule", body = ErrorBody),
    )
)]
pub(crate) async fn resume_schedule(
    State(state): State<AppState>,
    ApiPath(schedule_id): ApiPath<String>,
) -> Result<Json<Schedule>, ApiError> {
    Ok(Json(
        state.client.resume_schedule(&schedule_id).await?.into(),
    ))
}

/// Fires the schedule once now (paused or not): the execution
/// `{scheduleId}@{now, RFC 3339}`.
#[utoipa::path(
    post,
    path = "/schedules/{scheduleId}/trigger",
    tag = "admin",
    params(("scheduleId" = String, Path, description = SCHEDULE_ID_DOC)),
    responses(
        (status = 201, description = "The execution started", body = Execution),
        (status = 404, description = "No such schedule", body = ErrorBody),
        (status = 422, description = "Its task is not registered", body = ErrorBody),
    )
)]
pub(crate) async fn trigger_schedule(
    State(state): State<AppState>,
    ApiPath(schedule_id): ApiPath<String>,
) -> Result<(StatusCode, Json<Execution>), ApiError> {
    let execution = state.client.trigger_schedule(&schedule_id).await?;
    Ok((StatusCode::CREATED, Json(execution.into())))
}
