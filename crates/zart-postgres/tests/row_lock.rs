//! Two consumes queued on one execution's row lock, held by a raw-SQL transaction, so
//! that both statements start before either commits. The store contract behind it
//! (concurrent consumes take each event once), and the races of wake-ups with
//! suspensions and of a cancel with finishes, are in the conformance suite
//! (`zart_store_tests::events`, `zart_store_tests::races`); this test pins the
//! PostgreSQL interleaving no timing can stage.

mod common;

use std::sync::Arc;

use common::fresh_named_store;
use serde_json::json;
use zart_postgres::PgOptions;
use zart_store_tests::events::{consume, offer};
use zart_store_tests::support::{claim_one, guard, insert, DynStore};

/// Issue 10: two waits on one name consuming at once, both queued behind the
/// execution row's lock (held here by a second connection) so both statements
/// start before either commits. The one that gets the lock second must not take
/// the event the first took from its older snapshot: each event goes to one wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consumes_queued_on_the_row_lock_take_different_events() {
    let Some((store, schema)) = fresh_named_store("race_take", PgOptions::default()).await else {
        return;
    };
    let pool = store.pool().clone();
    let app = schema.name().to_owned();
    let store: DynStore = Arc::new(store);
    insert(&store, "e1").await;
    offer(&store, "e1", "approval", json!("first"), 1).await;
    offer(&store, "e1", "approval", json!("second"), 1).await;
    let c = claim_one(&store, "w", 2, "e1").await;
    let mut holder = pool.begin().await.expect("begin");
    let lock = format!("SELECT 1 FROM \"{app}\".executions WHERE id = 'e1' FOR UPDATE");
    sqlx::query(&lock)
        .execute(&mut *holder)
        .await
        .expect("lock row");
    let takes: Vec<_> = (0..2)
        .map(|occurrence| {
            let (store, g) = (store.clone(), guard(&c, "w", 3));
            tokio::spawn(async move { consume(&store, g, "approval", occurrence).await })
        })
        .collect();
    wait_for_lock_waiters(&pool, &app, 2).await;
    holder.rollback().await.expect("release row");
    let mut got = Vec::new();
    for take in takes {
        got.push(take.await.expect("consume task"));
    }
    got.sort_by_key(|t| format!("{t:?}"));
    let want = [json!("first"), json!("second")].map(zart_core::EventTake::Taken);
    assert_eq!(got, want, "each event is taken by exactly one wait");
}

/// Waits (bounded) until `n` backends of application `app` wait on a lock.
async fn wait_for_lock_waiters(pool: &sqlx::PgPool, app: &str, n: i64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE application_name = $1 AND wait_event_type = 'Lock'",
        )
        .bind(app)
        .fetch_one(pool)
        .await
        .expect("read pg_stat_activity");
        if waiting >= n {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{waiting} of {n} consumes queued"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
