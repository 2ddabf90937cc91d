//! Non-default prefixes move every public and admin route; the root routes stay.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;
use zart_api::ApiConfig;

#[tokio::test]
async fn routes_follow_the_configured_prefixes() {
    let t = app_with(
        ApiConfig::default()
            .api_prefix("/workflows/v2")
            .admin_prefix("ops/"),
    )
    .await;
    let body = json!({"executionId": "p1", "taskName": "echo", "payload": 1});
    t.post_json("/workflows/v2/executions", &body)
        .await
        .expect(StatusCode::CREATED);
    t.finish("p1").await;
    let e = t
        .get("/workflows/v2/executions/p1")
        .await
        .expect(StatusCode::OK);
    assert_eq!(e["status"], "completed");
    t.get("/workflows/v2/stats").await.expect(StatusCode::OK);
    t.get("/ops/executions/p1/runs")
        .await
        .expect(StatusCode::OK);
    t.get("/ops/executions/p1/detail")
        .await
        .expect(StatusCode::OK);
    t.get("/workflows/v2/nope")
        .await
        .error(StatusCode::NOT_FOUND);

    t.get(&format!("{API}/executions/p1"))
        .await
        .error(StatusCode::NOT_FOUND);
    t.get(&format!("{ADMIN}/executions/p1/runs"))
        .await
        .error(StatusCode::NOT_FOUND);
    assert_eq!(t.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(t.get("/metrics").await.status, StatusCode::OK);
}

#[tokio::test]
async fn router_refuses_identical_prefixes() {
    let config = ApiConfig::default()
        .api_prefix("/same")
        .admin_prefix("/same");
    let store = zart::connect("sqlite::memory:").await.unwrap();
    let zart = zart::Zart::builder(store).build();
    let refused = zart_api::router(zart.client(), zart.metrics().clone(), config);
    assert_eq!(
        refused.err(),
        Some(zart_api::ConfigError::SamePrefixes("/same".to_owned()))
    );
}
