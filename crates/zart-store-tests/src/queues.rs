//! Flow control: named queues' settings, their global concurrency limit, which
//! queues a claim serves, priorities and priority aging.

use zart_core::{
    ExecutionClaim, ExecutionOutcome, NewExecution, QueueClaim, QueuePut, QueueSpec,
    QueueWaitReason, RateLimit, WaitingFor,
};

use crate::support::*;

/// Puts queue `name` with a global limit of `concurrency` and priority aging.
async fn put_queue(store: &DynStore, name: &str, concurrency: Option<u32>, aging: Option<u64>) {
    put_spec(
        store,
        QueueSpec {
            name: name.into(),
            concurrency,
            per_worker: None,
            priority_aging_ms: aging,
            rate_limit: None,
            key_concurrency: None,
        },
        0,
    )
    .await;
}

/// Puts queue `spec` at `now`.
async fn put_spec(store: &DynStore, spec: QueueSpec, now: i64) {
    store
        .queue_put(QueuePut { spec, now: at(now) })
        .await
        .unwrap_or_else(|e| panic!("queue_put: {e}"));
}

/// Queue `name` allowing `limit` claims per `period_ms`.
fn rate_limited(name: &str, limit: u32, period_ms: u64) -> QueueSpec {
    QueueSpec {
        name: name.into(),
        concurrency: None,
        per_worker: None,
        priority_aging_ms: None,
        rate_limit: Some(RateLimit { limit, period_ms }),
        key_concurrency: None,
    }
}

/// Inserts `id` on queue `queue` with `priority`, due at `run_at`.
async fn insert_on(store: &DynStore, id: &str, queue: &str, priority: i32, run_at: i64) {
    insert_new(
        store,
        NewExecution {
            queue: Some(queue.into()),
            priority,
            deduplication_id: None,
            concurrency_key: None,
            run_at: at(run_at),
            ..new_execution(id)
        },
    )
    .await;
}

/// Claims up to `limit` from the named queues `queues` (each up to `limit`), and
/// from the default queue when `default_queue`.
async fn claim_from(
    store: &DynStore,
    worker: &str,
    now: i64,
    limit: u32,
    default_queue: bool,
    queues: &[&str],
) -> Vec<zart_core::ClaimedExecution> {
    store
        .execution_claim(ExecutionClaim {
            worker_id: worker.into(),
            now: at(now),
            lease_expires_at: at(now + LEASE_MS),
            limit,
            default_queue,
            queues: queues
                .iter()
                .map(|q| QueueClaim {
                    name: (*q).into(),
                    limit,
                })
                .collect(),
        })
        .await
        .unwrap_or_else(|e| panic!("claim by {worker}: {e}"))
}

fn ids(claimed: &[zart_core::ClaimedExecution]) -> Vec<String> {
    claimed.iter().map(|c| c.id.clone()).collect()
}

/// The last declaration of a queue wins; get and list read it back.
pub async fn queue_put_replaces_settings_and_reads_back(store: DynStore) {
    assert!(store.queue_get("q").await.unwrap().is_none());
    put_queue(&store, "q", Some(3), None).await;
    put_queue(&store, "q", Some(5), Some(60_000)).await;
    let got = store.queue_get("q").await.unwrap().expect("queue stored");
    assert_eq!(got.spec.concurrency, Some(5));
    assert_eq!(got.spec.priority_aging_ms, Some(60_000));
    let listed = store.queue_list(at(0)).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].queue.spec.name, "q");
}

