//! The HTTP layer of Zart: an [axum] router exposing a [`zart::Client`] as the Zart
//! HTTP API (paths, JSON field names and status codes fixed by the original Zart API),
//! and a server helper with graceful shutdown.
//!
//! This crate owns routing, request parsing, the JSON error shape, authentication,
//! CORS, body limits, HTTP metrics and the OpenAPI document. It depends on the runtime
//! (`zart`) and the core types only, never on a store backend: it holds no SQL and no
//! engine logic. Every handler is one [`zart::Client`] call, and client errors map to
//! statuses in one place ([`ApiError`]). It reads no environment variable either: its
//! configuration is two values ([`ApiConfig`], [`ServerConfig`]) that the binary builds
//! from its own flags and variables (the `zart` command's `ZART_*`), and [`router`]
//! returns a [`ConfigError`] for an invalid one.
//!
//! Key decisions: every error, including those axum, tower and hyper produce themselves
//! (unknown routes, wrong methods, oversized bodies, malformed requests, oversized URIs
//! and headers), leaves as `{"error": "..."}`; the server bounds every connection (a
//! header timeout, an idle timeout, a connection cap: [`ServerConfig`]) and the router
//! bounds the time to send a body ([`ApiConfig::body_timeout`]); and
//! the response bodies are this crate's own [`dto`] types, mirroring the core types
//! field for field, so the OpenAPI schemas are generated from the very types that are
//! serialized.
//!
//! Routes:
//! - public routes under [`ApiConfig::api_prefix`] (`/api/v1`): executions, stats, events;
//! - admin routes under [`ApiConfig::admin_prefix`] (`/zart/admin/v1`): detail and runs,
//!   the operator actions (retry-step, restart, rerun) and pause rules;
//! - at the root: `/healthz`, `/readyz`, `/metrics`, `/openapi.json`, `/swagger-ui`
//!   (the document and Swagger UI are served without a token: they hold no secret, and
//!   the document is the same whatever tokens are set);
//! - the web dashboard at [`ApiConfig::dashboard_path`] (`/` by default; `{path}/` and
//!   `{path}/assets/*`), also without a token: the page asks for the tokens it needs
//!   and sends them to the API routes.
//!
//! # Serving
//!
//! ```no_run
//! use zart::prelude::*;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let zart = Zart::builder(zart::connect("sqlite://app.db").await?)
//!     .task("greet", |_ctx: Ctx, name: String| async move { Ok(format!("hello {name}")) })
//!     .build();
//! let _worker = zart.start_worker(WorkerConfig::default());
//! let config = zart_api::ApiConfig::default().api_token("s3cret");
//! let app = zart_api::router(zart.client(), zart.metrics().clone(), config)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! zart_api::serve(listener, app, zart_api::shutdown_signal()).await?;
//! # Ok(()) }
//! ```
//!
//! # Mounting in your own axum app
//!
//! [`router`] returns a plain `axum::Router` with its state applied, so it merges into
//! an application of yours. It has a fallback (a JSON 404), so merge a router *without*
//! a fallback into it, and keep your paths clear of the prefixes and root routes. The
//! dashboard is at `/` by default: move it under a prefix of yours (or drop it with
//! [`ApiConfig::without_dashboard`]) when your app owns `/`:
//!
//! ```no_run
//! # fn demo(client: zart::Client, metrics: zart::metrics::Metrics) -> Result<(), zart_api::ConfigError> {
//! use axum::routing::get;
//!
//! let config = zart_api::ApiConfig::default().dashboard_path("/ops/zart");
//! let zart_routes = zart_api::router(client, metrics, config)?;
//! let app = axum::Router::new()
//!     .route("/", get(|| async { "my app" }))
//!     .merge(zart_routes);
//! # let _ = app; Ok(()) }
//! ```

mod app;
mod auth;
mod body_timeout;
mod config;
mod dashboard;
pub mod dto;
mod error;
mod extract;
mod json_errors;
mod metrics;
mod openapi;
mod routes;
mod server;

pub use app::router;
pub use config::{
    ApiConfig, ConfigError, ServerConfig, ServerConfigError, DEFAULT_ADMIN_PREFIX,
    DEFAULT_API_PREFIX, DEFAULT_BODY_TIMEOUT, DEFAULT_DASHBOARD_PATH, DEFAULT_HEADER_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONNECTIONS, MAX_MAX_CONNECTIONS,
};
pub use error::ApiError;
pub use extract::MAX_WAIT;
pub use metrics::UNMATCHED_ROUTE;
pub use openapi::{OPENAPI_PATH, SWAGGER_UI_PATH};
pub use server::{serve, serve_with, shutdown_signal};

/// What every handler receives.
#[derive(Clone)]
pub(crate) struct AppState {
    client: zart::Client,
    metrics: zart::metrics::Metrics,
}
