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

/// The W3C trace context of a request's `traceparent` (and `tracestate`) headers.
/// A missing, non-text or invalid `traceparent` is ignored, as W3C Trace Context
/// asks (the execution starts without a parent), and logged at DEBUG.
pub(crate) fn trace_context(headers: &axum::http::HeaderMap) -> Option<zart::TraceContext> {
    let traceparent = headers.get("traceparent")?;
    let tracestate = headers
        .get("tracestate")
        .and_then(|value| value.to_str().ok());
    let parsed = traceparent
        .to_str()
        .ok()
        .and_then(|value| zart::TraceContext::parse(value, tracestate));
    if parsed.is_none() {
        tracing::debug!("ignoring a malformed traceparent header");
    }
    parsed
}
