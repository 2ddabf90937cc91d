//! The web dashboard: one HTML page, its script, stylesheet and icon, compiled into
//! the binary (no build step, no CDN, no web font), served at
//! [`ApiConfig::dashboard_path`].
//!
//! The page is a client of the JSON API like any other: it reads the prefixes, and
//! whether each token is required, from attributes of its `<body>`, calls the routes
//! with `fetch`, and asks for the required tokens (kept in the tab's
//! `sessionStorage`, sent only as `Authorization: Bearer`). So the page and its assets
//! hold no secret and are served without a token; that a token is required is no
//! secret either (any route answers 401 without it). Every answer
//! carries a Content-Security-Policy that allows only this origin (no inline script,
//! no inline style, no connection elsewhere), and an `ETag` with `Cache-Control:
//! no-cache`, so a browser revalidates (a 304 when unchanged) and never runs a stale
//! script after an upgrade.
//!
//! Only the page (at the path, with and without a trailing `/`) and the six assets
//! under `{path}/assets/` are routes: anything else, under the API prefixes or not,
//! still reaches the JSON 404 fallback.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::from_fn;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::metrics::tag_route;
use crate::{ApiConfig, AppState};

const INDEX: &str = include_str!("dashboard/index.html");
const SCRIPT: &str = "text/javascript; charset=utf-8";
/// Every asset: its name under `{path}/assets/`, content type and text. `app.js` is
/// the core (API client, tokens, router, helpers); the others are its views.
const ASSETS: [(&str, &str, &str); 6] = [
    ("app.js", SCRIPT, include_str!("dashboard/app.js")),
    ("list.js", SCRIPT, include_str!("dashboard/list.js")),
    ("detail.js", SCRIPT, include_str!("dashboard/detail.js")),
    ("admin.js", SCRIPT, include_str!("dashboard/admin.js")),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("dashboard/app.css"),
    ),
    (
        "icon.svg",
        "image/svg+xml",
        include_str!("dashboard/icon.svg"),
    ),
];

/// Only this origin may serve scripts, styles, images and API answers to the page;
/// nothing may frame it, and it submits no form anywhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

/// The dashboard's routes for `config`, or `None` when it has no dashboard path.
pub(crate) fn routes(config: &ApiConfig) -> Option<Router<AppState>> {
    let path = config.dashboard_path.as_deref()?;
    let base = path.trim_end_matches('/');
    let page = Asset::new(
        render_index(config, base),
        "text/html; charset=utf-8".to_owned(),
    );
    let mut router = Router::new().route(path, page.clone().handler());
    if !base.is_empty() {
        router = router.route(&format!("{base}/"), page.handler());
    }
    for (name, content_type, body) in ASSETS {
        let asset = Asset::new(body.to_owned(), content_type.to_owned());
        router = router.route(&format!("{base}/assets/{name}"), asset.handler());
    }
    Some(router.route_layer(from_fn(tag_route)))
}

/// The page with the prefixes it calls and the base of its assets filled in.
fn render_index(config: &ApiConfig, base: &str) -> String {
    INDEX
        .replace("{{BASE}}", &attribute(base))
        .replace("{{API_PREFIX}}", &attribute(&config.api_prefix))
        .replace("{{ADMIN_PREFIX}}", &attribute(&config.admin_prefix))
        .replace("{{API_TOKEN}}", required(config.api_token.is_some()))
        .replace("{{ADMIN_TOKEN}}", required(config.admin_token.is_some()))
        .replace("{{VERSION}}", env!("CARGO_PKG_VERSION"))
}

fn required(token_set: bool) -> &'static str {
    if token_set {
        "required"
    } else {
        "none"
    }
}

/// `text` escaped for a double-quoted HTML attribute. Prefixes are validated to
/// letters, digits and `/-_.~`, so this changes nothing today; it keeps the page
/// well-formed should that rule ever widen.
fn attribute(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// One served file with its validator.
#[derive(Clone)]
struct Asset {
    body: axum::body::Bytes,
    content_type: String,
    etag: String,
}

impl Asset {
    fn new(body: String, content_type: String) -> Self {
        let etag = format!("\"{:016x}\"", fnv1a(body.as_bytes()));
        Self {
            body: body.into(),
            content_type,
            etag,
        }
    }

    fn handler(self) -> axum::routing::MethodRouter<AppState> {
        get(move |headers: HeaderMap| {
            let asset = self.clone();
            async move { asset.respond(&headers) }
        })
    }

    /// The file, or 304 when the browser's copy (`If-None-Match`) is current.
    fn respond(&self, request: &HeaderMap) -> Response {
        let current = request
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|tags| tags.split(',').any(|t| t.trim() == self.etag));
        let (status, body) = if current {
            (StatusCode::NOT_MODIFIED, Body::empty())
        } else {
            (StatusCode::OK, Body::from(self.body.clone()))
        };
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        let mut set = |name, value: &str| {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        };
        set(header::CONTENT_TYPE, &self.content_type);
        set(header::ETAG, &self.etag);
        set(header::CACHE_CONTROL, "no-cache");
        set(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
        set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        set(header::REFERRER_POLICY, "no-referrer");
        set(header::X_FRAME_OPTIONS, "DENY");
        response
    }
}

/// FNV-1a, 64 bits: a content hash for the `ETag` (not a security boundary).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_the_configured_prefixes_and_asset_base() {
        let config = ApiConfig::default().api_prefix("/wf/v2");
        let page = render_index(&config, "/ops");
        assert!(page.contains("data-api-prefix=\"/wf/v2\""));
        assert!(page.contains("data-admin-prefix=\"/zart/admin/v1\""));
        assert!(page.contains("src=\"/ops/assets/app.js\""));
        assert!(page.contains("data-api-token=\"none\""));
        let tokened = render_index(&config.admin_token("t"), "");
        assert!(tokened.contains("data-admin-token=\"required\""));
        assert!(!tokened.contains("\"t\""), "the token leaked into the page");
        assert!(!page.contains("{{"), "a placeholder was left: {page}");
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        let page = render_index(&ApiConfig::default(), "");
        assert!(!page.contains("<script>") && !page.contains("style="));
        assert!(!page.contains("<style"));
    }

    #[test]
    fn a_matching_etag_answers_304() {
        let asset = Asset::new("x".to_owned(), "text/plain".to_owned());
        let mut headers = HeaderMap::new();
        let tag = format!("\"other\", {}", asset.etag);
        headers.insert(header::IF_NONE_MATCH, tag.parse().unwrap());
        assert_eq!(asset.respond(&headers).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(asset.respond(&HeaderMap::new()).status(), StatusCode::OK);
    }
}
