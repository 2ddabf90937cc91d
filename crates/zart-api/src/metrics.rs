//! HTTP metrics (requests by route template and status, latency by route), registered
//! in the engine's Prometheus registry, and the `/metrics` endpoint rendering them all.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

use crate::AppState;

/// The `route` label of requests that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The Prometheus text format content type.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Request counter and latency histogram. Clones share the collectors.
#[derive(Clone)]
pub(crate) struct HttpMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
}

impl HttpMetrics {
    /// Creates the collectors and registers them in `registry`.
    ///
    /// A registry already holding them (a second router built over the same engine
    /// metrics) keeps the first router's collectors: this router's requests are then
    /// not counted, which is logged.
    pub(crate) fn register(registry: &Registry) -> Self {
        let metrics = Self::unregistered();
        let registered = registry
            .register(Box::new(metrics.requests.clone()))
            .and_then(|()| registry.register(Box::new(metrics.duration.clone())));
        if let Err(err) = registered {
            tracing::warn!(%err, "HTTP metrics not registered; this router's requests are not exported");
        }
        metrics
    }

    fn unregistered() -> Self {
        let requests = IntCounterVec::new(
            Opts::new(
                "zart_http_requests_total",
                "HTTP requests, by method, route template and status code.",
            ),
            &["method", "route", "status"],
        );
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "zart_http_request_duration_seconds",
                "HTTP request latency, by method and route template (wait long-polls included).",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                60.0,
            ]),
            &["method", "route"],
        );
        match (requests, duration) {
            (Ok(requests), Ok(duration)) => Self { requests, duration },
            // The names and labels above are constants that prometheus accepts.
            (Err(e), _) | (_, Err(e)) => unreachable!("invalid HTTP metric definition: {e}"),
        }
    }
}

/// The matched route template, passed from the route layer to the recording layer.
#[derive(Clone)]
struct RouteLabel(Arc<str>);

/// Route layer: remembers the matched route template on the response.
pub(crate) async fn tag_route(
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    if let Some(path) = matched {
        response
            .extensions_mut()
            .insert(RouteLabel(Arc::from(path.as_str())));
    }
    response
}

/// Outer layer: counts every request and observes its latency.
pub(crate) async fn record(
    State(metrics): State<HttpMetrics>,
    request: Request,
    next: Next,
) -> Response {
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let route = response
        .extensions()
        .get::<RouteLabel>()
        .map(|r| Arc::clone(&r.0));
    let route = route.as_deref().unwrap_or(UNMATCHED_ROUTE);
    let status = response.status();
    metrics
        .requests
        .with_label_values(&[method, route, status.as_str()])
        .inc();
    metrics
        .duration
        .with_label_values(&[method, route])
        .observe(started.elapsed().as_secs_f64());
    response
}

/// A bounded label: arbitrary methods would make arbitrary series.
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
    KNOWN
        .into_iter()
        .find(|known| *known == method.as_str())
        .unwrap_or("other")
}

/// Prometheus metrics of the engine and the HTTP layer.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text format 0.0.4", body = String, content_type = "text/plain"))
)]
pub(crate) async fn render(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, TEXT_FORMAT)],
        state.metrics.render(),
    )
        .into_response()
}
