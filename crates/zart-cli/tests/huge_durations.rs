//! Huge durations over HTTP against a real `zart serve`: a clear error, never a panic,
//! and the server keeps serving.

mod common;

use common::{temp_db, zart_command, Server, ServerOptions};
use reqwest::StatusCode;
use serde_json::json;

use common::http::API;

#[tokio::test]
async fn huge_durations_are_clear_errors_and_the_server_keeps_serving() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    let api = server.api();

    // The approval demo waiting 10^13 s: the execution fails naming the wait.
    api.start_ok(
        "approve-never",
        "approval",
        json!({"timeoutSecs": 10_000_000_000_000u64}),
    )
    .await;
    let done = api.wait("approve-never", 20).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["error"]["step"], "decision", "{done}");
    let message = done["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("out of range"), "{done}");

    // A durable sleep of u64::MAX ms: the execution fails naming the sleep.
    let order = json!({"orderId": "o-1", "amount": 5, "settleMs": u64::MAX});
    api.start_ok("settle-never", "order-fulfillment", order)
        .await;
    let done = api.wait("settle-never", 20).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["error"]["step"], "warehouse-settle", "{done}");

    // Long-poll timeouts are capped at 30 s whatever their size.
    api.start_ok("echo-1", "echo", json!(1)).await;
    for secs in ["10000000000000", "99999999999999999999999999"] {
        let path = format!("{API}/executions/echo-1/wait?timeoutSecs={secs}");
        let reply = api.get(&path).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        assert_eq!(reply.body["result"], json!(1), "{reply:?}");
    }
    let reply = api
        .get(&format!("{API}/executions/echo-1/wait?timeoutSecs=-5"))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");

    // `zart wait` with the largest timeout it parses.
    let out = zart_command()
        .args([
            "wait",
            "echo-1",
            "--timeout",
            &u64::MAX.to_string(),
            "--json",
        ])
        .args(["--server", &server.base])
        .output()
        .await
        .expect("run zart");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let waited: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(waited["result"], json!(1), "{waited}");

    // Still serving, and nothing panicked.
    api.start_ok("echo-2", "echo", json!(2)).await;
    assert_eq!(api.wait("echo-2", 20).await["result"], json!(2));
    assert!(!server.log().contains("panicked"), "{}", server.log());
}
