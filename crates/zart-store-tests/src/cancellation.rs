//! Callers that give up: a read whose future is dropped (a client disconnects, a
//! `timeout` fires, a handler is stopped) costs the store nothing lasting.

use std::time::Duration;

use tokio::task::JoinSet;
use zart_core::ExecutionQuery;

use crate::support::*;

/// How long the reads after the drops may take in all: generous, they are a few
/// dozen point reads; a store that lost its connections would never answer.
const READS_LIMIT: Duration = Duration::from_secs(30);

/// A hundred reads dropped at every stage (before their first poll, while waiting for
/// a connection, while running on one), then more concurrent reads than any pool has
/// connections: every one is answered, and ping succeeds.
pub async fn dropped_reads_leave_the_store_readable(store: DynStore) {
    for i in 0..50 {
        insert(&store, &format!("e{i:02}")).await;
    }
    let mut dropped = JoinSet::new();
    for i in 0..100u64 {
        let store = store.clone();
        dropped.spawn(async move {
            let query = ExecutionQuery {
                limit: 50,
                ..ExecutionQuery::default()
            };
            // 0 to 2 ms: `timeout` polls the read once before looking at the clock,
            // so even a zero budget starts the read before dropping it.
            let budget = Duration::from_micros(i * 20);
            let _ = tokio::time::timeout(budget, store.execution_list(query)).await;
        });
    }
    while let Some(joined) = dropped.join_next().await {
        joined.expect("a dropping task");
    }
    let mut reads = JoinSet::new();
    for i in 0..32 {
        let store = store.clone();
        reads.spawn(async move { (i, store.execution_get(&format!("e{:02}", i % 50)).await) });
    }
    let answered = tokio::time::timeout(READS_LIMIT, async {
        let mut answered = 0;
        while let Some(joined) = reads.join_next().await {
            let (i, read) = joined.expect("a reading task");
            let found = read.unwrap_or_else(|e| panic!("read {i} after the drops failed: {e}"));
            assert!(found.is_some(), "read {i} found nothing");
            answered += 1;
        }
        answered
    })
    .await
    .expect("reads after dropped reads are answered");
    assert_eq!(answered, 32);
    store.ping().await.expect("ping after dropped reads");
}
