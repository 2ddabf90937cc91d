//! Many inserts, finishes and event offers at once, the writes a store may batch into
//! shared commits: each caller still gets its own answer, and each write's side
//! effects (the parent woken, the children cancelled, the waiter woken, the signal
//! sent) happen for every one of them.

use std::collections::HashSet;

use serde_json::json;
use tokio::task::JoinSet;
use zart_core::{
    EventOffer, EventTake, ExecutionOutcome, ExecutionStatus, InsertOutcome, NewExecution,
    OfferOutcome, Signal, WaitingFor,
};

use crate::events::consume;
use crate::support::*;

/// `k{n}`, the child of parent `p{n}`, due at `at(1)`.
fn child_of(parent: &str) -> NewExecution {
    NewExecution {
        parent_id: Some(parent.to_owned()),
        run_at: at(1),
        ..new_execution(&kid_of(parent))
    }
}

fn kid_of(parent: &str) -> String {
    format!("k{}", &parent[1..])
}

/// 100 concurrent inserts, a third of them of one id: each distinct id is created
/// once with one run, the shared id exactly once, and every caller of the shared id
/// is answered with the stored record.
pub async fn concurrent_inserts_with_duplicates_create_each_id_once(store: DynStore) {
    let mut inserts = JoinSet::new();
    for i in 0..100 {
        let id = if i % 3 == 0 {
            "dup".to_owned()
        } else {
            format!("e{i:03}")
        };
        let store = store.clone();
        inserts.spawn(async move {
            let outcome = store.execution_insert(new_execution(&id)).await;
            (id, outcome)
        });
    }
    let mut created = HashSet::new();
    let mut dups = Vec::new();
    while let Some(joined) = inserts.join_next().await {
        let (id, outcome) = joined.expect("insert task");
        let outcome = outcome.expect("insert");
        if id == "dup" {
            dups.push(outcome);
        } else {
            let new = matches!(outcome, InsertOutcome::Created(_));
            assert!(new, "{id}: {outcome:?}");
            assert!(created.insert(id));
        }
    }
    assert_eq!(created.len(), 66);
    assert_eq!(dups.len(), 34);
    let first = dups
        .iter()
        .filter(|o| matches!(o, InsertOutcome::Created(_)))
        .count();
    assert_eq!(first, 1, "dup created {first} times: {dups:?}");
    let stored = get(&store, "dup").await;
    for outcome in &dups {
        assert!(!matches!(outcome, InsertOutcome::Deduplicated(_)));
        assert_eq!(outcome.execution(), &stored);
    }
    for id in &created {
        assert_eq!(get(&store, id).await.payload, json!({ "id": id }));
        let runs = store.run_list(id).await.expect("runs").expect("exists");
        assert_eq!(runs.len(), 1, "{id}");
    }
}

/// Sixty concurrent finishes, every fifth under a stale fence: each stale one is
/// refused alone (its execution stays running), each other is durable and signalled.
pub async fn concurrent_finishes_are_durable_signalled_and_guarded_one_by_one(store: DynStore) {
    let claimed = insert_and_claim(&store, "e", 60, "w").await;
    assert_eq!(claimed.len(), 60);
    let mut sub = store.subscribe();
    let mut finishes = JoinSet::new();
    for (i, c) in claimed.iter().enumerate() {
        let store = store.clone();
        let mut g = guard(c, "w", 5);
        let stale = i % 5 == 0;
        if stale {
            g.fence += 1;
        }
        let outcome = ExecutionOutcome::Completed(json!(i));
        let id = c.id.clone();
        finishes.spawn(async move { (id, stale, finish(&store, g, outcome).await) });
    }
    let mut finished = HashSet::new();
    while let Some(joined) = finishes.join_next().await {
        let (id, stale, applied) = joined.expect("finish task");
        assert_eq!(applied, !stale, "{id}");
        let status = get(&store, &id).await.status;
        if stale {
            assert_eq!(status, ExecutionStatus::Running, "{id}");
        } else {
            assert_eq!(status, ExecutionStatus::Completed, "{id}");
            finished.insert(id);
        }
    }
    assert_eq!(finished.len(), 48);
    let all_signalled = async {
        while !finished.is_empty() {
            match sub.recv().await {
                Some(Signal::Finished {
                    execution_id,
                    status,
                }) => {
                    assert_eq!(status, ExecutionStatus::Completed, "{execution_id}");
                    finished.remove(&execution_id);
                }
                Some(Signal::Lagged) => panic!("subscriber lagged"),
                Some(_) => {}
                None => panic!("subscription closed"),
            }
        }
    };
    tokio::time::timeout(SIGNAL_TIMEOUT, all_signalled)
        .await
        .expect("every finish is signalled");
}

