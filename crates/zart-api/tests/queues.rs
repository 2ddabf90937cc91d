//! Flow-control fields over HTTP: `queue` and `priority` on `POST /executions`, their
//! bad values, and `GET /queues`.

mod common;

use axum::http::StatusCode;
use serde_json::json;

use common::app;

#[tokio::test]
async fn start_on_a_declared_queue_shows_queue_and_priority() {
    let t = app().await;
    let body = json!({"executionId": "q1", "taskName": "echo", "payload": 1,
                      "queue": "payments", "priority": -3});
    let created = t
        .post_json("/api/v1/executions", &body)
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(created["queue"], "payments");
    assert_eq!(created["priority"], -3);
    t.finish("q1").await;
    let fetched = t.get("/api/v1/executions/q1").await.expect(StatusCode::OK);
    assert_eq!(fetched["queue"], "payments");
    let plain = json!({"executionId": "q2", "taskName": "echo", "payload": 1});
    let created = t
        .post_json("/api/v1/executions", &plain)
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(created["queue"], "default");
    assert_eq!(created["priority"], 0);
}

#[tokio::test]
async fn unknown_queue_is_422_and_bad_priority_or_name_is_400() {
    let t = app().await;
    let unknown = json!({"taskName": "echo", "queue": "nobody-declared-me"});
    let message = t
        .post_json("/api/v1/executions", &unknown)
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.contains("unknown queue"), "{message}");
    for priority in [json!(1001), json!(-1001), json!(10_000_000_000i64)] {
        let body = json!({"taskName": "echo", "queue": "payments", "priority": priority});
        let message = t
            .post_json("/api/v1/executions", &body)
            .await
            .error(StatusCode::BAD_REQUEST);
        assert!(message.contains("priority"), "{message}");
    }
    for name in [json!(""), json!("has space"), json!("q".repeat(65))] {
        let body = json!({"taskName": "echo", "queue": name});
        let message = t
            .post_json("/api/v1/executions", &body)
            .await
            .error(StatusCode::BAD_REQUEST);
        assert!(message.contains("queue name"), "{message}");
    }
    // Not built yet: refused, never silently dropped.
    for (field, value) in [
        ("concurrencyKey", json!("customer-7")),
        ("deduplicationId", json!("d1")),
    ] {
        let mut body = json!({"taskName": "echo", "queue": "payments"});
        body[field] = value;
        let message = t
            .post_json("/api/v1/executions", &body)
            .await
            .error(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            message.contains(field) && message.contains("not supported"),
            "{message}"
        );
    }
    let listed = t.get("/api/v1/executions").await.expect(StatusCode::OK);
    assert_eq!(listed, json!([]), "a refused start created nothing");
}

#[tokio::test]
async fn queues_lists_limits_depth_and_running() {
    let t = app().await;
    // A start on the queue puts the engine's declared queues into the store (the
    // worker does too, when its claim loop starts).
    let body = json!({"executionId": "q1", "taskName": "echo", "queue": "payments"});
    t.post_json("/api/v1/executions", &body)
        .await
        .expect(StatusCode::CREATED);
    t.finish("q1").await;
    let queues = t.get("/api/v1/queues").await.expect(StatusCode::OK);
    assert_eq!(queues.as_array().map(Vec::len), Some(1), "{queues}");
    let q = &queues[0];
    assert_eq!(q["name"], "payments");
    assert_eq!(q["concurrency"], 2);
    assert_eq!(q["perWorker"], serde_json::Value::Null);
    assert_eq!(q["depth"], 0);
    assert_eq!(q["running"], 0);
}
