//! The operator subcommands against real `zart serve` processes: fixing a dead step,
//! restarting, rerunning, and pause rules that survive SIGKILL and hold executions on
//! every server sharing a PostgreSQL database.
//!
//! The PostgreSQL tests read `ZART_TEST_POSTGRES_URL`; without it they print a notice
//! and pass, unless `ZART_REQUIRE_POSTGRES=1`.

mod common;

use std::time::Duration;

use common::run::{failed, ok, ok_json, zart};
use common::{eventually, temp_db, Server, ServerOptions};
use serde_json::{json, Value};
use zart_store_tests::postgres::FreshSchema;

const LIMIT: Duration = Duration::from_secs(30);

async fn get(server: &Server, id: &str) -> Value {
    ok_json(&zart(server, &["get", id, "--json"]).await)
}

async fn wait(server: &Server, id: &str) -> Value {
    ok_json(&zart(server, &["wait", id, "--timeout", "30", "--json"]).await)
}

async fn detail(server: &Server, id: &str) -> Value {
    ok_json(&zart(server, &["detail", id, "--json"]).await)
}

/// Starts `task` with `payload` under `id` through the CLI.
async fn start(server: &Server, task: &str, id: &str, payload: &Value) {
    let payload = payload.to_string();
    ok(&zart(server, &["start", task, "--id", id, "--payload", &payload]).await);
}

/// Waits until the execution is parked on the pause rule `rule`.
async fn until_paused(server: &Server, id: &str, rule: &str) -> Value {
    eventually(&format!("{id} paused by {rule}"), LIMIT, || async {
        let e = get(server, id).await;
        let w = &e["waitingFor"];
        (w["kind"] == "pause" && w["ruleId"] == rule).then_some(e)
    })
    .await
}

/// The completed journal entries named `name`, with how many attempts each made.
fn attempts_of(detail: &Value, name: &str) -> Vec<usize> {
    detail["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["name"] == name && s["status"] == "completed")
        .map(|s| s["attempts"].as_array().map_or(0, Vec::len))
        .collect()
}

#[tokio::test]
async fn an_operator_fixes_a_dead_step_with_the_cli() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    // Fails on attempts 1-3 and has 3 attempts: dead. The fourth attempt succeeds.
    start(
        &server,
        "flaky",
        "f-1",
        &json!({"failTimes": 3, "maxAttempts": 3}),
    )
    .await;
    let failed_run = wait(&server, "f-1").await;
    assert_eq!(failed_run["status"], "failed", "{failed_run}");
    let text = ok(&zart(&server, &["detail", "f-1"]).await);
    assert!(text.contains("dead"), "{text}");

    let out = ok(&zart(
        &server,
        &["retry-step", "f-1", "flaky-call", "--by", "oncall"],
    )
    .await);
    assert!(out.contains("retrying step flaky-call of f-1"), "{out}");
    let done = wait(&server, "f-1").await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["result"]["attempts"], 4, "{done}");
    let d = detail(&server, "f-1").await;
    assert_eq!(d["actions"][0]["kind"], "retry_step", "{d}");
    assert_eq!(d["actions"][0]["triggeredBy"], "oncall", "{d}");
    assert_eq!(attempts_of(&d, "flaky-call"), vec![4]);

    // Nothing is dead now: a one-line error and exit code 1, nothing changed.
    let err = failed(&zart(&server, &["retry-step", "f-1", "flaky-call"]).await);
    assert!(err.contains("409"), "{err}");
    let err = failed(&zart(&server, &["retry-step", "nope", "flaky-call"]).await);
    assert!(err.contains("404"), "{err}");
}

