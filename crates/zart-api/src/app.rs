//! [`router`]: assembles the route groups, their authentication, the OpenAPI document,
//! the dashboard and the cross-cutting layers (metrics, CORS, body limit, JSON errors, tracing).

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::any;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::classify::ServerErrorsFailureClass;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{require_bearer, RequiredToken};
use crate::body_timeout::{bounded_body, BodyBounds};
use crate::json_errors::{json_errors, panic_response, unknown_route};
use crate::metrics::{record, tag_route, HttpMetrics};
use crate::{dashboard, openapi, routes, ApiConfig, AppState, ConfigError};

/// The Zart HTTP API as an axum router, ready to [`serve`](crate::serve) or to merge
/// into your own app.
///
/// HTTP metrics are registered in `metrics.registry()` and `/metrics` renders that
/// whole registry (the engine's metrics included). Build one router per [`Metrics`]:
/// a second router over the same registry cannot register its HTTP metrics and does
/// not count its requests (a warning is logged).
///
/// # Errors
/// The [`ConfigError`] of [`ApiConfig::validate`] when `config` is invalid: nothing
/// is served then.
///
/// [`Metrics`]: zart::metrics::Metrics
pub fn router(
    client: zart::Client,
    metrics: zart::metrics::Metrics,
    config: ApiConfig,
) -> Result<Router, ConfigError> {
    config.validate()?;
    let http_metrics = HttpMetrics::register(metrics.registry());
    let state = AppState { client, metrics };
    let app = routed(&config).fallback(unknown_route);
    Ok(layered(app, &config, http_metrics).with_state(state))
}

/// Every route group under its prefix (or at the root), with its token, and the
/// OpenAPI document describing them.
fn routed(config: &ApiConfig) -> Router<AppState> {
    let api_token = config.api_token.as_deref().map(RequiredToken::new);
    let admin_token = config
        .admin_token
        .as_deref()
        .map(RequiredToken::new)
        .or_else(|| api_token.clone());

    let (public, public_doc) = routes::public().split_for_parts();
    let (admin, admin_doc) = routes::admin::routes().split_for_parts();
    let (ops, mut root_doc) = OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(crate::metrics::render))
        .split_for_parts();
    let (health, health_doc) = routes::health::routes().split_for_parts();
    root_doc.merge(health_doc);
    let doc = openapi::document(root_doc, public_doc, admin_doc, config);

    let public = with_fallback(guarded(public, &api_token), &api_token);
    let admin = with_fallback(guarded(admin, &admin_token), &admin_token);
    // The document and Swagger UI hold no secrets and are how a caller learns to
    // authenticate: served without a token.
    let app = Router::new()
        .nest(&config.api_prefix, public)
        .nest(&config.admin_prefix, admin)
        .merge(guarded(ops, &api_token))
        .merge(openapi::swagger(doc).route_layer(from_fn(tag_route)))
        .merge(health.route_layer(from_fn(tag_route)));
    // The dashboard's page and assets hold no secret either: it asks for the tokens.
    match dashboard::routes(config) {
        Some(dashboard) => app.merge(dashboard),
        None => app,
    }
}

/// The layers around every route, innermost first: a panic guard, body limits and the
/// body timeout, JSON errors, CORS, HTTP metrics, tracing.
fn layered(app: Router<AppState>, config: &ApiConfig, metrics: HttpMetrics) -> Router<AppState> {
    let bounds = BodyBounds {
        timeout: config.body_timeout,
        max_bytes: config.max_body_bytes,
    };
    let app = app
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(from_fn_with_state(bounds, bounded_body))
        .layer(RequestBodyLimitLayer::new(config.max_body_bytes))
        .layer(from_fn(json_errors));
    let app = match cors(&config.cors_origins) {
        Some(cors) => app.layer(cors),
        None => app,
    };
    app.layer(from_fn_with_state(metrics, record)).layer(
        TraceLayer::new_for_http()
            .make_span_with(request_span)
            .on_failure(log_failure),
    )
}

/// The span of one request. A valid W3C `traceparent` header (with its
/// `tracestate`) makes it a child of the caller's span, so a start under it joins
/// the caller's trace; an invalid one is ignored (W3C: start a new trace).
fn request_span(request: &axum::http::Request<axum::body::Body>) -> Span {
    let span = tracing::info_span!(
        "http.request",
        otel.kind = "server",
        otel.name = %format_args!("{} {}", request.method(), request.uri().path()),
        method = %request.method(),
        path = %request.uri().path(),
    );
    if let Some(cx) = crate::routes::trace_context(request.headers()) {
        cx.set_parent_of(&span);
    }
    span
}

/// Logs a failed request. A 504 is a `wait` long-poll that ended before the execution
/// did: expected, and a polling client would otherwise fill the log with errors, so it
/// is logged at DEBUG like any other answered request. 4xx are not failures at all.
fn log_failure(class: ServerErrorsFailureClass, latency: Duration, _span: &Span) {
    let latency = format!("{} ms", latency.as_millis());
    match class {
        ServerErrorsFailureClass::StatusCode(StatusCode::GATEWAY_TIMEOUT) => {
            tracing::debug!(status = 504, %latency, "wait timed out");
        }
        ServerErrorsFailureClass::StatusCode(status) => {
            tracing::error!(status = status.as_u16(), %latency, "response failed");
        }
        ServerErrorsFailureClass::Error(error) => {
            tracing::error!(%error, %latency, "response failed");
        }
    }
}

/// Tags the routes for metrics and, with a token, requires it on them. The token check
/// runs inside the tag so that rejected requests are still counted under their route.
fn guarded(routes: Router<AppState>, token: &Option<RequiredToken>) -> Router<AppState> {
    let routes = match token {
        Some(token) => routes.route_layer(from_fn_with_state(token.clone(), require_bearer)),
        None => routes,
    };
    routes.route_layer(from_fn(tag_route))
}

/// A JSON 404 for unknown paths under a prefix, behind the group's token so that an
/// anonymous caller learns nothing about the routes.
fn with_fallback(routes: Router<AppState>, token: &Option<RequiredToken>) -> Router<AppState> {
    match token {
        Some(token) => routes.fallback_service(
            any(unknown_route).layer(from_fn_with_state(token.clone(), require_bearer)),
        ),
        None => routes.fallback(unknown_route),
    }
}

/// CORS for the configured origins (already validated); none when the list is empty.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::from(Any)
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("idempotency-key"),
            ])
            .max_age(Duration::from_secs(600)),
    )
}
