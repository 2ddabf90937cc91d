//! Claiming executions: which are claimable, in what order, and what a claim changes.

use std::collections::HashSet;

use serde_json::json;
use zart_core::{ExecutionOutcome, ExecutionStatus, NewExecution, WaitingFor};

use crate::support::*;

/// A claim bumps the fence (1 on the first claim, which the runtime relies on to skip
/// loading an empty journal), marks the execution and its run running, sets
/// `started_at` the first time only, and shows the lease as `waitingFor`.
pub async fn claim_increments_fence_and_marks_running(store: DynStore) {
    let before = insert(&store, "e1").await;
    let first = claim_one(&store, "w1", 100, "e1").await;
    let record = get(&store, "e1").await;
    assert_eq!(record.status, ExecutionStatus::Running);
    assert_eq!(record.started_at, Some(at(100)));
    assert!(record.version > before.version);
    assert_eq!(
        record.waiting_for,
        Some(WaitingFor::Lease {
            worker_id: "w1".into(),
            since: at(100),
            expires_at: at(100 + LEASE_MS),
        })
    );
    let run = &store.run_list("e1").await.unwrap().unwrap()[0];
    assert_eq!(run.status, ExecutionStatus::Running);
    assert_eq!(run.started_at, Some(at(100)));

    assert_eq!(
        first.fence, 1,
        "the first claim of an execution has fence 1"
    );
    let later = 100 + LEASE_MS;
    let second = claim_one(&store, "w2", later, "e1").await;
    assert!(second.fence > first.fence, "fence must grow on every claim");
    let record = get(&store, "e1").await;
    assert_eq!(record.started_at, Some(at(100)), "started_at is set once");
    let run = &store.run_list("e1").await.unwrap().unwrap()[0];
    assert_eq!(run.started_at, Some(at(100)));
    assert_eq!(run.status, ExecutionStatus::Running);

    // The ended run keeps its start, and its own status from then on.
    let done = later + 5;
    let outcome = ExecutionOutcome::Completed(json!("ok"));
    assert!(finish(&store, guard(&second, "w2", done), outcome).await);
    let run = &store.run_list("e1").await.unwrap().unwrap()[0];
    assert_eq!(run.status, ExecutionStatus::Completed);
    assert_eq!(run.started_at, Some(at(100)));
    assert_eq!(run.completed_at, Some(at(done)));
}

/// The claim returns what the worker needs to run the handler.
pub async fn claim_returns_task_payload_run_and_deadline(store: DynStore) {
    let params = NewExecution {
        task_name: "send-email".into(),
        payload: json!({"to": "a@example.com"}),
        deadline_at: Some(at(60_000)),
        parent_id: Some("some-parent".into()),
        ..new_execution("e1")
    };
    insert_new(&store, params).await;
    let claimed = claim_one(&store, "w", 0, "e1").await;
    assert_eq!(claimed.task_name, "send-email");
    assert_eq!(claimed.payload, json!({"to": "a@example.com"}));
    assert_eq!(claimed.run_index, 1);
    assert_eq!(claimed.deadline_at, Some(at(60_000)));
    assert_eq!(claimed.parent_id.as_deref(), Some("some-parent"));
}

/// The trace context stored at insert comes back with every claim (a restarted
/// worker's too), as opaque text; an execution started without one has none.
pub async fn claim_returns_the_trace_context_stored_at_insert(store: DynStore) {
    let context = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\nvendor=a";
    let params = NewExecution {
        trace_context: Some(context.into()),
        ..new_execution("traced")
    };
    insert_new(&store, params).await;
    let first = claim_one(&store, "w1", 0, "traced").await;
    assert_eq!(first.trace_context.as_deref(), Some(context));
    let again = claim_one(&store, "w2", LEASE_MS, "traced").await;
    assert!(again.fence > first.fence);
    assert_eq!(again.trace_context.as_deref(), Some(context));
    insert(&store, "untraced").await;
    let claimed = claim(&store, "w1", 2 * LEASE_MS, 10).await;
    let plain = claimed
        .iter()
        .find(|c| c.id == "untraced")
        .expect("untraced is claimed");
    assert_eq!(plain.trace_context, None);
}

