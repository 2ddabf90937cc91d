//! The event inbox: offers are kept until consumed, FIFO per name, exactly once.

use serde_json::{json, Value};
use zart_core::{
    EventConsume, EventOffer, EventTake, ExecutionStatus, LeaseGuard, OfferOutcome, StepKind,
    StepStatus, StepWrite, WaitingFor,
};

use crate::support::*;

/// Offers `payload` as event `name` to `id` at `now`.
pub async fn offer(
    store: &DynStore,
    id: &str,
    name: &str,
    payload: Value,
    now: i64,
) -> OfferOutcome {
    offer_with(store, EventOffer::new(id, name, payload, at(now))).await
}

/// Makes the offer `params`.
pub async fn offer_with(store: &DynStore, params: EventOffer) -> OfferOutcome {
    store.event_offer(params).await.expect("event_offer")
}

/// Whether the offer stored a new event.
pub fn is_new(outcome: &OfferOutcome) -> bool {
    matches!(
        outcome,
        OfferOutcome::Accepted {
            duplicate: false,
            ..
        }
    )
}

fn wait_step(name: &str, occurrence: u32) -> StepWrite {
    let header = step_header(name, occurrence, occurrence, StepKind::WaitForEvent);
    StepWrite::completed(header, None, at(2))
}

/// Consumes the oldest `name` event, completing wait step `name#occurrence`.
pub async fn consume(
    store: &DynStore,
    guard: LeaseGuard,
    name: &str,
    occurrence: u32,
) -> EventTake {
    let params = EventConsume {
        guard,
        run_index: 1,
        name: name.into(),
        step: wait_step(name, occurrence),
    };
    store.event_consume(params).await.expect("event_consume")
}

/// An event offered before the execution reaches its wait is kept and consumed
/// later; the wait step is completed with the payload.
pub async fn event_offered_before_wait_is_kept(store: DynStore) {
    insert(&store, "e1").await;
    let outcome = offer(&store, "e1", "approve", json!({"by": "ann"}), 1).await;
    assert!(is_new(&outcome), "{outcome:?}");
    let c = claim_one(&store, "w", 5, "e1").await;
    let taken = consume(&store, guard(&c, "w", 6), "approve", 0).await;
    assert_eq!(taken, EventTake::Taken(json!({"by": "ann"})));
    let journal = store.journal_load("e1", 1).await.unwrap();
    assert_eq!(journal.len(), 1);
    assert_eq!(journal[0].kind, StepKind::WaitForEvent);
    assert_eq!(journal[0].status, StepStatus::Completed);
    assert_eq!(journal[0].result, Some(json!({"by": "ann"})));
}

/// Events of one name are consumed oldest first, each exactly once; names are
/// independent queues.
pub async fn events_are_consumed_fifo_per_name_exactly_once(store: DynStore) {
    insert(&store, "e1").await;
    for (i, name) in ["a", "a", "b", "a"].into_iter().enumerate() {
        offer(&store, "e1", name, json!(format!("{name}{i}")), 1).await;
    }
    let c = claim_one(&store, "w", 2, "e1").await;
    let g = || guard(&c, "w", 3);
    assert_eq!(
        consume(&store, g(), "a", 0).await,
        EventTake::Taken(json!("a0"))
    );
    assert_eq!(
        consume(&store, g(), "a", 1).await,
        EventTake::Taken(json!("a1"))
    );
    assert_eq!(
        consume(&store, g(), "a", 2).await,
        EventTake::Taken(json!("a3"))
    );
    assert_eq!(consume(&store, g(), "a", 3).await, EventTake::Empty);
    assert_eq!(
        consume(&store, g(), "b", 0).await,
        EventTake::Taken(json!("b2"))
    );
    assert_eq!(consume(&store, g(), "b", 1).await, EventTake::Empty);
}

/// No event: nothing is written.
pub async fn event_consume_empty_changes_nothing(store: DynStore) {
    insert(&store, "e1").await;
    let c = claim_one(&store, "w", 0, "e1").await;
    assert_eq!(
        consume(&store, guard(&c, "w", 1), "go", 0).await,
        EventTake::Empty
    );
    assert!(store.journal_load("e1", 1).await.unwrap().is_empty());
}

/// A consume under a lost lease takes nothing, and the event stays for the next
/// holder.
pub async fn event_consume_with_lost_lease_keeps_event(store: DynStore) {
    insert(&store, "e1").await;
    offer(&store, "e1", "go", json!(1), 0).await;
    let old = claim_one(&store, "w1", 0, "e1").await;
    let new = claim_one(&store, "w2", LEASE_MS, "e1").await;
    let lost = consume(&store, guard(&old, "w1", LEASE_MS + 1), "go", 0).await;
    assert_eq!(lost, EventTake::LeaseLost);
    assert!(store.journal_load("e1", 1).await.unwrap().is_empty());
    let taken = consume(&store, guard(&new, "w2", LEASE_MS + 2), "go", 0).await;
    assert_eq!(taken, EventTake::Taken(json!(1)));
}

