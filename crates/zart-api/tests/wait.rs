//! The `wait` long-poll, in-process.

mod common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::*;
use serde_json::json;

#[tokio::test]
async fn wait_returns_the_terminal_execution() {
    let t = app().await;
    t.start("w1", "typed", json!({"n": 5})).await;
    let e = t
        .get(&format!("{API}/executions/w1/wait?timeoutSecs=20"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(e["status"], "completed");
    assert_eq!(e["result"], json!(10));
}

#[tokio::test]
async fn wait_times_out_with_504() {
    let t = app().await;
    t.start("w2", "approval", json!(null)).await;
    let started = Instant::now();
    let msg = t
        .get(&format!("{API}/executions/w2/wait?timeoutSecs=1"))
        .await
        .error(StatusCode::GATEWAY_TIMEOUT);
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(msg.contains("w2"), "{msg}");
}

#[tokio::test]
async fn wait_accepts_the_snake_case_alias() {
    let t = app().await;
    t.start("w3", "approval", json!(null)).await;
    let started = Instant::now();
    t.get(&format!("{API}/executions/w3/wait?timeout_secs=0"))
        .await
        .error(StatusCode::GATEWAY_TIMEOUT);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a zero timeout answers at once"
    );
}

#[tokio::test]
async fn wait_for_an_unknown_execution_is_404() {
    let t = app().await;
    t.get(&format!("{API}/executions/ghost/wait"))
        .await
        .error(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn wait_rejects_a_non_numeric_timeout() {
    let t = app().await;
    t.start("w4", "echo", json!(1)).await;
    let msg = t
        .get(&format!("{API}/executions/w4/wait?timeoutSecs=soon"))
        .await
        .error(StatusCode::BAD_REQUEST);
    assert!(msg.contains("timeoutSecs"), "{msg}");
}

#[tokio::test]
async fn wait_answers_when_a_cancel_finishes_the_execution() {
    let t = app().await;
    t.start("w5", "nap", json!(null)).await;
    let app = t.app.clone();
    let waiter = tokio::spawn(async move {
        get(&app, &format!("{API}/executions/w5/wait?timeoutSecs=30")).await
    });
    t.post_empty(&format!("{API}/executions/w5/cancel"))
        .await
        .expect(StatusCode::NO_CONTENT);
    let cancelled_at = Instant::now();
    let reply = waiter.await.unwrap();
    let e = reply.expect(StatusCode::OK);
    assert_eq!(e["status"], "cancelled");
    assert!(cancelled_at.elapsed() < Duration::from_secs(5));
}