/// A claim never lets more of a queue's executions hold leases than its limit,
/// whichever worker asks; a finish frees a slot.
pub async fn queue_claim_respects_global_concurrency(store: DynStore) {
    put_queue(&store, "q", Some(2), None).await;
    for i in 0..5 {
        insert_on(&store, &format!("e{i}"), "q", 0, i).await;
    }
    let first = claim_from(&store, "w1", 10, 10, true, &["q"]).await;
    assert_eq!(ids(&first), vec!["e0", "e1"]);
    assert!(claim_from(&store, "w2", 10, 10, true, &["q"])
        .await
        .is_empty());
    let record = get(&store, "e2").await;
    assert_eq!(
        record.waiting_for,
        Some(WaitingFor::Queue {
            queue: "q".into(),
            reason: QueueWaitReason::Concurrency,
        })
    );
    assert_eq!(record.queue.as_deref(), Some("q"));
    let load = &store.queue_list(at(10)).await.unwrap()[0];
    assert_eq!((load.depth, load.running), (3, 2));
    assert!(
        finish(
            &store,
            guard(&first[0], "w1", 11),
            ExecutionOutcome::Completed(serde_json::json!(1))
        )
        .await
    );
    assert_eq!(
        ids(&claim_from(&store, "w2", 12, 10, true, &["q"]).await),
        vec!["e2"]
    );
}

/// Only the queues a claim names are served; the default queue only when asked.
pub async fn queue_claim_serves_only_the_queues_named(store: DynStore) {
    put_queue(&store, "a", None, None).await;
    put_queue(&store, "b", None, None).await;
    insert_on(&store, "on-a", "a", 0, 0).await;
    insert_on(&store, "on-b", "b", 0, 0).await;
    insert_due(&store, "plain", 0).await;
    assert!(claim_from(&store, "w", 10, 10, false, &[]).await.is_empty());
    assert_eq!(
        ids(&claim_from(&store, "w", 10, 10, false, &["b"]).await),
        vec!["on-b"]
    );
    assert_eq!(
        ids(&claim_from(&store, "w", 10, 10, true, &[]).await),
        vec!["plain"]
    );
    assert_eq!(
        ids(&claim_from(&store, "w", 10, 10, true, &["a"]).await),
        vec!["on-a"]
    );
}

/// A parked execution holds no slot of its queue; once due again it needs one.
pub async fn queue_parked_execution_frees_its_slot(store: DynStore) {
    put_queue(&store, "q", Some(1), None).await;
    insert_on(&store, "sleeper", "q", 0, 0).await;
    insert_on(&store, "other", "q", 0, 1).await;
    let sleeper = claim_from(&store, "w", 10, 10, false, &["q"]).await;
    assert_eq!(ids(&sleeper), vec!["sleeper"]);
    let timer = WaitingFor::Timer {
        step: "nap".into(),
        due_at: at(100),
    };
    assert!(suspend(&store, guard(&sleeper[0], "w", 11), Some(at(100)), timer).await);
    let other = claim_from(&store, "w", 12, 10, false, &["q"]).await;
    assert_eq!(ids(&other), vec!["other"]);
    // The sleeper is due again but `other` holds the only slot.
    assert!(claim_from(&store, "w", 200, 10, false, &["q"])
        .await
        .is_empty());
    let done = ExecutionOutcome::Completed(serde_json::json!(1));
    assert!(finish(&store, guard(&other[0], "w", 201), done).await);
    assert_eq!(
        ids(&claim_from(&store, "w", 202, 10, false, &["q"]).await),
        vec!["sleeper"]
    );
}

/// Within a queue, lower priorities are claimed first and equal priorities in due
/// order.
pub async fn queue_claims_by_priority_then_due_time(store: DynStore) {
    put_queue(&store, "q", None, None).await;
    insert_on(&store, "p5", "q", 5, 0).await;
    insert_on(&store, "m1-early", "q", -1, 1).await;
    insert_on(&store, "p0", "q", 0, 2).await;
    insert_on(&store, "m1-late", "q", -1, 3).await;
    let mut order = Vec::new();
    for now in 10..14 {
        order.extend(ids(&claim_from(&store, "w", now, 1, false, &["q"]).await));
    }
    assert_eq!(order, vec!["m1-early", "m1-late", "p0", "p5"]);
}

