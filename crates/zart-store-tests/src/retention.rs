//! Purging old finished executions.

use serde_json::json;
use zart_core::{
    ErrorKind, EventTake, ExecutionError, ExecutionOutcome, ExecutionPurge, ExecutionStatus,
    InsertOutcome, StepSave,
};

use crate::events::{consume, offer};
use crate::support::*;

async fn purge(store: &DynStore, before: i64, limit: u32) -> u64 {
    let params = ExecutionPurge {
        finished_before: at(before),
        limit,
    };
    store.execution_purge(params).await.expect("purge")
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
