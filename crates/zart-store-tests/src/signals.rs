//! Wake-up hints: `Work` after something became runnable, `Finished` after a
//! terminal commit. Each test subscribes right before the action it checks, so a
//! hint left over from setup cannot satisfy it.

use serde_json::json;
use zart_core::{
    ChildSpawn, EventOffer, ExecutionOutcome, ExecutionStatus, NewExecution, Signal, StepKind,
    StepWrite, WaitingFor,
};

use crate::support::*;

fn is_work(s: &Signal) -> bool {
    matches!(s, Signal::Work)
}

fn finished(id: &'static str, status: ExecutionStatus) -> impl Fn(&Signal) -> bool {
    move |s| {
        matches!(s, Signal::Finished { execution_id, status: got }
            if execution_id == id && *got == status)
    }
}

/// Insert signals `Work`; finish signals `Finished` with the terminal status.
pub async fn signals_work_on_insert_and_finished_on_finish(store: DynStore) {
    let mut sub = store.subscribe();
    insert(&store, "e1").await;
    expect_signal(&mut sub, is_work).await;
    let c = claim_one(&store, "w", 0, "e1").await;
    let mut sub = store.subscribe();
    assert!(
        finish(
            &store,
            guard(&c, "w", 1),
            ExecutionOutcome::Completed(json!(1))
        )
        .await
    );
    expect_signal(&mut sub, finished("e1", ExecutionStatus::Completed)).await;
}

/// Release signals `Work`.
pub async fn signals_work_on_release(store: DynStore) {
    insert(&store, "e1").await;
    let c = claim_one(&store, "w", 0, "e1").await;
    let mut sub = store.subscribe();
    assert!(store.execution_release(guard(&c, "w", 1)).await.unwrap());
    expect_signal(&mut sub, is_work).await;
}

/// An offer that wakes a parked waiter signals `Work`.
pub async fn signals_work_when_event_wakes_waiter(store: DynStore) {
    insert(&store, "e1").await;
    let c = claim_one(&store, "w", 0, "e1").await;
    let wait = WaitingFor::Event {
        name: "go".into(),
        deadline: None,
    };
    assert!(suspend(&store, guard(&c, "w", 1), None, wait).await);
    let mut sub = store.subscribe();
    let offer = EventOffer::new("e1", "go", json!(1), at(2));
    store.event_offer(offer).await.unwrap();
    expect_signal(&mut sub, is_work).await;
}

/// A spawn signals `Work` (the child is runnable); the child's finish signals
/// `Finished` and `Work` (its parent was woken).
pub async fn signals_work_on_child_spawn_and_child_finish(store: DynStore) {
    insert(&store, "p").await;
    let p = claim_one(&store, "w", 0, "p").await;
    let mut sub = store.subscribe();
    let spawn = ChildSpawn {
        guard: guard(&p, "w", 1),
        run_index: 1,
        step: StepWrite::completed(
            step_header("spawn", 0, 0, StepKind::Spawn),
            Some(json!("kid")),
            at(2),
        ),
        child: NewExecution {
            parent_id: Some("p".into()),
            now: at(1),
            run_at: at(1),
            ..new_execution("kid")
        },
        parent_close: Default::default(),
    };
    let spawned = store.child_spawn(spawn).await.unwrap();
    assert_eq!(spawned, zart_core::SpawnOutcome::Spawned);
    expect_signal(&mut sub, is_work).await;
    let wait = WaitingFor::Child {
        execution_id: "kid".into(),
    };
    assert!(suspend(&store, guard(&p, "w", 2), None, wait).await);
    let mut sub_finished = store.subscribe();
    let mut sub_work = store.subscribe();
    run_to_completion(&store, "kid", 3, json!("ok")).await;
    expect_signal(
        &mut sub_finished,
        finished("kid", ExecutionStatus::Completed),
    )
    .await;
    expect_signal(&mut sub_work, is_work).await;
    assert_eq!(claim_ids(&store, "w", 3).await, vec!["p"]);
}

/// Cancel signals `Finished` once per cancelled execution.
pub async fn signals_finished_for_each_cancelled_execution(store: DynStore) {
    insert(&store, "p").await;
    let child = NewExecution {
        parent_id: Some("p".into()),
        ..new_execution("kid")
    };
    insert_new(&store, child).await;
    let mut sub_p = store.subscribe();
    let mut sub_kid = store.subscribe();
    store.execution_cancel("p", at(5)).await.unwrap();
    expect_signal(&mut sub_p, finished("p", ExecutionStatus::Cancelled)).await;
    expect_signal(&mut sub_kid, finished("kid", ExecutionStatus::Cancelled)).await;
}