/// An execution due for longer than the queue's priority aging is claimed before
/// higher-priority work.
pub async fn queue_priority_aging_claims_long_waiting_work_first(store: DynStore) {
    put_queue(&store, "q", None, Some(1_000)).await;
    insert_on(&store, "low-old", "q", 9, 0).await;
    insert_on(&store, "high-new", "q", -9, 1_500).await;
    // At 900 nothing has waited 1000 ms: priority decides.
    insert_on(&store, "high-early", "q", -9, 500).await;
    assert_eq!(
        ids(&claim_from(&store, "w", 900, 1, false, &["q"]).await),
        vec!["high-early"]
    );
    // At 2000 low-old has waited 2000 ms (> 1000): it goes before high-new.
    assert_eq!(
        ids(&claim_from(&store, "w", 2_000, 1, false, &["q"]).await),
        vec!["low-old"]
    );
    assert_eq!(
        ids(&claim_from(&store, "w", 2_000, 1, false, &["q"]).await),
        vec!["high-new"]
    );
}

/// A rate limit caps claims at the bucket's whole tokens, refilled at the rate up to
/// the limit; a waiting execution says `rate`; the settings read back.
pub async fn queue_rate_limit_caps_claims_per_period(store: DynStore) {
    put_spec(&store, rate_limited("r", 3, 1000), 0).await;
    let got = store.queue_get("r").await.unwrap().expect("stored");
    assert_eq!(
        got.spec.rate_limit,
        Some(RateLimit {
            limit: 3,
            period_ms: 1000
        })
    );
    let listed = store.queue_list(at(0)).await.unwrap();
    assert_eq!(listed[0].queue.spec.rate_limit, got.spec.rate_limit);
    for i in 0..10 {
        insert_on(&store, &format!("e{i}"), "r", 0, 0).await;
    }
    // A full bucket: 3 now, then nothing until it refills.
    assert_eq!(claim_from(&store, "w", 0, 10, false, &["r"]).await.len(), 3);
    assert!(claim_from(&store, "w", 0, 10, false, &["r"])
        .await
        .is_empty());
    assert_eq!(
        get(&store, "e5").await.waiting_for,
        Some(WaitingFor::Queue {
            queue: "r".into(),
            reason: QueueWaitReason::Rate,
        })
    );
    // Half a period refills 1.5 tokens: one claim, half a token left.
    assert_eq!(
        claim_from(&store, "w", 500, 10, false, &["r"]).await.len(),
        1
    );
    // Another half period: 0.5 + 1.5 = 2.
    assert_eq!(
        claim_from(&store, "w", 1000, 10, false, &["r"]).await.len(),
        2
    );
    // A long pause refills to the limit, never above it.
    assert_eq!(
        claim_from(&store, "w", 60_000, 10, false, &["r"])
            .await
            .len(),
        3
    );
    assert_eq!(
        claim_from(&store, "w", 60_000, 10, false, &["r"])
            .await
            .len(),
        0
    );
    assert_eq!(
        claim_from(&store, "w", 60_400, 10, false, &["r"])
            .await
            .len(),
        1
    );
}

/// Declaring the queue again (every worker does at start) grants no fresh burst;
/// dropping the rate limit lifts it.
pub async fn queue_rate_limit_survives_redeclaration(store: DynStore) {
    put_spec(&store, rate_limited("r", 2, 1000), 0).await;
    for i in 0..6 {
        insert_on(&store, &format!("e{i}"), "r", 0, 0).await;
    }
    assert_eq!(claim_from(&store, "w", 0, 10, false, &["r"]).await.len(), 2);
    put_spec(&store, rate_limited("r", 2, 1000), 10).await;
    assert!(claim_from(&store, "w", 10, 10, false, &["r"])
        .await
        .is_empty());
    // A lower limit caps the tokens left; a higher one does not add any now.
    put_spec(&store, rate_limited("r", 5, 1000), 20).await;
    assert!(claim_from(&store, "w", 20, 10, false, &["r"])
        .await
        .is_empty());
    let unlimited = QueueSpec {
        rate_limit: None,
        ..rate_limited("r", 1, 1)
    };
    put_spec(&store, unlimited, 30).await;
    assert_eq!(
        claim_from(&store, "w", 30, 10, false, &["r"]).await.len(),
        4
    );
}

