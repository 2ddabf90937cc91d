//! Durations too long for the calendar (Zart keeps every instant within the year 9999)
//! are clear errors, never a panic, and the worker keeps running.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use zart::core::{ErrorKind, ExecutionRecord, ExecutionStatus};
use zart::prelude::*;

/// 10^13 seconds: some 317,000 years.
const HUGE: Duration = Duration::from_secs(10_000_000_000_000);

fn engine(store: std::sync::Arc<dyn zart::core::Store>) -> Zart {
    Zart::builder(store)
        .task(
            "sleep-forever",
            |ctx: Ctx, _: serde_json::Value| async move {
                ctx.sleep("forever", Duration::MAX).await;
                Ok(())
            },
        )
        .task(
            "sleep-until-never",
            |ctx: Ctx, _: serde_json::Value| async move {
                ctx.sleep_until("never", chrono::DateTime::<chrono::Utc>::MAX_UTC)
                    .await;
                Ok(())
            },
        )
        .task("wait-forever", |ctx: Ctx, handle: bool| async move {
            let waited = ctx
                .wait_for_event::<serde_json::Value>("decision", HUGE)
                .await;
            match waited {
                Err(err) if handle => {
                    Ok(json!({"timeout": err.is_timeout(), "message": err.message()}))
                }
                other => other,
            }
        })
        .task("retry-never", |ctx: Ctx, _: serde_json::Value| async move {
            let options = StepOptions::retry(RetryPolicy::fixed(Duration::MAX, 3));
            ctx.step_with("call", options, || async {
                Err::<(), _>(TaskError::retryable("down"))
            })
            .await
        })
        .task("echo", |_: Ctx, v: serde_json::Value| async move { Ok(v) })
        .build()
}

async fn failed(client: &Client, task: &str, payload: serde_json::Value) -> ExecutionRecord {
    let id = start(client, task, payload).await;
    let done = finish(client, &id).await;
    assert_eq!(done.status, ExecutionStatus::Failed, "{done:?}");
    done
}

async fn assert_worker_alive(client: &Client) {
    let id = start(client, "echo", json!("still here")).await;
    assert_eq!(finish(client, &id).await.result, Some(json!("still here")));
}

#[tokio::test]
async fn sleeps_past_the_year_9999_fail_the_execution_naming_the_sleep() {
    let db = db().await;
    let zart = engine(db.store.clone());
    let worker = zart.start_worker(fast());
    let client = zart.client();
    for (task, step) in [("sleep-forever", "forever"), ("sleep-until-never", "never")] {
        let error = failed(&client, task, json!(null))
            .await
            .error
            .expect("error");
        assert_eq!(error.kind, ErrorKind::Handler, "{error:?}");
        assert_eq!(error.step.as_deref(), Some(step));
        assert!(error.message.contains("sleep"), "{error:?}");
        assert!(error.message.contains("9999-12-31"), "{error:?}");
    }
    assert_worker_alive(&client).await;
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_wait_with_a_huge_timeout_is_an_error_the_handler_sees() {
    let db = db().await;
    let zart = engine(db.store.clone());
    let worker = zart.start_worker(fast());
    let client = zart.client();
    let error = failed(&client, "wait-forever", json!(false))
        .await
        .error
        .expect("error");
    assert_eq!(error.step.as_deref(), Some("decision"));
    assert!(
        error.message.contains("timeout is out of range"),
        "{error:?}"
    );
    let id = start(&client, "wait-forever", json!(true)).await;
    let handled = finish(&client, &id).await.result.expect("a result");
    assert_eq!(handled["timeout"], false, "{handled}");
    assert!(handled["message"]
        .as_str()
        .unwrap_or_default()
        .contains("too long"));
    assert_worker_alive(&client).await;
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_retry_delay_past_the_year_9999_kills_the_step_with_a_clear_error() {
    let db = db().await;
    let zart = engine(db.store.clone());
    let worker = zart.start_worker(fast());
    let client = zart.client();
    let done = failed(&client, "retry-never", json!(null)).await;
    let error = done.error.expect("error");
    assert_eq!(error.kind, ErrorKind::StepFailed);
    assert_eq!(
        (error.step.as_deref(), error.attempts),
        (Some("call"), Some(1))
    );
    assert!(
        error.message.contains("retry delay is out of range"),
        "{error:?}"
    );
    let journal = db.store.journal_load(&done.id, 1).await.unwrap();
    assert_eq!(journal[0].status, zart::core::StepStatus::Dead);
    assert_worker_alive(&client).await;
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn deadlines_past_the_year_9999_are_invalid_input_and_far_ones_work() {
    let db = db().await;
    let zart = engine(db.store.clone());
    let worker = zart.start_worker(fast());
    let client = zart.client();
    let never = chrono::DateTime::<chrono::Utc>::MAX_UTC;
    let request = StartRequest::new("echo", json!(1)).deadline_at(never);
    match client.start(request).await {
        Err(ClientError::InvalidInput(message)) => {
            assert!(message.contains("deadlineAt"), "{message}")
        }
        other => panic!("expected invalid input, got {other:?}"),
    }
    let far = "9999-12-31T00:00:00Z".parse().unwrap();
    let request = StartRequest::new("echo", json!(2)).deadline_at(far);
    let id = client.start(request).await.expect("start").execution.id;
    // An unbounded client wait is clamped, not an overflow.
    let done = client.wait(&id, Duration::MAX).await.expect("wait");
    assert_eq!(done.result, Some(json!(2)));
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_worker_with_an_unbounded_lease_and_retention_runs_normally() {
    let db = db().await;
    let zart = engine(db.store.clone());
    let config = fast()
        .lease_duration(Duration::MAX)
        .retention(Duration::MAX);
    let worker = zart.start_worker(config);
    let client = zart.client();
    assert_worker_alive(&client).await;
    worker.shutdown(Duration::from_secs(5)).await;
}
