//! The named queues with their limits and load (flow control).

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::Queue;
use crate::error::ApiError;
use crate::AppState;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_queues))
}

/// Every named queue, by name: its limits, depth (due executions waiting for a
/// slot) and running count.
#[utoipa::path(
    get,
    path = "/queues",
    tag = "executions",
    responses((status = 200, description = "The named queues", body = [Queue]))
)]
pub(crate) async fn list_queues(
    State(state): State<AppState>,
) -> Result<Json<Vec<Queue>>, ApiError> {
    let queues = state.client.queues().await?;
    Ok(Json(queues.into_iter().map(Into::into).collect()))
}
