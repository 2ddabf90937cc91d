//! Leases: heartbeats keep a long step on one worker; a worker that lost its lease
//! writes nothing more.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use zart::core::{ExecutionClaim, ExecutionStatus, WaitingFor};
use zart::prelude::*;

/// The lease of the heartbeat test, and its step, about three leases long. A renewal
/// (every third of a lease) may come up to two thirds of a lease late before the
/// lease expires: 1 s, enough on a loaded 2-core CI machine, where 450 ms was not.
const LEASE: Duration = Duration::from_millis(1500);
const STEP: Duration = Duration::from_millis(4500);

fn slow_task(
    store: std::sync::Arc<dyn zart::core::Store>,
    runs: Counter,
    gate: Option<std::sync::Arc<tokio::sync::Notify>>,
) -> Zart {
    Zart::builder(store)
        .task("slow", move |ctx: Ctx, _: serde_json::Value| {
            let (runs, gate) = (runs.clone(), gate.clone());
            async move {
                ctx.step("long", || {
                    let (runs, gate) = (runs.clone(), gate.clone());
                    async move {
                        runs.bump();
                        match gate {
                            Some(gate) => gate.notified().await,
                            None => tokio::time::sleep(STEP).await,
                        }
                        Ok(())
                    }
                })
                .await
            }
        })
        .build()
}

#[tokio::test]
async fn heartbeats_keep_a_step_longer_than_the_lease_on_one_worker() {
    let db = db().await;
    let runs = Counter::default();
    let zart = slow_task(db.store.clone(), runs.clone(), None);
    let client = zart.client();
    let short_lease = fast().lease_duration(LEASE);
    let a = zart.start_worker(short_lease.clone());
    let b = zart.start_worker(short_lease);
    let id = start(&client, "slow", json!(null)).await;
    assert_eq!(
        finish(&client, &id).await.status,
        ExecutionStatus::Completed
    );
    assert_eq!(runs.get(), 1, "the lease expired under a live worker");
    a.shutdown(Duration::from_secs(5)).await;
    b.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_worker_that_lost_its_lease_writes_nothing() {
    let db = db().await;
    let runs = Counter::default();
    let gate = std::sync::Arc::new(tokio::sync::Notify::new());
    let zart = slow_task(db.store.clone(), runs.clone(), Some(gate.clone()));
    let client = zart.client();
    let worker = zart.start_worker(fast().lease_duration(Duration::from_secs(600)));
    let id = start(&client, "slow", json!(null)).await;
    until(&client, &id, |_| runs.get() == 1).await;
    // Another worker takes the execution over (as if the lease had expired).
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    let stolen = db
        .store
        .execution_claim(ExecutionClaim {
            worker_id: "thief".into(),
            now: later,
            lease_expires_at: later + chrono::Duration::hours(1),
            limit: 1,
            default_queue: true,
            queues: Vec::new(),
        })
        .await
        .unwrap();
    assert_eq!(stolen.len(), 1);
    gate.notify_one(); // the first worker's step finishes now, with a stale fence
    let deadline = tokio::time::Instant::now() + WAIT;
    while worker.running() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "stale worker kept running"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let journal = db.store.journal_load(&id, 1).await.unwrap();
    assert!(journal.is_empty(), "a stale worker wrote {journal:?}");
    let e = client.get(&id).await.unwrap();
    assert_eq!(e.status, ExecutionStatus::Running);
    match e.waiting_for {
        Some(WaitingFor::Lease { worker_id, .. }) => assert_eq!(worker_id, "thief"),
        other => panic!("expected the thief's lease, got {other:?}"),
    }
    worker.shutdown(Duration::from_secs(5)).await;
}
