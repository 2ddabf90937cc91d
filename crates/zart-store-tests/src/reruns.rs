//! New runs of a finished execution: a restart (empty journal) and a selective rerun
//! (keeps completed steps outside the effective rerun set).

use serde_json::json;
use zart_core::{
    ActionKind, ActionOutcome, ActionRefusal, DetailQuery, ExecutionOutcome, ExecutionRerun,
    ExecutionRestart, ExecutionStatus, RunTrigger, Signal, StaleStep, StepKind, StepRecord,
    StepWrite,
};

use crate::actions::{applied, detail_of, failed_at_charge, restart, retry};
use crate::support::*;

/// A rerun of `id` as action `action_id` at `at(now)`.
fn rerun(id: &str, rerun: &[&str], preserve: &[&str], action_id: &str, now: i64) -> ExecutionRerun {
    ExecutionRerun {
        execution_id: id.into(),
        rerun_steps: rerun.iter().map(|s| s.to_string()).collect(),
        preserve_steps: preserve.iter().map(|s| s.to_string()).collect(),
        meta: action_meta(action_id, now),
    }
}

/// Fails `id` (inserted now) with the journal `fetch`, `charge`, `email`, `receipt`
/// completed, `dispatch` dead, `audit` running, `notify` completed, at positions 0 to
/// 6 (journal order is not name order).
async fn failed_at_dispatch(store: &DynStore, id: &str) {
    insert(store, id).await;
    let c = claim_one(store, "w", 0, id).await;
    let audit = StepWrite::running(step_header("audit", 0, 5, StepKind::Step));
    let steps = [
        completed_step("fetch", 0, 0),
        completed_step("charge", 0, 1),
        completed_step("email", 0, 2),
        completed_step("receipt", 0, 3),
        dead_step("dispatch", 0, 4, 3),
        audit,
        completed_step("notify", 0, 6),
    ];
    for step in steps {
        assert!(save_step(store, guard(&c, "w", 4), step).await);
    }
    assert!(finish(store, guard(&c, "w", 5), step_failed("dispatch")).await);
}

fn names(journal: &[StepRecord]) -> Vec<&str> {
    journal.iter().map(|s| s.name.as_str()).collect()
}

fn stale(step: &str, depends_on: &[&str]) -> StaleStep {
    StaleStep {
        preserved_step: step.into(),
        possibly_depends_on: depends_on.iter().map(|s| s.to_string()).collect(),
    }
}

/// A restart starts run 2 (trigger `restart`, by and at the action) with an empty
/// journal and the same payload; run 1 and its journal stay readable.
pub async fn restart_starts_a_new_run_with_an_empty_journal(store: DynStore) {
    let c = failed_at_charge(&store, "e1").await;
    let rec = applied(
        store
            .execution_restart(restart("e1", "a1", 100))
            .await
            .unwrap(),
    );
    assert_eq!((rec.kind, rec.run_index), (ActionKind::Restart, 2));
    assert_eq!(
        (rec.triggered_by.as_str(), rec.triggered_at),
        ("tester", at(100))
    );
    assert!(rec.effective_rerun.is_empty() && rec.potentially_stale.is_empty());

    let e = get(&store, "e1").await;
    assert_eq!((e.status, e.run_index), (ExecutionStatus::Scheduled, 2));
    assert_eq!((e.result, e.error, e.completed_at), (None, None, None));
    assert_eq!(e.payload, json!({"id": "e1"}));
    let runs = store.run_list("e1").await.unwrap().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].trigger, RunTrigger::Initial);
    assert_eq!(runs[0].status, ExecutionStatus::Failed);
    assert_eq!(
        (runs[0].triggered_by.clone(), runs[0].triggered_at),
        (None, None)
    );
    assert_eq!(runs[1].trigger, RunTrigger::Restart);
    assert_eq!(runs[1].status, ExecutionStatus::Scheduled);
    assert_eq!(runs[1].payload, json!({"id": "e1"}));
    assert_eq!(runs[1].triggered_by.as_deref(), Some("tester"));
    assert_eq!(runs[1].triggered_at, Some(at(100)));
    assert!(store.journal_load("e1", 2).await.unwrap().is_empty());
    assert_eq!(
        names(&store.journal_load("e1", 1).await.unwrap()),
        ["fetch", "charge"]
    );

    let detail = store
        .execution_detail(detail_of("e1"))
        .await
        .unwrap()
        .unwrap();
    assert!(detail.steps.is_empty());
    assert_eq!(detail.runs, runs);
    let first = DetailQuery {
        execution_id: "e1".into(),
        run_index: Some(1),
    };
    let detail = store.execution_detail(first).await.unwrap().unwrap();
    assert_eq!(names(&detail.steps), ["fetch", "charge"]);

    let again = claim_one(&store, "w", 100, "e1").await;
    assert_eq!((again.run_index, again.payload), (2, json!({"id": "e1"})));
    assert!(again.fence > c.fence + 1, "the restart moved the fence on");
    let runs = store.run_list("e1").await.unwrap().unwrap();
    let started: Vec<_> = runs.iter().map(|r| r.started_at).collect();
    assert_eq!(
        started,
        [Some(at(0)), Some(at(100))],
        "each run starts on its claim"
    );
}

