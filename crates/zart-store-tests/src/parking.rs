//! Suspending (parking) and finishing executions.

use serde_json::json;
use zart_core::{
    ErrorKind, EventOffer, ExecutionError, ExecutionOutcome, ExecutionStatus, WaitingFor,
};

use crate::support::*;

fn event_wait(name: &str) -> WaitingFor {
    WaitingFor::Event {
        name: name.into(),
        deadline: None,
    }
}

async fn offer(store: &DynStore, id: &str, name: &str, now: i64) {
    let params = EventOffer::new(id, name, json!({ "event": name }), at(now));
    store.event_offer(params).await.expect("offer");
}

/// A suspended execution holds no lease and is claimable again at `wake_at`.
pub async fn suspend_parks_until_wake_at(store: DynStore) {
    insert(&store, "e1").await;
    let c = claim_one(&store, "w", 0, "e1").await;
    let timer = WaitingFor::Timer {
        step: "nap".into(),
        due_at: at(5_000),
    };
    assert!(suspend(&store, guard(&c, "w", 10), Some(at(5_000)), timer).await);
    assert_eq!(get(&store, "e1").await.status, ExecutionStatus::Running);
    assert!(claim_ids(&store, "other", 4_999).await.is_empty());
    assert_eq!(store.execution_next_due().await.unwrap(), Some(at(5_000)));
    assert!(!save_step(&store, guard(&c, "w", 20), completed_step("s", 0, 0)).await);
    let again = claim_one(&store, "other", 5_000, "e1").await;
    assert!(again.fence > c.fence);
}

/// A `wake_at` already reached (a very short backoff) makes the execution due at
/// once.
pub async fn suspend_with_past_wake_at_is_due_now(store: DynStore) {
    insert(&store, "e1").await;
    let c = claim_one(&store, "w", 0, "e1").await;
    let retry = WaitingFor::Retry {
        step: "flaky".into(),
        attempt: 2,
        retry_at: at(5),
    };
    assert!(suspend(&store, guard(&c, "w", 10), Some(at(5)), retry).await);
    assert_eq!(claim_ids(&store, "w", 10).await, vec!["e1"]);
}

/// Without `wake_at`, only a wake-up makes a parked execution runnable.
pub async fn suspend_without_wake_at_parks_until_woken(store: DynStore) {
    insert(&store, "e1").await;
    let c = claim_one(&store, "w", 0, "e1").await;
    assert!(suspend(&store, guard(&c, "w", 1), None, event_wait("go")).await);
    assert!(claim_ids(&store, "w", 1_000 * LEASE_MS).await.is_empty());
    assert_eq!(store.execution_next_due().await.unwrap(), None);
}

/// Suspending on an event already in the inbox makes the execution due at once.
pub async fn suspend_on_event_with_pending_event_is_due_now(store: DynStore) {
    insert(&store, "e1").await;
    let c = claim_one(&store, "w", 0, "e1").await;
    offer(&store, "e1", "go", 5).await;
    assert!(
        suspend(
            &store,
            guard(&c, "w", 10),
            Some(at(90_000)),
            event_wait("go")
        )
        .await
    );
    assert_eq!(claim_ids(&store, "w", 10).await, vec!["e1"]);
}

/// An event of another name does not wake a suspension.
pub async fn suspend_on_event_ignores_events_of_other_names(store: DynStore) {
    insert(&store, "e1").await;
    let c = claim_one(&store, "w", 0, "e1").await;
    offer(&store, "e1", "other", 5).await;
    assert!(
        suspend(
            &store,
            guard(&c, "w", 10),
            Some(at(90_000)),
            event_wait("go")
        )
        .await
    );
    assert!(claim_ids(&store, "w", 10).await.is_empty());
    assert_eq!(store.execution_next_due().await.unwrap(), Some(at(90_000)));
}

/// Suspending on a child that already finished makes the parent due at once.
pub async fn suspend_on_child_already_finished_is_due_now(store: DynStore) {
    let p = parent_with_kid(&store, at(1)).await;
    run_to_completion(&store, "kid", 2, json!("kid done")).await;
    let wait = on_kid();
    assert!(suspend(&store, guard(&p, "w", 10), None, wait).await);
    assert_eq!(claim_ids(&store, "w", 10).await, vec!["parent"]);
}

