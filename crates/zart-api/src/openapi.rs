//! The OpenAPI 3 document, generated from the handlers' `#[utoipa::path]` annotations
//! and the DTOs' schemas, and the Swagger UI serving it from vendored assets.
//!
//! The document is the same whatever tokens the server has (only the prefixes change
//! it): it is served without a token, so it must not tell whether tokens are set. It
//! always declares the bearer scheme (Swagger UI's "Authorize") and a 401 on every
//! route a token can guard; [`passes`] adds what holds for every route alike.

mod passes;

use axum::Router;
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::dto::ErrorBody;
use crate::{ApiConfig, AppState};

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/openapi.json";
/// Where the Swagger UI is served.
pub const SWAGGER_UI_PATH: &str = "/swagger-ui";

/// The name of the bearer security scheme in the document.
const BEARER: &str = "bearerAuth";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Zart HTTP API",
        description = "Start, inspect, wait for, cancel and signal durable executions; \
            retry, restart, rerun and pause them (admin routes). \
            Every error body is `{\"error\": \"...\"}`.",
    ),
    tags(
        (name = "executions", description = "Start, list, inspect, wait for and cancel executions"),
        (name = "events", description = "Deliver events to executions"),
        (name = "admin", description = "Runs, steps, attempts, operator actions and pause rules (admin prefix)"),
        (name = "operations", description = "Health checks and metrics"),
    ),
    components(schemas(ErrorBody, zart_core::SortBy, zart_core::SortOrder)),
)]
struct ApiDoc;

/// The base document: info, tags and shared schemas.
pub(crate) fn base() -> Document {
    ApiDoc::openapi()
}

/// The full document: `root` routes as they are, `public` and `admin` routes under
/// their prefixes, the bearer scheme, and the passes of [`passes`]. It is JSON, not
/// utoipa's model, because that model spells a link's fields in snake case.
pub(crate) fn document(
    mut root: Document,
    mut public: Document,
    mut admin: Document,
    config: &ApiConfig,
) -> Value {
    for part in [&mut root, &mut public, &mut admin] {
        passes::document_unauthorized(part);
        passes::limit_path_parameters(part);
    }
    let mut doc = root
        .nest(&config.api_prefix, public)
        .nest(&config.admin_prefix, admin);
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let scheme = HttpBuilder::new()
        .scheme(HttpAuthScheme::Bearer)
        .description(Some(
            "Required when the server is configured with a token: `ZART_API_TOKEN` for \
             every route but the health checks, the OpenAPI document and Swagger UI; \
             `ZART_ADMIN_TOKEN`, when set, for the admin routes (the API token does not \
             open them)",
        ))
        .build();
    let components = doc.components.get_or_insert_with(Default::default);
    components
        .security_schemes
        .insert(BEARER.to_owned(), SecurityScheme::Http(scheme));
    doc.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
    let mut doc = serde_json::to_value(doc).unwrap_or_else(|e| {
        // Serializing maps of strings and JSON values cannot fail.
        tracing::error!(%e, "the OpenAPI document did not serialize");
        Value::Null
    });
    let start = format!("{}{}", config.api_prefix, passes::START_PATH);
    passes::link_start_to_follow_ups(&mut doc, &start);
    doc
}

/// The Swagger UI at [`SWAGGER_UI_PATH`] and the document at [`OPENAPI_PATH`].
pub(crate) fn swagger(doc: Value) -> Router<AppState> {
    SwaggerUi::new(SWAGGER_UI_PATH)
        .external_url_unchecked(OPENAPI_PATH, doc)
        .into()
}
