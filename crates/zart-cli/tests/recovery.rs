//! Crash recovery and graceful shutdown of the real `zart serve` process.

mod common;

use std::time::Duration;

use common::http::{assert_completed_ticks_did_not_run_again, completed_steps, ticks};
use common::{eventually, temp_db, Server, ServerOptions};
use serde_json::json;

#[tokio::test]
async fn countdown_killed_mid_run_resumes_after_restart_without_rerunning_completed_ticks() {
    let (_dir, db) = temp_db();
    let options = ServerOptions::default().args(&["--lease-secs", "2"]);
    let first = Server::start(&db, options.clone()).await;
    let api = first.api();
    api.start_ok("crash-1", "countdown", json!({"steps": 12, "stepMs": 200}))
        .await;
    let before = eventually("two completed ticks", Duration::from_secs(20), || async {
        let seen = ticks(&api.detail("crash-1").await);
        (seen.len() >= 2).then_some(seen)
    })
    .await;
    // Most of the countdown is still ahead: the kill lands mid-run.
    assert_eq!(api.execution("crash-1").await.body["status"], "running");
    first.kill().await;

    let second = Server::start(&db, options).await;
    let api = second.api();
    let done = api.wait("crash-1", 30).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["result"], json!({"completed": 12}), "{done}");

    let detail = api.detail("crash-1").await;
    assert_eq!(ticks(&detail).len(), 12, "{detail}");
    assert_completed_ticks_did_not_run_again(&before, &detail);
    assert_eq!(detail["runs"].as_array().map(Vec::len), Some(1), "{detail}");
}

#[tokio::test]
async fn sigterm_exits_cleanly_and_releases_leases_for_an_immediate_resume() {
    let (_dir, db) = temp_db();
    // A long lease: only a released lease lets the next server resume within the test.
    let options =
        ServerOptions::default().args(&["--lease-secs", "120", "--shutdown-grace-secs", "0"]);
    let first = Server::start(&db, options.clone()).await;
    let api = first.api();
    api.start_ok("term-1", "countdown", json!({"steps": 20, "stepMs": 100}))
        .await;
    eventually("two completed ticks", Duration::from_secs(20), || async {
        (completed_steps(&api.detail("term-1").await, "tick").len() >= 2).then_some(())
    })
    .await;
    let status = first.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "zart serve exited with {status}");

    let second = Server::start(&db, options).await;
    let done = second.api().wait("term-1", 30).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["result"], json!({"completed": 20}), "{done}");
}
