//! Helpers shared by the conformance tests: fixed timestamps, builders for params
//! structs, and short-hands for the calls most tests make.
//!
//! Time never comes from the wall clock: every test works on `at(ms)`, a fixed base
//! instant plus an offset, and expires leases by passing a later `now`.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use serde_json::{json, Value};
use zart_core::{
    ActionMeta, ClaimedExecution, ErrorKind, ExecutionClaim, ExecutionError, ExecutionFinish,
    ExecutionOutcome, ExecutionRecord, ExecutionSuspend, InsertOutcome, LeaseGuard, NewExecution,
    Signal, StepHeader, StepKind, StepSave, StepWrite, Store, Subscription, Timestamp, WaitingFor,
};

/// The store handle every conformance test receives.
pub type DynStore = Arc<dyn Store>;

/// Lease length used by [`claim_one`]: 30 s.
pub const LEASE_MS: i64 = 30_000;

/// How long a test waits for a signal before failing.
pub const SIGNAL_TIMEOUT: Duration = Duration::from_secs(10);

/// The fixed base instant (2023-11-14T22:13:20Z) plus `ms` milliseconds.
pub fn at(ms: i64) -> Timestamp {
    chrono::Utc
        .timestamp_millis_opt(1_700_000_000_000 + ms)
        .single()
        .unwrap_or_else(|| panic!("offset {ms} out of range"))
}

/// A new top-level execution of task `"task"`, created and due at `at(0)`.
pub fn new_execution(id: &str) -> NewExecution {
    NewExecution {
        id: id.to_owned(),
        task_name: "task".to_owned(),
        payload: json!({ "id": id }),
        now: at(0),
        run_at: at(0),
        deadline_at: None,
        parent_id: None,
        trace_context: None,
        queue: None,
        priority: 0,
        deduplication_id: None,
        concurrency_key: None,
    }
}

/// Inserts [`new_execution`]`(id)` and returns the created record.
pub async fn insert(store: &DynStore, id: &str) -> ExecutionRecord {
    insert_new(store, new_execution(id)).await
}

/// Inserts [`new_execution`]`(id)` due at `at(run_at)`.
pub async fn insert_due(store: &DynStore, id: &str, run_at: i64) -> ExecutionRecord {
    let params = NewExecution {
        run_at: at(run_at),
        ..new_execution(id)
    };
    insert_new(store, params).await
}

/// Inserts `params`, panicking unless a new execution was created.
pub async fn insert_new(store: &DynStore, params: NewExecution) -> ExecutionRecord {
    let id = params.id.clone();
    match store.execution_insert(params).await {
        Ok(InsertOutcome::Created(record)) => record,
        other => panic!("insert {id}: expected Created, got {other:?}"),
    }
}

/// Claims with `limit` at `now` for a 30 s lease.
pub async fn claim(store: &DynStore, worker: &str, now: i64, limit: u32) -> Vec<ClaimedExecution> {
    store
        .execution_claim(ExecutionClaim {
            worker_id: worker.to_owned(),
            now: at(now),
            lease_expires_at: at(now + LEASE_MS),
            limit,
            default_queue: true,
            queues: Vec::new(),
        })
        .await
        .unwrap_or_else(|e| panic!("claim by {worker}: {e}"))
}

/// Claims exactly one execution, which must be `id`.
pub async fn claim_one(store: &DynStore, worker: &str, now: i64, id: &str) -> ClaimedExecution {
    let mut claimed = claim(store, worker, now, 1).await;
    assert_eq!(claimed.len(), 1, "{worker} expected to claim {id} at {now}");
    let claimed = claimed.remove(0);
    assert_eq!(claimed.id, id, "{worker} claimed the wrong execution");
    claimed
}

/// Ids claimed by `worker` at `now` (limit 100).
pub async fn claim_ids(store: &DynStore, worker: &str, now: i64) -> Vec<String> {
    let mut ids: Vec<String> = claim(store, worker, now, 100)
        .await
        .into_iter()
        .map(|c| c.id)
        .collect();
    ids.sort();
    ids
}

/// Inserts `n` executions `{prefix}00`, `{prefix}01`, … due at `at(0)` and claims up
/// to `n` of them for `worker` at `at(0)`.
pub async fn insert_and_claim(
    store: &DynStore,
    prefix: &str,
    n: u32,
    worker: &str,
) -> Vec<ClaimedExecution> {
    for i in 0..n {
        insert_due(store, &format!("{prefix}{i:02}"), 0).await;
    }
    claim(store, worker, 0, n).await
}

/// The guard for a claimed execution, used at `now`.
pub fn guard(claimed: &ClaimedExecution, worker: &str, now: i64) -> LeaseGuard {
    LeaseGuard {
        execution_id: claimed.id.clone(),
        worker_id: worker.to_owned(),
        fence: claimed.fence,
        now: at(now),
    }
}

/// The header of entry `name#occurrence` of `kind` at `position`, first recorded at
/// `at(1)`, after one attempt.
pub fn step_header(name: &str, occurrence: u32, position: u32, kind: StepKind) -> StepHeader {
    StepHeader {
        name: name.to_owned(),
        occurrence,
        position,
        kind,
        retry_attempt: 1,
        scheduled_at: at(1),
    }
}

