//! The store fails fast when its writer thread dies, and reports not ready while
//! writes fail for lack of space, until a write succeeds again.

use std::time::Duration;

use serde_json::json;
use zart_core::{InsertOutcome, NewExecution, Store, StoreError};

use crate::{SqliteOptions, SqliteStore, Synchronous};

/// How long an answer that must come "promptly" may take.
const PROMPT: Duration = Duration::from_secs(5);

fn new_execution(id: &str, payload: serde_json::Value) -> NewExecution {
    let now = chrono::Utc::now();
    NewExecution {
        id: id.into(),
        task_name: "task".into(),
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
    }
}

fn open(dir: &tempfile::TempDir, synchronous: Synchronous) -> SqliteStore {
    let url = format!("sqlite://{}", dir.path().join("zart.db").display());
    let options = SqliteOptions {
        synchronous,
        ..SqliteOptions::default()
    };
    SqliteStore::open_with(&url, options).expect("open the store")
}

/// Awaits `fut` for at most [`PROMPT`].
async fn promptly<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(PROMPT, fut)
        .await
        .unwrap_or_else(|_| panic!("{what} did not answer within {PROMPT:?}"))
}

async fn writer_crash_fails_the_store(store: SqliteStore) {
    store
        .execution_insert(new_execution("before", json!(1)))
        .await
        .expect("insert before the crash");
    store.writer.crash_at_next_commit();
    let write = promptly("the write in the crashing commit", async {
        store
            .execution_insert(new_execution("lost", json!(2)))
            .await
    })
    .await;
    assert!(write.is_err(), "{write:?}");
    let read = promptly("a read after the crash", store.execution_get("before")).await;
    match read {
        Err(StoreError::Unavailable(message)) => assert!(message.contains("writer"), "{message}"),
        other => panic!("a read after the writer died must fail, got {other:?}"),
    }
    let ping = promptly("ping after the crash", store.ping()).await;
    assert!(matches!(ping, Err(StoreError::Unavailable(_))), "{ping:?}");
    let later = promptly("a write after the crash", async {
        store
            .execution_insert(new_execution("later", json!(3)))
            .await
    })
    .await;
    assert!(
        matches!(later, Err(StoreError::Unavailable(_))),
        "{later:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_writer_fails_reads_and_ping_at_once_with_a_syncer() {
    let dir = tempfile::tempdir().unwrap();
    writer_crash_fails_the_store(open(&dir, Synchronous::Full)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_writer_fails_reads_and_ping_at_once_without_a_syncer() {
    let dir = tempfile::tempdir().unwrap();
    writer_crash_fails_the_store(open(&dir, Synchronous::Normal)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_writer_fails_reads_and_ping_at_once_in_memory() {
    writer_crash_fails_the_store(SqliteStore::open("sqlite::memory:").unwrap()).await;
}

/// Caps the database at its current size plus `spare` pages: a real `SQLITE_FULL`
/// once they are used, as on a full disk.
async fn cap_pages(store: &SqliteStore, spare: i64) {
    store
        .write(move |conn, _| {
            let pages: i64 = conn
                .query_row("PRAGMA page_count", [], |r| r.get(0))
                .map_err(crate::error::map)?;
            conn.query_row(
                &format!("PRAGMA max_page_count = {}", pages + spare),
                [],
                |_| Ok(()),
            )
            .map_err(crate::error::map)
        })
        .await
        .expect("cap the page count");
}

/// Inserts executions with 8 KiB payloads until one fails for lack of space.
async fn fill(store: &SqliteStore) -> StoreError {
    let payload = json!("x".repeat(8192));
    for i in 0..1000 {
        match store
            .execution_insert(new_execution(&format!("fill-{i}"), payload.clone()))
            .await
        {
            Ok(InsertOutcome::Created(_)) => {}
            Ok(other) => panic!("unexpected insert outcome {other:?}"),
            Err(e) => return e,
        }
    }
    panic!("1000 inserts of 8 KiB fit in a capped database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_fails_while_the_database_is_full_and_recovers_once_a_write_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, Synchronous::Full);
    store.ping().await.expect("ready at first");
    cap_pages(&store, 8).await;
    let full = fill(&store).await;
    assert!(
        matches!(&full, StoreError::Unavailable(m) if m.to_lowercase().contains("full")),
        "{full:?}"
    );
    // Reads still work, but the store cannot write: not ready, and it stays so.
    assert!(store.execution_get("fill-0").await.unwrap().is_some());
    for _ in 0..2 {
        let ping = promptly("ping while full", store.ping()).await;
        assert!(matches!(ping, Err(StoreError::Unavailable(_))), "{ping:?}");
    }
    // Space again: ping's own small write succeeds, and the store is ready.
    cap_pages(&store, 10_000).await;
    promptly("ping after space is back", store.ping())
        .await
        .expect("ready once writes succeed");
    store
        .execution_insert(new_execution("after", json!("x".repeat(8192))))
        .await
        .expect("inserts work again");
}
