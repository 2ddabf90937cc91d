//! Making a [`Call`] on a store.

use serde_json::{json, Value};
use zart_core::{
    ClaimedExecution, EventConsume, EventOffer, EventTake, ExecutionClaim, ExecutionFinish,
    ExecutionOutcome, ExecutionSuspend, InsertOutcome, LeaseGuard, LeaseRenew, NewExecution,
    OfferOutcome, StepHeader, StepKind, StepSave, StepWrite, StoreResult, WaitingFor,
};

use super::calls::{exec_id, wait_step_name, worker_id, written_by, Call, Lease, Outcome};
use super::ops::{Wait, EVENT_NAMES, LEASE_MS};
use crate::support::{at, DynStore};

fn guard(lease: &Lease, now: i64) -> LeaseGuard {
    LeaseGuard {
        execution_id: exec_id(lease.exec),
        worker_id: worker_id(lease.worker),
        fence: lease.fence,
        now: at(now),
    }
}

fn completed(name: String, occurrence: u32, kind: StepKind, result: Option<Value>) -> StepWrite {
    let header = StepHeader {
        name,
        occurrence,
        position: occurrence,
        kind,
        retry_attempt: 1,
        scheduled_at: at(0),
    };
    StepWrite::completed(header, result, at(0))
}

fn waiting_for(wait: Wait, now: i64) -> (Option<i64>, WaitingFor) {
    match wait {
        Wait::Event { name, wake_in } => {
            let wake = wake_in.map(|d| now + d);
            let deadline = wake.map(at);
            let name = EVENT_NAMES[name].to_owned();
            (wake, WaitingFor::Event { name, deadline })
        }
        Wait::Timer { wake_in } => {
            let due = now + wake_in;
            let step = "timer".to_owned();
            (
                Some(due),
                WaitingFor::Timer {
                    step,
                    due_at: at(due),
                },
            )
        }
    }
}

/// Makes `call` at virtual time `now`.
pub(super) async fn perform(store: &DynStore, now: i64, call: &Call) -> StoreResult<Outcome> {
    Ok(match call {
        Call::Insert { exec, run_at } => {
            Outcome::Inserted(insert(store, now, *exec, *run_at).await?)
        }
        Call::Claim { worker, limit } => {
            Outcome::Claimed(claim(store, now, *worker, *limit).await?)
        }
        Call::Renew { worker, leases } => {
            Outcome::Renewed(renew(store, now, *worker, leases).await?)
        }
        Call::Save { lease, step } => Outcome::Applied(save(store, now, lease, *step).await?),
        Call::Suspend { lease, wait } => Outcome::Applied(suspend(store, now, lease, *wait).await?),
        Call::Release { lease } => {
            Outcome::Applied(store.execution_release(guard(lease, now)).await?)
        }
        Call::Offer {
            exec,
            name,
            payload,
        } => Outcome::Offered(offer(store, now, *exec, *name, *payload).await?),
        Call::Consume {
            lease,
            name,
            occurrence,
        } => Outcome::Took(consume(store, now, lease, *name, *occurrence).await?),
        Call::Cancel { exec } => {
            Outcome::Cancelled(store.execution_cancel(&exec_id(*exec), at(now)).await?)
        }
        Call::Finish { lease } => Outcome::Applied(finish(store, now, lease).await?),
    })
}

async fn insert(store: &DynStore, now: i64, exec: usize, run_at: i64) -> StoreResult<bool> {
    let id = exec_id(exec);
    let params = NewExecution {
        payload: json!({ "id": id }),
        id,
        task_name: "task".to_owned(),
        now: at(now),
        run_at: at(run_at),
        deadline_at: None,
        parent_id: None,
        trace_context: None,
        queue: None,
        priority: 0,
        deduplication_id: None,
        concurrency_key: None,
    };
    Ok(matches!(
        store.execution_insert(params).await?,
        InsertOutcome::Created(_)
    ))
}

async fn claim(
    store: &DynStore,
    now: i64,
    worker: usize,
    limit: u32,
) -> StoreResult<Vec<ClaimedExecution>> {
    let params = ExecutionClaim {
        worker_id: worker_id(worker),
        now: at(now),
        lease_expires_at: at(now + LEASE_MS),
        limit,
        default_queue: true,
        queues: Vec::new(),
    };
    store.execution_claim(params).await
}

async fn renew(
    store: &DynStore,
    now: i64,
    worker: usize,
    leases: &[Lease],
) -> StoreResult<Vec<String>> {
    let params = LeaseRenew {
        worker_id: worker_id(worker),
        now: at(now),
        expires_at: at(now + LEASE_MS),
        leases: leases.iter().map(|l| (exec_id(l.exec), l.fence)).collect(),
    };
    store.lease_renew(params).await
}

async fn save(store: &DynStore, now: i64, lease: &Lease, step: u32) -> StoreResult<bool> {
    let result = Some(written_by(lease, "step"));
    let params = StepSave {
        guard: guard(lease, now),
        run_index: 1,
        step: completed(format!("s{step}"), 0, StepKind::Step, result),
        attempt: None,
    };
    store.step_save(params).await
}

async fn suspend(store: &DynStore, now: i64, lease: &Lease, wait: Wait) -> StoreResult<bool> {
    let (wake, waiting_for) = waiting_for(wait, now);
    let params = ExecutionSuspend {
        guard: guard(lease, now),
        wake_at: wake.map(at),
        waiting_for,
    };
    store.execution_suspend(params).await
}

async fn offer(
    store: &DynStore,
    now: i64,
    exec: usize,
    name: usize,
    payload: i64,
) -> StoreResult<OfferOutcome> {
    let params = EventOffer::new(exec_id(exec), EVENT_NAMES[name], json!(payload), at(now));
    store.event_offer(params).await
}

async fn consume(
    store: &DynStore,
    now: i64,
    lease: &Lease,
    name: usize,
    occurrence: u32,
) -> StoreResult<EventTake> {
    let params = EventConsume {
        guard: guard(lease, now),
        run_index: 1,
        name: EVENT_NAMES[name].to_owned(),
        step: completed(
            wait_step_name(name),
            occurrence,
            StepKind::WaitForEvent,
            None,
        ),
    };
    store.event_consume(params).await
}

async fn finish(store: &DynStore, now: i64, lease: &Lease) -> StoreResult<bool> {
    let params = ExecutionFinish {
        guard: guard(lease, now),
        run_index: 1,
        outcome: ExecutionOutcome::Completed(written_by(lease, "finish")),
    };
    store.execution_finish(params).await
}
