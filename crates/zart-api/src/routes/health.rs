//! Liveness and readiness probes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::json_errors::PlainTextError;
use crate::AppState;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// Liveness: the process answers. No I/O.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    security(()),
    responses((status = 200, description = "Alive", body = String, content_type = "text/plain", example = "ok"))
)]
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the store answers a real query.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "Ready", body = String, content_type = "text/plain", example = "ok"),
        (status = 503, description = "The store does not answer", body = String, content_type = "text/plain", example = "not ready"),
    )
)]
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    match state.client.ping().await {
        Ok(()) => "ok".into_response(),
        Err(err) => {
            tracing::warn!(%err, "readiness check failed");
            let mut response = (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response();
            response.extensions_mut().insert(PlainTextError);
            response
        }
    }
}
