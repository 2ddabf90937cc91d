//! Purging old finished executions: whole trees, from the root, per-status cutoffs.

use serde_json::json;
use zart_core::{
    ErrorKind, EventTake, ExecutionError, ExecutionOutcome, ExecutionPurge, ExecutionStatus,
    InsertOutcome, StepSave,
};

use crate::events::{consume, offer};
use crate::support::*;

async fn purge(store: &DynStore, before: i64, limit: u32) -> u64 {
    purge_with(store, ExecutionPurge::finished_before(at(before), limit)).await
}

async fn purge_with(store: &DynStore, params: ExecutionPurge) -> u64 {
    store.execution_purge(params).await.expect("purge")
}

async fn exists(store: &DynStore, id: &str) -> bool {
    store.execution_get(id).await.expect("get").is_some()
}

/// Inserts `id` as a child of `parent`, due at `at(run_at)`.
async fn insert_child(store: &DynStore, parent: &str, id: &str, run_at: i64) {
    let params = zart_core::NewExecution {
        parent_id: Some(parent.to_owned()),
        ..new_execution_due(id, run_at)
    };
    insert_new(store, params).await;
}

/// Claims `id` at `now` and fails it.
async fn fail(store: &DynStore, id: &str, now: i64) {
    let c = claim_one(store, "w", now, id).await;
    let error = ExecutionError {
        kind: ErrorKind::Panic,
        message: "boom".into(),
        step: None,
        attempts: None,
    };
    let outcome = ExecutionOutcome::Failed(error);
    assert!(finish(store, guard(&c, "w", now), outcome).await);
}

/// Only terminal executions that finished before the cutoff are deleted, at most
/// `limit` per call, with their runs, steps, attempts and events.
pub async fn purge_deletes_old_finished_executions_only(store: DynStore) {
    insert_due(&store, "old-done", 1_000).await;
    offer(&store, "old-done", "x", json!("stale"), 1_000).await;
    let c = claim_one(&store, "w", 1_000, "old-done").await;
    let params = StepSave {
        guard: guard(&c, "w", 1_000),
        run_index: 1,
        step: completed_step("s", 0, 0),
        attempt: None,
    };
    assert!(store.step_save(params).await.unwrap());
    assert!(
        finish(
            &store,
            guard(&c, "w", 1_000),
            ExecutionOutcome::Completed(json!(1))
        )
        .await
    );

    insert_due(&store, "old-failed", 2_000).await;
    let c = claim_one(&store, "w", 2_000, "old-failed").await;
    let error = ExecutionError {
        kind: ErrorKind::Panic,
        message: "boom".into(),
        step: None,
        attempts: None,
    };
    assert!(
        finish(
            &store,
            guard(&c, "w", 2_000),
            ExecutionOutcome::Failed(error)
        )
        .await
    );
    insert_due(&store, "old-cancelled", 1_000_000).await;
    store
        .execution_cancel("old-cancelled", at(1_500))
        .await
        .unwrap();
    insert_due(&store, "new-done", 5_000).await;
    run_to_completion(&store, "new-done", 5_000, json!(2)).await;
    insert_due(&store, "running", 6_000).await;
    claim_one(&store, "w", 6_000, "running").await;
    insert_due(&store, "scheduled", 1_000_000).await;

    assert_eq!(purge(&store, 3_000, 2).await, 2);
    assert_eq!(purge(&store, 3_000, 10).await, 1);
    assert_eq!(purge(&store, 3_000, 10).await, 0);
    for gone in ["old-done", "old-failed", "old-cancelled"] {
        assert_eq!(store.execution_get(gone).await.unwrap(), None, "{gone}");
        assert_eq!(store.run_list(gone).await.unwrap(), None, "{gone}");
        assert!(
            store.journal_load(gone, 1).await.unwrap().is_empty(),
            "{gone}"
        );
    }
    for kept in ["new-done", "running", "scheduled"] {
        assert!(store.execution_get(kept).await.unwrap().is_some(), "{kept}");
    }
    assert_eq!(
        get(&store, "running").await.status,
        ExecutionStatus::Running
    );

    // The id is free again, and nothing of the old execution leaks into the new one.
    let fresh = store
        .execution_insert(new_execution_due("old-done", 10_000))
        .await
        .unwrap();
    assert!(matches!(fresh, InsertOutcome::Created(_)));
    let c = claim_one(&store, "w", 10_000, "old-done").await;
    assert!(store.journal_load("old-done", 1).await.unwrap().is_empty());
    assert_eq!(
        consume(&store, guard(&c, "w", 10_001), "x", 0).await,
        EventTake::Empty
    );
}

/// A purge never touches a finished execution at or after the cutoff.
pub async fn purge_cutoff_is_exclusive(store: DynStore) {
    insert_due(&store, "e1", 1_000).await;
    run_to_completion(&store, "e1", 1_000, json!(1)).await;
    assert_eq!(purge(&store, 1_000, 10).await, 0);
    assert_eq!(purge(&store, 1_001, 10).await, 1);
}

fn new_execution_due(id: &str, run_at: i64) -> zart_core::NewExecution {
    zart_core::NewExecution {
        now: at(run_at),
        run_at: at(run_at),
        ..new_execution(id)
    }
}

