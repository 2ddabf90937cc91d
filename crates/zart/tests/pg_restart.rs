//! PostgreSQL goes down in the middle of a run: workers back off and carry on when it
//! is back, no execution is lost or stuck, and readiness (`Client::ping`, which
//! `/readyz` calls) fails while it is down and recovers by itself.
//!
//! Stops and starts the real server, so it runs only with `ZART_TEST_PG_RESTART=1`
//! (CI runs it on its own after the other tests).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use zart::core::ExecutionStatus;
use zart::prelude::*;
use zart_postgres::{PgOptions, PgStore};
use zart_store_tests::postgres::FreshSchema;

fn pg_ctl(action: &str) {
    let version = std::fs::read_dir("/etc/postgresql")
        .expect("/etc/postgresql")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .next()
        .expect("a PostgreSQL cluster");
    let status = std::process::Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, "main", action])
        .status()
        .expect("pg_ctlcluster");
    assert!(status.success(), "pg_ctlcluster {action} failed");
}

/// Starts the server again even if the test fails half-way.
struct Restart;

impl Drop for Restart {
    fn drop(&mut self) {
        let _ = std::process::Command::new("sh")
            .args(["-c", "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | head -n1) main start"])
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_survive_a_postgres_outage_and_readiness_recovers() {
    if std::env::var("ZART_TEST_PG_RESTART").as_deref() != Ok("1") {
        eprintln!("ZART_TEST_PG_RESTART is not 1: skipping the PostgreSQL outage test");
        return;
    }
    let schema = FreshSchema::new("outage").expect("ZART_TEST_PG_RESTART=1 needs a database");
    let options = PgOptions::default()
        .schema(schema.name())
        .acquire_timeout(Duration::from_secs(1));
    let store = PgStore::connect_with(schema.database_url(), options).await;
    let store = Arc::new(store.expect("connect"));
    let zart = Zart::builder(store)
        .task("ticks", |ctx: Ctx, n: u32| async move {
            for i in 0..n {
                ctx.step("tick", || async move {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Ok(i)
                })
                .await?;
            }
            Ok(n)
        })
        .build();
    let client = zart.client();
    let worker = zart.start_worker(
        WorkerConfig::default()
            .concurrency(8)
            .lease_duration(Duration::from_secs(3))
            .poll_interval(Duration::from_millis(200)),
    );
    let mut ids = Vec::new();
    for i in 0..20 {
        let id = format!("outage-{i}");
        client
            .start(StartRequest::new("ticks", json!(40)).id(&id))
            .await
            .unwrap();
        ids.push(id);
    }
    tokio::time::sleep(Duration::from_millis(500)).await; // let them get going

    let _restart = Restart;
    pg_ctl("stop");
    assert!(
        client.ping().await.is_err(),
        "ping must fail while PostgreSQL is down"
    );
    let err = client.stats().await.unwrap_err();
    assert!(matches!(err, ClientError::Unavailable(_)), "{err:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    pg_ctl("start");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while client.ping().await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "readiness never recovered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for id in &ids {
        let done = client
            .wait(id, Duration::from_secs(120))
            .await
            .unwrap_or_else(|e| panic!("{id} stuck: {e}"));
        assert_eq!(
            done.status,
            ExecutionStatus::Completed,
            "{id}: {:?}",
            done.error
        );
        assert_eq!(done.result, Some(json!(40)));
    }
    worker.shutdown(Duration::from_secs(5)).await;
}
