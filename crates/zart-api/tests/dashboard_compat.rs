//! Over a real socket: what the original dashboard relies on — the snake-case
//! `sortBy` spellings, `retryAttempt` counted from 0 with `attemptCount` beside it,
//! every attempt's result, and a JSON answer to an event.

mod common;

use axum::http::StatusCode;
use common::socket::serve;
use common::*;
use serde_json::{json, Value};

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e["durableExecutionId"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn sort_by_accepts_the_dashboards_snake_case_spellings() {
    let t = app().await;
    let s = serve(&t).await;
    t.start("b-first", "nap", json!(null)).await;
    t.start("a-second", "echo", json!(1)).await;
    let by = |sort: &str| format!("{API}/executions?sortBy={sort}&sortOrder=asc");
    for (alias, canonical) in [("scheduled_at", "scheduledAt"), ("task_name", "taskName")] {
        let aliased = s.get(&by(alias)).await.expect(StatusCode::OK);
        let named = s.get(&by(canonical)).await.expect(StatusCode::OK);
        assert_eq!(ids(&aliased), ids(&named), "{alias}");
    }
    let by_task = s.get(&by("task_name")).await.expect(StatusCode::OK);
    assert_eq!(ids(&by_task), ["a-second", "b-first"], "echo < nap");
    for unknown in ["scheduledat", "TASK_NAME", "status_", "created_at"] {
        let msg = s.get(&by(unknown)).await.error(StatusCode::BAD_REQUEST);
        assert!(msg.contains("sortBy"), "{unknown}: {msg}");
    }
}

#[tokio::test]
async fn a_step_that_succeeded_at_once_has_retry_attempt_0_and_one_attempt() {
    let t = app().await;
    let s = serve(&t).await;
    t.start("once", "echo", json!({"v": 1})).await;
    t.finish("once").await;
    let detail = s
        .get(&format!("{ADMIN}/executions/once/detail"))
        .await
        .expect(StatusCode::OK);
    let step = &detail["steps"][0];
    assert_eq!(step["retryAttempt"], 0, "{step}");
    assert_eq!(step["attemptCount"], 1, "{step}");
    let attempts = step["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        attempts[0]["result"],
        json!({"v": 1}),
        "the attempt's result"
    );
    assert_eq!(detail["actions"], json!([]));
}

#[tokio::test]
async fn every_attempt_shows_its_result_or_error_after_a_retry() {
    let t = app().await;
    let s = serve(&t).await;
    t.start("twice", "recover", json!({"failures": 1})).await;
    t.finish("twice").await;
    s.post(
        &format!("{ADMIN}/executions/twice/retry-step"),
        &json!({"stepName": "charge"}),
    )
    .await
    .expect(StatusCode::OK);
    t.finish("twice").await;
    let detail = s
        .get(&format!("{ADMIN}/executions/twice/detail"))
        .await
        .expect(StatusCode::OK);
    let charge = &detail["steps"][0];
    assert_eq!(charge["retryAttempt"], 1, "{charge}");
    assert_eq!(charge["attemptCount"], 2, "{charge}");
    let attempts = charge["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{charge}");
    assert_eq!(attempts[0]["status"], "failed");
    assert_eq!(attempts[0]["result"], Value::Null);
    assert!(attempts[0]["error"].as_str().unwrap().contains("declined"));
    assert_eq!(attempts[1]["status"], "completed");
    assert_eq!(attempts[1]["result"], 2);
}

#[tokio::test]
async fn an_event_is_answered_202_with_a_json_body() {
    let t = app().await;
    let s = serve(&t).await;
    t.start("ev-1", "approval", json!(null)).await;
    let reply = s
        .post(&format!("{API}/events/ev-1/approved"), &json!({"ok": true}))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(reply.headers["content-type"], "application/json");
    let body = reply.json();
    assert_eq!(body["executionId"], "ev-1");
    assert_eq!(body["eventName"], "approved");
    assert!(body["sequence"].is_i64(), "{body}");
    assert_eq!(body["duplicate"], false);
    assert_eq!(body.as_object().unwrap().len(), 4, "{body}");
}
