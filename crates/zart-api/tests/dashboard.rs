//! The dashboard's page and assets: served without a token, with a restrictive CSP,
//! movable to a prefix or off, never in the way of the JSON 404s; and the two routes
//! it added for itself (`/tasks`, `/overview`).

mod common;

use axum::http::{header, StatusCode};
use common::*;
use serde_json::json;
use zart_api::ApiConfig;

fn header_of(reply: &Reply, name: header::HeaderName) -> &str {
    reply.headers.get(name).map_or("", |v| v.to_str().unwrap())
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_without_a_token_under_a_self_only_csp() {
    let t = app_with(
        ApiConfig::default()
            .api_token("s3cret")
            .admin_token("adm1n"),
    )
    .await;
    let page = t.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        header_of(&page, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    let csp = header_of(&page, header::CONTENT_SECURITY_POLICY);
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    assert_eq!(header_of(&page, header::CACHE_CONTROL), "no-cache");
    let text = page.text();
    assert!(text.contains("data-api-token=\"required\""));
    assert!(
        !text.contains("s3cret") && !text.contains("adm1n"),
        "a token leaked"
    );
    for (asset, kind) in [
        ("app.js", "text/javascript"),
        ("list.js", "text/javascript"),
        ("detail.js", "text/javascript"),
        ("admin.js", "text/javascript"),
        ("app.css", "text/css"),
        ("icon.svg", "image/svg+xml"),
    ] {
        let reply = t.get(&format!("/assets/{asset}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{asset}");
        assert!(
            header_of(&reply, header::CONTENT_TYPE).starts_with(kind),
            "{asset}"
        );
        assert!(!header_of(&reply, header::ETAG).is_empty(), "{asset}");
    }
    // The API itself still wants its token.
    t.get(&format!("{API}/stats"))
        .await
        .error(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unknown_paths_stay_json_404s_beside_the_dashboard() {
    let t = app().await;
    for path in [
        "/assets/nope.js",
        "/nope",
        "/api/v1/nope",
        "/zart/admin/v1/nope",
    ] {
        t.get(path).await.error(StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn the_dashboard_moves_under_a_prefix_or_goes() {
    let t = app_with(ApiConfig::default().dashboard_path("/ops/zart")).await;
    for path in ["/ops/zart", "/ops/zart/", "/ops/zart/assets/app.js"] {
        assert_eq!(t.get(path).await.status, StatusCode::OK, "{path}");
    }
    assert!(t
        .get("/ops/zart")
        .await
        .text()
        .contains("src=\"/ops/zart/assets/app.js\""));
    t.get("/").await.error(StatusCode::NOT_FOUND);

    let none = app_with(ApiConfig::default().without_dashboard()).await;
    none.get("/").await.error(StatusCode::NOT_FOUND);
    none.get("/assets/app.js")
        .await
        .error(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn tasks_lists_the_registered_names_sorted() {
    let t = app().await;
    let body = t.get(&format!("{API}/tasks")).await.expect(StatusCode::OK);
    let names: Vec<&str> = body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"echo") && names.contains(&"approval"),
        "{names:?}"
    );
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
}

#[tokio::test]
async fn overview_counts_the_last_hour_from_the_store() {
    let t = app().await;
    t.start("ov-1", "echo", json!(1)).await;
    t.finish("ov-1").await;
    t.start("ov-2", "fail", json!(null)).await;
    t.finish("ov-2").await;
    let body = t
        .get(&format!("{API}/overview"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(body["bucketSecs"], 300);
    assert_eq!(body["buckets"].as_array().unwrap().len(), 12);
    assert_eq!(
        (body["started"].as_u64(), body["completed"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(body["failed"], 1);
    assert_eq!(body["failureRate"], 0.5);
    let small = format!("{API}/overview?windowSecs=600&bucketSecs=60");
    let small = t.get(&small).await.expect(StatusCode::OK);
    assert_eq!(small["buckets"].as_array().unwrap().len(), 10);
    for bad in [
        "windowSecs=10",
        "windowSecs=x",
        "bucketSecs=0",
        "windowSecs=604800&bucketSecs=1",
    ] {
        let message = t
            .get(&format!("{API}/overview?{bad}"))
            .await
            .error(StatusCode::BAD_REQUEST);
        assert!(message.contains("Secs"), "{bad}: {message}");
    }
}
