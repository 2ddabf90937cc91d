//! Operator actions in general and the step retry: which refusals come first, the
//! idempotency key, the record in the detail view, retention. Restarts and reruns
//! are in [`reruns`](crate::reruns), races between actions in
//! [`action_races`](crate::action_races).

use serde_json::json;
use zart_core::{
    ActionKind, ActionOutcome, ActionRecord, ActionRefusal, DetailQuery, ExecutionPurge,
    ExecutionRerun, ExecutionRestart, ExecutionStatus, StepKind, StepRetry, StepStatus, StepWrite,
    WaitingFor,
};

use crate::support::*;

/// Claims `id` (inserted now) and fails its first run: `fetch` (position 0)
/// completed, `charge` (position 1) dead after 3 attempts. Returns the claim.
pub async fn failed_at_charge(store: &DynStore, id: &str) -> zart_core::ClaimedExecution {
    insert(store, id).await;
    let c = claim_one(store, "w", 0, id).await;
    assert!(save_step(store, guard(&c, "w", 1), completed_step("fetch", 0, 0)).await);
    assert!(save_step(store, guard(&c, "w", 2), dead_step("charge", 0, 1, 3)).await);
    assert!(finish(store, guard(&c, "w", 3), step_failed("charge")).await);
    c
}

/// A retry of `step` of `id` as action `action_id` at `at(now)`.
pub fn retry(id: &str, step: &str, action_id: &str, now: i64) -> StepRetry {
    StepRetry {
        execution_id: id.into(),
        step_name: step.into(),
        meta: action_meta(action_id, now),
    }
}

/// A restart of `id` (keeping its payload) as action `action_id` at `at(now)`.
pub fn restart(id: &str, action_id: &str, now: i64) -> ExecutionRestart {
    ExecutionRestart {
        execution_id: id.into(),
        payload: None,
        meta: action_meta(action_id, now),
    }
}

/// The record of an applied action, panicking on any other outcome.
pub fn applied(outcome: ActionOutcome) -> ActionRecord {
    match outcome {
        ActionOutcome::Applied(rec) => rec,
        other => panic!("expected Applied, got {other:?}"),
    }
}

async fn step_retry(store: &DynStore, params: StepRetry) -> ActionOutcome {
    store.step_retry(params).await.expect("step_retry")
}

/// A retry schedules the dead step again with `attempt_base` = its attempts so far,
/// keeps the completed one, and reopens the failed execution and its run, due now.
pub async fn step_retry_requeues_the_dead_step_and_reopens_the_execution(store: DynStore) {
    let c = failed_at_charge(&store, "e1").await;
    let rec = applied(step_retry(&store, retry("e1", "charge", "a1", 100)).await);
    assert_eq!(rec.action_id, "a1");
    assert_eq!(rec.execution_id, "e1");
    assert_eq!(rec.kind, ActionKind::RetryStep);
    assert_eq!(rec.run_index, 1);
    assert_eq!(rec.step_name.as_deref(), Some("charge#0"));
    assert_eq!(
        (rec.triggered_by.as_str(), rec.triggered_at),
        ("tester", at(100))
    );

    let journal = store.journal_load("e1", 1).await.unwrap();
    assert_eq!(journal.len(), 2);
    assert_eq!(journal[0].status, StepStatus::Completed);
    assert_eq!(
        journal[0].result,
        Some(json!({"step": "fetch", "occurrence": 0}))
    );
    assert_eq!(journal[0].attempt_base, 0);
    let charge = &journal[1];
    assert_eq!(charge.status, StepStatus::Scheduled);
    assert_eq!((charge.retry_attempt, charge.attempt_base), (3, 3));

    let e = get(&store, "e1").await;
    assert_eq!(e.status, ExecutionStatus::Running);
    assert_eq!((e.result, e.error, e.completed_at), (None, None, None));
    assert_eq!(e.waiting_for, None);
    let runs = store.run_list("e1").await.unwrap().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, ExecutionStatus::Running);
    assert_eq!((runs[0].result.clone(), runs[0].completed_at), (None, None));
    let again = claim_one(&store, "w", 100, "e1").await;
    assert_eq!(again.run_index, 1);
    assert!(again.fence > c.fence + 1, "the retry moved the fence on");
}

/// A retry of a running execution takes its lease away: the old guard can no longer
/// write, even for the same worker within its lease, while a new claim can.
pub async fn step_retry_moves_the_fence_on(store: DynStore) {
    insert(&store, "e1").await;
    let old = claim_one(&store, "w", 0, "e1").await;
    assert!(save_step(&store, guard(&old, "w", 1), dead_step("charge", 0, 0, 3)).await);
    applied(step_retry(&store, retry("e1", "charge", "a1", 10)).await);
    assert_eq!(get(&store, "e1").await.status, ExecutionStatus::Running);
    let new = claim_one(&store, "w", 10, "e1").await;
    assert!(!save_step(&store, guard(&old, "w", 11), completed_step("charge", 0, 0)).await);
    assert!(!finish(&store, guard(&old, "w", 11), step_failed("charge")).await);
    assert!(save_step(&store, guard(&new, "w", 12), completed_step("charge", 0, 0)).await);
}

