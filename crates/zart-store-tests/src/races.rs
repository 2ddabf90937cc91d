//! Wake-ups racing suspensions, and a cancel racing finishes, run for real at the same
//! time: whichever side commits first, nothing is lost and nothing fails. Each race is
//! run for many rounds, so that both orders (and, on a store with several connections,
//! truly overlapping statements) occur.

use serde_json::json;
use tokio::task::JoinSet;
use zart_core::{
    CancelOutcome, EventOffer, ExecutionOutcome, ExecutionStatus, NewExecution, OfferOutcome,
    WaitingFor,
};

use crate::support::*;

/// How many times each wake-up race is run.
const ROUNDS: usize = 40;

fn child_of(parent: &str, id: &str) -> NewExecution {
    NewExecution {
        parent_id: Some(parent.into()),
        ..new_execution(id)
    }
}

/// An event offered while its waiter suspends on it is never missed: the waiter is
/// due again at once, whichever write commits first.
pub async fn event_offered_while_suspending_is_never_missed(store: DynStore) {
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

/// A child finishing while its parent suspends on it is never missed: the parent is
/// due again at once, whichever write commits first.
pub async fn child_finishing_while_parent_suspends_is_never_missed(store: DynStore) {
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

/// A parent cancelled while its five children finish: each child either finished
/// (completed, not reported cancelled) or was cancelled (and reported), never both.
pub async fn cancel_racing_children_finishing_completes_consistently(store: DynStore) {
    for round in 0..10 {
        let parent = format!("p{round}");
        insert(&store, &parent).await;
        let p = claim_one(&store, "wp", 0, &parent).await;
        let kids: Vec<String> = (0..5).map(|k| format!("p{round}-k{k}")).collect();
        for kid in &kids {
            insert_new(&store, child_of(&parent, kid)).await;
        }
        let claimed = claim(&store, "wk", 0, 5).await;
        assert_eq!(claimed.len(), 5);
        let wait = WaitingFor::Child {
            execution_id: kids[0].clone(),
        };
        assert!(suspend(&store, guard(&p, "wp", 1), None, wait).await);

        let mut finishes = JoinSet::new();
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
