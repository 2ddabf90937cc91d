//! The registered task names, for pickers (the dashboard's start form).

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::TaskList;
use crate::AppState;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_tasks))
}

/// The tasks this server runs, by name (`tasks` is `null` when it does not know them).
#[utoipa::path(
    get,
    path = "/tasks",
    tag = "executions",
    responses((status = 200, description = "The registered tasks", body = TaskList))
)]
pub(crate) async fn list_tasks(State(state): State<AppState>) -> Json<TaskList> {
    Json(TaskList::new(state.client.task_names()))
}
