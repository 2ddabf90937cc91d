//! The OpenAPI 3 document, generated from the handlers' `#[utoipa::path]` annotations
//! and the DTOs' schemas, and the Swagger UI serving it from vendored assets.

use axum::Router;
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
        description = "Start, inspect, wait for, cancel and signal durable executions. \
            Every error body is `{\"error\": \"...\"}`.",
    ),
    tags(
        (name = "executions", description = "Start, list, inspect, wait for and cancel executions"),
        (name = "events", description = "Deliver events to executions"),
        (name = "admin", description = "Runs, steps and attempts (admin prefix)"),
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
/// their prefixes, and a bearer scheme when a token is configured.
pub(crate) fn document(
    root: Document,
    public: Document,
    admin: Document,
    config: &ApiConfig,
) -> Document {
    let mut doc = root
        .nest(&config.api_prefix, public)
        .nest(&config.admin_prefix, admin);
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    if config.api_token.is_some() || config.admin_token.is_some() {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "`ZART_API_TOKEN` for every route but the health checks; \
                 `ZART_ADMIN_TOKEN`, when set, for the admin routes",
            ))
            .build();
        let components = doc.components.get_or_insert_with(Default::default);
        components
            .security_schemes
            .insert(BEARER.to_owned(), SecurityScheme::Http(scheme));
        doc.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
    }
    doc
}

/// The Swagger UI at [`SWAGGER_UI_PATH`] and the document at [`OPENAPI_PATH`].
pub(crate) fn swagger(doc: Document) -> Router<AppState> {
    SwaggerUi::new(SWAGGER_UI_PATH)
        .url(OPENAPI_PATH, doc)
        .into()
}
