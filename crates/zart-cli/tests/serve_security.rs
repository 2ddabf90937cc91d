//! Tokens and the body limit, configured through the environment of `zart serve`.

mod common;

use common::http::{ADMIN, API};
use common::{temp_db, Server, ServerOptions};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn api_token_is_required_except_for_health_checks() {
    let (_dir, db) = temp_db();
    let options = ServerOptions::default().env("ZART_API_TOKEN", "s3cret");
    let server = Server::start(&db, options).await;
    let anonymous = server.api();

    let refused = anonymous
        .start(json!({"taskName": "echo", "payload": 1}))
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{refused:?}");
    assert!(
        refused.content_type.starts_with("application/json"),
        "{refused:?}"
    );
    assert!(!refused.error().is_empty());
    assert_eq!(
        anonymous.get(&format!("{API}/stats")).await.status,
        StatusCode::UNAUTHORIZED
    );
    let wrong = server.api().with_token("guess");
    assert_eq!(
        wrong.get(&format!("{API}/stats")).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(anonymous.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(anonymous.get("/readyz").await.status, StatusCode::OK);

    let authorized = server.api().with_token("s3cret");
    authorized.start_ok("tok-1", "echo", json!("hi")).await;
    assert_eq!(authorized.wait("tok-1", 20).await["result"], "hi");
}

#[tokio::test]
async fn admin_token_opens_admin_routes_and_the_api_token_does_not() {
    let (_dir, db) = temp_db();
    let options = ServerOptions::default()
        .env("ZART_API_TOKEN", "api-token")
        .env("ZART_ADMIN_TOKEN", "admin-token");
    let server = Server::start(&db, options).await;
    let api = server.api().with_token("api-token");
    api.start_ok("adm-1", "echo", json!(1)).await;
    api.wait("adm-1", 20).await;

    let detail = format!("{ADMIN}/executions/adm-1/detail");
    assert_eq!(api.get(&detail).await.status, StatusCode::UNAUTHORIZED);
    let admin = server.api().with_token("admin-token");
    let reply = admin.get(&detail).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["execution"]["durableExecutionId"], "adm-1");
}

#[tokio::test]
async fn body_above_the_limit_is_413_with_a_json_error() {
    let (_dir, db) = temp_db();
    let server = Server::start(
        &db,
        ServerOptions::default().env("ZART_MAX_BODY_BYTES", "512"),
    )
    .await;
    let api = server.api();
    let big = json!({"taskName": "echo", "payload": "x".repeat(2048)});
    let bytes = serde_json::to_vec(&big).expect("serialize");
    let reply = api
        .raw(
            Method::POST,
            &format!("{API}/executions"),
            Some(("application/json", bytes)),
        )
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{reply:?}");
    assert!(
        reply.content_type.starts_with("application/json"),
        "{reply:?}"
    );
    assert!(!reply.error().is_empty());

    let small = api
        .start(json!({"taskName": "echo", "payload": "ok"}))
        .await;
    assert_eq!(small.status, StatusCode::CREATED, "{small:?}");
}

#[tokio::test]
async fn token_and_prefix_flags_configure_the_server() {
    let (_dir, db) = temp_db();
    let args = [
        "--token",
        "flag-token",
        "--api-prefix",
        "/wf/v2",
        "--admin-prefix",
        "/ops",
    ];
    let server = Server::start(&db, ServerOptions::default().args(&args)).await;
    let anonymous = server.api();
    assert_eq!(
        anonymous.get("/wf/v2/stats").await.status,
        StatusCode::UNAUTHORIZED
    );

    let api = server.api().with_token("flag-token");
    let body = json!({"executionId": "flag-1", "taskName": "echo", "payload": 2});
    let started = api.post("/wf/v2/executions", &body).await;
    assert_eq!(started.status, StatusCode::CREATED, "{started:?}");
    let detail = api.get("/ops/executions/flag-1/detail").await;
    assert_eq!(detail.status, StatusCode::OK, "{detail:?}");
    assert_eq!(
        api.get(&format!("{API}/stats")).await.status,
        StatusCode::NOT_FOUND
    );
}