#[tokio::test]
async fn restart_and_rerun_from_the_cli() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    start(
        &server,
        "countdown",
        "c-1",
        &json!({"steps": 3, "stepMs": 1}),
    )
    .await;
    assert_eq!(wait(&server, "c-1").await["status"], "completed");

    let restarted = ok_json(
        &zart(
            &server,
            &[
                "restart",
                "c-1",
                "--payload",
                r#"{"steps": 2, "stepMs": 1}"#,
                "--json",
            ],
        )
        .await,
    );
    assert_eq!(restarted["runIndex"], 2, "{restarted}");
    let done = wait(&server, "c-1").await;
    assert_eq!(done["result"]["completed"], 2, "{done}");

    let rerun = ok_json(&zart(&server, &["rerun", "c-1", "--rerun", "tick", "--json"]).await);
    assert_eq!(rerun["newRunNumber"], 3, "{rerun}");
    assert_eq!(rerun["effectiveRerun"], json!(["tick"]), "{rerun}");
    assert_eq!(wait(&server, "c-1").await["status"], "completed");
    let d = detail(&server, "c-1").await;
    let triggers: Vec<&Value> = d["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["trigger"])
        .collect();
    assert_eq!(
        triggers,
        vec!["initial", "restart", "selective_rerun"],
        "{d}"
    );
    assert_eq!(d["runs"][2]["triggeredBy"], "cli", "{d}");

    let err = failed(&zart(&server, &["rerun", "c-1", "--rerun", "no-such-step"]).await);
    assert!(err.contains("422") && err.contains("no-such-step"), "{err}");
}

#[tokio::test]
async fn paused_executions_survive_sigkill_and_resume_after_restart() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    let rule = ok_json(
        &zart(
            &server,
            &[
                "pause",
                "--task",
                "order-fulfillment",
                "--step",
                "reserve-*",
                "--reason",
                "inventory service down",
                "--json",
            ],
        )
        .await,
    );
    let rule_id = rule["ruleId"].as_str().expect("ruleId").to_owned();
    assert_eq!(rule["deletedAt"], Value::Null, "{rule}");
    let ids = ["o-1", "o-2", "o-3"];
    for id in ids {
        let payload = json!({"orderId": id, "amount": 5.0, "settleMs": 10});
        start(&server, "order-fulfillment", id, &payload).await;
    }
    for id in ids {
        until_paused(&server, id, &rule_id).await;
    }
    let text = ok(&zart(&server, &["get", "o-1"]).await);
    assert!(text.contains(&format!("pause rule {rule_id}")), "{text}");

    server.kill().await;
    let server = Server::start(&db, ServerOptions::default()).await;
    let listed = ok(&zart(&server, &["pauses"]).await);
    assert!(
        listed.contains(&rule_id) && listed.contains("inventory service down"),
        "{listed}"
    );
    for id in ids {
        // Still held after the restart, and nothing past the rule ran.
        until_paused(&server, id, &rule_id).await;
        assert!(attempts_of(&detail(&server, id).await, "reserve-inventory").is_empty());
    }

    let out = ok(&zart(&server, &["resume", &rule_id]).await);
    assert!(out.contains("resumed"), "{out}");
    for id in ids {
        eventually("waiting for the shipment", LIMIT, || async {
            (get(&server, id).await["waitingFor"]["kind"] == "event").then_some(())
        })
        .await;
        let event = r#"{"trackingNumber": "T"}"#;
        ok(&zart(
            &server,
            &["event", id, "shipment_ready", "--payload", event],
        )
        .await);
        assert_eq!(wait(&server, id).await["status"], "completed");
        let d = detail(&server, id).await;
        for step in ["validate-address", "process-payment", "reserve-inventory"] {
            assert_eq!(attempts_of(&d, step), vec![1], "{step} ran once: {d}");
        }
    }
    let again = ok(&zart(&server, &["resume", &rule_id]).await);
    assert!(again.contains("already deleted"), "{again}");
    assert!(ok(&zart(&server, &["pauses"]).await).contains("no active pause rules"));
}

#[tokio::test]
async fn pause_usage_errors_change_nothing() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    let err = failed(&zart(&server, &["pause"]).await);
    assert!(err.contains("422") && err.contains("selector"), "{err}");
    let err = failed(&zart(&server, &["pause", "--step", "[bad"]).await);
    assert!(err.contains("400"), "{err}");
    let err = failed(&zart(&server, &["resume", "no-such-rule"]).await);
    assert!(err.contains("404"), "{err}");
    let rules = ok_json(&zart(&server, &["pauses", "--json"]).await);
    assert_eq!(rules, json!([]));
}