/// Suspending on an unfinished child parks the parent.
pub async fn suspend_on_unfinished_child_parks(store: DynStore) {
    let p = parent_with_kid(&store, at(100_000)).await;
    let wait = on_kid();
    assert!(suspend(&store, guard(&p, "w", 10), None, wait).await);
    assert!(claim_ids(&store, "w", 10).await.is_empty());
}

/// Finishing records the result (or error) and the run's status and end time.
pub async fn finish_records_result_and_run_status(store: DynStore) {
    insert(&store, "ok").await;
    let c = claim_one(&store, "w", 0, "ok").await;
    let outcome = ExecutionOutcome::Completed(json!({"total": 42}));
    assert!(finish(&store, guard(&c, "w", 50), outcome.clone()).await);
    assert!(
        !finish(&store, guard(&c, "w", 51), outcome).await,
        "lease is gone"
    );
    let done = get(&store, "ok").await;
    assert_eq!(done.status, ExecutionStatus::Completed);
    assert_eq!(done.result, Some(json!({"total": 42})));
    assert_eq!(done.error, None);
    assert_eq!(done.completed_at, Some(at(50)));
    assert_eq!(done.waiting_for, None);
    let run = &store.run_list("ok").await.unwrap().unwrap()[0];
    assert_eq!(run.status, ExecutionStatus::Completed);
    assert_eq!(run.result, Some(json!({"total": 42})));
    assert_eq!(run.completed_at, Some(at(50)));

    insert(&store, "bad").await;
    let c = claim_one(&store, "w", 100, "bad").await;
    let error = ExecutionError {
        kind: ErrorKind::StepFailed,
        message: "card declined".into(),
        step: Some("charge".into()),
        attempts: Some(3),
    };
    let failed = ExecutionOutcome::Failed(error.clone());
    assert!(finish(&store, guard(&c, "w", 150), failed).await);
    let record = get(&store, "bad").await;
    assert_eq!(record.status, ExecutionStatus::Failed);
    assert_eq!(record.error, Some(error));
    assert_eq!(record.result, None);
    assert_eq!(record.completed_at, Some(at(150)));
    let run = &store.run_list("bad").await.unwrap().unwrap()[0];
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert_eq!(run.completed_at, Some(at(150)));
    assert!(claim_ids(&store, "w", 10 * LEASE_MS).await.is_empty());
}

/// A child finishing makes its parent, parked on that child, due at once.
pub async fn finish_wakes_parent_waiting_on_child(store: DynStore) {
    let p = parent_with_kid(&store, at(20)).await;
    let wait = on_kid();
    assert!(suspend(&store, guard(&p, "w", 10), None, wait).await);
    run_to_completion(&store, "kid", 30, json!("kid done")).await;
    assert_eq!(claim_ids(&store, "w", 30).await, vec!["parent"]);
}

/// A child finishing leaves a parent parked on something else alone.
pub async fn finish_does_not_wake_parent_parked_on_other_wait(store: DynStore) {
    let p = parent_with_kid(&store, at(20)).await;
    let timer = WaitingFor::Timer {
        step: "nap".into(),
        due_at: at(90_000),
    };
    assert!(suspend(&store, guard(&p, "w", 10), Some(at(90_000)), timer).await);
    run_to_completion(&store, "kid", 30, json!("kid done")).await;
    assert!(claim_ids(&store, "w", 30).await.is_empty());
    assert_eq!(store.execution_next_due().await.unwrap(), Some(at(90_000)));
}

/// A claimed execution `parent` (worker `w`) with a child `kid` that runs at `run_at`.
async fn parent_with_kid(
    store: &DynStore,
    run_at: zart_core::Timestamp,
) -> zart_core::ClaimedExecution {
    insert_due(store, "parent", 0).await;
    let claimed = claim_one(store, "w", 0, "parent").await;
    let child = zart_core::NewExecution {
        parent_id: Some("parent".into()),
        run_at,
        ..new_execution("kid")
    };
    insert_new(store, child).await;
    claimed
}

/// What a parent parked on `kid` waits for.
fn on_kid() -> WaitingFor {
    WaitingFor::Child {
        execution_id: "kid".into(),
    }
}
