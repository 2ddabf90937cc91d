//! `SqliteStore::transaction`: the application's closure runs alone on the writer
//! thread in a transaction of its own, committed when it returns `Ok` and rolled
//! back otherwise, while the store's other writes queue behind it.

use std::time::Duration;

use zart_core::{InsertOutcome, NewExecution, Signal, Store, StoreError};
use zart_sqlite::SqliteStore;
use zart_store_tests::sqlite::SqliteFile;

async fn store_with_table(file: &SqliteFile) -> SqliteStore {
    let store = SqliteStore::open(file.url()).expect("open");
    store
        .transaction(|tx| {
            tx.execute_batch("CREATE TABLE t (v INTEGER)")
                .map_err(|e| StoreError::Internal(e.to_string()))
        })
        .await
        .expect("create table");
    store
}

async fn count(store: &SqliteStore) -> i64 {
    store
        .transaction(|tx| {
            tx.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
                .map_err(|e| StoreError::Internal(e.to_string()))
        })
        .await
        .expect("count")
}

fn insert(tx: &rusqlite::Connection) -> Result<(), StoreError> {
    tx.execute("INSERT INTO t (v) VALUES (1)", [])
        .map(drop)
        .map_err(|e| StoreError::Internal(e.to_string()))
}

fn new_execution(id: &str) -> NewExecution {
    let now = chrono::Utc::now();
    NewExecution {
        id: id.into(),
        task_name: "t".into(),
        payload: serde_json::json!(null),
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

#[tokio::test]
async fn a_closure_returning_err_is_rolled_back_with_its_inserts() {
    let file = SqliteFile::new();
    let store = store_with_table(&file).await;
    let failed: Result<(), StoreError> = store
        .transaction(|tx| {
            insert(tx)?;
            tx.execution_insert(&new_execution("gone"))?;
            Err(StoreError::InvalidInput("changed my mind".into()))
        })
        .await;
    match failed {
        Err(StoreError::InvalidInput(message)) => assert_eq!(message, "changed my mind"),
        other => panic!("expected the closure's error, got {other:?}"),
    }
    assert_eq!(count(&store).await, 0);
    assert!(store.execution_get("gone").await.unwrap().is_none());
}

#[tokio::test]
async fn a_committed_insert_is_durable_visible_and_signalled_at_the_commit() {
    let file = SqliteFile::new();
    let store = store_with_table(&file).await;
    let mut signals = store.subscribe();
    let outcome = store
        .transaction(|tx| {
            insert(tx)?;
            tx.execution_insert(&new_execution("kept"))
        })
        .await
        .unwrap();
    assert!(matches!(outcome, InsertOutcome::Created(_)));
    let signal = tokio::time::timeout(Duration::from_secs(10), signals.recv()).await;
    assert_eq!(signal.unwrap(), Some(Signal::Work));
    assert_eq!(count(&store).await, 1);
    assert!(store.execution_get("kept").await.unwrap().is_some());
    drop(store);
    let reopened = SqliteStore::open(file.url()).expect("reopen");
    assert_eq!(count(&reopened).await, 1);
}

#[tokio::test]
async fn a_closure_that_commits_by_itself_is_an_error() {
    let file = SqliteFile::new();
    let store = store_with_table(&file).await;
    // Its insert is not committed by its own COMMIT (the store vetoes it), and the
    // COMMIT's failure is ignored by the closure.
    let outcome: Result<(), StoreError> = store
        .transaction(|tx| {
            insert(tx)?;
            let _ = tx.execute_batch("COMMIT");
            Ok(())
        })
        .await;
    match outcome {
        Err(StoreError::InvalidInput(message)) => {
            assert!(message.contains("ended the transaction"), "{message}")
        }
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(count(&store).await, 0);
    // The writer goes on, and commits again (the veto is gone).
    store.transaction(|tx| insert(tx)).await.unwrap();
    assert_eq!(count(&store).await, 1);
    store
        .execution_insert(new_execution("after"))
        .await
        .unwrap();
}

#[tokio::test]
async fn other_writes_queue_behind_a_running_closure_and_then_commit() {
    let file = SqliteFile::new();
    let store = std::sync::Arc::new(store_with_table(&file).await);
    let (entered_tx, entered) = std::sync::mpsc::channel::<()>();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let holder = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .transaction(move |tx| {
                    insert(tx)?;
                    let _ = entered_tx.send(());
                    let _ = released.recv_timeout(Duration::from_secs(10));
                    Ok::<_, StoreError>(())
                })
                .await
        })
    };
    tokio::task::spawn_blocking(move || entered.recv_timeout(Duration::from_secs(10)))
        .await
        .unwrap()
        .expect("the closure runs");
    let writes: Vec<_> = (0..4)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .execution_insert(new_execution(&format!("q{i}")))
                    .await
            })
        })
        .collect();
    release.send(()).unwrap();
    holder.await.unwrap().unwrap();
    for write in writes {
        assert!(matches!(
            write.await.unwrap(),
            Ok(InsertOutcome::Created(_))
        ));
    }
    assert_eq!(count(&store).await, 1);
}
