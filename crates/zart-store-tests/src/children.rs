//! Child executions and cancellation.

use std::collections::HashSet;

use serde_json::json;
use zart_core::{
    CancelOutcome, ChildSpawn, ClaimedExecution, ExecutionStatus, NewExecution, ParentClosePolicy,
    SpawnOutcome, StepKind, StepWrite,
};

use crate::support::*;

fn spawn_step(child_id: &str, position: u32) -> StepWrite {
    let header = step_header(&format!("spawn-{child_id}"), 0, position, StepKind::Spawn);
    StepWrite::completed(header, Some(json!(child_id)), at(2))
}

/// Execution `id` as a child of `parent`, created at `now`.
pub fn child_of(parent: &str, id: &str, now: i64) -> NewExecution {
    NewExecution {
        parent_id: Some(parent.into()),
        now: at(now),
        run_at: at(now),
        ..new_execution(id)
    }
}

/// Spawns `child` (policy `cancel`) from `parent`; returns whether it was spawned.
pub async fn spawn(
    store: &DynStore,
    parent: &ClaimedExecution,
    worker: &str,
    child: NewExecution,
) -> bool {
    let outcome = spawn_with(store, (parent, worker), child, ParentClosePolicy::Cancel).await;
    outcome == SpawnOutcome::Spawned
}

/// Spawns `child` from `parent` (held by `worker`) with `policy`.
pub async fn spawn_with(
    store: &DynStore,
    (parent, worker): (&ClaimedExecution, &str),
    child: NewExecution,
    policy: ParentClosePolicy,
) -> SpawnOutcome {
    let now = child.now.timestamp_millis() - at(0).timestamp_millis();
    let params = ChildSpawn {
        guard: guard(parent, worker, now),
        run_index: 1,
        step: spawn_step(&child.id, 0),
        child,
        parent_close: policy,
    };
    store.child_spawn(params).await.expect("child_spawn")
}

/// A spawned child keeps the trace context it was spawned with, for its claims.
pub async fn child_spawn_stores_the_childs_trace_context(store: DynStore) {
    insert(&store, "p").await;
    let parent = claim_one(&store, "w", 1, "p").await;
    let context = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let child = NewExecution {
        trace_context: Some(context.into()),
        ..child_of("p", "p/c", 2)
    };
    assert!(spawn(&store, &parent, "w", child).await);
    let claimed = claim_one(&store, "w", 3, "p/c").await;
    assert_eq!(claimed.trace_context.as_deref(), Some(context));
}

/// A spawn creates the child (scheduled, with its parent) and records the parent's
/// `spawn` entry whose result is the child id.
pub async fn child_spawn_creates_child_and_spawn_entry(store: DynStore) {
    insert(&store, "p").await;
    let p = claim_one(&store, "w", 0, "p").await;
    assert!(spawn(&store, &p, "w", child_of("p", "kid", 10)).await);
    let kid = get(&store, "kid").await;
    assert_eq!(kid.status, ExecutionStatus::Scheduled);
    assert_eq!(kid.parent_id.as_deref(), Some("p"));
    assert_eq!(kid.scheduled_at, at(10));
    let journal = store.journal_load("p", 1).await.unwrap();
    assert_eq!(journal.len(), 1);
    assert_eq!(journal[0].kind, StepKind::Spawn);
    assert_eq!(journal[0].result, Some(json!("kid")));
    assert_eq!(claim_ids(&store, "w2", 10).await, vec!["kid"]);
}

/// Spawning again (a replay) leaves the existing child as it is.
pub async fn child_spawn_is_idempotent(store: DynStore) {
    insert(&store, "p").await;
    let p = claim_one(&store, "w", 0, "p").await;
    assert!(spawn(&store, &p, "w", child_of("p", "kid", 10)).await);
    let first = get(&store, "kid").await;
    let replay = NewExecution {
        payload: json!({"changed": true}),
        ..child_of("p", "kid", 20)
    };
    assert!(spawn(&store, &p, "w", replay).await);
    assert_eq!(get(&store, "kid").await, first);
    assert_eq!(store.journal_load("p", 1).await.unwrap().len(), 1);
}

/// A spawn under a lost lease creates nothing.
pub async fn child_spawn_with_lost_lease_creates_nothing(store: DynStore) {
    insert(&store, "p").await;
    let old = claim_one(&store, "w", 0, "p").await;
    claim_one(&store, "w2", LEASE_MS, "p").await;
    assert!(!spawn(&store, &old, "w", child_of("p", "kid", LEASE_MS + 1)).await);
    assert_eq!(store.execution_get("kid").await.unwrap(), None);
    assert!(store.journal_load("p", 1).await.unwrap().is_empty());
}