/// A `step` entry completed at `at(2)` with result `{"step": name, "occurrence": n}`.
pub fn completed_step(name: &str, occurrence: u32, position: u32) -> StepWrite {
    let result = json!({ "step": name, "occurrence": occurrence });
    let header = step_header(name, occurrence, position, StepKind::Step);
    StepWrite::completed(header, Some(result), at(2))
}

/// A `step` entry dead at `at(3)` after `attempts` attempts, with a retryable error.
pub fn dead_step(name: &str, occurrence: u32, position: u32, attempts: u32) -> StepWrite {
    let header = StepHeader {
        retry_attempt: attempts,
        ..step_header(name, occurrence, position, StepKind::Step)
    };
    StepWrite::dead(header, format!("{name} failed"), true, at(3))
}

/// Saves `step` into run 1 without an attempt; returns whether the guard held.
pub async fn save_step(store: &DynStore, guard: LeaseGuard, step: StepWrite) -> bool {
    save_step_in(store, guard, 1, step).await
}

/// Saves `step` into run `run_index` without an attempt; returns whether the guard
/// held.
pub async fn save_step_in(
    store: &DynStore,
    guard: LeaseGuard,
    run_index: i32,
    step: StepWrite,
) -> bool {
    store
        .step_save(StepSave {
            guard,
            run_index,
            step,
            attempt: None,
        })
        .await
        .unwrap_or_else(|e| panic!("step_save: {e}"))
}

/// Suspends on `waiting_for` until `wake_at`; returns whether the guard held.
pub async fn suspend(
    store: &DynStore,
    guard: LeaseGuard,
    wake_at: Option<Timestamp>,
    waiting_for: WaitingFor,
) -> bool {
    store
        .execution_suspend(ExecutionSuspend {
            guard,
            wake_at,
            waiting_for,
        })
        .await
        .unwrap_or_else(|e| panic!("suspend: {e}"))
}

/// Finishes run 1 with `outcome`; returns whether the guard held.
pub async fn finish(store: &DynStore, guard: LeaseGuard, outcome: ExecutionOutcome) -> bool {
    finish_run(store, guard, 1, outcome).await
}

/// Finishes run `run_index` with `outcome`; returns whether the guard held.
pub async fn finish_run(
    store: &DynStore,
    guard: LeaseGuard,
    run_index: i32,
    outcome: ExecutionOutcome,
) -> bool {
    store
        .execution_finish(ExecutionFinish {
            guard,
            run_index,
            outcome,
        })
        .await
        .unwrap_or_else(|e| panic!("finish: {e}"))
}

/// A failure of step `step`, out of attempts.
pub fn step_failed(step: &str) -> ExecutionOutcome {
    ExecutionOutcome::Failed(ExecutionError {
        kind: ErrorKind::StepFailed,
        message: format!("{step} failed"),
        step: Some(step.to_owned()),
        attempts: Some(3),
    })
}

/// Who and when of an operator action `action_id`: by `"tester"` at `at(now)`,
/// without an idempotency key.
pub fn action_meta(action_id: &str, now: i64) -> ActionMeta {
    ActionMeta {
        action_id: action_id.to_owned(),
        triggered_by: "tester".to_owned(),
        idempotency_key: None,
        now: at(now),
    }
}

/// [`action_meta`] with the idempotency key `key`.
pub fn keyed_meta(action_id: &str, now: i64, key: &str) -> ActionMeta {
    ActionMeta {
        idempotency_key: Some(key.to_owned()),
        ..action_meta(action_id, now)
    }
}

/// Claims `id` at `now` and completes it with `result`.
pub async fn run_to_completion(store: &DynStore, id: &str, now: i64, result: Value) {
    let claimed = claim_one(store, "finisher", now, id).await;
    let applied = finish(
        store,
        guard(&claimed, "finisher", now),
        ExecutionOutcome::Completed(result),
    )
    .await;
    assert!(applied, "finish of {id} must apply");
}

/// The execution, which must exist.
pub async fn get(store: &DynStore, id: &str) -> ExecutionRecord {
    store
        .execution_get(id)
        .await
        .unwrap_or_else(|e| panic!("get {id}: {e}"))
        .unwrap_or_else(|| panic!("execution {id} missing"))
}

/// Waits (up to [`SIGNAL_TIMEOUT`]) for a signal matching `want`, skipping others.
pub async fn expect_signal(sub: &mut Box<dyn Subscription>, want: impl Fn(&Signal) -> bool) {
    let wait = async {
        loop {
            match sub.recv().await {
                Some(signal) if want(&signal) => return,
                Some(_) => continue,
                None => panic!("subscription closed while waiting for a signal"),
            }
        }
    };
    if tokio::time::timeout(SIGNAL_TIMEOUT, wait).await.is_err() {
        panic!("no matching signal within {SIGNAL_TIMEOUT:?}");
    }
}