/// Two servers on one PostgreSQL database: a rule created on one holds the
/// executions the other runs, and resuming on either releases them all.
#[tokio::test]
async fn postgres_pause_rules_hold_executions_on_every_server() {
    let Some(schema) = FreshSchema::new("zart_cli_pause") else {
        return;
    };
    let url = schema.schema_url();
    let logs = tempfile::tempdir().expect("temp dir");
    let a = Server::start_url(&url, logs.path(), ServerOptions::default()).await;
    let b = Server::start_url(&url, logs.path(), ServerOptions::default()).await;
    let ids: Vec<String> = (0..6).map(|i| format!("pg-o-{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        let payload = json!({"orderId": id, "amount": 1.0, "settleMs": 10});
        let server = if i % 2 == 0 { &a } else { &b };
        start(server, "order-fulfillment", id, &payload).await;
    }
    for id in &ids {
        eventually("waiting for the shipment", LIMIT, || async {
            (get(&a, id).await["waitingFor"]["kind"] == "event").then_some(())
        })
        .await;
    }
    // The rule holds the wait itself: each execution stops before consuming its event.
    let rule = ok_json(
        &zart(
            &b,
            &[
                "pause",
                "--task",
                "order-fulfillment",
                "--step",
                "shipment_*",
                "--json",
            ],
        )
        .await,
    );
    let rule_id = rule["ruleId"].as_str().expect("ruleId").to_owned();
    for (i, id) in ids.iter().enumerate() {
        let server = if i % 2 == 0 { &b } else { &a };
        let event = r#"{"trackingNumber": "PG"}"#;
        ok(&zart(server, &["event", id, "shipment_ready", "--payload", event]).await);
    }
    for id in &ids {
        until_paused(&a, id, &rule_id).await;
        until_paused(&b, id, &rule_id).await;
    }
    ok(&zart(&a, &["resume", &rule_id]).await);
    for id in &ids {
        let done = wait(&b, id).await;
        assert_eq!(done["status"], "completed", "{done}");
        assert_eq!(done["result"]["trackingNumber"], "PG", "{done}");
        let d = detail(&a, id).await;
        for step in ["validate-address", "process-payment", "reserve-inventory"] {
            assert_eq!(attempts_of(&d, step), vec![1], "{step} ran once: {d}");
        }
    }
}

/// Two servers on one PostgreSQL database: a dead step retried on one is run by
/// whichever claims it; the same retry sent to both at once acts once.
#[tokio::test]
async fn postgres_retry_step_acts_once_across_servers() {
    let Some(schema) = FreshSchema::new("zart_cli_retry") else {
        return;
    };
    let url = schema.schema_url();
    let logs = tempfile::tempdir().expect("temp dir");
    let a = Server::start_url(&url, logs.path(), ServerOptions::default()).await;
    let b = Server::start_url(&url, logs.path(), ServerOptions::default()).await;
    start(
        &a,
        "flaky",
        "pg-f",
        &json!({"failTimes": 3, "maxAttempts": 3}),
    )
    .await;
    assert_eq!(wait(&b, "pg-f").await["status"], "failed");

    // Both at once, without a key: one applies, the other finds the step not dead.
    let (on_a, on_b) = tokio::join!(
        zart(&a, &["retry-step", "pg-f", "flaky-call", "--json"]),
        zart(&b, &["retry-step", "pg-f", "flaky-call", "--json"]),
    );
    let successes = [&on_a, &on_b].iter().filter(|o| o.status.success()).count();
    assert_eq!(successes, 1, "exactly one retry applies: {on_a:?} {on_b:?}");
    let refused = if on_a.status.success() { &on_b } else { &on_a };
    assert!(failed(refused).contains("409"));
    let done = wait(&a, "pg-f").await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["result"]["attempts"], 4, "{done}");
    let d = detail(&b, "pg-f").await;
    assert_eq!(d["actions"].as_array().map(Vec::len), Some(1), "{d}");

    // The same key on both servers: both answer the one action.
    start(
        &b,
        "flaky",
        "pg-g",
        &json!({"failTimes": 3, "maxAttempts": 3}),
    )
    .await;
    assert_eq!(wait(&a, "pg-g").await["status"], "failed");
    let args = ["retry-step", "pg-g", "flaky-call", "--key", "k-1", "--json"];
    let (on_a, on_b) = tokio::join!(zart(&a, &args), zart(&b, &args));
    let (on_a, on_b) = (ok_json(&on_a), ok_json(&on_b));
    assert_eq!(on_a["newTaskId"], on_b["newTaskId"], "{on_a} {on_b}");
    assert_eq!(wait(&b, "pg-g").await["result"]["attempts"], 4);
}
