//! Creating and reading executions, their runs and versions.

use serde_json::json;
use zart_core::{
    ExecutionOutcome, ExecutionStatus, InsertOutcome, NewExecution, RunTrigger, WaitingFor,
};

use crate::support::*;

/// A new execution is `scheduled`, version 1, with run 1 (`initial`).
pub async fn insert_creates_scheduled_execution_with_initial_run(store: DynStore) {
    let params = NewExecution {
        deadline_at: Some(at(90_000)),
        ..new_execution("e1")
    };
    let created = insert_new(&store, params).await;
    assert_eq!(created.id, "e1");
    assert_eq!(created.task_name, "task");
    assert_eq!(created.payload, json!({"id": "e1"}));
    assert_eq!(created.status, ExecutionStatus::Scheduled);
    assert_eq!(created.version, 1);
    assert_eq!(created.run_index, 1);
    assert_eq!(created.scheduled_at, at(0));
    assert_eq!(created.updated_at, at(0));
    assert_eq!(created.started_at, None);
    assert_eq!(created.completed_at, None);
    assert_eq!(created.result, None);
    assert_eq!(created.error, None);
    assert_eq!(created.waiting_for, None);
    assert_eq!(created.parent_id, None);
    assert_eq!(created.deadline_at, Some(at(90_000)));
    assert_eq!(get(&store, "e1").await, created);

    let runs = store.run_list("e1").await.unwrap().expect("runs of e1");
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.run_id, "e1:1");
    assert_eq!(run.execution_id, "e1");
    assert_eq!(run.run_index, 1);
    assert_eq!(run.payload, json!({"id": "e1"}));
    assert_eq!(run.status, ExecutionStatus::Scheduled);
    assert_eq!(run.trigger, RunTrigger::Initial);
    assert_eq!(run.result, None);
    assert_eq!(run.started_at, None);
    assert_eq!(run.completed_at, None);
}

/// Inserting an existing id returns the stored execution and changes nothing.
pub async fn insert_same_id_returns_existing_unchanged(store: DynStore) {
    let created = insert(&store, "e1").await;
    let again = NewExecution {
        task_name: "other".into(),
        payload: json!({"different": true}),
        now: at(5_000),
        run_at: at(5_000),
        ..new_execution("e1")
    };
    match store.execution_insert(again).await.unwrap() {
        InsertOutcome::Existing(existing) => assert_eq!(existing, created),
        other => panic!("expected Existing, got {other:?}"),
    }
    assert_eq!(get(&store, "e1").await, created);
    assert_eq!(store.run_list("e1").await.unwrap().unwrap().len(), 1);
}

/// The record an insert returns is the stored one, field for field, even when the
/// times given carry more precision than the store keeps (milliseconds) and the
/// execution is a child.
pub async fn insert_returns_the_stored_record(store: DynStore) {
    insert(&store, "parent").await;
    let fine = |ms: i64| at(ms) + chrono::Duration::microseconds(789);
    let params = NewExecution {
        parent_id: Some("parent".into()),
        now: fine(1_000),
        run_at: fine(2_000),
        deadline_at: Some(fine(90_000)),
        payload: json!({"n": 1.5, "list": [1, "two", null]}),
        ..new_execution("child")
    };
    let created = insert_new(&store, params).await;
    assert_eq!(created.scheduled_at, at(1_000));
    assert_eq!(created.deadline_at, Some(at(90_000)));
    assert_eq!(created.parent_id.as_deref(), Some("parent"));
    assert_eq!(get(&store, "child").await, created);
}

/// Payloads of any JSON shape come back exactly as stored.
pub async fn insert_round_trips_payload_json(store: DynStore) {
    let payloads = [
        json!(null),
        json!("text with 'quotes', \"double\" and ünïcödé ✓"),
        json!(12.5),
        json!([1, {"nested": [true, false, null]}]),
        json!({"big": "x".repeat(100_000)}),
    ];
    for (i, payload) in payloads.iter().enumerate() {
        let id = format!("p{i}");
        let params = NewExecution {
            payload: payload.clone(),
            ..new_execution(&id)
        };
        let created = insert_new(&store, params).await;
        assert_eq!(get(&store, &id).await, created);
        assert_eq!(&created.payload, payload);
        let claimed = claim_one(&store, "w", 0, &id).await;
        assert_eq!(&claimed.payload, payload);
        finish(
            &store,
            guard(&claimed, "w", 1),
            ExecutionOutcome::Completed(payload.clone()),
        )
        .await;
        assert_eq!(get(&store, &id).await.result.as_ref(), Some(payload));
    }
}

/// Unknown ids read as absent, not as errors.
pub async fn reads_of_unknown_execution_are_none(store: DynStore) {
    assert_eq!(store.execution_get("nope").await.unwrap(), None);
    assert_eq!(store.run_list("nope").await.unwrap(), None);
    let detail = store
        .execution_detail(zart_core::DetailQuery {
            execution_id: "nope".into(),
            run_index: None,
        })
        .await
        .unwrap();
    assert_eq!(detail, None);
    assert!(store.journal_load("nope", 1).await.unwrap().is_empty());
}

/// `ping` answers and the backend names itself.
pub async fn ping_succeeds_and_backend_is_named(store: DynStore) {
    store.ping().await.expect("ping");
    assert!(!store.backend_name().is_empty());
}

/// A backend store is reachable as its concrete type through `as_any`: the runtime's
/// transactional steps and transactional enqueue downcast to it.
pub async fn as_any_reaches_the_backend_store(store: DynStore) {
    assert!(store.as_any().is_some(), "a backend store offers as_any");
}

/// `version` is 1 at insert and grows by one with each claim, suspend, release and
/// finish.
pub async fn version_increments_on_every_state_change(store: DynStore) {
    assert_eq!(insert(&store, "e1").await.version, 1);
    let c = claim_one(&store, "w", 0, "e1").await;
    assert_eq!(get(&store, "e1").await.version, 2);
    let timer = WaitingFor::Timer {
        step: "nap".into(),
        due_at: at(10),
    };
    assert!(suspend(&store, guard(&c, "w", 1), Some(at(10)), timer).await);
    assert_eq!(get(&store, "e1").await.version, 3);
    let c = claim_one(&store, "w", 10, "e1").await;
    assert_eq!(get(&store, "e1").await.version, 4);
    assert!(store.execution_release(guard(&c, "w", 11)).await.unwrap());
    assert_eq!(get(&store, "e1").await.version, 5);
    let c = claim_one(&store, "w", 12, "e1").await;
    assert_eq!(get(&store, "e1").await.version, 6);
    assert!(
        finish(
            &store,
            guard(&c, "w", 13),
            ExecutionOutcome::Completed(json!(1))
        )
        .await
    );
    let done = get(&store, "e1").await;
    assert_eq!(done.version, 7);
    assert_eq!(done.updated_at, at(13));

    insert(&store, "e2").await;
    store.execution_cancel("e2", at(20)).await.unwrap();
    assert_eq!(get(&store, "e2").await.version, 2);
}

/// Many concurrent inserts of one id create it exactly once.
pub async fn concurrent_inserts_of_same_id_create_once(store: DynStore) {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let store = store.clone();
        tasks.spawn(async move { store.execution_insert(new_execution("same")).await });
    }
    let mut created = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("insert task").expect("insert") {
            InsertOutcome::Created(_) => created += 1,
            InsertOutcome::Existing(record) => assert_eq!(record.id, "same"),
            other => panic!("no deduplication id, yet {other:?}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(store.run_list("same").await.unwrap().unwrap().len(), 1);
}
