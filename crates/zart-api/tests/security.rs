//! Bearer tokens and CORS. (That the OpenAPI document and Swagger UI need no token
//! is pinned in `openapi_document.rs`.)

mod common;

use axum::body::Body;
use axum::http::{header, Method, StatusCode};
use common::*;
use zart_api::ApiConfig;

async fn get_with(t: &TestApp, uri: &str, token: Option<&str>) -> Reply {
    let mut builder = request(Method::GET, uri);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    t.call(builder.body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn api_token_guards_every_route_but_the_health_checks() {
    let t = app_with(ApiConfig::default().api_token("api-secret")).await;
    for uri in [
        format!("{API}/executions"),
        format!("{API}/stats"),
        format!("{API}/executions/x"),
        format!("{API}/nope"),
        format!("{ADMIN}/executions/x/runs"),
        "/metrics".to_owned(),
    ] {
        let missing = get_with(&t, &uri, None).await;
        let msg = missing.error(StatusCode::UNAUTHORIZED);
        assert!(msg.contains("Authorization"), "{uri}: {msg}");
        assert_eq!(missing.headers[header::WWW_AUTHENTICATE], "Bearer");
        get_with(&t, &uri, Some("wrong"))
            .await
            .error(StatusCode::UNAUTHORIZED);
        let allowed = get_with(&t, &uri, Some("api-secret")).await;
        assert_ne!(allowed.status, StatusCode::UNAUTHORIZED, "{uri}");
    }
    for open in ["/healthz", "/readyz", "/openapi.json", "/swagger-ui/"] {
        assert_eq!(
            get_with(&t, open, None).await.status,
            StatusCode::OK,
            "{open}"
        );
    }
    let stats = get_with(&t, &format!("{API}/stats"), Some("api-secret")).await;
    assert_eq!(stats.status, StatusCode::OK);
}

#[tokio::test]
async fn admin_token_opens_admin_routes_and_the_api_token_does_not() {
    let config = ApiConfig::default()
        .api_token("api-secret")
        .admin_token("admin-secret");
    let t = app_with(config).await;
    let runs = format!("{ADMIN}/executions/ghost/runs");
    get_with(&t, &runs, Some("api-secret"))
        .await
        .error(StatusCode::UNAUTHORIZED);
    get_with(&t, &runs, None)
        .await
        .error(StatusCode::UNAUTHORIZED);
    get_with(&t, &runs, Some("admin-secret"))
        .await
        .error(StatusCode::NOT_FOUND);
    let stats = format!("{API}/stats");
    get_with(&t, &stats, Some("admin-secret"))
        .await
        .error(StatusCode::UNAUTHORIZED);
    assert_eq!(
        get_with(&t, &stats, Some("api-secret")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn admin_token_alone_leaves_public_routes_open() {
    let t = app_with(ApiConfig::default().admin_token("admin-secret")).await;
    assert_eq!(
        get_with(&t, &format!("{API}/stats"), None).await.status,
        StatusCode::OK
    );
    get_with(&t, &format!("{ADMIN}/executions/x/runs"), None)
        .await
        .error(StatusCode::UNAUTHORIZED);
    get_with(
        &t,
        &format!("{ADMIN}/executions/x/runs"),
        Some("admin-secret"),
    )
    .await
    .error(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn without_tokens_everything_is_open() {
    let t = app().await;
    assert_eq!(
        get_with(&t, &format!("{API}/stats"), None).await.status,
        StatusCode::OK
    );
    get_with(&t, &format!("{ADMIN}/executions/x/runs"), None)
        .await
        .error(StatusCode::NOT_FOUND);
    assert_eq!(get_with(&t, "/metrics", None).await.status, StatusCode::OK);
}

async fn preflight(t: &TestApp, origin: &str) -> Reply {
    let request = request(Method::OPTIONS, &format!("{API}/executions"))
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization,content-type,idempotency-key",
        )
        .body(Body::empty())
        .unwrap();
    t.call(request).await
}

#[tokio::test]
async fn cors_allows_only_the_configured_origins() {
    let config = ApiConfig::default()
        .api_token("api-secret")
        .cors_origins(["https://console.example.com"]);
    let t = app_with(config).await;
    let allowed = preflight(&t, "https://console.example.com").await;
    assert_eq!(allowed.status, StatusCode::OK, "preflight needs no token");
    assert_eq!(
        allowed.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://console.example.com"
    );
    let allowed_headers = allowed.headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap();
    assert!(
        allowed_headers.contains("idempotency-key"),
        "{allowed_headers}"
    );
    let other = preflight(&t, "https://evil.example").await;
    assert!(!other
        .headers
        .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));

    let simple = request(Method::GET, &format!("{API}/stats"))
        .header(header::ORIGIN, "https://console.example.com")
        .header(header::AUTHORIZATION, "Bearer api-secret")
        .body(Body::empty())
        .unwrap();
    let reply = t.call(simple).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://console.example.com"
    );
}

#[tokio::test]
async fn cors_wildcard_allows_any_origin_and_none_is_the_default() {
    let t = app_with(ApiConfig::default().cors_origins(["*"])).await;
    let reply = preflight(&t, "https://anywhere.example").await;
    assert_eq!(reply.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");

    let t = app().await;
    let reply = preflight(&t, "https://anywhere.example").await;
    assert!(!reply
        .headers
        .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
}
