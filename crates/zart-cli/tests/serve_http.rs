//! The HTTP contract as served by the real `zart serve` binary: status codes and
//! JSON error bodies for the common mistakes, idempotent start, cancel and wait.

mod common;

use std::time::Duration;

use common::http::{completed_steps, API};
use common::{eventually, temp_db, Server, ServerOptions};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn start_is_idempotent_by_id_and_a_mismatch_is_a_conflict() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    let api = server.api();
    let body = json!({"executionId": "same-id", "taskName": "echo", "payload": {"n": 1}});

    let first = api.start(body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    assert_eq!(first.body["durableExecutionId"], "same-id");
    let replay = api.start(body).await;
    assert_eq!(replay.status, StatusCode::OK, "{replay:?}");
    assert_eq!(replay.body["durableExecutionId"], "same-id");

    let other_payload = api
        .start(json!({"executionId": "same-id", "taskName": "echo", "payload": {"n": 2}}))
        .await;
    assert_eq!(
        other_payload.status,
        StatusCode::CONFLICT,
        "{other_payload:?}"
    );
    let other_task = api
        .start(json!({"executionId": "same-id", "taskName": "countdown", "payload": {"n": 1}}))
        .await;
    assert_eq!(other_task.status, StatusCode::CONFLICT, "{other_task:?}");
    assert_eq!(api.wait("same-id", 20).await["result"], json!({"n": 1}));
}

#[tokio::test]
async fn unknown_task_is_422_and_stores_nothing() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    let api = server.api();
    let reply = api
        .start(json!({"executionId": "nope-1", "taskName": "no-such-task"}))
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{reply:?}");
    assert!(reply.error().contains("no-such-task"), "{reply:?}");
    assert_eq!(api.execution("nope-1").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn malformed_json_is_400_with_a_json_error_body() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    let api = server.api();
    let body = Some(("application/json", b"{\"taskName\": \"echo\",".to_vec()));
    let reply = api
        .raw(Method::POST, &format!("{API}/executions"), body)
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
    assert!(
        reply.content_type.starts_with("application/json"),
        "{reply:?}"
    );
    assert!(!reply.error().is_empty());
}

#[tokio::test]
async fn unknown_execution_is_404_on_every_route() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    let api = server.api();
    let replies = [
        api.execution("ghost").await,
        api.cancel("ghost").await,
        api.get(&format!("{API}/executions/ghost/wait?timeoutSecs=1"))
            .await,
        api.event("ghost", "decision", &json!({})).await,
    ];
    for reply in replies {
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{reply:?}");
        assert!(
            reply.content_type.starts_with("application/json"),
            "{reply:?}"
        );
        assert!(reply.error().contains("ghost"), "{reply:?}");
    }
}

#[tokio::test]
async fn cancel_stops_a_running_countdown_and_a_second_cancel_conflicts() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    let api = server.api();
    api.start_ok(
        "count-cancel",
        "countdown",
        json!({"steps": 200, "stepMs": 50}),
    )
    .await;
    eventually("two completed ticks", Duration::from_secs(20), || async {
        let detail = api.detail("count-cancel").await;
        (completed_steps(&detail, "tick").len() >= 2).then_some(())
    })
    .await;

    let cancelled = api.cancel("count-cancel").await;
    assert_eq!(cancelled.status, StatusCode::NO_CONTENT, "{cancelled:?}");
    let again = api.cancel("count-cancel").await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{again:?}");
    assert_eq!(api.wait("count-cancel", 5).await["status"], "cancelled");

    // Absence of progress can only be observed over time: each pause spans ten tick
    // lengths, in which a running countdown would complete about ten ticks.
    let ticks = || async { completed_steps(&api.detail("count-cancel").await, "tick").len() };
    let at_cancel = ticks().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let later = ticks().await;
    assert!(
        later <= at_cancel + 1,
        "{} ticks ran after the cancel",
        later - at_cancel
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(ticks().await, later, "ticks kept running after the cancel");
    assert!(later < 200, "the countdown finished despite the cancel");
}

#[tokio::test]
async fn wait_that_times_out_is_504() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    let api = server.api();
    api.start_ok("pending-approval", "approval", json!({}))
        .await;
    let started = tokio::time::Instant::now();
    let reply = api
        .get(&format!(
            "{API}/executions/pending-approval/wait?timeoutSecs=1"
        ))
        .await;
    assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT, "{reply:?}");
    assert!(
        reply.content_type.starts_with("application/json"),
        "{reply:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn health_metrics_and_swagger_are_served_at_the_printed_address() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    let api = server.api();
    api.start_ok("metric-1", "echo", json!(1)).await;
    api.wait("metric-1", 20).await;

    let base = &server.base;
    let urls = [
        format!("{base}/api/v1"),
        format!("{base}/swagger-ui"),
        format!("{base}/metrics"),
    ];
    // The lines are printed before the server serves; the test's reader may lag.
    eventually(
        "the API, Swagger UI and metrics URLs printed",
        Duration::from_secs(10),
        || async {
            let printed = server.stdout().join("\n");
            urls.iter()
                .all(|url| printed.contains(url.as_str()))
                .then_some(())
        },
    )
    .await;
    assert_eq!(api.get("/readyz").await.status, StatusCode::OK);
    let metrics = api.get("/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    let text = metrics.body.as_str().unwrap_or_default();
    assert!(
        text.contains("zart_executions_started_total{task=\"echo\"} 1"),
        "{text}"
    );
    assert_eq!(api.get("/swagger-ui/").await.status, StatusCode::OK);
    assert_eq!(api.get("/openapi.json").await.status, StatusCode::OK);
}
