//! Flow-control fields over HTTP: `queue`, `priority` and `deduplicationId` on
//! `POST /executions`, their bad values, and `GET /queues`.

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
    for field in ["deduplicationId", "concurrencyKey"] {
        for value in [
            json!(""),
            json!("d".repeat(256)),
            json!("a\u{7}b"),
            json!(7),
        ] {
            let mut body = json!({"taskName": "echo", "queue": "payments"});
            body[field] = value.clone();
            let message = t
                .post_json("/api/v1/executions", &body)
                .await
                .error(StatusCode::BAD_REQUEST);
            assert!(message.contains(field), "{field} {value}: {message}");
        }
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
    assert_eq!(queues.as_array().map(Vec::len), Some(3), "{queues}");
    assert_eq!(queues[0]["name"], "metered", "sorted by name");
    let q = &queues[1];
    assert_eq!(q["keyConcurrency"], serde_json::Value::Null);
    assert_eq!(q["name"], "payments");
    assert_eq!(q["concurrency"], 2);
    assert_eq!(q["perWorker"], serde_json::Value::Null);
    assert_eq!(q["rateLimit"], serde_json::Value::Null);
    assert_eq!(q["ratePeriodMs"], serde_json::Value::Null);
    assert_eq!(q["depth"], 0);
    assert_eq!(q["running"], 0);
}

#[tokio::test]
async fn deduplicated_start_returns_the_unfinished_execution_with_200() {
    let t = app().await;
    for queue in [json!("payments"), json!(null)] {
        let body = json!({"taskName": "approval", "queue": queue, "payload": 1,
                          "deduplicationId": "nightly-report"});
        let first = t
            .post_json("/api/v1/executions", &body)
            .await
            .expect(StatusCode::CREATED);
        let id = first["durableExecutionId"].as_str().unwrap().to_owned();
        // Another payload and a generated id: still the same execution, unchanged.
        let again = json!({"taskName": "approval", "queue": queue, "payload": 2,
                           "deduplicationId": "nightly-report"});
        let second = t
            .post_json("/api/v1/executions", &again)
            .await
            .expect(StatusCode::OK);
        assert_eq!(second["durableExecutionId"], id.as_str());
        assert_eq!(second["payload"], 1);
        // Still held once it runs and parks on its event.
        t.until_waiting_for_event(&id).await;
        let third = t
            .post_json("/api/v1/executions", &again)
            .await
            .expect(StatusCode::OK);
        assert_eq!(third["durableExecutionId"], id.as_str());
        t.post_json(&format!("/api/v1/events/{id}/approved"), &json!("yes"))
            .await
            .expect(StatusCode::ACCEPTED);
        t.finish(&id).await;
        // Finished: the next start creates a new execution.
        let fresh = t
            .post_json("/api/v1/executions", &again)
            .await
            .expect(StatusCode::CREATED);
        assert_ne!(fresh["durableExecutionId"], id.as_str());
        assert_eq!(fresh["payload"], 2);
    }
    let listed = t.get("/api/v1/executions").await.expect(StatusCode::OK);
    assert_eq!(listed.as_array().map(Vec::len), Some(4), "{listed}");
}

#[tokio::test]
async fn a_rate_limited_queue_shows_its_limit_and_why_work_waits() {
    let t = app().await;
    // One claim an hour: the first runs, the second waits for a token.
    let first = json!({"executionId": "m1", "taskName": "echo", "queue": "metered"});
    t.post_json("/api/v1/executions", &first)
        .await
        .expect(StatusCode::CREATED);
    t.finish("m1").await;
    let second = json!({"executionId": "m2", "taskName": "echo", "queue": "metered"});
    let created = t
        .post_json("/api/v1/executions", &second)
        .await
        .expect(StatusCode::CREATED);
    let waiting = json!({"kind": "queue", "queue": "metered", "reason": "rate"});
    assert_eq!(created["waitingFor"], waiting, "{created}");
    let fetched = t.get("/api/v1/executions/m2").await.expect(StatusCode::OK);
    assert_eq!(fetched["waitingFor"], waiting, "{fetched}");
    assert_eq!(fetched["status"], "scheduled");
    let queues = t.get("/api/v1/queues").await.expect(StatusCode::OK);
    let metered = &queues[0];
    assert_eq!(metered["name"], "metered");
    assert_eq!(metered["rateLimit"], 1);
    assert_eq!(metered["ratePeriodMs"], 3_600_000);
    assert_eq!(metered["depth"], 1);
}

#[tokio::test]
async fn a_start_with_a_concurrency_key_runs_on_its_queue() {
    let t = app().await;
    let body = json!({"executionId": "k1", "taskName": "echo", "payload": 1,
                      "queue": "tenants", "concurrencyKey": "customer-7"});
    t.post_json("/api/v1/executions", &body)
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(t.finish("k1").await.result, Some(json!(1)));
    let queues = t.get("/api/v1/queues").await.expect(StatusCode::OK);
    let tenants = queues
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "tenants")
        .expect("tenants listed");
    assert_eq!(tenants["keyConcurrency"], 1);
}
