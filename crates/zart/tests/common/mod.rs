//! Shared test harness: a real SQLite file (or a fresh PostgreSQL schema) per test,
//! and a fast worker. The file and the schema guard are the shared ones of
//! `zart_store_tests`.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use zart::core::{ExecutionRecord, Store};
use zart::prelude::*;
use zart_store_tests::postgres::FreshSchema;
use zart_store_tests::sqlite::SqliteFile;

/// A fresh SQLite database file and a store on it.
pub(crate) struct Db {
    pub store: Arc<dyn Store>,
    /// Declared after the store, so the file outlives it.
    pub file: SqliteFile,
}

pub(crate) async fn db() -> Db {
    let file = SqliteFile::new();
    let store = zart::connect(file.url()).await.expect("open store");
    Db { store, file }
}

impl Db {
    /// Opens the same database again, as a restarted process would.
    pub(crate) async fn reopen(&self) -> Arc<dyn Store> {
        zart::connect(self.file.url()).await.expect("reopen store")
    }
}

/// A worker that reacts fast: short polling and lease, short in-place backoffs.
pub(crate) fn fast() -> WorkerConfig {
    WorkerConfig::default()
        .concurrency(8)
        .poll_interval(Duration::from_millis(200))
        .lease_duration(Duration::from_secs(5))
        .inline_backoff(Duration::from_millis(300))
}

/// Counts side effects of steps.
#[derive(Clone, Default)]
pub(crate) struct Counter(Arc<AtomicU32>);

impl Counter {
    pub(crate) fn bump(&self) -> u32 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
    pub(crate) fn get(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }
}

pub(crate) const WAIT: Duration = Duration::from_secs(20);

pub(crate) async fn start(client: &Client, task: &str, payload: serde_json::Value) -> String {
    client
        .start(StartRequest::new(task, payload))
        .await
        .expect("start")
        .execution
        .id
}

pub(crate) async fn finish(client: &Client, id: &str) -> ExecutionRecord {
    client.wait(id, WAIT).await.expect("execution finishes")
}

/// Polls the store until `pred` holds for the execution. For states no signal
/// announces (an execution parked on a timer); bounded by a generous limit.
pub(crate) async fn until(
    client: &Client,
    id: &str,
    pred: impl Fn(&ExecutionRecord) -> bool,
) -> ExecutionRecord {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let e = client.get(id).await.expect("get");
        if pred(&e) {
            return e;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition never held: {e:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub(crate) fn parked_on(kind: &'static str) -> impl Fn(&ExecutionRecord) -> bool {
    move |e| {
        e.waiting_for
            .as_ref()
            .map(|w| w.kind() == kind)
            .unwrap_or(false)
    }
}

/// Waits (bounded) until the worker runs nothing: the runner task of an execution
/// ends just after its final write, so "finished" is observed a moment before "idle".
pub(crate) async fn idle(worker: &WorkerHandle) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while worker.running() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "worker never became idle"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Stores an execution directly, bypassing the client's validation, as a producer
/// without the handler (another service, an older deploy) would.
pub(crate) async fn insert_unchecked(
    store: &Arc<dyn Store>,
    id: &str,
    task: &str,
    payload: serde_json::Value,
) {
    let now = chrono::Utc::now();
    store
        .execution_insert(zart::core::NewExecution {
            id: id.into(),
            task_name: task.into(),
            payload,
            now,
            run_at: now,
            deadline_at: None,
            parent_id: None,
            trace_context: None,
            queue: None,
            priority: 0,
            deduplication_id: None,
            concurrency_key: None,
        })
        .await
        .expect("insert");
}

pub(crate) mod faulty;

/// Instantiates each `async fn case(store: Arc<dyn Store>)` of the calling file twice:
/// `sqlite::case` on a fresh SQLite file and `postgres::case` on a fresh schema
/// (skipped with a notice when PostgreSQL is not configured).
#[allow(unused_macros)]
macro_rules! on_both {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test]
                async fn $case() {
                    let db = db().await;
                    super::$case(db.store.clone()).await;
                }
            )*
        }
        mod postgres {
            use super::*;
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(db) = pg(stringify!($case)).await else { return };
                    super::$case(db.store.clone()).await;
                }
            )*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_both;

/// A fresh schema on the PostgreSQL test database and a store on it; the schema is
/// dropped when this is dropped after a passing test, kept when the test fails.
pub(crate) struct PgDb {
    pub store: Arc<dyn Store>,
    /// Declared after the store, so the schema is dropped after it.
    pub schema: FreshSchema,
}

/// A fresh schema tagged `test` on `ZART_TEST_POSTGRES_URL`, or `None` (with a
/// notice) when it is unset.
pub(crate) async fn pg(test: &str) -> Option<PgDb> {
    let schema = FreshSchema::new(test)?;
    let options = zart_postgres::PgOptions::default().schema(schema.name());
    let store = zart_postgres::PgStore::connect_with(schema.database_url(), options)
        .await
        .expect("connect to PostgreSQL");
    Some(PgDb {
        store: Arc::new(store),
        schema,
    })
}