/// A finished child of a running parent is never purged (the parent may still read
/// its result), and a finished root whose child still runs is kept, without holding
/// back the finished trees behind it.
pub async fn purge_keeps_trees_with_unfinished_executions(store: DynStore) {
    insert_due(&store, "parent", 0).await;
    claim_one(&store, "w", 0, "parent").await;
    insert_child(&store, "parent", "done-kid", 10).await;
    run_to_completion(&store, "done-kid", 1_000, json!(1)).await;

    insert_due(&store, "blocked", 0).await;
    run_to_completion(&store, "blocked", 500, json!(2)).await;
    insert_child(&store, "blocked", "running-kid", 600).await;
    claim_one(&store, "w", 600, "running-kid").await;

    insert_due(&store, "later", 0).await;
    run_to_completion(&store, "later", 2_000, json!(3)).await;

    assert_eq!(
        purge(&store, 10_000, 1).await,
        1,
        "the finished tree behind"
    );
    assert!(!exists(&store, "later").await);
    assert_eq!(purge(&store, 10_000, 10).await, 0);
    for kept in ["parent", "done-kid", "blocked", "running-kid"] {
        assert!(exists(&store, kept).await, "{kept}");
    }
    assert_eq!(
        get(&store, "done-kid").await.status,
        ExecutionStatus::Completed
    );
}

/// A finished tree goes whole, grandchildren included, once its root is past the
/// cutoff, and not before, however long ago its children finished.
pub async fn purge_deletes_finished_trees_whole(store: DynStore) {
    // Due times order the claims: each execution is the only one due when it runs.
    insert_due(&store, "root", 250).await;
    insert_child(&store, "root", "kid-a", 150).await;
    insert_child(&store, "root", "kid-b", 160).await;
    insert_child(&store, "kid-a", "grandkid", 20).await;
    offer(&store, "grandkid", "x", json!("stale"), 50).await;
    run_to_completion(&store, "grandkid", 100, json!(1)).await;
    run_to_completion(&store, "kid-a", 200, json!(2)).await;
    fail(&store, "kid-b", 200).await;
    run_to_completion(&store, "root", 300, json!(3)).await;

    assert_eq!(
        purge(&store, 300, 10).await,
        0,
        "the root is not past the cutoff"
    );
    for kept in ["root", "kid-a", "kid-b", "grandkid"] {
        assert!(exists(&store, kept).await, "{kept}");
    }
    assert_eq!(purge(&store, 301, 10).await, 4);
    for gone in ["root", "kid-a", "kid-b", "grandkid"] {
        assert!(!exists(&store, gone).await, "{gone}");
        assert_eq!(store.run_list(gone).await.unwrap(), None, "{gone}");
    }
    insert_due(&store, "grandkid", 10_000).await;
    let c = claim_one(&store, "w", 10_000, "grandkid").await;
    let take = consume(&store, guard(&c, "w", 10_001), "x", 0).await;
    assert_eq!(take, EventTake::Empty, "the purged tree's events are gone");
}

/// Each terminal status has its own cutoff, and a status without one is kept.
pub async fn purge_cutoffs_are_per_status(store: DynStore) {
    insert_due(&store, "c", 0).await;
    run_to_completion(&store, "c", 1_000, json!(1)).await;
    insert_due(&store, "f", 0).await;
    fail(&store, "f", 1_000).await;
    insert_due(&store, "x", 1_000_000).await;
    store.execution_cancel("x", at(1_000)).await.unwrap();

    let cutoffs = |c: Option<i64>, f: Option<i64>, x: Option<i64>| ExecutionPurge {
        completed_before: c.map(at),
        failed_before: f.map(at),
        cancelled_before: x.map(at),
        limit: 10,
    };
    assert_eq!(
        purge_with(&store, cutoffs(Some(2_000), None, Some(500))).await,
        1
    );
    assert!(!exists(&store, "c").await);
    assert!(exists(&store, "f").await && exists(&store, "x").await);
    assert_eq!(
        purge_with(&store, cutoffs(None, Some(2_000), None)).await,
        1
    );
    assert!(!exists(&store, "f").await);
    assert_eq!(purge_with(&store, cutoffs(None, None, None)).await, 0);
    assert!(exists(&store, "x").await);
    assert_eq!(
        purge_with(&store, cutoffs(None, None, Some(1_001))).await,
        1
    );
    assert!(!exists(&store, "x").await);
}

/// The limit counts trees, oldest root first; the count returned includes children.
pub async fn purge_limit_counts_trees(store: DynStore) {
    for (i, root) in ["t1", "t2", "t3"].into_iter().enumerate() {
        let done = 1_000 * (i as i64 + 1);
        insert_due(&store, root, done).await;
        let kid = format!("{root}-kid");
        insert_child(&store, root, &kid, 10).await;
        run_to_completion(&store, &kid, done - 500, json!(1)).await;
        run_to_completion(&store, root, done, json!(2)).await;
    }
    assert_eq!(purge(&store, 10_000, 0).await, 0);
    assert_eq!(purge(&store, 10_000, 2).await, 4);
    assert!(!exists(&store, "t1").await && !exists(&store, "t2-kid").await);
    assert!(exists(&store, "t3").await && exists(&store, "t3-kid").await);
    assert_eq!(purge(&store, 10_000, 2).await, 2);
    assert_eq!(purge(&store, 10_000, 2).await, 0);
}
