//! The API over PostgreSQL: a full execution through HTTP; the operator actions and a
//! pause rule over a real socket; and a store that stops answering (its pool closed) turning `/readyz` into 503 `not ready` and API calls
//! into 503 `store unavailable` without leaking the connection details.
//!
//! Skipped (with a notice) unless `ZART_TEST_POSTGRES_URL` is set; with
//! `ZART_REQUIRE_POSTGRES=1` a missing URL fails instead.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::socket::serve;
use common::*;
use serde_json::json;
use zart_api::ApiConfig;
use zart_postgres::{PgOptions, PgStore};

use zart_store_tests::postgres::FreshSchema;

/// A store on a schema of its own, dropped with the returned guard after a passing
/// test and kept after a failing one.
async fn fresh_store() -> Option<(PgStore, FreshSchema)> {
    let schema = FreshSchema::new("zart_api")?;
    let options = PgOptions::default().schema(schema.name());
    let store = PgStore::connect_with(schema.database_url(), options).await;
    Some((store.expect("connect"), schema))
}

#[tokio::test]
async fn execution_runs_end_to_end_over_postgres() {
    let Some((store, _schema)) = fresh_store().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let t = app_on(Arc::new(store), dir, ApiConfig::default());
    t.start("pg-1", "approval", json!(null)).await;
    t.post_json(&format!("{API}/events/pg-1/approved"), &json!({"ok": 1}))
        .await
        .expect(StatusCode::ACCEPTED);
    let e = t
        .get(&format!("{API}/executions/pg-1/wait?timeoutSecs=20"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(e["status"], "completed");
    assert_eq!(e["result"], json!({"ok": 1}));
    let detail = t
        .get(&format!("{ADMIN}/executions/pg-1/detail?runId=pg-1:1"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(detail["steps"][0]["kind"], "wait_for_event");
    t.worker.shutdown(std::time::Duration::from_secs(5)).await;
}

#[tokio::test]
async fn unavailable_store_gives_503_without_leaking_details() {
    let Some((store, _schema)) = fresh_store().await else {
        return;
    };
    let pool = store.pool().clone();
    let dir = tempfile::tempdir().unwrap();
    let t = app_on(Arc::new(store), dir, ApiConfig::default());
    let ready = t.get("/readyz").await;
    assert_eq!(
        (ready.status, ready.text().as_str()),
        (StatusCode::OK, "ok")
    );

    pool.close().await;
    let ready = t.get("/readyz").await;
    assert_eq!(
        (ready.status, ready.text().as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    );
    assert_eq!(t.get("/healthz").await.text(), "ok", "liveness does no I/O");
    for uri in [
        format!("{API}/stats"),
        format!("{API}/executions"),
        format!("{API}/executions/x"),
    ] {
        let msg = t.get(&uri).await.error(StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(msg, "store unavailable", "{uri}");
    }
    let start = json!({"taskName": "echo"});
    let msg = t
        .post_json(&format!("{API}/executions"), &start)
        .await
        .error(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(msg, "store unavailable");
    t.worker.shutdown(std::time::Duration::from_secs(5)).await;
}

#[tokio::test]
async fn operator_actions_and_pause_rules_over_postgres() {
    let Some((store, _schema)) = fresh_store().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let t = app_on(Arc::new(store), dir, ApiConfig::default());
    let s = serve(&t).await;
    t.start("pg-op", "recover", json!({"failures": 1})).await;
    t.finish("pg-op").await;
    let retry = format!("{ADMIN}/executions/pg-op/retry-step");
    let answer = s
        .post(&retry, &json!({"stepName": "charge", "triggeredBy": "pg"}))
        .await
        .expect(StatusCode::OK);
    assert!(answer["newTaskId"].is_string(), "{answer}");
    let done = t.finish("pg-op").await;
    assert_eq!(
        done.result,
        Some(json!({"charged": 2, "email": "receipt 2"}))
    );
    s.post(&retry, &json!({"stepName": "charge"}))
        .await
        .error(StatusCode::CONFLICT);

    let restarted = s
        .post(
            &format!("{ADMIN}/executions/pg-op/restart"),
            &json!({"payload": {}}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(restarted, json!({"newRunId": "pg-op:2", "runIndex": 2}));
    t.finish("pg-op").await;
    let rerun = s
        .post(
            &format!("{ADMIN}/executions/pg-op/rerun"),
            &json!({"rerunSteps": ["charge"], "preserveSteps": []}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(rerun["newRunNumber"], 3);
    assert_eq!(
        rerun["potentiallyStale"],
        json!([{"preservedStep": "email", "possiblyDependsOn": ["charge"]}])
    );
    t.finish("pg-op").await;
    let detail = s
        .get(&format!("{ADMIN}/executions/pg-op/detail"))
        .await
        .expect(StatusCode::OK);
    let kinds: Vec<&serde_json::Value> = detail["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["kind"])
        .collect();
    assert_eq!(
        kinds,
        [
            &json!("retry_step"),
            &json!("restart"),
            &json!("selective_rerun")
        ]
    );

    let rule = s
        .post(
            &format!("{ADMIN}/pause"),
            &json!({"executionId": "pg-held"}),
        )
        .await
        .expect(StatusCode::CREATED);
    t.start("pg-held", "echo", json!("x")).await;
    let held = t.until_waiting_for("pg-held", "pause").await;
    assert_eq!(
        held.waiting_for.map(|w| w.kind()),
        Some("pause"),
        "parked by the rule"
    );
    let rule_path = format!("{ADMIN}/pause/{}", rule["ruleId"].as_str().unwrap());
    let resumed = s.post_empty(&rule_path).await.expect(StatusCode::OK);
    assert_eq!(resumed, json!({"rulesDeleted": 1}));
    assert_eq!(t.finish("pg-held").await.result, Some(json!("x")));
    assert_eq!(s.delete(&rule_path).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        s.get(&format!("{ADMIN}/pause"))
            .await
            .expect(StatusCode::OK),
        json!([])
    );
    t.worker.shutdown(std::time::Duration::from_secs(5)).await;
}
