//! Wake-ups racing suspensions, and cancels racing finishes, on real concurrent
//! connections: whichever side commits first, nothing is lost and nothing fails.

mod common;

use std::sync::Arc;

use common::{fresh_named_store, fresh_store};
use serde_json::json;
use zart_core::{
    CancelOutcome, EventOffer, ExecutionOutcome, ExecutionStatus, NewExecution, OfferOutcome,
    WaitingFor,
};
use zart_postgres::PgOptions;
use zart_store_tests::events::{consume, offer};
use zart_store_tests::support::{
    at, claim_ids, claim_one, finish, get, guard, insert, insert_new, new_execution, suspend,
    DynStore,
};

const ROUNDS: usize = 40;

async fn store(tag: &str) -> Option<(DynStore, common::DropSchema)> {
    let (store, drop) = fresh_store(tag, PgOptions::default().max_connections(8)).await?;
    Some((Arc::new(store), drop))
}

fn child_of(parent: &str, id: &str) -> NewExecution {
    NewExecution {
        parent_id: Some(parent.into()),
        ..new_execution(id)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn event_offered_while_suspending_is_never_missed() {
    let Some((store, _drop)) = store("race_ev").await else {
        return;
    };
    for round in 0..ROUNDS {
        let id = format!("e{round}");
        insert(&store, &id).await;
        let c = claim_one(&store, "w", 0, &id).await;
        let offer = EventOffer::new(id.clone(), "go", json!(round), at(1));
        let offering = tokio::spawn({
            let store = store.clone();
            async move { store.event_offer(offer).await }
        });
        let wait = WaitingFor::Event {
            name: "go".into(),
            deadline: None,
        };
        assert!(suspend(&store, guard(&c, "w", 1), None, wait).await);
        let offered = offering.await.expect("offer task").expect("offer");
        assert!(
            matches!(
                offered,
                OfferOutcome::Accepted {
                    duplicate: false,
                    ..
                }
            ),
            "{offered:?}"
        );
        assert_eq!(claim_ids(&store, "w", 2).await, vec![id], "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn child_finishing_while_parent_suspends_is_never_missed() {
    let Some((store, _drop)) = store("race_child").await else {
        return;
    };
    for round in 0..ROUNDS {
        let (parent, kid) = (format!("p{round}"), format!("k{round}"));
        insert(&store, &parent).await;
        let p = claim_one(&store, "wp", 0, &parent).await;
        insert_new(&store, child_of(&parent, &kid)).await;
        let k = claim_one(&store, "wk", 0, &kid).await;
        let finishing = tokio::spawn({
            let store = store.clone();
            let g = guard(&k, "wk", 1);
            async move { finish(&store, g, ExecutionOutcome::Completed(json!("ok"))).await }
        });
        let wait = WaitingFor::Child {
            execution_id: kid.clone(),
        };
        assert!(suspend(&store, guard(&p, "wp", 1), None, wait).await);
        assert!(finishing.await.expect("finish task"));
        assert_eq!(
            claim_ids(&store, "w", 2).await,
            vec![parent],
            "round {round}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_racing_children_finishing_completes_consistently() {
    let Some((store, _drop)) = store("race_cancel").await else {
        return;
    };
    for round in 0..10 {
        let parent = format!("p{round}");
        insert(&store, &parent).await;
        let p = claim_one(&store, "wp", 0, &parent).await;
        let kids: Vec<String> = (0..5).map(|k| format!("p{round}-k{k}")).collect();
        for kid in &kids {
            insert_new(&store, child_of(&parent, kid)).await;
        }
        let claimed = zart_store_tests::support::claim(&store, "wk", 0, 5).await;
        assert_eq!(claimed.len(), 5);
        let wait = WaitingFor::Child {
            execution_id: kids[0].clone(),
        };
        assert!(suspend(&store, guard(&p, "wp", 1), None, wait).await);

        let mut finishes = tokio::task::JoinSet::new();
        for k in claimed {
            let store = store.clone();
            finishes.spawn(async move {
                let done = ExecutionOutcome::Completed(json!("ok"));
                (k.id.clone(), finish(&store, guard(&k, "wk", 2), done).await)
            });
        }
        let cancelled = store
            .execution_cancel(&parent, at(2))
            .await
            .expect("cancel");
        let CancelOutcome::Cancelled(ids) = cancelled else {
            panic!("round {round}: expected Cancelled, got {cancelled:?}");
        };
        while let Some(joined) = finishes.join_next().await {
            let (kid, finished) = joined.expect("finish task");
            let status = get(&store, &kid).await.status;
            if finished {
                assert_eq!(status, ExecutionStatus::Completed, "{kid}");
                assert!(
                    !ids.contains(&kid),
                    "{kid} finished, then reported cancelled"
                );
            } else {
                assert_eq!(status, ExecutionStatus::Cancelled, "{kid}");
                assert!(ids.contains(&kid), "{kid} cancelled but not reported");
            }
        }
        assert_eq!(
            get(&store, &parent).await.status,
            ExecutionStatus::Cancelled
        );
    }
}

/// Issue 10: two waits on one name consuming at once, both queued behind the
/// execution row's lock (held here by a second connection) so both statements
/// start before either commits. The one that gets the lock second must not take
/// the event the first took from its older snapshot: each event goes to one wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consumes_queued_on_the_row_lock_take_different_events() {
    let Some((store, _drop)) = fresh_named_store("race_take", PgOptions::default()).await else {
        return;
    };
    let pool = store.pool().clone();
    let app = _drop.schema.clone();
    let store: DynStore = Arc::new(store);
    insert(&store, "e1").await;
    offer(&store, "e1", "approval", json!("first"), 1).await;
    offer(&store, "e1", "approval", json!("second"), 1).await;
    let c = claim_one(&store, "w", 2, "e1").await;
    let mut holder = pool.begin().await.expect("begin");
    let lock = format!("SELECT 1 FROM \"{app}\".executions WHERE id = 'e1' FOR UPDATE");
    sqlx::query(&lock)
        .execute(&mut *holder)
        .await
        .expect("lock row");
    let takes: Vec<_> = (0..2)
        .map(|occurrence| {
            let (store, g) = (store.clone(), guard(&c, "w", 3));
            tokio::spawn(async move { consume(&store, g, "approval", occurrence).await })
        })
        .collect();
    wait_for_lock_waiters(&pool, &app, 2).await;
    holder.rollback().await.expect("release row");
    let mut got = Vec::new();
    for take in takes {
        got.push(take.await.expect("consume task"));
    }
    got.sort_by_key(|t| format!("{t:?}"));
    let want = [json!("first"), json!("second")].map(zart_core::EventTake::Taken);
    assert_eq!(got, want, "each event is taken by exactly one wait");
}

/// Waits (bounded) until `n` backends of application `app` wait on a lock.
async fn wait_for_lock_waiters(pool: &sqlx::PgPool, app: &str, n: i64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE application_name = $1 AND wait_event_type = 'Lock'",
        )
        .bind(app)
        .fetch_one(pool)
        .await
        .expect("read pg_stat_activity");
        if waiting >= n {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{waiting} of {n} consumes queued"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
