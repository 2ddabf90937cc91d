//! Health checks, metrics, the OpenAPI document and the Swagger UI.

mod common;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{header, Method, StatusCode};
use common::*;
use serde_json::{json, Value};
use zart_api::ApiConfig;

#[tokio::test]
async fn healthz_and_readyz_answer_ok() {
    let t = app().await;
    let health = t.get("/healthz").await;
    assert_eq!(
        (health.status, health.text().as_str()),
        (StatusCode::OK, "ok")
    );
    let ready = t.get("/readyz").await;
    assert_eq!(
        (ready.status, ready.text().as_str()),
        (StatusCode::OK, "ok")
    );
}

#[tokio::test]
async fn readyz_is_503_not_ready_when_the_store_is_gone() {
    let t = app().await;
    // Make the database unreadable by replacing its directory's files.
    let db = t.dir.path().join("zart.db");
    std::fs::remove_file(&db).expect("remove the database file");
    std::fs::create_dir(&db).expect("a directory where the database was");
    for ext in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(t.dir.path().join(format!("zart.db{ext}")));
    }
    let ready = t.get("/readyz").await;
    if ready.status == StatusCode::OK {
        // Open connections may still read the unlinked file: the store answers, so
        // it is ready. Nothing more to check on this platform.
        return;
    }
    assert_eq!(
        (ready.status, ready.text().as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    );
}

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            ops.insert((method.to_uppercase(), path.clone()));
        }
    }
    ops
}

const MOUNTED: [(&str, &str); 30] = [
    ("GET", "/api/v1/executions"),
    ("POST", "/api/v1/executions"),
    ("GET", "/api/v1/executions/{executionId}"),
    ("POST", "/api/v1/executions/{executionId}/cancel"),
    ("GET", "/api/v1/executions/{executionId}/wait"),
    ("GET", "/api/v1/stats"),
    ("GET", "/api/v1/overview"),
    ("GET", "/api/v1/tasks"),
    ("GET", "/api/v1/queues"),
    ("POST", "/api/v1/events/{executionId}/{eventName}"),
    ("GET", "/api/v1/executions/{executionId}/events"),
    ("GET", "/zart/admin/v1/executions/{executionId}/detail"),
    ("GET", "/zart/admin/v1/executions/{executionId}/runs"),
    ("POST", "/zart/admin/v1/executions/{executionId}/retry-step"),
    ("POST", "/zart/admin/v1/executions/{executionId}/restart"),
    ("POST", "/zart/admin/v1/executions/{executionId}/rerun"),
    ("GET", "/zart/admin/v1/pause"),
    ("POST", "/zart/admin/v1/pause"),
    ("POST", "/zart/admin/v1/pause/{ruleId}"),
    ("DELETE", "/zart/admin/v1/pause/{ruleId}"),
    ("GET", "/zart/admin/v1/schedules"),
    ("POST", "/zart/admin/v1/schedules"),
    ("GET", "/zart/admin/v1/schedules/{scheduleId}"),
    ("DELETE", "/zart/admin/v1/schedules/{scheduleId}"),
    ("POST", "/zart/admin/v1/schedules/{scheduleId}/pause"),
    ("POST", "/zart/admin/v1/schedules/{scheduleId}/resume"),
    ("POST", "/zart/admin/v1/schedules/{scheduleId}/trigger"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
];

#[tokio::test]
async fn openapi_document_lists_every_mounted_route() {
    let t = app().await;
    let doc = t.get("/openapi.json").await.expect(StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let expected: BTreeSet<(String, String)> = MOUNTED
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented(&doc), expected);
    for schema in [
        "Execution",
        "StartExecution",
        "Stats",
        "ErrorBody",
        "ExecutionDetail",
        "Run",
        "Step",
        "Attempt",
        "WaitingFor",
        "ExecutionError",
        "Action",
        "ActionKind",
        "StaleStep",
        "RetryStep",
        "StepRetried",
        "RestartExecution",
        "Restarted",
        "RerunExecution",
        "RerunStarted",
        "PauseRule",
        "CreatePause",
        "RulesDeleted",
        "Overview",
        "ActivityBucket",
        "TaskList",
    ] {
        assert!(
            doc["components"]["schemas"].get(schema).is_some(),
            "schema {schema} missing"
        );
    }
}

#[tokio::test]
async fn every_documented_route_is_served() {
    let t = app().await;
    t.start("doc", "echo", json!(1)).await;
    t.finish("doc").await;
    let doc = t.get("/openapi.json").await.expect(StatusCode::OK);
    for (method, path) in documented(&doc) {
        let uri = path
            .replace("{executionId}", "doc")
            .replace("{eventName}", "evt")
            .replace("{ruleId}", "rule");
        let method: Method = method.parse().unwrap();
        let request = request(method.clone(), &uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(if method == Method::POST {
                "{\"taskName\":\"echo\"}"
            } else {
                ""
            }))
            .unwrap();
        let reply = t.call(request).await;
        let unrouted = reply.status == StatusCode::NOT_FOUND && reply.text().contains("no route");
        assert!(
            !unrouted && reply.status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {uri}: {reply:?}"
        );
    }
}

#[tokio::test]
async fn openapi_follows_custom_prefixes_and_declares_bearer_auth() {
    let config = ApiConfig::default()
        .api_prefix("/wf/v2")
        .admin_prefix("/ops")
        .api_token("t0ken");
    let t = app_with(config).await;
    let request = request(Method::GET, "/openapi.json")
        .header(header::AUTHORIZATION, "Bearer t0ken")
        .body(Body::empty())
        .unwrap();
    let doc = t.call(request).await.expect(StatusCode::OK);
    let paths: Vec<String> = documented(&doc).into_iter().map(|(_, p)| p).collect();
    assert!(paths.contains(&"/wf/v2/executions".to_owned()), "{paths:?}");
    assert!(
        paths.contains(&"/ops/executions/{executionId}/runs".to_owned()),
        "{paths:?}"
    );
    assert!(!paths.iter().any(|p| p.starts_with("/api/v1")), "{paths:?}");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
    assert_eq!(doc["paths"]["/healthz"]["get"]["security"], json!([{}]));
}

#[tokio::test]
async fn swagger_ui_is_served_from_vendored_assets() {
    let t = app().await;
    let bare = t.get("/swagger-ui").await;
    assert_eq!(bare.status, StatusCode::SEE_OTHER);
    assert_eq!(bare.headers[header::LOCATION], "/swagger-ui/");
    let page = t.get("/swagger-ui/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("swagger"), "{}", page.text());
    let init = t.get("/swagger-ui/swagger-initializer.js").await;
    assert_eq!(init.status, StatusCode::OK);
    assert!(init.text().contains("/openapi.json"), "{}", init.text());
    let bundle = t.get("/swagger-ui/swagger-ui-bundle.js").await;
    assert_eq!(bundle.status, StatusCode::OK);
    assert!(
        bundle.body.len() > 100_000,
        "the real bundle is compiled in"
    );
}
