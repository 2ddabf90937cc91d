//! Parent-close policies: when a parent completes, fails or is cancelled, its
//! unfinished children with policy `cancel` (and theirs, recursively) are cancelled
//! with it; an abandoned child and its subtree keep running.

use std::collections::HashSet;

use serde_json::json;
use zart_core::{
    CancelOutcome, ClaimedExecution, ErrorKind, ExecutionError, ExecutionOutcome, ExecutionStatus,
    ParentClosePolicy, Signal, SpawnOutcome,
};

use crate::children::{child_of, spawn, spawn_with, three_generations};
use crate::support::*;

fn cancelled(id: &str) -> impl Fn(&Signal) -> bool + '_ {
    move |s| {
        matches!(s, Signal::Finished { execution_id, status: ExecutionStatus::Cancelled }
            if execution_id == id)
    }
}

async fn assert_status(store: &DynStore, ids: &[&str], status: ExecutionStatus) {
    for id in ids {
        assert_eq!(get(store, id).await.status, status, "{id}");
    }
}

/// Parent `p` (held by `w`) with an abandoned child `free` (held by `fw`) that has a
/// `cancel` child `free-kid`. Returns the claims of `p` and `free`.
async fn abandoned_subtree(store: &DynStore) -> (ClaimedExecution, ClaimedExecution) {
    insert(store, "p").await;
    let p = claim_one(store, "w", 0, "p").await;
    let free = child_of("p", "free", 1);
    let outcome = spawn_with(store, (&p, "w"), free, ParentClosePolicy::Abandon).await;
    assert_eq!(outcome, SpawnOutcome::Spawned);
    let free = claim_one(store, "fw", 1, "free").await;
    assert!(spawn(store, &free, "fw", child_of("free", "free-kid", 2)).await);
    (p, free)
}

/// A parent that completes cancels its unfinished children and grandchildren in
/// the same write (bumping their fences, signalling `Finished` for each); a child
/// that already finished keeps its status.
pub async fn finish_cancels_unfinished_children(store: DynStore) {
    let (p, kid) = three_generations(&store).await;

    let (mut sub_kid, mut sub_grandkid) = (store.subscribe(), store.subscribe());
    let done = finish(
        &store,
        guard(&p, "w", 100),
        ExecutionOutcome::Completed(json!(1)),
    );
    assert!(done.await);
    expect_signal(&mut sub_kid, cancelled("kid")).await;
    expect_signal(&mut sub_grandkid, cancelled("grandkid")).await;
    assert_status(&store, &["p"], ExecutionStatus::Completed).await;
    assert_status(&store, &["kid", "grandkid"], ExecutionStatus::Cancelled).await;
    assert_eq!(get(&store, "kid").await.completed_at, Some(at(100)));
    assert_status(&store, &["done-kid"], ExecutionStatus::Completed).await;
    assert!(!save_step(&store, guard(&kid, "kw", 101), completed_step("s", 0, 5)).await);
    assert!(claim_ids(&store, "w", 10 * LEASE_MS).await.is_empty());
}

/// A parent that fails cancels its unfinished children too.
pub async fn failed_parent_cancels_children(store: DynStore) {
    insert(&store, "p").await;
    let p = claim_one(&store, "w", 0, "p").await;
    assert!(spawn(&store, &p, "w", child_of("p", "kid", 1)).await);
    let error = ExecutionError {
        kind: ErrorKind::Handler,
        message: "boom".into(),
        step: None,
        attempts: None,
    };
    assert!(finish(&store, guard(&p, "w", 5), ExecutionOutcome::Failed(error)).await);
    assert_status(&store, &["p"], ExecutionStatus::Failed).await;
    assert_status(&store, &["kid"], ExecutionStatus::Cancelled).await;
}

/// An abandoned child and its own subtree keep running when the parent completes;
/// cancelling the abandoned child later still cancels its `cancel` children.
pub async fn abandoned_child_outlives_parent_finish(store: DynStore) {
    let (p, free) = abandoned_subtree(&store).await;
    let done = finish(
        &store,
        guard(&p, "w", 10),
        ExecutionOutcome::Completed(json!(1)),
    );
    assert!(done.await);
    assert_status(&store, &["free"], ExecutionStatus::Running).await;
    assert_status(&store, &["free-kid"], ExecutionStatus::Scheduled).await;
    assert!(save_step(&store, guard(&free, "fw", 11), completed_step("s", 0, 5)).await);

    let outcome = store.execution_cancel("free", at(20)).await.unwrap();
    let want = CancelOutcome::Cancelled(vec!["free".into(), "free-kid".into()]);
    assert_eq!(outcome, want);
}

/// Cancelling a parent cancels its `cancel` children but not an abandoned one, nor
/// anything below it.
pub async fn cancel_skips_abandoned_children(store: DynStore) {
    let (p, _free) = abandoned_subtree(&store).await;
    assert!(spawn(&store, &p, "w", child_of("p", "kid", 3)).await);

    let outcome = store.execution_cancel("p", at(10)).await.unwrap();
    let CancelOutcome::Cancelled(ids) = outcome else {
        panic!("expected Cancelled, got {outcome:?}");
    };
    let ids: HashSet<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(ids, HashSet::from(["p", "kid"]));
    assert_status(&store, &["free"], ExecutionStatus::Running).await;
    assert_status(&store, &["free-kid"], ExecutionStatus::Scheduled).await;
}