/// Offering to an unknown execution stores nothing.
pub async fn event_offer_unknown_execution_is_not_found(store: DynStore) {
    let outcome = offer(&store, "nope", "go", json!(1), 0).await;
    assert_eq!(outcome, OfferOutcome::NotFound);
    assert_eq!(store.execution_get("nope").await.unwrap(), None);
}

/// Offering to a finished execution is refused with its status.
pub async fn event_offer_to_finished_execution_is_terminal(store: DynStore) {
    insert(&store, "done").await;
    run_to_completion(&store, "done", 0, json!(1)).await;
    let outcome = offer(&store, "done", "go", json!(1), 5).await;
    assert_eq!(outcome, OfferOutcome::Terminal(ExecutionStatus::Completed));
    insert(&store, "gone").await;
    store.execution_cancel("gone", at(1)).await.unwrap();
    let outcome = offer(&store, "gone", "go", json!(1), 5).await;
    assert_eq!(outcome, OfferOutcome::Terminal(ExecutionStatus::Cancelled));
}

/// An offer makes an execution parked on that name due at once; other names don't.
pub async fn event_offer_wakes_parked_waiter(store: DynStore) {
    insert(&store, "e1").await;
    let c = claim_one(&store, "w", 0, "e1").await;
    let wait = WaitingFor::Event {
        name: "go".into(),
        deadline: Some(at(60_000)),
    };
    assert!(suspend(&store, guard(&c, "w", 1), Some(at(60_000)), wait).await);
    offer(&store, "e1", "other", json!(0), 10).await;
    assert!(claim_ids(&store, "w", 10).await.is_empty());
    offer(&store, "e1", "go", json!(1), 20).await;
    let again = claim_one(&store, "w", 20, "e1").await;
    let taken = consume(&store, guard(&again, "w", 21), "go", 0).await;
    assert_eq!(taken, EventTake::Taken(json!(1)));
}

/// An offer to a running (leased) execution leaves its lease alone.
pub async fn event_offer_does_not_disturb_leased_execution(store: DynStore) {
    insert(&store, "e1").await;
    let c = claim_one(&store, "w", 0, "e1").await;
    offer(&store, "e1", "go", json!(1), 10).await;
    assert!(claim_ids(&store, "other", 10).await.is_empty());
    assert!(save_step(&store, guard(&c, "w", 11), completed_step("s", 0, 0)).await);
}

/// Many concurrent offers to one execution are all kept, each consumed once.
pub async fn concurrent_event_offers_are_all_kept(store: DynStore) {
    insert(&store, "e1").await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let store = store.clone();
        tasks.spawn(async move { offer(&store, "e1", "tick", json!(i), 1).await });
    }
    while let Some(joined) = tasks.join_next().await {
        let outcome = joined.expect("offer task");
        assert!(is_new(&outcome), "{outcome:?}");
    }
    let c = claim_one(&store, "w", 2, "e1").await;
    let mut seen = Vec::new();
    for occurrence in 0..50 {
        match consume(&store, guard(&c, "w", 3), "tick", occurrence).await {
            EventTake::Taken(v) => seen.push(v.as_i64().expect("number")),
            other => panic!("consume {occurrence}: {other:?}"),
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..50).collect::<Vec<i64>>());
    assert_eq!(
        consume(&store, guard(&c, "w", 3), "tick", 50).await,
        EventTake::Empty
    );
}

/// Two waits of one handler on the same name (`join!` of two `wait_for_event`,
/// occurrences 0 and 1) consuming at once with two events in the inbox: each
/// event is taken exactly once, by one wait each. Many executions at once, so the
/// consumes of one execution overlap.
pub async fn concurrent_consumes_take_each_event_once(store: DynStore) {
    const EXECUTIONS: usize = 30;
    for i in 0..EXECUTIONS {
        let id = format!("e{i:02}");
        insert(&store, &id).await;
        offer(&store, &id, "approval", json!(format!("{id}/first")), 1).await;
        offer(&store, &id, "approval", json!(format!("{id}/second")), 1).await;
    }
    let claimed = claim(&store, "w", 2, EXECUTIONS as u32).await;
    assert_eq!(claimed.len(), EXECUTIONS);
    let mut consumes = tokio::task::JoinSet::new();
    for c in &claimed {
        for occurrence in 0..2 {
            let (store, id, g) = (store.clone(), c.id.clone(), guard(c, "w", 3));
            consumes.spawn(async move { (id, consume(&store, g, "approval", occurrence).await) });
        }
    }
    let mut taken: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    while let Some(joined) = consumes.join_next().await {
        let (id, take) = joined.expect("consume task");
        let EventTake::Taken(Value::String(payload)) = take else {
            panic!("{id}: both waits find an event, got {take:?}");
        };
        taken.entry(id).or_default().push(payload);
    }
    for c in &claimed {
        let mut got = taken.remove(&c.id).unwrap_or_default();
        got.sort();
        let want = [format!("{}/first", c.id), format!("{}/second", c.id)];
        assert_eq!(got, want, "each event of {} is taken once", c.id);
        let g = guard(c, "w", 4);
        assert_eq!(consume(&store, g, "approval", 2).await, EventTake::Empty);
    }
}
