//! Connection failures: unreachable servers, bad URLs, killed connections, and (with
//! `ZART_TEST_PG_RESTART=1`) a real server restart.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{fresh_named_store, kill_backends};
use zart_core::{InsertOutcome, Signal, StoreError};
use zart_postgres::{PgOptions, PgStore};
use zart_store_tests::support::{claim_ids, expect_signal, insert, new_execution, DynStore};

#[tokio::test]
async fn unreachable_server_is_unavailable_within_the_acquire_timeout() {
    let options = PgOptions::default().acquire_timeout(Duration::from_secs(2));
    let started = Instant::now();
    let result = PgStore::connect_with("postgres://postgres@127.0.0.1:1/none", options).await;
    let err = result.expect_err("nothing listens on port 1");
    assert!(err.is_transient(), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn bad_urls_and_schemas_are_invalid_input_without_secrets() {
    let err = PgStore::connect("postgres://u:hunter2@localhost:notaport/db")
        .await
        .expect_err("bad port");
    assert!(matches!(err, StoreError::InvalidInput(_)), "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let err = PgStore::connect_with(
        "postgres://u@localhost/db",
        PgOptions::default().schema("Robert'); DROP TABLE students;--"),
    )
    .await
    .expect_err("bad schema");
    assert!(matches!(err, StoreError::InvalidInput(_)), "{err}");
}

/// Calls until one succeeds; every failure on the way must be `Unavailable`.
async fn eventually<T, F, Fut>(what: &str, mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match call().await {
            Ok(value) => return value,
            Err(e) => {
                assert!(e.is_transient(), "{what}: {e}");
                assert!(Instant::now() < deadline, "{what} never recovered: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_recovers_after_its_connections_are_killed() {
    let options = PgOptions::default().max_connections(4);
    let Some((store, schema)) = fresh_named_store("killed", options).await else {
        return;
    };
    let store: Arc<PgStore> = Arc::new(store);
    let dyn_store: DynStore = store.clone();
    insert(&dyn_store, "before").await;
    assert!(kill_backends(&store, schema.name(), "").await >= 1);
    eventually("ping", || dyn_store.ping()).await;
    // The ping may have taken a fresh connection: a killed one that was idle for
    // less than the ping threshold (docs/architecture.md, pool health) fails its
    // next statement once, as `Unavailable`, and is replaced.
    let after = eventually("insert after", || {
        dyn_store.execution_insert(new_execution("after"))
    })
    .await;
    assert!(matches!(after, InsertOutcome::Created(_)), "{after:?}");
    assert_eq!(claim_ids(&dyn_store, "w", 0).await, vec!["after", "before"]);
}

/// Restarts the PostgreSQL server: run alone, with `ZART_TEST_PG_RESTART=1`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_recovers_after_server_restart() {
    if std::env::var("ZART_TEST_PG_RESTART").as_deref() != Ok("1") {
        eprintln!("ZART_TEST_PG_RESTART is not 1: skipping the server restart test");
        return;
    }
    let options = PgOptions::default().acquire_timeout(Duration::from_secs(3));
    let Some((store, _schema)) = fresh_named_store("restart", options).await else {
        return;
    };
    let store: DynStore = Arc::new(store);
    insert(&store, "before").await;
    let mut sub = store.subscribe();

    restart_server().await;

    // Calls fail fast with Unavailable (or succeed), and succeed again soon.
    let started = Instant::now();
    let first = store.ping().await;
    assert!(started.elapsed() < Duration::from_secs(10), "ping hung");
    if let Err(e) = first {
        assert!(e.is_transient(), "{e}");
    }
    eventually("ping", || store.ping()).await;
    eventually("insert", || async {
        match store
            .execution_insert(zart_store_tests::support::new_execution("after"))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        }
    })
    .await;
    assert_eq!(claim_ids(&store, "w", 0).await, vec!["after", "before"]);
    // The listener noticed the drop.
    expect_signal(&mut sub, |s| matches!(s, Signal::Lagged)).await;
}

async fn restart_server() {
    let versions = std::fs::read_dir("/etc/postgresql").expect("/etc/postgresql");
    let version = versions
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .max()
        .expect("a cluster version");
    let status = tokio::process::Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, "main", "restart"])
        .status()
        .await
        .expect("run pg_ctlcluster");
    assert!(status.success(), "pg_ctlcluster restart failed: {status}");
}