/// A retry clears what a suspended execution waited for and makes it due now.
pub async fn step_retry_clears_what_the_execution_waited_for(store: DynStore) {
    insert(&store, "e1").await;
    let c = claim_one(&store, "w", 0, "e1").await;
    assert!(save_step(&store, guard(&c, "w", 1), dead_step("charge", 0, 0, 3)).await);
    let timer = WaitingFor::Timer {
        step: "nap".into(),
        due_at: at(90_000),
    };
    assert!(suspend(&store, guard(&c, "w", 2), Some(at(90_000)), timer).await);
    applied(step_retry(&store, retry("e1", "charge", "a1", 100)).await);
    assert_eq!(get(&store, "e1").await.waiting_for, None);
    assert_eq!(store.execution_next_due().await.unwrap(), Some(at(100)));
    assert_eq!(claim_ids(&store, "w", 100).await, vec!["e1"]);
}

/// A step name retries every dead occurrence of it; a step id only that one.
pub async fn step_retry_by_name_takes_every_dead_occurrence_and_by_id_one(store: DynStore) {
    for id in ["by-name", "by-id"] {
        insert(&store, id).await;
        let c = claim_one(&store, "w", 0, id).await;
        for occurrence in 0..2 {
            let dead = dead_step("charge", occurrence, occurrence, 2);
            assert!(save_step(&store, guard(&c, "w", 1), dead).await);
        }
        assert!(finish(&store, guard(&c, "w", 2), step_failed("charge")).await);
    }
    let rec = applied(step_retry(&store, retry("by-name", "charge", "a1", 10)).await);
    assert_eq!(rec.step_name.as_deref(), Some("charge#0,charge#1"));
    let rec = applied(step_retry(&store, retry("by-id", "charge#1", "a2", 10)).await);
    assert_eq!(rec.step_name.as_deref(), Some("charge#1"));
    let statuses = |j: Vec<zart_core::StepRecord>| j.into_iter().map(|s| s.status).collect();
    let by_name: Vec<StepStatus> = statuses(store.journal_load("by-name", 1).await.unwrap());
    assert_eq!(by_name, [StepStatus::Scheduled, StepStatus::Scheduled]);
    let by_id: Vec<StepStatus> = statuses(store.journal_load("by-id", 1).await.unwrap());
    assert_eq!(by_id, [StepStatus::Dead, StepStatus::Scheduled]);
}

/// Only a dead `ctx.step` of the current run can be retried; a refusal changes
/// nothing.
pub async fn step_retry_refuses_unknown_live_and_non_step_entries(store: DynStore) {
    failed_at_charge(&store, "e1").await;
    insert(&store, "e2").await;
    let c = claim_one(&store, "w", 0, "e2").await;
    let header = step_header("approval", 0, 0, StepKind::WaitForEvent);
    let wait = StepWrite::timed_out(header, at(2), at(2));
    assert!(save_step(&store, guard(&c, "w", 2), wait).await);
    assert!(finish(&store, guard(&c, "w", 3), step_failed("approval")).await);
    let before = get(&store, "e1").await;

    let refused = |r| ActionOutcome::Refused(r);
    let out = step_retry(&store, retry("e1", "nope", "a1", 10)).await;
    assert_eq!(
        out,
        refused(ActionRefusal::UnknownSteps(vec!["nope".into()]))
    );
    let out = step_retry(&store, retry("e1", "fetch", "a2", 10)).await;
    let live = ActionRefusal::StepNotDead {
        step: "fetch#0".into(),
        status: StepStatus::Completed,
    };
    assert_eq!(out, refused(live));
    let out = step_retry(&store, retry("e2", "approval", "a3", 10)).await;
    let not_a_step = ActionRefusal::NotAStep {
        step: "approval#0".into(),
    };
    assert_eq!(out, refused(not_a_step));

    assert_eq!(get(&store, "e1").await, before);
    let detail = store
        .execution_detail(detail_of("e1"))
        .await
        .unwrap()
        .unwrap();
    assert!(detail.actions.is_empty(), "{:?}", detail.actions);
}

/// A completed or cancelled execution has nothing to retry.
pub async fn step_retry_refuses_completed_and_cancelled_executions(store: DynStore) {
    insert(&store, "done").await;
    let c = claim_one(&store, "w", 0, "done").await;
    assert!(save_step(&store, guard(&c, "w", 1), dead_step("charge", 0, 0, 3)).await);
    assert!(
        finish(
            &store,
            guard(&c, "w", 2),
            zart_core::ExecutionOutcome::Completed(json!(1))
        )
        .await
    );
    insert(&store, "gone").await;
    store.execution_cancel("gone", at(1)).await.unwrap();
    for (id, status) in [
        ("done", ExecutionStatus::Completed),
        ("gone", ExecutionStatus::Cancelled),
    ] {
        let out = step_retry(&store, retry(id, "charge", "a", 10)).await;
        assert_eq!(out, ActionOutcome::Refused(ActionRefusal::Finished(status)));
    }
}

