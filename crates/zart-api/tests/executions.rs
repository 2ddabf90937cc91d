//! Starting, reading, waiting for, cancelling and counting executions.

mod common;

use axum::body::Body;
use axum::http::{header, Method, StatusCode};
use common::*;
use serde_json::json;

#[tokio::test]
async fn start_creates_with_201_and_replays_with_200() {
    let t = app().await;
    let created = t.start("order-1", "echo", json!({"a": 1})).await;
    assert_eq!(created["durableExecutionId"], "order-1");
    assert_eq!(created["name"], "echo");
    assert_eq!(created["payload"], json!({"a": 1}));
    assert!(created["scheduledAt"].is_string());
    assert!(created["version"].is_i64());

    let body = json!({"executionId": "order-1", "taskName": "echo", "payload": {"a": 1}});
    let replay = t.post_json(&format!("{API}/executions"), &body).await;
    let replay = replay.expect(StatusCode::OK);
    assert_eq!(replay["durableExecutionId"], "order-1");
}

#[tokio::test]
async fn start_generates_an_id_and_defaults_the_payload_to_null() {
    let t = app().await;
    let reply = t
        .post_json(&format!("{API}/executions"), &json!({"taskName": "echo"}))
        .await;
    let created = reply.expect(StatusCode::CREATED);
    let id = created["durableExecutionId"].as_str().unwrap();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(created["payload"], json!(null));
}

#[tokio::test]
async fn start_with_same_id_but_different_task_or_payload_is_409() {
    let t = app().await;
    t.start("dup", "echo", json!(1)).await;
    let uri = format!("{API}/executions");
    let other_payload = json!({"executionId": "dup", "taskName": "echo", "payload": 2});
    let msg = t
        .post_json(&uri, &other_payload)
        .await
        .error(StatusCode::CONFLICT);
    assert!(msg.contains("payload"), "{msg}");
    let other_task = json!({"executionId": "dup", "taskName": "approval", "payload": 1});
    let msg = t
        .post_json(&uri, &other_task)
        .await
        .error(StatusCode::CONFLICT);
    assert!(msg.contains("echo"), "{msg}");
}

#[tokio::test]
async fn start_of_an_unknown_task_is_422() {
    let t = app().await;
    let body = json!({"taskName": "no-such-task"});
    let msg = t
        .post_json(&format!("{API}/executions"), &body)
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(msg.contains("no-such-task"), "{msg}");
}

#[tokio::test]
async fn start_rejects_invalid_ids_with_400() {
    let t = app().await;
    let uri = format!("{API}/executions");
    for id in [
        String::new(),
        "x".repeat(256),
        "bad\u{1}id".to_owned(),
        "line\nbreak".to_owned(),
    ] {
        let body = json!({"executionId": id, "taskName": "echo"});
        let msg = t
            .post_json(&uri, &body)
            .await
            .error(StatusCode::BAD_REQUEST);
        assert!(msg.contains("executionId"), "{id:?}: {msg}");
    }
    let longest = "é".repeat(255);
    let body = json!({"executionId": longest, "taskName": "echo"});
    t.post_json(&uri, &body).await.expect(StatusCode::CREATED);
}

#[tokio::test]
async fn start_rejects_malformed_bodies_with_json_errors() {
    let t = app().await;
    let uri = format!("{API}/executions");
    let msg = t
        .post_json(&uri, &json!({"payload": 1}))
        .await
        .error(StatusCode::BAD_REQUEST);
    assert!(msg.contains("taskName"), "{msg}");
    t.post_json(&uri, &json!({"taskName": 7}))
        .await
        .error(StatusCode::BAD_REQUEST);
    t.post_json(&uri, &json!([1, 2]))
        .await
        .error(StatusCode::BAD_REQUEST);

    let broken = request(Method::POST, &uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"taskName\": "))
        .unwrap();
    t.call(broken).await.error(StatusCode::BAD_REQUEST);

    let no_type = request(Method::POST, &uri)
        .body(Body::from("{\"taskName\":\"echo\"}"))
        .unwrap();
    let msg = t
        .call(no_type)
        .await
        .error(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(msg.contains("application/json"), "{msg}");
}

#[tokio::test]
async fn start_with_a_payload_the_task_cannot_read_is_400() {
    let t = app().await;
    let body = json!({"taskName": "typed", "payload": {"n": "three"}});
    let msg = t
        .post_json(&format!("{API}/executions"), &body)
        .await
        .error(StatusCode::BAD_REQUEST);
    assert!(msg.contains("typed"), "{msg}");
}

#[tokio::test]
async fn get_returns_the_execution_with_its_result_or_404() {
    let t = app().await;
    t.start("e1", "typed", json!({"n": 21})).await;
    t.finish("e1").await;
    let e = t
        .get(&format!("{API}/executions/e1"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(e["status"], "completed");
    assert_eq!(e["result"], json!(42));
    assert!(e["completedAt"].is_string());
    assert_eq!(e["runIndex"], 1);

    let msg = t
        .get(&format!("{API}/executions/nope"))
        .await
        .error(StatusCode::NOT_FOUND);
    assert!(msg.contains("nope"), "{msg}");
}

#[tokio::test]
async fn failed_execution_shows_a_structured_error() {
    let t = app().await;
    t.start("f1", "fail", json!(null)).await;
    t.finish("f1").await;
    let e = t
        .get(&format!("{API}/executions/f1"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(e["status"], "failed");
    assert_eq!(e["error"]["kind"], "step_failed");
    assert_eq!(e["error"]["step"], "explode");
    assert!(e["error"]["message"].as_str().unwrap().contains("boom"));
}

#[tokio::test]
async fn ids_with_slashes_and_spaces_are_reachable_percent_encoded() {
    let t = app().await;
    t.start("tenant/a b", "echo", json!(1)).await;
    let e = t
        .get(&format!("{API}/executions/tenant%2Fa%20b"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(e["durableExecutionId"], "tenant/a b");
}

#[tokio::test]
async fn cancel_is_204_then_409_and_404_for_unknown_ids() {
    let t = app().await;
    t.start("c1", "approval", json!(null)).await;
    t.post_empty(&format!("{API}/executions/c1/cancel"))
        .await
        .expect(StatusCode::NO_CONTENT);
    assert_eq!(
        t.finish("c1").await.status,
        zart::core::ExecutionStatus::Cancelled
    );
    let msg = t
        .post_empty(&format!("{API}/executions/c1/cancel"))
        .await
        .error(StatusCode::CONFLICT);
    assert!(msg.contains("cancelled"), "{msg}");

    t.start("done", "echo", json!(1)).await;
    t.finish("done").await;
    t.post_empty(&format!("{API}/executions/done/cancel"))
        .await
        .error(StatusCode::CONFLICT);

    t.post_empty(&format!("{API}/executions/ghost/cancel"))
        .await
        .error(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn stats_count_executions_by_status() {
    let t = app().await;
    t.start("s1", "echo", json!(1)).await;
    t.start("s2", "fail", json!(1)).await;
    t.start("s3", "approval", json!(1)).await;
    t.finish("s1").await;
    t.finish("s2").await;
    t.post_empty(&format!("{API}/executions/s3/cancel"))
        .await
        .expect(StatusCode::NO_CONTENT);
    let stats = t.get(&format!("{API}/stats")).await.expect(StatusCode::OK);
    assert_eq!(
        stats,
        json!({"scheduled": 0, "running": 0, "completed": 1, "failed": 1, "cancelled": 1})
    );
}
