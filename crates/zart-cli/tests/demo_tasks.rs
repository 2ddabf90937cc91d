//! The fixed behaviour of the demo tasks, over HTTP against a real `zart serve`.

mod common;

use std::time::Duration;

use common::http::completed_steps;
use common::{eventually, temp_db, Server, ServerOptions};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn demo_tasks_behave_as_documented() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    let api = server.api();

    api.start_ok("echo-1", "echo", json!({"hello": ["world", 1]}))
        .await;
    api.start_ok("fan-1", "fan-out", json!({"items": [3, -1, 0, 21]}))
        .await;
    api.start_ok("count-1", "countdown", json!({"steps": 3, "stepMs": 10}))
        .await;
    api.start_ok("count-default", "countdown", serde_json::Value::Null)
        .await;
    api.start_ok("flaky-ok", "flaky", json!({"failTimes": 2}))
        .await;
    api.start_ok(
        "flaky-dead",
        "flaky",
        json!({"failTimes": 3, "maxAttempts": 3}),
    )
    .await;

    let echo = api.wait("echo-1", 20).await;
    assert_eq!(echo["result"], json!({"hello": ["world", 1]}), "{echo}");

    let fan = api.wait("fan-1", 20).await;
    assert_eq!(fan["result"], json!({"results": [6, -2, 0, 42]}), "{fan}");
    assert_eq!(
        completed_steps(&api.detail("fan-1").await, "double").len(),
        4
    );

    let count = api.wait("count-1", 20).await;
    assert_eq!(count["result"], json!({"completed": 3}), "{count}");
    let defaults = api.wait("count-default", 20).await;
    assert_eq!(defaults["result"], json!({"completed": 10}), "{defaults}");
    assert_eq!(
        completed_steps(&api.detail("count-default").await, "tick").len(),
        10
    );

    let flaky = api.wait("flaky-ok", 20).await;
    assert_eq!(flaky["result"], json!({"attempts": 3}), "{flaky}");
    let detail = api.detail("flaky-ok").await;
    let call = &completed_steps(&detail, "flaky-call")[0];
    assert_eq!(
        call["attempts"].as_array().map(Vec::len),
        Some(3),
        "{detail}"
    );

    let dead = api.wait("flaky-dead", 20).await;
    assert_eq!(dead["status"], "failed", "{dead}");
    assert_eq!(dead["error"]["step"], "flaky-call", "{dead}");
    let detail = api.detail("flaky-dead").await;
    let step = &detail["steps"][0];
    assert_eq!(step["status"], "dead", "{detail}");
    assert_eq!(
        step["attempts"].as_array().map(Vec::len),
        Some(3),
        "{detail}"
    );
}

#[tokio::test]
async fn approval_returns_the_decision() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    let api = server.api();
    api.start_ok("approve-1", "approval", serde_json::Value::Null)
        .await;
    eventually(
        "approval waiting for its decision",
        Duration::from_secs(20),
        || async {
            let e = api.execution("approve-1").await.body;
            (e["waitingFor"]["kind"] == "event").then_some(())
        },
    )
    .await;

    let sent = api
        .event(
            "approve-1",
            "decision",
            &json!({"approved": true, "by": "ann"}),
        )
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{sent:?}");
    let done = api.wait("approve-1", 20).await;
    assert_eq!(
        done["result"],
        json!({"approved": true, "by": "ann"}),
        "{done}"
    );
}

#[tokio::test]
async fn approval_without_a_decision_takes_the_fallback_path() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    let api = server.api();
    api.start_ok("approve-late", "approval", json!({"timeoutSecs": 1}))
        .await;
    let done = api.wait("approve-late", 20).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["result"],
        json!({"approved": false, "timedOut": true}),
        "{done}"
    );
}

#[tokio::test]
async fn no_demo_registers_no_task() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default().args(&["--no-demo"])).await;
    let reply = server
        .api()
        .start(json!({"taskName": "echo", "payload": 1}))
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{reply:?}");
}