/// A restart with a payload runs the new run on it; the earlier run keeps its own.
pub async fn restart_with_a_payload_runs_on_it(store: DynStore) {
    failed_at_charge(&store, "e1").await;
    let params = ExecutionRestart {
        payload: Some(json!({"amount": 5})),
        ..restart("e1", "a1", 100)
    };
    applied(store.execution_restart(params).await.unwrap());
    assert_eq!(get(&store, "e1").await.payload, json!({"amount": 5}));
    let runs = store.run_list("e1").await.unwrap().unwrap();
    assert_eq!(runs[0].payload, json!({"id": "e1"}));
    assert_eq!(runs[1].payload, json!({"amount": 5}));
    let c = claim_one(&store, "w", 100, "e1").await;
    assert_eq!(c.payload, json!({"amount": 5}));
}

/// Any terminal execution can be restarted; each new run follows the latest, and a
/// rerun copies from the latest run's journal.
pub async fn new_runs_follow_the_latest_run(store: DynStore) {
    insert(&store, "done").await;
    run_to_completion(&store, "done", 0, json!(1)).await;
    insert_due(&store, "gone", 1_000_000).await;
    store.execution_cancel("gone", at(1)).await.unwrap();
    // "gone" is due after "done", so that the claim below takes "done".
    for (id, now) in [("done", 10), ("gone", 50)] {
        let action = format!("restart-{id}");
        let rec = applied(
            store
                .execution_restart(restart(id, &action, now))
                .await
                .unwrap(),
        );
        assert_eq!(rec.run_index, 2, "{id}");
    }
    let c = claim_one(&store, "w", 10, "done").await;
    assert!(
        save_step_in(
            &store,
            guard(&c, "w", 11),
            2,
            completed_step("second", 0, 0)
        )
        .await
    );
    let outcome = ExecutionOutcome::Completed(json!(2));
    assert!(finish_run(&store, guard(&c, "w", 12), 2, outcome).await);
    let rec = applied(
        store
            .execution_rerun(rerun("done", &[], &[], "b", 20))
            .await
            .unwrap(),
    );
    assert_eq!(rec.run_index, 3);
    assert_eq!(
        names(&store.journal_load("done", 3).await.unwrap()),
        ["second"]
    );
    let statuses: Vec<ExecutionStatus> = store
        .run_list("done")
        .await
        .unwrap()
        .unwrap()
        .iter()
        .map(|r| r.status)
        .collect();
    use ExecutionStatus::{Completed, Scheduled};
    assert_eq!(statuses, [Completed, Completed, Scheduled]);
}

/// Only a terminal execution gets a new run.
pub async fn restart_and_rerun_refuse_unfinished_executions(store: DynStore) {
    insert(&store, "running").await;
    insert(&store, "scheduled").await;
    claim_one(&store, "w", 0, "running").await;
    let running = ActionOutcome::Refused(ActionRefusal::NotTerminal(ExecutionStatus::Running));
    let out = store.execution_restart(restart("running", "a1", 1)).await;
    assert_eq!(out.unwrap(), running);
    let out = store
        .execution_rerun(rerun("running", &[], &[], "a2", 1))
        .await;
    assert_eq!(out.unwrap(), running);
    let scheduled = ActionRefusal::NotTerminal(ExecutionStatus::Scheduled);
    let out = store.execution_restart(restart("scheduled", "a3", 1)).await;
    assert_eq!(out.unwrap(), ActionOutcome::Refused(scheduled));
    assert_eq!(store.run_list("running").await.unwrap().unwrap().len(), 1);
}

