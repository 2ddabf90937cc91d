//! The route groups: each module holds its handlers (with their OpenAPI annotations)
//! and a `routes()` function mounting them.

pub(crate) mod actions;
pub(crate) mod admin;
pub(crate) mod events;
pub(crate) mod executions;
pub(crate) mod health;
pub(crate) mod overview;
pub(crate) mod pause;
pub(crate) mod queues;
pub(crate) mod schedules;
pub(crate) mod tasks;

use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

/// The public routes, relative to the API prefix.
pub(crate) fn public() -> OpenApiRouter<AppState> {
    executions::routes()
        .merge(events::routes())
        .merge(tasks::routes())
        .merge(queues::routes())
        .merge(overview::routes())
}

/// The path parameter shared by every execution route.
pub(crate) const EXECUTION_ID_DOC: &str = "The execution id";
