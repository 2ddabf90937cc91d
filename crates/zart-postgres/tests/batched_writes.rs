//! Group commit of execution inserts and finishes: concurrent calls share commits,
//! each caller still gets its own answer, and the race properties of the single
//! statements hold.

mod common;

use std::collections::HashSet;

use common::{batching_store, insert_and_claim};
use serde_json::json;
use tokio::task::JoinSet;
use zart_core::{
    ExecutionOutcome, ExecutionStatus, InsertOutcome, OfferOutcome, Signal, WaitingFor,
};
use zart_postgres::PgStore;
use zart_store_tests::support::{
    at, claim, claim_ids, finish, get, guard, insert_new, new_execution, suspend, DynStore,
};

fn group_commit(pg: &PgStore) -> zart_postgres::GroupCommitStats {
    pg.group_commit_stats().expect("group commit is on")
}

/// Whether `ops` writes took fewer than `ops` commits: some batch formed.
fn batched(batches: u64, ops: u64) -> bool {
    batches < ops
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_inserts_share_commits_and_create_each_id_once() {
    let Some((pg, _drop)) = batching_store("gb_insert").await else {
        return;
    };
    let store: DynStore = pg.clone();
    let mut inserts = JoinSet::new();
    for i in 0..100 {
        // Every third call inserts the same id "dup"; the others are distinct.
        let id = if i % 3 == 0 {
            "dup".to_owned()
        } else {
            format!("e{i:03}")
        };
        let store = store.clone();
        inserts
            .spawn(async move { (id.clone(), store.execution_insert(new_execution(&id)).await) });
    }
    let mut created = HashSet::new();
    let mut dups = Vec::new();
    while let Some(joined) = inserts.join_next().await {
        let (id, outcome) = joined.expect("insert task");
        let outcome = outcome.expect("insert");
        if id == "dup" {
            dups.push(outcome);
        } else {
            assert!(
                matches!(outcome, InsertOutcome::Created(_)),
                "{id}: {outcome:?}"
            );
            assert!(created.insert(id));
        }
    }
    assert_eq!(created.len(), 66);
    let record = |o: &InsertOutcome| match o {
        InsertOutcome::Created(r) | InsertOutcome::Existing(r) => r.clone(),
    };
    let first = dups
        .iter()
        .filter(|o| matches!(o, InsertOutcome::Created(_)))
        .count();
    assert_eq!(first, 1, "dup created {first} times: {dups:?}");
    assert_eq!(dups.len(), 34);
    let stored = get(&store, "dup").await;
    for outcome in &dups {
        assert_eq!(record(outcome), stored);
    }
    for id in &created {
        assert_eq!(get(&store, id).await.payload, json!({ "id": id }));
        let runs = store.run_list(id).await.expect("runs").expect("exists");
        assert_eq!(runs.len(), 1, "{id}");
    }
    let stats = group_commit(&pg);
    assert_eq!(
        (stats.inserts, batched(stats.insert_batches, stats.inserts)),
        (100, true),
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_finishes_are_durable_signalled_and_guarded_one_by_one() {
    let Some((pg, _drop)) = batching_store("gb_finish").await else {
        return;
    };
    let store: DynStore = pg.clone();
    let claimed = insert_and_claim(&store, "e", 60, "w").await;
    assert_eq!(claimed.len(), 60);
    let mut sub = store.subscribe();
    let mut finishes = JoinSet::new();
    for (i, c) in claimed.iter().enumerate() {
        let store = store.clone();
        let mut g = guard(c, "w", 5);
        // Every fifth guard is stale: it must fail alone.
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
    let mut unseen = finished.clone();
    let all_signalled = async {
        while !unseen.is_empty() {
            match sub.recv().await {
                Some(Signal::Finished {
                    execution_id,
                    status,
                }) => {
                    assert_eq!(status, ExecutionStatus::Completed, "{execution_id}");
                    unseen.remove(&execution_id);
                }
                Some(Signal::Lagged) => panic!("subscriber lagged"),
                Some(_) => {}
                None => panic!("subscription closed"),
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), all_signalled)
        .await
        .expect("every finish is signalled");
    let stats = group_commit(&pg);
    assert_eq!(
        (
            stats.finishes,
            batched(stats.finish_batches, stats.finishes)
        ),
        (60, true),
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn children_finished_together_wake_every_parked_parent() {
    let Some((pg, _drop)) = batching_store("gb_parents").await else {
        return;
    };
    let store: DynStore = pg.clone();
    let parents = insert_and_claim(&store, "p", 20, "w").await;
    for p in &parents {
        let kid = zart_core::NewExecution {
            parent_id: Some(p.id.clone()),
            run_at: at(1),
            ..new_execution(&format!("k{}", &p.id[1..]))
        };
        insert_new(&store, kid).await;
        let wait = WaitingFor::Child {
            execution_id: format!("k{}", &p.id[1..]),
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
        finishes.spawn(async move {
            finish(&store, g, ExecutionOutcome::Completed(json!("done"))).await
        });
    }
    while let Some(joined) = finishes.join_next().await {
        assert!(joined.expect("finish task"));
    }
    let mut woken = claim_ids(&store, "w", 10).await;
    woken.sort();
    let want: Vec<String> = (0..20).map(|i| format!("p{i:02}")).collect();
    assert_eq!(woken, want);
    assert_eq!(group_commit(&pg).finishes, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_offers_share_commits_wake_the_parked_and_keep_order() {
    let Some((pg, _drop)) = batching_store("gb_offers").await else {
        return;
    };
    let store: DynStore = pg.clone();
    let claimed = insert_and_claim(&store, "e", 40, "w").await;
    assert_eq!(claimed.len(), 40);
    // e00..e29 park on "go"; e30..e38 stay leased; e39 finishes.
    for c in &claimed {
        let n: usize = c.id[1..].parse().unwrap();
        if n < 30 {
            let wait = WaitingFor::Event {
                name: "go".into(),
                deadline: None,
            };
            assert!(suspend(&store, guard(c, "w", 1), None, wait).await);
        } else if n == 39 {
            assert!(
                finish(
                    &store,
                    guard(c, "w", 1),
                    ExecutionOutcome::Completed(json!(1))
                )
                .await
            );
        }
    }
    let offer = |store: DynStore, id: String, k: usize| async move {
        let params = zart_core::EventOffer::new(id.clone(), "go", json!(k), at(5));
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
    };
    let mut offers = JoinSet::new();
    // e00 gets three offers, one after another, which must keep their order; the
    // others (e40 does not exist) are offered all at once alongside.
    offers.spawn({
        let store = store.clone();
        async move {
            for k in 0..3 {
                offer(store.clone(), "e00".into(), k).await;
            }
        }
    });
    for i in 1..41 {
        offers.spawn(offer(store.clone(), format!("e{i:02}"), 0));
    }
    while let Some(joined) = offers.join_next().await {
        joined.expect("offer task");
    }
    // Every parked execution is due again; the leased ones were left alone.
    let mut woken = claim_ids(&store, "w2", 10).await;
    woken.sort();
    let want: Vec<String> = (0..30).map(|i| format!("e{i:02}")).collect();
    assert_eq!(woken, want);
    // e00's events are consumed in the order they were offered.
    let e00 = claim(&store, "w3", 2 * zart_store_tests::support::LEASE_MS, 100)
        .await
        .into_iter()
        .find(|c| c.id == "e00")
        .expect("e00 claimable after its lease expired");
    for (occurrence, want) in (0..3).enumerate() {
        let now = 2 * zart_store_tests::support::LEASE_MS + 1;
        let taken = zart_store_tests::events::consume(
            &store,
            guard(&e00, "w3", now),
            "go",
            occurrence as u32,
        )
        .await;
        assert_eq!(taken, zart_core::EventTake::Taken(json!(want)));
    }
    let stats = group_commit(&pg);
    assert_eq!(
        (stats.offers, batched(stats.offer_batches, stats.offers)),
        (43, true),
        "{stats:?}"
    );
}

/// Parents finishing together, half of them with an unfinished child: each parent
/// completes, each child is cancelled with its parent, the others are untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parents_finished_together_cancel_their_unfinished_children() {
    let Some((pg, _drop)) = batching_store("gb_parent_close").await else {
        return;
    };
    let store: DynStore = pg.clone();
    let parents = insert_and_claim(&store, "p", 40, "w").await;
    for p in parents.iter().step_by(2) {
        let kid = zart_core::NewExecution {
            parent_id: Some(p.id.clone()),
            run_at: at(1),
            ..new_execution(&format!("k{}", &p.id[1..]))
        };
        insert_new(&store, kid).await;
    }
    let mut finishes = JoinSet::new();
    for p in &parents {
        let store = store.clone();
        let g = guard(p, "w", 3);
        finishes.spawn(async move {
            finish(&store, g, ExecutionOutcome::Completed(json!("done"))).await
        });
    }
    while let Some(joined) = finishes.join_next().await {
        assert!(joined.expect("finish task"));
    }
    for (i, p) in parents.iter().enumerate() {
        assert_eq!(get(&store, &p.id).await.status, ExecutionStatus::Completed);
        if i % 2 == 0 {
            let kid = get(&store, &format!("k{}", &p.id[1..])).await;
            assert_eq!(kid.status, ExecutionStatus::Cancelled, "{}", kid.id);
        }
    }
    assert!(claim_ids(&store, "w", 10).await.is_empty());
    assert_eq!(group_commit(&pg).finishes, 40);
}
