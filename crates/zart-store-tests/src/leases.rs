//! Lease guards, renewal and release: a worker that lost its lease writes nothing.

use serde_json::json;
use zart_core::{
    ExecutionClaim, ExecutionOutcome, ExecutionStatus, LeaseGuard, LeaseRenew, WaitingFor,
};

use crate::support::*;

/// A guard whose fence is no longer current is refused, even by the same worker.
pub async fn stale_fence_cannot_save_step(store: DynStore) {
    insert(&store, "e1").await;
    let old = claim_one(&store, "w1", 0, "e1").await;
    let new = claim_one(&store, "w1", LEASE_MS, "e1").await;
    let stale = guard(&old, "w1", LEASE_MS + 1);
    assert!(!save_step(&store, stale.clone(), completed_step("s", 0, 0)).await);
    assert!(!store.execution_release(stale).await.unwrap());
    assert!(store.journal_load("e1", 1).await.unwrap().is_empty());
    assert!(
        save_step(
            &store,
            guard(&new, "w1", LEASE_MS + 2),
            completed_step("t", 0, 0)
        )
        .await
    );
    assert_eq!(store.journal_load("e1", 1).await.unwrap().len(), 1);
}

/// Another worker's id with the right fence is refused too.
pub async fn wrong_worker_cannot_write(store: DynStore) {
    insert(&store, "e1").await;
    let c = claim_one(&store, "w1", 0, "e1").await;
    let intruder = guard(&c, "w2", 1);
    assert!(!save_step(&store, intruder.clone(), completed_step("s", 0, 0)).await);
    assert!(!finish(&store, intruder, ExecutionOutcome::Completed(json!(1))).await);
    assert_eq!(get(&store, "e1").await.status, ExecutionStatus::Running);
}

/// Once `now` reaches the lease expiry, no guarded write applies.
pub async fn expired_lease_cannot_write(store: DynStore) {
    insert(&store, "e1").await;
    let c = claim_one(&store, "w", 0, "e1").await;
    let expired = guard(&c, "w", LEASE_MS);
    assert!(!save_step(&store, expired.clone(), completed_step("s", 0, 0)).await);
    let timer = WaitingFor::Timer {
        step: "nap".into(),
        due_at: at(LEASE_MS * 3),
    };
    assert!(!suspend(&store, expired.clone(), Some(at(LEASE_MS * 3)), timer).await);
    assert!(
        !finish(
            &store,
            expired.clone(),
            ExecutionOutcome::Completed(json!(1))
        )
        .await
    );
    assert!(!store.execution_release(expired).await.unwrap());
    let record = get(&store, "e1").await;
    assert_eq!(record.status, ExecutionStatus::Running);
    assert!(matches!(record.waiting_for, Some(WaitingFor::Lease { .. })));
    assert!(store.journal_load("e1", 1).await.unwrap().is_empty());
}

/// A guard naming an execution that does not exist is simply refused.
pub async fn guarded_write_on_unknown_execution_is_refused(store: DynStore) {
    let ghost = LeaseGuard {
        execution_id: "ghost".into(),
        worker_id: "w".into(),
        fence: 1,
        now: at(0),
    };
    assert!(!save_step(&store, ghost.clone(), completed_step("s", 0, 0)).await);
    assert!(!store.execution_release(ghost).await.unwrap());
    assert_eq!(store.execution_get("ghost").await.unwrap(), None);
}

/// A worker holding a stale lease and the current one on the same execution (it
/// claimed it again after its first lease expired) renews only the current one:
/// the id is answered once, so the stale holder can learn its lease is gone.
/// (Found by the model test: PostgreSQL answered the id once per lease named.)
pub async fn lease_renew_answers_a_stale_and_a_current_lease_once(store: DynStore) {
    insert(&store, "e1").await;
    let old = claim_one(&store, "w1", 0, "e1").await;
    let new = claim_one(&store, "w1", LEASE_MS, "e1").await;
    let renewed = store
        .lease_renew(LeaseRenew {
            worker_id: "w1".into(),
            now: at(LEASE_MS + 1),
            expires_at: at(3 * LEASE_MS),
            leases: vec![("e1".into(), old.fence), ("e1".into(), new.fence)],
        })
        .await
        .unwrap();
    assert_eq!(renewed, vec!["e1".to_owned()], "one lease of e1 renewed");
}