/// A valid lease held by another worker is never claimed.
pub async fn claim_skips_executions_leased_by_others(store: DynStore) {
    insert(&store, "e1").await;
    claim_one(&store, "w1", 0, "e1").await;
    assert!(claim_ids(&store, "w2", 1).await.is_empty());
    assert!(claim_ids(&store, "w2", LEASE_MS - 1).await.is_empty());
    assert!(
        claim_ids(&store, "w1", 2).await.is_empty(),
        "not even by its holder"
    );
}

/// A lease that expired at or before `now` is up for grabs, and the old holder's
/// guard stops working.
pub async fn claim_takes_execution_whose_lease_expired(store: DynStore) {
    insert(&store, "e1").await;
    let old = claim_one(&store, "w1", 0, "e1").await;
    let new = claim_one(&store, "w2", LEASE_MS, "e1").await;
    assert!(new.fence > old.fence);
    assert!(!save_step(&store, guard(&old, "w1", 1), completed_step("s", 0, 0)).await);
    assert!(
        save_step(
            &store,
            guard(&new, "w2", LEASE_MS + 1),
            completed_step("s", 0, 0)
        )
        .await
    );
}

/// Only executions due at or before `now` are claimed, earliest first, at most
/// `limit` at a time.
pub async fn claim_respects_due_at_and_limit(store: DynStore) {
    for (id, run_at) in [("late", 100), ("b", 20), ("a", 10), ("c", 30)] {
        let params = NewExecution {
            run_at: at(run_at),
            ..new_execution(id)
        };
        insert_new(&store, params).await;
    }
    assert!(claim_ids(&store, "w", 9).await.is_empty());
    let first: HashSet<String> = claim(&store, "w", 50, 2)
        .await
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(first, HashSet::from(["a".to_owned(), "b".to_owned()]));
    assert_eq!(claim_ids(&store, "w", 50).await, vec!["c"]);
    assert!(claim_ids(&store, "w", 99).await.is_empty());
    assert_eq!(claim_ids(&store, "w", 100).await, vec!["late"]);
    assert!(claim(&store, "w", 200, 0).await.is_empty());
}

/// Finished and cancelled executions are never claimed.
pub async fn claim_ignores_terminal_executions(store: DynStore) {
    insert(&store, "done").await;
    run_to_completion(&store, "done", 0, json!("ok")).await;
    insert(&store, "cancelled").await;
    store.execution_cancel("cancelled", at(1)).await.unwrap();
    assert!(claim_ids(&store, "w", 10 * LEASE_MS).await.is_empty());
}

/// The earliest due time or lease expiry, ignoring finished and indefinitely parked
/// executions.
pub async fn next_due_reports_earliest_due_or_lease_expiry(store: DynStore) {
    assert_eq!(store.execution_next_due().await.unwrap(), None);
    for (id, run_at) in [("a", 500), ("b", 300)] {
        let params = NewExecution {
            run_at: at(run_at),
            ..new_execution(id)
        };
        insert_new(&store, params).await;
    }
    assert_eq!(store.execution_next_due().await.unwrap(), Some(at(300)));
    let b = claim_one(&store, "w", 300, "b").await;
    assert_eq!(store.execution_next_due().await.unwrap(), Some(at(500)));
    let a = claim_one(&store, "w", 600, "a").await;
    assert_eq!(
        store.execution_next_due().await.unwrap(),
        Some(at(300 + LEASE_MS)),
        "the lease of b expires first"
    );
    let wait = WaitingFor::Event {
        name: "go".into(),
        deadline: None,
    };
    assert!(suspend(&store, guard(&b, "w", 700), None, wait).await);
    assert_eq!(
        store.execution_next_due().await.unwrap(),
        Some(at(600 + LEASE_MS))
    );
    assert!(
        finish(
            &store,
            guard(&a, "w", 800),
            ExecutionOutcome::Completed(json!(1))
        )
        .await
    );
    assert_eq!(store.execution_next_due().await.unwrap(), None);
}
