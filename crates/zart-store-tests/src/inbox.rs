//! Event keys and inbox limits: a keyed offer is stored once per execution, and an
//! execution's inbox holds at most the offer's `max_pending` unconsumed events. And
//! the inbox listing an operator reads.

use serde_json::json;
use zart_core::{EventListQuery, EventOffer, EventTake, ExecutionStatus, OfferOutcome};

use crate::events::{consume, offer, offer_with};
use crate::support::*;

/// An offer of `name` to `id` at `now` with idempotency `key` and inbox `limit`.
fn keyed(id: &str, name: &str, key: Option<&str>, limit: Option<u32>) -> EventOffer {
    EventOffer {
        idempotency_key: key.map(str::to_owned),
        max_pending: limit,
        ..EventOffer::new(id, name, json!({ "key": key }), at(1))
    }
}

fn sequence(outcome: &OfferOutcome, duplicate: bool) -> i64 {
    match outcome {
        OfferOutcome::Accepted {
            sequence,
            duplicate: d,
        } if *d == duplicate => *sequence,
        other => panic!("expected Accepted with duplicate {duplicate}, got {other:?}"),
    }
}

/// Each stored event gets a larger sequence number than the one before.
pub async fn event_offer_returns_increasing_sequences(store: DynStore) {
    insert(&store, "e1").await;
    let first = sequence(&offer(&store, "e1", "a", json!(1), 1).await, false);
    let second = sequence(&offer(&store, "e1", "b", json!(2), 1).await, false);
    assert!(second > first, "{second} after {first}");
}

/// An offer repeating a stored key stores nothing and answers the first event's
/// sequence; the event is consumed once. Keys are per execution.
pub async fn event_offer_with_same_key_is_stored_once(store: DynStore) {
    insert(&store, "e1").await;
    insert(&store, "e2").await;
    let first = offer_with(&store, keyed("e1", "go", Some("k1"), None)).await;
    let first = sequence(&first, false);
    let again = offer_with(&store, keyed("e1", "go", Some("k1"), None)).await;
    assert_eq!(sequence(&again, true), first);
    let elsewhere = offer_with(&store, keyed("e2", "go", Some("k1"), None)).await;
    sequence(&elsewhere, false);
    let c = claim_one(&store, "w", 2, "e1").await;
    let taken = consume(&store, guard(&c, "w", 3), "go", 0).await;
    assert_eq!(taken, EventTake::Taken(json!({ "key": "k1" })));
    assert_eq!(
        consume(&store, guard(&c, "w", 3), "go", 1).await,
        EventTake::Empty
    );
    // Consumed or not, the key stays taken.
    let late = offer_with(&store, keyed("e1", "go", Some("k1"), None)).await;
    assert_eq!(sequence(&late, true), first);
}

/// A retry of a stored offer after the execution finished is still a duplicate (it
/// was delivered); a new key to it is refused as terminal.
pub async fn event_offer_key_stored_before_finish_stays_duplicate(store: DynStore) {
    insert(&store, "e1").await;
    let first = offer_with(&store, keyed("e1", "go", Some("k1"), None)).await;
    let first = sequence(&first, false);
    run_to_completion(&store, "e1", 2, json!(null)).await;
    let again = offer_with(&store, keyed("e1", "go", Some("k1"), None)).await;
    assert_eq!(sequence(&again, true), first);
    let other = offer_with(&store, keyed("e1", "go", Some("k2"), None)).await;
    assert_eq!(other, OfferOutcome::Terminal(ExecutionStatus::Completed));
}

/// Concurrent offers with one key store one event: one answer is new, the others
/// are duplicates with its sequence.
pub async fn concurrent_keyed_offers_store_one(store: DynStore) {
    insert(&store, "e1").await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let store = store.clone();
        tasks.spawn(async move { offer_with(&store, keyed("e1", "go", Some("k"), None)).await });
    }
    let mut outcomes = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        outcomes.push(joined.expect("offer task"));
    }
    let new: Vec<i64> = outcomes.iter().filter_map(fresh).collect();
    assert_eq!(new.len(), 1, "{outcomes:?}");
    for o in &outcomes {
        assert!(matches!(o, OfferOutcome::Accepted { sequence, .. } if *sequence == new[0]));
    }
    let c = claim_one(&store, "w", 2, "e1").await;
    assert!(matches!(
        consume(&store, guard(&c, "w", 3), "go", 0).await,
        EventTake::Taken(_)
    ));
    assert_eq!(
        consume(&store, guard(&c, "w", 3), "go", 1).await,
        EventTake::Empty
    );
}

