//! `zart serve` on PostgreSQL, the scale-out setup: several servers share one
//! database, any of them answers for any execution, and when one is killed another
//! resumes its executions.
//!
//! Reads `ZART_TEST_POSTGRES_URL`; without it the tests print a notice and pass,
//! unless `ZART_REQUIRE_POSTGRES=1`. Each test uses a schema of its own, dropped at the
//! end of a passing test and kept (its name printed) after a failing one.

mod common;

use std::time::Duration;

use common::http::{assert_completed_ticks_did_not_run_again, ticks};
use common::{eventually, Server, ServerOptions};
use serde_json::json;
use zart_store_tests::postgres::FreshSchema;

#[tokio::test]
async fn servers_sharing_postgres_serve_each_others_executions() {
    let Some(schema) = FreshSchema::new("zart_cli_share") else {
        return;
    };
    let url = schema.schema_url();
    let logs = tempfile::tempdir().expect("temp dir");
    let a = Server::start_url(&url, logs.path(), ServerOptions::default()).await;
    let b = Server::start_url(&url, logs.path(), ServerOptions::default()).await;

    let payload = json!({"orderId": "pg-1", "amount": 9.99, "settleMs": 50});
    a.api()
        .start_ok("pg-order", "order-fulfillment", payload)
        .await;
    eventually(
        "the order waiting for its shipment",
        Duration::from_secs(20),
        || async {
            let e = b.api().execution("pg-order").await.body;
            (e["waitingFor"]["kind"] == "event").then_some(())
        },
    )
    .await;
    let sent = b
        .api()
        .event(
            "pg-order",
            "shipment_ready",
            &json!({"trackingNumber": "PG-TRK"}),
        )
        .await;
    assert_eq!(sent.status, reqwest::StatusCode::ACCEPTED, "{sent:?}");
    let done = a.api().wait("pg-order", 20).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["result"]["trackingNumber"], "PG-TRK", "{done}");
}

#[tokio::test]
async fn killed_server_executions_are_resumed_by_another_server() {
    let Some(schema) = FreshSchema::new("zart_cli_kill") else {
        return;
    };
    let url = schema.schema_url();
    let logs = tempfile::tempdir().expect("temp dir");
    let options = ServerOptions::default().args(&["--lease-secs", "2"]);
    let first = Server::start_url(&url, logs.path(), options.clone()).await;
    first
        .api()
        .start_ok("pg-count", "countdown", json!({"steps": 15, "stepMs": 200}))
        .await;
    let before = eventually("two completed ticks", Duration::from_secs(20), || async {
        let seen = ticks(&first.api().detail("pg-count").await);
        (seen.len() >= 2).then_some(seen)
    })
    .await;
    // The second server runs beside the first; it can take the countdown only once
    // the first one's lease has expired.
    let second = Server::start_url(&url, logs.path(), options).await;
    // Most of the countdown is still ahead: the kill lands mid-run.
    assert_eq!(
        first.api().execution("pg-count").await.body["status"],
        "running"
    );
    first.kill().await;

    let api = second.api();
    let done = api.wait("pg-count", 30).await;
    assert_eq!(done["result"], json!({"completed": 15}), "{done}");
    let detail = api.detail("pg-count").await;
    assert_eq!(ticks(&detail).len(), 15, "{detail}");
    assert_completed_ticks_did_not_run_again(&before, &detail);
}

/// `zart migrate` on PostgreSQL prints the schema's own `schema_migrations` record
/// (not the build's list): a row a newer build would have added shows up, marked.
#[tokio::test]
async fn migrate_prints_the_migrations_the_postgres_schema_records() {
    let Some(schema) = FreshSchema::new("zart_cli_migrate") else {
        return;
    };
    let url = schema.schema_url();
    let migrate = || async {
        let out = common::zart_command()
            .args(["migrate", "--db", &url])
            .output()
            .await
            .expect("run zart");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let text = migrate().await;
    assert!(text.contains("opened postgres database"), "{text}");
    for m in zart::core::SCHEMA_MIGRATIONS {
        let line = text.lines().find(|l| l.contains(&format!(" {}  ", m.name)));
        let line = line.unwrap_or_else(|| panic!("{} not listed:\n{text}", m.name));
        assert!(
            line.trim_start().starts_with(&m.version.to_string()),
            "{line}"
        );
    }

    schema
        .execute(
            "INSERT INTO {schema}.schema_migrations (version, name, applied_at) \
             VALUES (999, 'from_the_future', 0)",
        )
        .await;
    let text = migrate().await;
    assert!(text.contains("(schema version 999)"), "{text}");
    let future = text.lines().find(|l| l.contains("from_the_future"));
    let future = future.unwrap_or_else(|| panic!("the recorded row is not listed:\n{text}"));
    assert!(future.contains("unknown to this build"), "{future}");
}
