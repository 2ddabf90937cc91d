//! Admin routes: an execution's detail (runs, steps, attempts, actions) and its runs;
//! with the operator actions ([`super::actions`]) and pause rules ([`super::pause`]).

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::{ErrorBody, ExecutionDetail, Run};
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, DetailParams};
use crate::AppState;

/// Every admin route, relative to the admin prefix.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(execution_detail))
        .routes(routes!(execution_runs))
        .merge(super::actions::routes())
        .merge(super::pause::routes())
        .merge(super::schedules::routes())
}

/// An execution with all its runs, one run's steps and attempts, and the operator
/// actions taken on it.
#[utoipa::path(
    get,
    path = "/executions/{executionId}/detail",
    tag = "admin",
    params(("executionId" = String, Path, description = super::EXECUTION_ID_DOC), DetailParams),
    responses(
        (status = 200, description = "The detail", body = ExecutionDetail),
        (status = 400, description = "Invalid runId", body = ErrorBody),
        (status = 404, description = "No such execution or run", body = ErrorBody),
    )
)]
pub(crate) async fn execution_detail(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<DetailParams>,
) -> Result<Json<ExecutionDetail>, ApiError> {
    let run_index = params.run_index(&id)?;
    let detail = state.client.detail(&id, run_index).await?;
    if let Some(index) = run_index {
        if !detail.runs.iter().any(|r| r.run_index == index) {
            return Err(ApiError::not_found(format!(
                "execution {id:?} has no run {index}"
            )));
        }
    }
    Ok(Json(detail.into()))
}

/// The runs of an execution, oldest first.
#[utoipa::path(
    get,
    path = "/executions/{executionId}/runs",
    tag = "admin",
    params(("executionId" = String, Path, description = super::EXECUTION_ID_DOC)),
    responses(
        (status = 200, description = "The runs", body = Vec<Run>),
        (status = 404, description = "No such execution", body = ErrorBody),
    )
)]
pub(crate) async fn execution_runs(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Vec<Run>>, ApiError> {
    let runs = state.client.runs(&id).await?;
    Ok(Json(runs.into_iter().map(Into::into).collect()))
}