/// Queue `name` allowing `per_key` running executions per concurrency key.
fn keyed(name: &str, per_key: u32) -> QueueSpec {
    QueueSpec {
        name: name.into(),
        concurrency: None,
        per_worker: None,
        priority_aging_ms: None,
        rate_limit: None,
        key_concurrency: Some(per_key),
    }
}

/// Inserts `id` on queue `queue` with concurrency key `key`, due at `run_at`.
async fn insert_keyed(store: &DynStore, id: &str, queue: &str, key: Option<&str>, run_at: i64) {
    insert_new(
        store,
        NewExecution {
            queue: Some(queue.into()),
            concurrency_key: key.map(Into::into),
            run_at: at(run_at),
            ..new_execution(id)
        },
    )
    .await;
}

/// A per-key limit holds: a key at its limit is skipped (and says `key`), other keys
/// and unkeyed work are claimed; a finish frees the key's slot.
pub async fn queue_key_limit_skips_keys_at_their_limit(store: DynStore) {
    put_spec(&store, keyed("k", 1), 0).await;
    let got = store.queue_get("k").await.unwrap().expect("stored");
    assert_eq!(got.spec.key_concurrency, Some(1));
    insert_keyed(&store, "a1", "k", Some("a"), 0).await;
    insert_keyed(&store, "a2", "k", Some("a"), 1).await;
    insert_keyed(&store, "a3", "k", Some("a"), 2).await;
    insert_keyed(&store, "b1", "k", Some("b"), 3).await;
    insert_keyed(&store, "n1", "k", None, 4).await;
    let first = claim_from(&store, "w", 10, 10, false, &["k"]).await;
    let mut got = ids(&first);
    got.sort();
    assert_eq!(got, vec!["a1", "b1", "n1"]);
    assert!(claim_from(&store, "w", 10, 10, false, &["k"])
        .await
        .is_empty());
    assert_eq!(
        get(&store, "a2").await.waiting_for,
        Some(WaitingFor::Queue {
            queue: "k".into(),
            reason: QueueWaitReason::Key,
        })
    );
    let a1 = first.iter().find(|c| c.id == "a1").expect("a1 claimed");
    assert!(
        finish(
            &store,
            guard(a1, "w", 11),
            ExecutionOutcome::Completed(serde_json::json!(1))
        )
        .await
    );
    assert_eq!(
        ids(&claim_from(&store, "w", 12, 10, false, &["k"]).await),
        vec!["a2"]
    );
}

/// Keys take turns: a key that queued 20 first and one that queued 3 after it are
/// claimed one for one, and a key arriving later starts at the queue's clock, ahead
/// of the big key's backlog rather than behind it.
pub async fn queue_keys_are_served_round_robin(store: DynStore) {
    put_spec(&store, keyed("k", 100), 0).await;
    for i in 0..20 {
        insert_keyed(&store, &format!("big{i:02}"), "k", Some("big"), i).await;
    }
    for i in 0..3 {
        insert_keyed(&store, &format!("small{i}"), "k", Some("small"), 100 + i).await;
    }
    let mut order = Vec::new();
    for t in 0..6 {
        order.extend(ids(
            &claim_from(&store, "w", 1000 + t, 1, false, &["k"]).await
        ));
    }
    assert_eq!(
        order,
        vec!["big00", "small0", "big01", "small1", "big02", "small2"]
    );
    insert_keyed(&store, "late0", "k", Some("late"), 2000).await;
    insert_keyed(&store, "late1", "k", Some("late"), 2001).await;
    let mut next = Vec::new();
    for t in 0..4 {
        next.extend(ids(
            &claim_from(&store, "w", 3000 + t, 1, false, &["k"]).await
        ));
    }
    assert_eq!(next, vec!["late0", "big03", "late1", "big04"]);
}
