//! A SQLite database is served by one `zart serve` at a time: a second process on
//! the same file fails at start with one error line naming the first; after a
//! SIGKILL, a restarted server resumes the executions the dead one held at once,
//! without waiting out their 30 s leases.

mod common;

use std::time::{Duration, Instant};

use common::http::ticks;
use common::{eventually, temp_db, zart_command, Server, ServerOptions};
use serde_json::{json, Value};

/// The target: a restarted server resumes held executions within this.
const RESUME_LIMIT: Duration = Duration::from_secs(2);

#[tokio::test]
async fn a_second_serve_on_the_same_database_fails_naming_the_first() {
    let (_dir, db) = temp_db();
    let first = Server::start(&db, ServerOptions::default()).await;
    let url = format!("sqlite://{}", db.display());
    let mut second = zart_command();
    second.args(["serve", "--db", &url, "--bind", "127.0.0.1:0"]);
    let out = tokio::time::timeout(Duration::from_secs(20), second.output())
        .await
        .expect("the second zart serve gives up at once")
        .expect("run zart");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    let last = err.trim_end().lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{err}");
    assert!(last.contains("in use by process"), "{last}");
    assert!(last.contains(&first.pid().to_string()), "{last}");
    // The first server is unaffected.
    assert_eq!(first.api().get("/readyz").await.status, 200);
}

/// The worker holding `id`'s lease, if it is leased.
async fn lease_holder(api: &common::Api, id: &str) -> Option<String> {
    let body: Value = api.execution(id).await.body;
    let waiting = &body["waitingFor"];
    (waiting["kind"] == "lease").then(|| waiting["workerId"].as_str().unwrap_or("").to_owned())
}

#[tokio::test]
async fn after_sigkill_a_restarted_server_resumes_held_executions_at_once() {
    let (_dir, db) = temp_db();
    // The default lease (30 s): only taking over the dead server's leases at open
    // resumes the execution within the limit.
    let first = Server::start(&db, ServerOptions::default()).await;
    let api = first.api();
    api.start_ok("held-1", "countdown", json!({"steps": 20, "stepMs": 100}))
        .await;
    let before = eventually("two completed ticks", Duration::from_secs(20), || async {
        let seen = ticks(&api.detail("held-1").await);
        (seen.len() >= 2).then_some(seen)
    })
    .await;
    let old_holder = lease_holder(&api, "held-1")
        .await
        .expect("held by the first");
    first.kill().await;
    let killed = Instant::now();

    let second = Server::start(&db, ServerOptions::default()).await;
    let healthy = Instant::now();
    let api = second.api();
    let new_holder = eventually("the execution resumed", Duration::from_secs(20), || async {
        lease_holder(&api, "held-1")
            .await
            .filter(|h| *h != old_holder)
    })
    .await;
    let resumed = Instant::now();
    eprintln!(
        "resumed by {new_holder}: {:?} after the SIGKILL, {:?} after the restarted server was healthy",
        resumed - killed,
        resumed - healthy
    );
    assert!(
        resumed - healthy < RESUME_LIMIT,
        "resumed {:?} after the restart",
        resumed - healthy
    );
    let done = api.wait("held-1", 30).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert!(ticks(&api.detail("held-1").await).len() >= before.len());
}
