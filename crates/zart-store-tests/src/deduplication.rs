//! Deduplication: a start carrying the deduplication id of an unfinished execution
//! of its queue creates nothing and gets that execution back.

use serde_json::json;
use zart_core::{ClaimedExecution, InsertOutcome, NewExecution};

use crate::actions::{applied, restart};
use crate::support::*;

/// `id` on `queue` (`None`: the default queue) deduplicated by `dedup`.
fn deduplicated(id: &str, queue: Option<&str>, dedup: &str) -> NewExecution {
    NewExecution {
        queue: queue.map(Into::into),
        deduplication_id: Some(dedup.into()),
        payload: json!({ "id": id }),
        ..new_execution(id)
    }
}

async fn insert_outcome(store: &DynStore, new: NewExecution) -> InsertOutcome {
    let id = new.id.clone();
    store
        .execution_insert(new)
        .await
        .unwrap_or_else(|e| panic!("insert {id}: {e}"))
}

/// While the holder is scheduled or running, a start with its deduplication id on
/// the same queue gets it back, whatever its own id and payload, and nothing else
/// is written.
pub async fn dedup_returns_the_unfinished_holder(store: DynStore) {
    put_queues(&store, &["q"]).await;
    let first = insert_outcome(&store, deduplicated("a", Some("q"), "report")).await;
    let InsertOutcome::Created(holder) = first else {
        panic!("the first start must create: {first:?}");
    };
    let second = insert_outcome(&store, deduplicated("b", Some("q"), "report")).await;
    assert_eq!(second, InsertOutcome::Deduplicated(holder.clone()));
    assert!(store.execution_get("b").await.unwrap().is_none());
    // Running (claimed) still holds the id.
    let claimed = claim_from_queue(&store, "q", 10).await;
    assert_eq!(ids(&claimed), vec!["a".to_owned()]);
    let third = insert_outcome(&store, deduplicated("c", Some("q"), "report")).await;
    let InsertOutcome::Deduplicated(found) = third else {
        panic!("a running holder must deduplicate: {third:?}");
    };
    assert_eq!(found.id, "a");
    assert_eq!(found.payload, json!({ "id": "a" }));
    assert!(store.execution_get("c").await.unwrap().is_none());
    // The execution id stays the idempotency key: it is checked first.
    let replay = insert_outcome(&store, deduplicated("a", Some("q"), "other")).await;
    assert!(
        matches!(replay, InsertOutcome::Existing(ref e) if e.id == "a"),
        "{replay:?}"
    );
}

/// The id is scoped to the queue: the default queue and each named queue are
/// separate, and a start without a deduplication id is never deduplicated.
pub async fn dedup_is_scoped_to_the_queue(store: DynStore) {
    put_queues(&store, &["one", "two"]).await;
    for (id, queue) in [("d", None), ("q1", Some("one")), ("q2", Some("two"))] {
        let out = insert_outcome(&store, deduplicated(id, queue, "same")).await;
        assert!(matches!(out, InsertOutcome::Created(_)), "{id}: {out:?}");
    }
    let out = insert_outcome(&store, deduplicated("d2", None, "same")).await;
    assert!(
        matches!(out, InsertOutcome::Deduplicated(ref e) if e.id == "d"),
        "{out:?}"
    );
    let out = insert_outcome(&store, deduplicated("q1b", Some("one"), "same")).await;
    assert!(
        matches!(out, InsertOutcome::Deduplicated(ref e) if e.id == "q1"),
        "{out:?}"
    );
    let plain = NewExecution {
        queue: Some("one".into()),
        ..new_execution("plain")
    };
    assert!(matches!(
        insert_outcome(&store, plain).await,
        InsertOutcome::Created(_)
    ));
}

