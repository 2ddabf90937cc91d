//! The API over PostgreSQL: a full execution through HTTP, and a store that stops
//! answering (its pool closed) turning `/readyz` into 503 `not ready` and API calls
//! into 503 `store unavailable` without leaking the connection details.
//!
//! Skipped (with a notice) unless `ZART_TEST_POSTGRES_URL` is set; with
//! `ZART_REQUIRE_POSTGRES=1` a missing URL fails instead.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use common::*;
use serde_json::json;
use zart_api::ApiConfig;
use zart_postgres::{PgOptions, PgStore};

use zart_store_tests::postgres_url as database_url;

/// A store on a schema of its own, dropped with the returned guard.
async fn fresh_store(url: &str) -> (PgStore, DropSchema) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let schema = format!(
        "zart_api_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let options = PgOptions::default().schema(schema.clone());
    let store = PgStore::connect_with(url, options).await.expect("connect");
    let guard = DropSchema {
        url: url.to_owned(),
        schema,
    };
    (store, guard)
}

/// Drops the schema from a connection of its own.
struct DropSchema {
    url: String,
    schema: String,
}

impl Drop for DropSchema {
    fn drop(&mut self) {
        let (url, schema) = (self.url.clone(), self.schema.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&url).await?;
                sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                    .execute(&mut conn)
                    .await?;
                Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop test schema {}: {e}", self.schema);
        }
    }
}

#[tokio::test]
async fn execution_runs_end_to_end_over_postgres() {
    let Some(url) = database_url() else { return };
    let (store, _schema) = fresh_store(&url).await;
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
    let Some(url) = database_url() else { return };
    let (store, _schema) = fresh_store(&url).await;
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
