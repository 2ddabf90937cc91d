//! Panics in handlers and steps; the worker keeps running.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use zart::core::{ErrorKind, ExecutionStatus};
use zart::prelude::*;

#[tokio::test]
async fn a_panicking_step_is_a_failed_attempt_with_the_panic_message() {
    let db = db().await;
    let zart = Zart::builder(db.store.clone())
        .task("panicky", |ctx: Ctx, _: serde_json::Value| async move {
            ctx.step_with(
                "explode",
                StepOptions::retry(RetryPolicy::fixed(Duration::ZERO, 2)),
                || async {
                    if zart::current_attempt() == Some(1) {
                        panic!("kaboom in step");
                    }
                    Ok(5)
                },
            )
            .await
        })
        .task(
            "echo",
            |_ctx: Ctx, v: serde_json::Value| async move { Ok(v) },
        )
        .build();
    let worker = zart.start_worker(fast());
    let client = zart.client();
    let id = start(&client, "panicky", json!(null)).await;
    assert_eq!(finish(&client, &id).await.result, Some(json!(5)));
    let step = &client.detail(&id, None).await.unwrap().steps[0];
    assert!(step.attempts[0]
        .error
        .as_deref()
        .unwrap()
        .contains("kaboom in step"));
    // The worker is still alive.
    assert_worker_alive(&client).await;
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_panicking_handler_fails_the_execution_and_the_worker_keeps_running() {
    let db = db().await;
    let zart = Zart::builder(db.store.clone())
        .task("boom", |_ctx: Ctx, _: serde_json::Value| async move {
            if true {
                panic!("handler exploded");
            }
            Ok(())
        })
        .task(
            "echo",
            |_ctx: Ctx, v: serde_json::Value| async move { Ok(v) },
        )
        .build();
    let worker = zart.start_worker(fast());
    let client = zart.client();
    let id = start(&client, "boom", json!(null)).await;
    let done = finish(&client, &id).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    let err = done.error.unwrap();
    assert_eq!(err.kind, ErrorKind::Panic);
    assert!(err.message.contains("handler exploded"), "{}", err.message);
    assert_worker_alive(&client).await;
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_payload_of_the_wrong_type_fails_once_with_an_error_naming_the_type() {
    #[derive(serde::Deserialize)]
    struct Input {
        #[allow(dead_code)]
        count: u32,
    }
    let db = db().await;
    let zart = Zart::builder(db.store.clone())
        .task("typed", |_ctx: Ctx, _input: Input| async move { Ok(()) })
        .build();
    let worker = zart.start_worker(fast());
    insert_unchecked(&db.store, "bad-input", "typed", json!({"count": "many"})).await;
    let done = finish(&zart.client(), "bad-input").await;
    let err = done.error.unwrap();
    assert_eq!(err.kind, ErrorKind::InvalidInput);
    assert!(
        err.message.contains("typed") && err.message.contains("Input"),
        "{}",
        err.message
    );
    worker.shutdown(Duration::from_secs(5)).await;
}

/// The worker still runs executions (of the registered `echo` task).
async fn assert_worker_alive(client: &Client) {
    let other = start(client, "echo", json!(1)).await;
    assert_eq!(
        finish(client, &other).await.status,
        ExecutionStatus::Completed
    );
}
