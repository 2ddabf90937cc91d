//! Operator actions racing each other on one execution, run for real at the same
//! time: one applies, and every other finds the state it left (or its idempotency
//! key) and is refused (or replayed).

use tokio::task::JoinSet;
use zart_core::{ActionOutcome, ActionRefusal, ExecutionStatus, StepRetry, StepStatus};

use crate::actions::{failed_at_charge, restart, retry};
use crate::support::*;

/// Concurrent actions on one execution apply once: the others find the state the
/// first left (or its key) and are refused (or replayed).
pub async fn concurrent_actions_on_one_execution_apply_once(store: DynStore) {
    const N: usize = 8;
    failed_at_charge(&store, "e1").await;
    let outcomes = race(&store, N, |i| retry("e1", "charge", &format!("r{i}"), 100)).await;
    let busy = ActionRefusal::StepNotDead {
        step: "charge#0".into(),
        status: StepStatus::Scheduled,
    };
    assert_one_applied(&outcomes, |o| *o == ActionOutcome::Refused(busy.clone()));

    let c = claim_one(&store, "w", 100, "e1").await;
    assert!(save_step(&store, guard(&c, "w", 150), dead_step("charge", 0, 1, 6)).await);
    assert!(finish(&store, guard(&c, "w", 200), step_failed("charge")).await);
    let outcomes = race(&store, N, |i| StepRetry {
        meta: keyed_meta(&format!("k{i}"), 300, "same-key"),
        ..retry("e1", "charge", "unused", 300)
    })
    .await;
    let first = outcomes.iter().find_map(|o| match o {
        ActionOutcome::Applied(rec) => Some(rec.clone()),
        _ => None,
    });
    let first = first.expect("one applied");
    assert_one_applied(&outcomes, |o| *o == ActionOutcome::Replayed(first.clone()));
}

/// Runs `n` step retries made by `make` at once.
async fn race(store: &DynStore, n: usize, make: impl Fn(usize) -> StepRetry) -> Vec<ActionOutcome> {
    let mut tasks = JoinSet::new();
    for i in 0..n {
        let (store, params) = (store.clone(), make(i));
        tasks.spawn(async move { store.step_retry(params).await });
    }
    let mut outcomes = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        outcomes.push(joined.expect("retry task").expect("step_retry"));
    }
    outcomes
}

fn assert_one_applied(outcomes: &[ActionOutcome], other: impl Fn(&ActionOutcome) -> bool) {
    let n = outcomes
        .iter()
        .filter(|o| matches!(o, ActionOutcome::Applied(_)))
        .count();
    assert_eq!(n, 1, "{outcomes:?}");
    for o in outcomes
        .iter()
        .filter(|o| !matches!(o, ActionOutcome::Applied(_)))
    {
        assert!(other(o), "unexpected {o:?}");
    }
}

/// Concurrent restarts of one execution start one run: the others find it
/// scheduled.
pub async fn concurrent_restarts_start_one_run(store: DynStore) {
    const N: usize = 8;
    failed_at_charge(&store, "e1").await;
    let mut tasks = JoinSet::new();
    for i in 0..N {
        let store = store.clone();
        let params = restart("e1", &format!("a{i}"), 100);
        tasks.spawn(async move { store.execution_restart(params).await });
    }
    let mut applied_runs = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("restart task").expect("restart") {
            ActionOutcome::Applied(rec) => applied_runs.push(rec.run_index),
            ActionOutcome::Refused(ActionRefusal::NotTerminal(ExecutionStatus::Scheduled)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(applied_runs, [2]);
    assert_eq!(store.run_list("e1").await.unwrap().unwrap().len(), 2);
}