/// A spawn whose child id is taken by an execution of another parent or task does
/// not adopt it: it reports the owner and writes nothing. The same parent spawning
/// the same task again still succeeds.
pub async fn child_spawn_refuses_foreign_execution_with_child_id(store: DynStore) {
    // Each claim has one candidate: the squatters are due later.
    insert(&store, "other").await;
    let other = claim_one(&store, "w", 0, "other").await;
    assert!(spawn(&store, &other, "w", child_of("other", "p/theirs", 1)).await);
    insert_due(&store, "p/top", LEASE_MS).await;
    insert(&store, "p").await;
    let p = claim_one(&store, "w", 0, "p").await;
    let outcome = spawn_with(
        &store,
        (&p, "w"),
        child_of("p", "p/top", 2),
        Default::default(),
    );
    let want = SpawnOutcome::Foreign {
        parent_id: None,
        task_name: "task".into(),
    };
    assert_eq!(outcome.await, want);
    let theirs = child_of("p", "p/theirs", 2);
    let outcome = spawn_with(&store, (&p, "w"), theirs, Default::default()).await;
    let want = SpawnOutcome::Foreign {
        parent_id: Some("other".into()),
        task_name: "task".into(),
    };
    assert_eq!(outcome, want);
    assert!(store.journal_load("p", 1).await.unwrap().is_empty());
    assert_eq!(get(&store, "p/top").await.parent_id, None);

    assert!(spawn(&store, &p, "w", child_of("p", "p/mine", 3)).await);
    let other_task = NewExecution {
        task_name: "t2".into(),
        ..child_of("p", "p/mine", 4)
    };
    let outcome = spawn_with(&store, (&p, "w"), other_task, Default::default()).await;
    assert!(
        matches!(outcome, SpawnOutcome::Foreign { .. }),
        "{outcome:?}"
    );
    assert!(spawn(&store, &p, "w", child_of("p", "p/mine", 5)).await);
}

/// A family: parent `p` (held by `w`) with a completed child `done-kid` and a child
/// `kid` (held by `kw`) that has a scheduled child `grandkid`. Returns the claims of
/// `p` and `kid`.
pub(crate) async fn three_generations(store: &DynStore) -> (ClaimedExecution, ClaimedExecution) {
    insert(store, "p").await;
    let p = claim_one(store, "w", 0, "p").await;
    assert!(spawn(store, &p, "w", child_of("p", "done-kid", 1)).await);
    run_to_completion(store, "done-kid", 2, json!("ok")).await;
    assert!(spawn(store, &p, "w", child_of("p", "kid", 3)).await);
    let kid = claim_one(store, "kw", 3, "kid").await;
    assert!(spawn(store, &kid, "kw", child_of("kid", "grandkid", 4)).await);
    (p, kid)
}

/// Cancel stops the execution and every unfinished descendant, and invalidates
/// their leases; finished descendants keep their status.
pub async fn cancel_cascades_to_children_and_bumps_fence(store: DynStore) {
    let (p, kid) = three_generations(&store).await;

    let outcome = store.execution_cancel("p", at(100)).await.unwrap();
    let CancelOutcome::Cancelled(ids) = outcome else {
        panic!("expected Cancelled, got {outcome:?}");
    };
    assert_eq!(
        ids.first().map(String::as_str),
        Some("p"),
        "the execution comes first"
    );
    let set: HashSet<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(set, HashSet::from(["p", "kid", "grandkid"]));
    assert_eq!(ids.len(), 3);

    for id in ["p", "kid", "grandkid"] {
        let record = get(&store, id).await;
        assert_eq!(record.status, ExecutionStatus::Cancelled, "{id}");
        assert_eq!(record.completed_at, Some(at(100)), "{id}");
        assert_eq!(record.waiting_for, None, "{id}");
        let runs = store.run_list(id).await.unwrap().unwrap();
        assert_eq!(runs[0].status, ExecutionStatus::Cancelled, "{id}");
    }
    assert_eq!(
        get(&store, "done-kid").await.status,
        ExecutionStatus::Completed
    );
    assert!(!save_step(&store, guard(&p, "w", 101), completed_step("s", 0, 5)).await);
    assert!(!save_step(&store, guard(&kid, "kw", 101), completed_step("s", 0, 5)).await);
    assert!(claim_ids(&store, "w", 10 * LEASE_MS).await.is_empty());
}

/// Cancelling a finished execution changes nothing and reports its status.
pub async fn cancel_finished_execution_is_already_terminal(store: DynStore) {
    insert(&store, "e1").await;
    run_to_completion(&store, "e1", 0, json!(1)).await;
    let before = get(&store, "e1").await;
    let outcome = store.execution_cancel("e1", at(10)).await.unwrap();
    assert_eq!(
        outcome,
        CancelOutcome::AlreadyTerminal(ExecutionStatus::Completed)
    );
    assert_eq!(get(&store, "e1").await, before);

    insert(&store, "e2").await;
    let first = store.execution_cancel("e2", at(10)).await.unwrap();
    assert_eq!(first, CancelOutcome::Cancelled(vec!["e2".into()]));
    let second = store.execution_cancel("e2", at(20)).await.unwrap();
    assert_eq!(
        second,
        CancelOutcome::AlreadyTerminal(ExecutionStatus::Cancelled)
    );
}

/// Cancelling an unknown id reports it.
pub async fn cancel_unknown_execution_is_not_found(store: DynStore) {
    let outcome = store.execution_cancel("nope", at(0)).await.unwrap();
    assert_eq!(outcome, CancelOutcome::NotFound);
}

/// Cancelling a child directly wakes a parent parked on it, so the parent can see
/// the child's outcome instead of waiting forever.
pub async fn cancel_of_child_wakes_parent_waiting_on_it(store: DynStore) {
    insert(&store, "p").await;
    let p = claim_one(&store, "w", 0, "p").await;
    assert!(spawn(&store, &p, "w", child_of("p", "kid", 1)).await);
    let wait = zart_core::WaitingFor::Child {
        execution_id: "kid".into(),
    };
    assert!(suspend(&store, guard(&p, "w", 2), None, wait).await);
    let outcome = store.execution_cancel("kid", at(10)).await.unwrap();
    assert_eq!(outcome, CancelOutcome::Cancelled(vec!["kid".into()]));
    assert_eq!(get(&store, "p").await.status, ExecutionStatus::Running);
    assert_eq!(claim_ids(&store, "w", 10).await, vec!["p"]);
}