/// Twenty children finishing at once, each parent parked on its child: every parent
/// is due again.
pub async fn children_finished_together_wake_every_parked_parent(store: DynStore) {
    let parents = insert_and_claim(&store, "p", 20, "w").await;
    for p in &parents {
        insert_new(&store, child_of(&p.id)).await;
        let wait = WaitingFor::Child {
            execution_id: kid_of(&p.id),
        };
        assert!(suspend(&store, guard(p, "w", 1), None, wait).await);
    }
    let kids = claim(&store, "w", 2, 20).await;
    assert_eq!(kids.len(), 20);
    assert!(kids.iter().all(|k| k.id.starts_with('k')));
    let mut finishes = JoinSet::new();
    for k in &kids {
        let store = store.clone();
        let g = guard(k, "w", 3);
        let done = ExecutionOutcome::Completed(json!("done"));
        finishes.spawn(async move { finish(&store, g, done).await });
    }
    while let Some(joined) = finishes.join_next().await {
        assert!(joined.expect("finish task"));
    }
    let want: Vec<String> = (0..20).map(|i| format!("p{i:02}")).collect();
    assert_eq!(claim_ids(&store, "w", 10).await, want);
}

/// Offers at once to thirty parked waiters, nine leased executions, a finished one
/// and an unknown id, while one waiter gets three offers in a row: each caller gets
/// its own answer, every parked waiter is due again, the leased ones are left alone,
/// and the three events are consumed in the order they were offered.
pub async fn concurrent_offers_wake_the_parked_and_keep_order(store: DynStore) {
    let claimed = insert_and_claim(&store, "e", 40, "w").await;
    assert_eq!(claimed.len(), 40);
    // e00..e29 park on "go"; e30..e38 stay leased; e39 finishes.
    for c in &claimed {
        let n: usize = c.id[1..].parse().unwrap();
        let g = guard(c, "w", 1);
        if n < 30 {
            let wait = WaitingFor::Event {
                name: "go".into(),
                deadline: None,
            };
            assert!(suspend(&store, g, None, wait).await);
        } else if n == 39 {
            assert!(finish(&store, g, ExecutionOutcome::Completed(json!(1))).await);
        }
    }
    let mut offers = JoinSet::new();
    offers.spawn({
        let store = store.clone();
        async move {
            for k in 0..3 {
                offer_and_check(store.clone(), "e00".into(), k).await;
            }
        }
    });
    for i in 1..41 {
        offers.spawn(offer_and_check(store.clone(), format!("e{i:02}"), 0));
    }
    while let Some(joined) = offers.join_next().await {
        joined.expect("offer task");
    }
    let want: Vec<String> = (0..30).map(|i| format!("e{i:02}")).collect();
    assert_eq!(claim_ids(&store, "w2", 10).await, want);
    let later = 2 * LEASE_MS;
    let e00 = claim(&store, "w3", later, 100)
        .await
        .into_iter()
        .find(|c| c.id == "e00")
        .expect("e00 claimable after its lease expired");
    for occurrence in 0..3 {
        let taken = consume(&store, guard(&e00, "w3", later + 1), "go", occurrence).await;
        assert_eq!(taken, EventTake::Taken(json!(occurrence)));
    }
}

/// Offers event `go` with payload `k` to `id` and checks the answer for the setup of
/// [`concurrent_offers_wake_the_parked_and_keep_order`].
async fn offer_and_check(store: DynStore, id: String, k: usize) {
    let params = EventOffer::new(id.clone(), "go", json!(k), at(5));
    let outcome = store.event_offer(params).await.expect("offer");
    match id.as_str() {
        "e39" => assert_eq!(outcome, OfferOutcome::Terminal(ExecutionStatus::Completed)),
        "e40" => assert_eq!(outcome, OfferOutcome::NotFound),
        _ => assert!(
            matches!(
                outcome,
                OfferOutcome::Accepted {
                    duplicate: false,
                    ..
                }
            ),
            "{id}: {outcome:?}"
        ),
    }
}

/// Forty parents finishing at once, every other one with an unfinished child: each
/// parent completes, each such child is cancelled with its parent, nothing is left due.
pub async fn parents_finished_together_cancel_their_unfinished_children(store: DynStore) {
    let parents = insert_and_claim(&store, "p", 40, "w").await;
    for p in parents.iter().step_by(2) {
        insert_new(&store, child_of(&p.id)).await;
    }
    let mut finishes = JoinSet::new();
    for p in &parents {
        let store = store.clone();
        let g = guard(p, "w", 3);
        let done = ExecutionOutcome::Completed(json!("done"));
        finishes.spawn(async move { finish(&store, g, done).await });
    }
    while let Some(joined) = finishes.join_next().await {
        assert!(joined.expect("finish task"));
    }
    for (i, p) in parents.iter().enumerate() {
        assert_eq!(get(&store, &p.id).await.status, ExecutionStatus::Completed);
        if i % 2 == 0 {
            let kid = kid_of(&p.id);
            assert_eq!(
                get(&store, &kid).await.status,
                ExecutionStatus::Cancelled,
                "{kid}"
            );
        }
    }
    assert!(claim_ids(&store, "w", 10).await.is_empty());
}
