//! Durable sleeps and waits for events.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use zart::core::{ExecutionStatus, WaitingFor};
use zart::prelude::*;

fn waiter(store: std::sync::Arc<dyn zart::core::Store>) -> Zart {
    Zart::builder(store)
        .task("two-events", |ctx: Ctx, _: serde_json::Value| async move {
            let a: serde_json::Value = ctx.wait_for_event("ping", Duration::from_secs(60)).await?;
            let b: serde_json::Value = ctx.wait_for_event("ping", Duration::from_secs(60)).await?;
            Ok(json!([a, b]))
        })
        .task("fallback", |ctx: Ctx, _: serde_json::Value| async move {
            match ctx
                .wait_for_event::<String>("decision", Duration::from_millis(200))
                .await
            {
                Ok(d) => Ok(json!({"decision": d})),
                Err(e) if e.is_timeout() => {
                    let after: u32 = ctx.step("after-timeout", || async { Ok(1) }).await?;
                    Ok(json!({"timedOut": true, "after": after}))
                }
                Err(e) => Err(e),
            }
        })
        .task("strict", |ctx: Ctx, _: serde_json::Value| async move {
            ctx.wait_for_event::<String>("decision", Duration::from_millis(100))
                .await
        })
        .task("sleeper", |ctx: Ctx, ms: u64| async move {
            ctx.sleep("nap", Duration::from_millis(ms)).await;
            Ok("woke")
        })
        .task(
            "echo",
            |_ctx: Ctx, v: serde_json::Value| async move { Ok(v) },
        )
        .build()
}

#[tokio::test]
async fn events_offered_before_the_wait_are_kept_and_consumed_fifo_once_each() {
    let db = db().await;
    let zart = waiter(db.store.clone());
    let client = zart.client();
    // No worker yet: both events arrive before the workflow reaches its waits.
    let id = start(&client, "two-events", json!(null)).await;
    client.offer_event(&id, "ping", json!(1)).await.unwrap();
    client.offer_event(&id, "ping", json!(2)).await.unwrap();
    client.offer_event(&id, "ping", json!(3)).await.unwrap();
    let worker = zart.start_worker(fast());
    let done = finish(&client, &id).await;
    assert_eq!(done.result, Some(json!([1, 2])));
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn event_offered_after_the_workflow_parks_wakes_it() {
    let db = db().await;
    let zart = waiter(db.store.clone());
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let id = start(&client, "two-events", json!(null)).await;
    let parked = until(&client, &id, parked_on("event")).await;
    match parked.waiting_for {
        Some(WaitingFor::Event { name, deadline }) => {
            assert_eq!(name, "ping");
            assert!(deadline.is_some());
        }
        other => panic!("expected an event wait, got {other:?}"),
    }
    client.offer_event(&id, "ping", json!("a")).await.unwrap();
    client.offer_event(&id, "ping", json!("b")).await.unwrap();
    assert_eq!(finish(&client, &id).await.result, Some(json!(["a", "b"])));
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn wait_timeout_can_be_handled_and_a_fallback_path_proceeds() {
    let db = db().await;
    let zart = waiter(db.store.clone());
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let id = start(&client, "fallback", json!(null)).await;
    let done = finish(&client, &id).await;
    assert_eq!(done.result, Some(json!({"timedOut": true, "after": 1})));
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn unhandled_wait_timeout_fails_the_execution_naming_the_wait() {
    let db = db().await;
    let zart = waiter(db.store.clone());
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let id = start(&client, "strict", json!(null)).await;
    let done = finish(&client, &id).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    let err = done.error.unwrap();
    assert_eq!(err.kind, zart::core::ErrorKind::EventTimeout);
    assert_eq!(err.step.as_deref(), Some("decision"));
    assert!(err.message.contains("decision"));
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn offering_to_unknown_or_finished_executions_is_rejected() {
    let db = db().await;
    let zart = waiter(db.store.clone());
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let err = client
        .offer_event("nope", "ping", json!(1))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::NotFound(_)), "{err:?}");
    let id = start(&client, "echo", json!(1)).await;
    finish(&client, &id).await;
    let err = client.offer_event(&id, "ping", json!(1)).await.unwrap_err();
    assert!(matches!(err, ClientError::Conflict(_)), "{err:?}");
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_sleeping_execution_holds_no_worker_slot() {
    let db = db().await;
    let zart = waiter(db.store.clone());
    let client = zart.client();
    let worker = zart.start_worker(fast().concurrency(1));
    let sleeper = start(&client, "sleeper", json!(60_000)).await;
    until(&client, &sleeper, parked_on("timer")).await;
    let other = start(&client, "echo", json!("x")).await;
    assert_eq!(
        finish(&client, &other).await.status,
        ExecutionStatus::Completed
    );
    assert_eq!(
        client.get(&sleeper).await.unwrap().status,
        ExecutionStatus::Running
    );
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_durable_sleep_survives_a_restart() {
    let db = db().await;
    let zart = waiter(db.store.clone());
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let id = start(&client, "sleeper", json!(800)).await;
    let parked = until(&client, &id, parked_on("timer")).await;
    worker.shutdown(Duration::from_secs(5)).await;
    drop(zart);

    let zart = waiter(db.reopen().await);
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let done = finish(&client, &id).await;
    assert_eq!(done.result, Some(json!("woke")));
    let Some(WaitingFor::Timer { due_at: due, .. }) = parked.waiting_for else {
        panic!("expected a timer, got {:?}", parked.waiting_for);
    };
    assert!(done.completed_at.unwrap() >= due);
    worker.shutdown(Duration::from_secs(5)).await;
}