/// A step retry, a restart and a rerun each signal `Work`.
pub async fn every_applied_action_signals_work(store: DynStore) {
    for id in ["e1", "e2", "e3"] {
        failed_at_charge(&store, id).await;
    }
    let is_work = |s: &Signal| matches!(s, Signal::Work);
    let mut sub = store.subscribe();
    applied(
        store
            .step_retry(retry("e1", "charge", "a1", 100))
            .await
            .unwrap(),
    );
    expect_signal(&mut sub, is_work).await;
    let mut sub = store.subscribe();
    applied(
        store
            .execution_restart(restart("e2", "a2", 100))
            .await
            .unwrap(),
    );
    expect_signal(&mut sub, is_work).await;
    let mut sub = store.subscribe();
    applied(
        store
            .execution_rerun(rerun("e3", &[], &[], "a3", 100))
            .await
            .unwrap(),
    );
    expect_signal(&mut sub, is_work).await;
}

/// A rerun copies the completed entries outside (named ∪ dead) into a new run with
/// their results, drops the rest, lists the effective set in journal order, and
/// flags kept steps after a rerun step.
pub async fn rerun_keeps_completed_steps_outside_the_effective_set(store: DynStore) {
    failed_at_dispatch(&store, "e1").await;
    let params = rerun("e1", &["email", "charge"], &[], "a1", 100);
    let rec = applied(store.execution_rerun(params).await.unwrap());
    assert_eq!((rec.kind, rec.run_index), (ActionKind::SelectiveRerun, 2));
    assert_eq!(rec.effective_rerun, ["charge", "email", "dispatch"]);
    let expected = [
        stale("receipt", &["charge", "email"]),
        stale("notify", &["charge", "email", "dispatch"]),
    ];
    assert_eq!(rec.potentially_stale, expected);

    let first = store.journal_load("e1", 1).await.unwrap();
    let kept = store.journal_load("e1", 2).await.unwrap();
    assert_eq!(names(&kept), ["fetch", "receipt", "notify"]);
    for step in &kept {
        let original = first
            .iter()
            .find(|s| s.name == step.name)
            .expect("in run 1");
        assert_eq!(step, original, "copied as it was, result included");
    }
    assert_eq!(first.len(), 7, "run 1 is unchanged");
    let runs = store.run_list("e1").await.unwrap().unwrap();
    assert_eq!(runs[1].trigger, RunTrigger::SelectiveRerun);
    assert_eq!(runs[1].triggered_by.as_deref(), Some("tester"));
    assert_eq!(runs[1].payload, json!({"id": "e1"}));
    let e = get(&store, "e1").await;
    assert_eq!(
        (e.status, e.run_index, e.error),
        (ExecutionStatus::Scheduled, 2, None)
    );
    let c = claim_one(&store, "w", 100, "e1").await;
    assert_eq!(c.run_index, 2);
}

/// Preserved names are kept even when named or dead (a dead one has nothing to keep
/// and is dropped); with no names, the dead steps run again.
pub async fn rerun_preserve_wins_and_dead_steps_rerun_by_default(store: DynStore) {
    failed_at_dispatch(&store, "e1").await;
    let params = rerun("e1", &["charge"], &["charge", "dispatch"], "a1", 100);
    let rec = applied(store.execution_rerun(params).await.unwrap());
    assert!(rec.effective_rerun.is_empty() && rec.potentially_stale.is_empty());
    let kept = store.journal_load("e1", 2).await.unwrap();
    assert_eq!(
        names(&kept),
        ["fetch", "charge", "email", "receipt", "notify"]
    );

    failed_at_dispatch(&store, "e2").await;
    let rec = applied(
        store
            .execution_rerun(rerun("e2", &[], &[], "a2", 100))
            .await
            .unwrap(),
    );
    assert_eq!(rec.effective_rerun, ["dispatch"]);
    assert_eq!(rec.potentially_stale, [stale("notify", &["dispatch"])]);
    let kept = store.journal_load("e2", 2).await.unwrap();
    assert_eq!(
        names(&kept),
        ["fetch", "charge", "email", "receipt", "notify"]
    );
}

/// A name the current run does not hold, in either list, refuses the rerun; nothing
/// changes.
pub async fn rerun_of_unknown_steps_is_refused(store: DynStore) {
    failed_at_dispatch(&store, "e1").await;
    let before = get(&store, "e1").await;
    let out = store
        .execution_rerun(rerun(
            "e1",
            &["nope", "charge"],
            &["fetch", "gone"],
            "a1",
            100,
        ))
        .await;
    let unknown = ActionRefusal::UnknownSteps(vec!["nope".into(), "gone".into()]);
    assert_eq!(out.unwrap(), ActionOutcome::Refused(unknown));
    assert_eq!(get(&store, "e1").await, before);
    assert_eq!(store.run_list("e1").await.unwrap().unwrap().len(), 1);
    assert!(store.journal_load("e1", 2).await.unwrap().is_empty());
}