fn fresh(outcome: &OfferOutcome) -> Option<i64> {
    match outcome {
        OfferOutcome::Accepted {
            sequence,
            duplicate: false,
        } => Some(*sequence),
        _ => None,
    }
}

/// With `max_pending` unconsumed events held, an offer stores nothing and reports
/// the limit; consuming one makes room. A duplicate is answered even when full.
pub async fn event_offer_past_inbox_limit_is_refused(store: DynStore) {
    insert(&store, "e1").await;
    for key in ["a", "b"] {
        sequence(
            &offer_with(&store, keyed("e1", "go", Some(key), Some(2))).await,
            false,
        );
    }
    let full = offer_with(&store, keyed("e1", "go", Some("c"), Some(2))).await;
    assert_eq!(full, OfferOutcome::InboxFull { max_pending: 2 });
    let dup = offer_with(&store, keyed("e1", "go", Some("a"), Some(2))).await;
    sequence(&dup, true);
    let c = claim_one(&store, "w", 2, "e1").await;
    let taken = consume(&store, guard(&c, "w", 3), "go", 0).await;
    assert_eq!(taken, EventTake::Taken(json!({ "key": "a" })));
    let room = offer_with(&store, keyed("e1", "go", Some("c"), Some(2))).await;
    sequence(&room, false);
    let unlimited = offer_with(&store, keyed("e1", "go", None, None)).await;
    sequence(&unlimited, false);
    let taken = consume(&store, guard(&c, "w", 4), "go", 1).await;
    assert_eq!(taken, EventTake::Taken(json!({ "key": "b" })));
}

fn page(id: &str, before_sequence: Option<i64>, limit: u32) -> EventListQuery {
    EventListQuery {
        execution_id: id.to_owned(),
        before_sequence,
        limit,
    }
}

/// The inbox lists pending and consumed events newest first, with the consuming
/// step, received time and key; pages continue below a sequence; another
/// execution's events are not listed; an unknown execution is `None` and one
/// without events an empty page.
pub async fn event_list_pages_newest_first_with_consumption(store: DynStore) {
    insert(&store, "e1").await;
    insert(&store, "e2").await;
    assert_eq!(
        store.event_list(page("nope", None, 10)).await.unwrap(),
        None
    );
    assert_eq!(
        store.event_list(page("e1", None, 10)).await.unwrap(),
        Some(vec![])
    );
    let first = sequence(
        &offer_with(&store, keyed("e1", "go", Some("k1"), None)).await,
        false,
    );
    let second = sequence(&offer(&store, "e1", "go", json!(2), 1).await, false);
    let third = sequence(&offer(&store, "e1", "other", json!(3), 1).await, false);
    offer(&store, "e2", "go", json!(9), 1).await;
    let c = claim_one(&store, "w", 2, "e1").await;
    let taken = consume(&store, guard(&c, "w", 3), "go", 0).await;
    assert_eq!(taken, EventTake::Taken(json!({ "key": "k1" })));

    let all = store
        .event_list(page("e1", None, 10))
        .await
        .unwrap()
        .unwrap();
    let seqs: Vec<i64> = all.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, vec![third, second, first]);
    let oldest = &all[2];
    assert_eq!(oldest.name, "go");
    assert_eq!(oldest.payload, json!({ "key": "k1" }));
    assert_eq!(oldest.received_at, at(1));
    assert_eq!(oldest.consumed_at, Some(at(3)));
    assert_eq!(oldest.consumed_by.as_deref(), Some("go#0"));
    assert_eq!(oldest.idempotency_key.as_deref(), Some("k1"));
    assert_eq!(all[0].name, "other");
    assert_eq!(all[0].payload, json!(3));
    assert_eq!(all[0].consumed_at, None);
    assert_eq!(all[0].consumed_by, None);
    assert_eq!(all[0].idempotency_key, None);

    let head = store
        .event_list(page("e1", None, 2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        head.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        vec![third, second]
    );
    let rest = store
        .event_list(page("e1", Some(second), 2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        rest.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        vec![first]
    );
    // A zero limit is clamped to one, never "everything".
    let one = store
        .event_list(page("e1", None, 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(one.len(), 1);
}
