//! The writer batches concurrent writes, and contention never surfaces as an error.

use std::sync::Arc;

use tokio::task::JoinSet;
use zart_core::{ExecutionClaim, LeaseGuard, StepSave, Store};
use zart_sqlite::SqliteStore;
use zart_store_tests::sqlite::SqliteFile;
use zart_store_tests::support::{at, completed_step, new_execution};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_step_saves_share_transactions() {
    let file = SqliteFile::new();
    let store = Arc::new(SqliteStore::open(file.url()).unwrap());
    store.execution_insert(new_execution("e1")).await.unwrap();
    let claim = ExecutionClaim {
        worker_id: "w".into(),
        now: at(0),
        lease_expires_at: at(60_000),
        limit: 1,
        default_queue: true,
        queues: Vec::new(),
    };
    let claimed = store.execution_claim(claim).await.unwrap().remove(0);
    let before = store.stats();
    let mut saves = JoinSet::new();
    for position in 0..200 {
        let store = store.clone();
        let guard = LeaseGuard {
            execution_id: "e1".into(),
            worker_id: "w".into(),
            fence: claimed.fence,
            now: at(10),
        };
        saves.spawn(async move {
            let params = StepSave {
                guard,
                run_index: 1,
                step: completed_step(&format!("s{position}"), 0, position),
                attempt: None,
            };
            store.step_save(params).await
        });
    }
    while let Some(joined) = saves.join_next().await {
        assert!(joined.unwrap().unwrap(), "every save applies");
    }
    let after = store.stats();
    let batches = after.batches - before.batches;
    assert_eq!(after.ops - before.ops, 200);
    assert!(batches <= 50, "200 saves took {batches} transactions");
    assert_eq!(store.journal_load("e1", 1).await.unwrap().len(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_file_never_see_busy() {
    let file = SqliteFile::new();
    let a = Arc::new(SqliteStore::open(file.url()).unwrap());
    let b = Arc::new(SqliteStore::open(file.url()).unwrap());
    let mut inserts = JoinSet::new();
    for i in 0..200 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        inserts.spawn(async move {
            store
                .execution_insert(new_execution(&format!("e{i}")))
                .await
        });
    }
    while let Some(joined) = inserts.join_next().await {
        joined
            .unwrap()
            .expect("no error reaches the caller under lock contention");
    }
    assert_eq!(a.execution_stats().await.unwrap().scheduled, 200);
    assert_eq!(b.execution_stats().await.unwrap().scheduled, 200);
}