/// Every action on an unknown execution answers `NotFound`.
pub async fn actions_on_unknown_execution_are_not_found(store: DynStore) {
    assert_eq!(
        step_retry(&store, retry("nope", "s", "a1", 0)).await,
        ActionOutcome::NotFound
    );
    let out = store.execution_restart(restart("nope", "a2", 0)).await;
    assert_eq!(out.unwrap(), ActionOutcome::NotFound);
    let rerun = ExecutionRerun {
        execution_id: "nope".into(),
        rerun_steps: vec!["s".into()],
        preserve_steps: Vec::new(),
        meta: action_meta("a3", 0),
    };
    assert_eq!(
        store.execution_rerun(rerun).await.unwrap(),
        ActionOutcome::NotFound
    );
}

/// An action whose key is recorded is answered with the first record and changes
/// nothing, even once the execution's state would refuse it; a key used by another
/// kind of action is refused.
pub async fn action_with_a_recorded_key_is_replayed(store: DynStore) {
    failed_at_charge(&store, "e1").await;
    let first = StepRetry {
        meta: keyed_meta("a1", 100, "k1"),
        ..retry("e1", "charge", "a1", 100)
    };
    let rec = applied(step_retry(&store, first).await);
    let again = StepRetry {
        meta: keyed_meta("a2", 200, "k1"),
        ..retry("e1", "charge", "a2", 200)
    };
    let before = get(&store, "e1").await;
    let out = step_retry(&store, again.clone()).await;
    assert_eq!(out, ActionOutcome::Replayed(rec.clone()));
    assert_eq!(get(&store, "e1").await, before, "a replay changes nothing");

    run_to_completion(&store, "e1", 300, json!("paid")).await;
    assert_eq!(
        step_retry(&store, again).await,
        ActionOutcome::Replayed(rec.clone())
    );
    let other_kind = ExecutionRestart {
        meta: keyed_meta("a3", 400, "k1"),
        ..restart("e1", "a3", 400)
    };
    let out = store.execution_restart(other_kind).await.unwrap();
    let reused = ActionRefusal::KeyReused(ActionKind::RetryStep);
    assert_eq!(out, ActionOutcome::Refused(reused));
    let detail = store
        .execution_detail(detail_of("e1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.actions, vec![rec]);
}

/// The detail view lists every applied action, oldest first, as it was answered.
pub async fn applied_actions_appear_in_execution_detail(store: DynStore) {
    failed_at_charge(&store, "e1").await;
    let retried = applied(step_retry(&store, retry("e1", "charge", "a1", 100)).await);
    let c = claim_one(&store, "w", 100, "e1").await;
    assert!(finish(&store, guard(&c, "w", 200), step_failed("charge")).await);
    let restarted = applied(
        store
            .execution_restart(restart("e1", "a2", 300))
            .await
            .unwrap(),
    );
    let detail = store
        .execution_detail(detail_of("e1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.actions, vec![retried.clone(), restarted.clone()]);
    let first_run = DetailQuery {
        execution_id: "e1".into(),
        run_index: Some(1),
    };
    let detail = store.execution_detail(first_run).await.unwrap().unwrap();
    assert_eq!(
        detail.actions,
        vec![retried, restarted],
        "whatever run is shown"
    );
}

/// A purge deletes the actions of the executions it deletes: a new execution with
/// the same id has none, and their keys are free.
pub async fn purge_deletes_the_actions_of_purged_executions(store: DynStore) {
    failed_at_charge(&store, "e1").await;
    let keyed = StepRetry {
        meta: keyed_meta("a1", 100, "k1"),
        ..retry("e1", "charge", "a1", 100)
    };
    applied(step_retry(&store, keyed.clone()).await);
    run_to_completion(&store, "e1", 200, json!("paid")).await;
    let purged = store
        .execution_purge(ExecutionPurge::finished_before(at(1_000), 10))
        .await
        .unwrap();
    assert_eq!(purged, 1);
    insert(&store, "e1").await;
    let detail = store
        .execution_detail(detail_of("e1"))
        .await
        .unwrap()
        .unwrap();
    assert!(detail.actions.is_empty(), "{:?}", detail.actions);
    let out = step_retry(&store, keyed).await;
    let unknown = ActionRefusal::UnknownSteps(vec!["charge".into()]);
    assert_eq!(out, ActionOutcome::Refused(unknown), "not a replay");
}

/// The detail of `id`'s current run.
pub fn detail_of(id: &str) -> DetailQuery {
    DetailQuery {
        execution_id: id.into(),
        run_index: None,
    }
}