/// Renewal extends the leases still held and leaves out those lost (wrong fence,
/// other owner, expired).
pub async fn lease_renew_reports_lost_leases(store: DynStore) {
    for (i, id) in ["a", "b", "c", "d"].into_iter().enumerate() {
        insert_due(&store, id, i as i64).await;
    }
    let a = claim_one(&store, "w1", 3, "a").await;
    let b = claim_one(&store, "w1", 3, "b").await;
    let c = claim_one(&store, "w2", 3, "c").await;
    let d = store
        .execution_claim(ExecutionClaim {
            worker_id: "w1".into(),
            now: at(3),
            lease_expires_at: at(10),
            limit: 1,
            default_queue: true,
            queues: Vec::new(),
        })
        .await
        .unwrap()
        .remove(0);
    assert_eq!(d.id, "d");
    let renewed = store
        .lease_renew(LeaseRenew {
            worker_id: "w1".into(),
            now: at(10),
            expires_at: at(10 + 2 * LEASE_MS),
            leases: vec![
                ("a".into(), a.fence),
                ("b".into(), b.fence + 1),
                ("c".into(), c.fence),
                ("d".into(), d.fence),
                ("ghost".into(), 1),
            ],
        })
        .await
        .unwrap();
    assert_eq!(renewed, vec!["a".to_owned()]);
    assert!(
        claim_ids(&store, "w3", LEASE_MS + 10).await == vec!["b", "c", "d"],
        "only the renewed lease survives its old expiry"
    );
    match get(&store, "a").await.waiting_for {
        Some(WaitingFor::Lease { expires_at, .. }) => assert_eq!(expires_at, at(10 + 2 * LEASE_MS)),
        other => panic!("expected a lease, got {other:?}"),
    }
    assert!(
        save_step(
            &store,
            guard(&a, "w1", LEASE_MS + 20),
            completed_step("s", 0, 0)
        )
        .await
    );
    let empty = LeaseRenew {
        worker_id: "w1".into(),
        now: at(20),
        expires_at: at(20 + LEASE_MS),
        leases: vec![],
    };
    assert!(store.lease_renew(empty).await.unwrap().is_empty());
}

/// Release drops the lease and makes the execution claimable at once.
pub async fn release_makes_execution_due_now(store: DynStore) {
    insert(&store, "e1").await;
    let c = claim_one(&store, "w1", 0, "e1").await;
    assert!(store.execution_release(guard(&c, "w1", 10)).await.unwrap());
    let record = get(&store, "e1").await;
    assert_eq!(record.status, ExecutionStatus::Running);
    assert_eq!(record.waiting_for, None);
    assert_eq!(store.execution_next_due().await.unwrap(), Some(at(10)));
    let again = claim_one(&store, "w2", 10, "e1").await;
    assert!(again.fence > c.fence);
    assert!(!store.execution_release(guard(&c, "w1", 11)).await.unwrap());
}

/// `waitingFor` shows the lease while held and the parked-on reason after suspend.
pub async fn waiting_for_reflects_lease_and_parked_state(store: DynStore) {
    insert(&store, "e1").await;
    assert_eq!(get(&store, "e1").await.waiting_for, None);
    let parked_states = [
        WaitingFor::Timer {
            step: "nap".into(),
            due_at: at(5_000),
        },
        WaitingFor::Event {
            name: "approved".into(),
            deadline: Some(at(6_000)),
        },
        WaitingFor::Event {
            name: "forever".into(),
            deadline: None,
        },
        WaitingFor::Child {
            execution_id: "kid".into(),
        },
        WaitingFor::Retry {
            step: "charge".into(),
            attempt: 3,
            retry_at: at(7_000),
        },
    ];
    for (i, parked) in parked_states.into_iter().enumerate() {
        let now = 100_000 * (i as i64 + 1);
        let c = claim_one(&store, "w", now, "e1").await;
        let lease = WaitingFor::Lease {
            worker_id: "w".into(),
            since: at(now),
            expires_at: at(now + LEASE_MS),
        };
        assert_eq!(get(&store, "e1").await.waiting_for, Some(lease));
        assert!(
            suspend(
                &store,
                guard(&c, "w", now + 1),
                Some(at(now + 2)),
                parked.clone()
            )
            .await
        );
        assert_eq!(get(&store, "e1").await.waiting_for, Some(parked));
    }
    let c = claim_one(&store, "w", 1_000_000, "e1").await;
    finish(
        &store,
        guard(&c, "w", 1_000_001),
        ExecutionOutcome::Completed(json!(1)),
    )
    .await;
    assert_eq!(get(&store, "e1").await.waiting_for, None);
}
