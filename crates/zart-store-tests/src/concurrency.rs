//! Many callers at once: no double leases, no lost writes.

use std::collections::HashSet;

use tokio::task::JoinSet;
use zart_core::ExecutionStatus;

use crate::support::*;

/// Eight workers claiming 200 executions concurrently: each is claimed exactly once.
pub async fn concurrent_claims_never_double_lease(store: DynStore) {
    for i in 0..200 {
        insert_due(&store, &format!("e{i:03}"), i % 7).await;
    }
    let mut workers = JoinSet::new();
    for w in 0..8 {
        let store = store.clone();
        workers.spawn(async move {
            let worker = format!("w{w}");
            let mut mine = Vec::new();
            loop {
                let got = claim(&store, &worker, 10, 7).await;
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|c| c.id));
            }
        });
    }
    let mut all = Vec::new();
    while let Some(joined) = workers.join_next().await {
        all.extend(joined.expect("claiming task"));
    }
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "an execution was claimed twice");
    assert_eq!(all.len(), 200, "every execution is claimed");
    assert_eq!(store.execution_stats().await.unwrap().running, 200);
}

/// Two hundred concurrent step saves over twenty executions: all are durable.
pub async fn concurrent_step_saves_all_commit(store: DynStore) {
    for i in 0..20 {
        insert_due(&store, &format!("e{i:02}"), i).await;
    }
    let claimed = claim(&store, "w", 100, 20).await;
    assert_eq!(claimed.len(), 20);
    let mut saves = JoinSet::new();
    for c in &claimed {
        for position in 0..10 {
            let store = store.clone();
            let guard = guard(c, "w", 200);
            saves.spawn(async move {
                let step = completed_step(&format!("s{position}"), 0, position);
                save_step(&store, guard, step).await
            });
        }
    }
    let mut applied = 0;
    while let Some(joined) = saves.join_next().await {
        assert!(joined.expect("save task"), "every guarded save applies");
        applied += 1;
    }
    assert_eq!(applied, 200);
    for c in &claimed {
        let journal = store.journal_load(&c.id, 1).await.unwrap();
        assert_eq!(journal.len(), 10, "journal of {}", c.id);
        assert_eq!(get(&store, &c.id).await.status, ExecutionStatus::Running);
    }
}