/// Once the holder has finished, the next start with the id creates a new execution,
/// which then holds it.
pub async fn dedup_ends_when_the_holder_finishes(store: DynStore) {
    put_queues(&store, &["q"]).await;
    insert_new(&store, deduplicated("first", Some("q"), "k")).await;
    run_on_queue(&store, "q", "first", 10).await;
    let out = insert_outcome(&store, deduplicated("second", Some("q"), "k")).await;
    assert!(matches!(out, InsertOutcome::Created(_)), "{out:?}");
    let out = insert_outcome(&store, deduplicated("third", Some("q"), "k")).await;
    assert!(
        matches!(out, InsertOutcome::Deduplicated(ref e) if e.id == "second"),
        "{out:?}"
    );
}

/// A new run of a finished execution gives up its deduplication id, so it never
/// collides with the execution that took the id since.
pub async fn dedup_new_run_of_a_finished_holder_gives_up_the_id(store: DynStore) {
    put_queues(&store, &["q"]).await;
    insert_new(&store, deduplicated("old", Some("q"), "k")).await;
    run_on_queue(&store, "q", "old", 10).await;
    insert_new(&store, deduplicated("new", Some("q"), "k")).await;
    applied(
        store
            .execution_restart(restart("old", "a1", 20))
            .await
            .unwrap(),
    );
    assert!(!get(&store, "old").await.status.is_terminal());
    let out = insert_outcome(&store, deduplicated("later", Some("q"), "k")).await;
    assert!(
        matches!(out, InsertOutcome::Deduplicated(ref e) if e.id == "new"),
        "{out:?}"
    );
}

/// Many concurrent starts with the same deduplication id (and distinct execution
/// ids) create exactly one execution; every other start gets that one back.
pub async fn dedup_concurrent_starts_create_once(store: DynStore) {
    put_queues(&store, &["q"]).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..24 {
        let store = store.clone();
        tasks.spawn(async move {
            store
                .execution_insert(deduplicated(&format!("s{i:02}"), Some("q"), "once"))
                .await
        });
    }
    let mut created = Vec::new();
    let mut returned = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("insert task").expect("insert") {
            InsertOutcome::Created(e) => created.push(e.id),
            InsertOutcome::Deduplicated(e) => returned.push(e.id),
            other => panic!("distinct ids cannot be replays: {other:?}"),
        }
    }
    assert_eq!(created.len(), 1, "created {created:?}");
    assert_eq!(returned.len(), 23);
    assert!(returned.iter().all(|id| id == &created[0]), "{returned:?}");
    let all = store
        .execution_list(zart_core::ExecutionQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
}

/// Declares the named queues `names`, without limits.
async fn put_queues(store: &DynStore, names: &[&str]) {
    for name in names {
        store
            .queue_put(zart_core::QueuePut {
                spec: zart_core::QueueSpec {
                    name: (*name).into(),
                    concurrency: None,
                    per_worker: None,
                    priority_aging_ms: None,
                    rate_limit: None,
                    key_concurrency: None,
                },
                now: at(0),
            })
            .await
            .unwrap_or_else(|e| panic!("queue_put: {e}"));
    }
}

/// Claims from named queue `queue` as `w` at `now`.
async fn claim_from_queue(store: &DynStore, queue: &str, now: i64) -> Vec<ClaimedExecution> {
    store
        .execution_claim(zart_core::ExecutionClaim {
            worker_id: "w".into(),
            now: at(now),
            lease_expires_at: at(now + LEASE_MS),
            limit: 10,
            default_queue: false,
            queues: vec![zart_core::QueueClaim {
                name: queue.into(),
                limit: 10,
            }],
        })
        .await
        .unwrap_or_else(|e| panic!("claim: {e}"))
}

/// Claims `id` alone from queue `queue` at `now` and completes it.
async fn run_on_queue(store: &DynStore, queue: &str, id: &str, now: i64) {
    let claimed = claim_from_queue(store, queue, now).await;
    assert_eq!(ids(&claimed), vec![id.to_owned()]);
    let done = finish(
        store,
        guard(&claimed[0], "w", now),
        zart_core::ExecutionOutcome::Completed(json!("done")),
    )
    .await;
    assert!(done, "finish of {id}");
}

fn ids(claimed: &[ClaimedExecution]) -> Vec<String> {
    claimed.iter().map(|c| c.id.clone()).collect()
}
