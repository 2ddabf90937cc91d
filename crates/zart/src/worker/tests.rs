//! The heartbeat against a real SQLite store, driven step by step: the race between a
//! renewal and a re-claim cannot be staged from outside the worker.

use std::sync::Arc;

use zart_core::{ExecutionClaim, LeaseGuard, NewExecution, Store, SystemClock, WaitingFor};

use super::*;

struct Fixture {
    _dir: Option<tempfile::TempDir>,
    /// `(url, schema)` of a PostgreSQL fixture, dropped by [`Fixture::done`].
    schema: Option<(String, String)>,
    shared: Arc<Shared>,
}

impl Fixture {
    async fn done(self) {
        use sqlx::Connection;
        let Some((url, schema)) = self.schema else {
            return;
        };
        let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
        let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
        sqlx::raw_sql(&sql)
            .execute(&mut conn)
            .await
            .expect("drop schema");
    }
}

/// A worker's shared state over a fresh store on `backend` holding one execution,
/// `e1`; `None` when that backend is not available (PostgreSQL without its URL).
async fn fixture(backend: &str) -> Option<Fixture> {
    let (dir, schema, store) = match backend {
        "sqlite" => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("sqlite://{}", dir.path().join("zart.db").display());
            (
                Some(dir),
                None,
                crate::connect(&url).await.expect("open store"),
            )
        }
        _ => {
            let (url, schema, store) = postgres().await?;
            (None, Some((url, schema)), store)
        }
    };
    let now = chrono::Utc::now();
    let insert = NewExecution {
        id: "e1".into(),
        task_name: "t".into(),
        payload: serde_json::Value::Null,
        now,
        run_at: now,
        deadline_at: None,
        parent_id: None,
        trace_context: None,
        queue: None,
        priority: 0,
        deduplication_id: None,
        concurrency_key: None,
    };
    store.execution_insert(insert).await.expect("insert");
    let config = WorkerConfig::default().worker_id("w1");
    let shared = Shared::new(
        store,
        Arc::new(SystemClock),
        Arc::new(TaskRegistry::new()),
        Metrics::new(),
        Arc::default(),
        config,
        None,
    );
    Some(Fixture {
        _dir: dir,
        schema,
        shared: Arc::new(shared),
    })
}

/// A PostgreSQL store in a fresh schema: `(url, schema, store)`.
async fn postgres() -> Option<(String, String, Arc<dyn Store>)> {
    let url = zart_store_tests::postgres_url()?;
    let schema = format!(
        "zt_heartbeat_{}_{}",
        std::process::id(),
        rand::random::<u32>()
    );
    let options = zart_postgres::PgOptions::default().schema(&schema);
    let store = zart_postgres::PgStore::connect_with(&url, options).await;
    Some((url, schema, Arc::new(store.expect("connect to PostgreSQL"))))
}

/// Claims `e1` for `worker` and, for this worker, registers the run as `spawn_run`
/// does; returns the run's fence and stop token.
async fn claim_as(
    shared: &Shared,
    worker: &str,
    at: zart_core::Timestamp,
) -> (i64, CancellationToken) {
    let claim = ExecutionClaim {
        worker_id: worker.into(),
        now: at,
        lease_expires_at: at + chrono::Duration::minutes(10),
        limit: 1,
        default_queue: true,
        queues: Vec::new(),
    };
    let claimed = shared.store.execution_claim(claim).await.expect("claim");
    assert_eq!(claimed.len(), 1, "e1 was not claimable");
    let (fence, stop) = (claimed[0].fence, CancellationToken::new());
    if worker == shared.worker_id {
        let run = Running {
            fence,
            stop: stop.clone(),
            reason: None,
        };
        shared.running().insert("e1".into(), run);
    }
    (fence, stop)
}

fn guard(shared: &Shared, fence: i64) -> LeaseGuard {
    LeaseGuard {
        execution_id: "e1".into(),
        worker_id: shared.worker_id.clone(),
        fence,
        now: chrono::Utc::now(),
    }
}

async fn a_renewal_for_an_old_fence_does_not_stop_the_run_that_reclaimed(backend: &str) {
    let Some(f) = fixture(backend).await else {
        return;
    };
    let shared = &f.shared;
    let (old_fence, old_stop) = claim_as(shared, "w1", chrono::Utc::now()).await;
    // The heartbeat takes its snapshot...
    let snapshot = shared.leases();
    assert_eq!(snapshot, vec![("e1".to_owned(), old_fence)]);
    // ...then, before its renewal reaches the store, the run parks and this worker
    // claims the execution again under a newer fence.
    let released = shared
        .store
        .execution_release(guard(shared, old_fence))
        .await;
    assert!(
        released.expect("release"),
        "the first claim's lease was not held"
    );
    let (new_fence, new_stop) = claim_as(shared, "w1", chrono::Utc::now()).await;
    assert!(new_fence > old_fence);
    // The renewal of the old fence fails: the store answers without e1.
    renew_leases(shared, snapshot).await;
    assert!(
        !new_stop.is_cancelled(),
        "the live run was stopped by a stale renewal"
    );
    assert!(!old_stop.is_cancelled(), "the old run had already ended");
    // The live run's own lease renews, and it is still running.
    renew_leases(shared, shared.leases()).await;
    assert!(!new_stop.is_cancelled());
    let e = shared
        .store
        .execution_get("e1")
        .await
        .expect("get")
        .expect("e1");
    match e.waiting_for {
        Some(WaitingFor::Lease { worker_id, .. }) => assert_eq!(worker_id, "w1"),
        other => panic!("expected a lease held by w1, got {other:?}"),
    }
    f.done().await;
}

async fn a_renewal_that_finds_the_lease_taken_stops_that_run(backend: &str) {
    let Some(f) = fixture(backend).await else {
        return;
    };
    let shared = &f.shared;
    let (fence, stop) = claim_as(shared, "w1", chrono::Utc::now()).await;
    // Another worker takes over, as if the lease had expired.
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    claim_as(shared, "thief", later).await;
    renew_leases(shared, shared.leases()).await;
    assert!(
        stop.is_cancelled(),
        "a run whose lease was lost kept running"
    );
    assert_eq!(shared.stop_reason("e1", fence), StopReason::LeaseLost);
    f.done().await;
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name("sqlite").await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name("postgres").await;
                }
            )*
        }
    };
}

on_both_backends!(
    a_renewal_for_an_old_fence_does_not_stop_the_run_that_reclaimed,
    a_renewal_that_finds_the_lease_taken_stops_that_run,
);
