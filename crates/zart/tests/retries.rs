//! Retry policies, dead steps, durable backoff, step timeouts and deadlines.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use zart::core::{AttemptStatus, ErrorKind, ExecutionStatus, StepStatus, WaitingFor};
use zart::prelude::*;
use zart::testing::TestEnv;

fn flaky(
    fail_times: u32,
    policy: RetryPolicy,
) -> impl Fn(Ctx, serde_json::Value) -> futures::future::BoxFuture<'static, TaskResult<u32>>
       + Send
       + Sync
       + Clone {
    move |ctx: Ctx, _| {
        let policy = policy.clone();
        Box::pin(async move {
            ctx.step_with("call", StepOptions::retry(policy), || async move {
                let attempt = zart::current_attempt().unwrap_or(0);
                if attempt <= fail_times {
                    return Err(TaskError::retryable(format!("boom #{attempt}")));
                }
                Ok(attempt)
            })
            .await
        })
    }
}

#[tokio::test]
async fn fixed_retry_succeeds_after_failures_and_records_every_attempt() {
    let db = db().await;
    let zart = Zart::builder(db.store.clone())
        .task(
            "flaky",
            flaky(2, RetryPolicy::fixed(Duration::from_millis(10), 5)),
        )
        .build();
    let worker = zart.start_worker(fast());
    let client = zart.client();
    let id = start(&client, "flaky", json!(null)).await;
    let done = finish(&client, &id).await;
    assert_eq!(done.result, Some(json!(3)));
    let step = &client.detail(&id, None).await.unwrap().steps[0];
    assert_eq!(step.status, StepStatus::Completed);
    assert_eq!(step.retry_attempt, 3);
    let outcomes: Vec<AttemptStatus> = step.attempts.iter().map(|a| a.status).collect();
    assert_eq!(
        outcomes,
        vec![
            AttemptStatus::Failed,
            AttemptStatus::Failed,
            AttemptStatus::Completed
        ]
    );
    assert_eq!(step.attempts[0].error.as_deref(), Some("boom #1"));
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn step_out_of_attempts_is_dead_and_fails_the_execution_with_a_structured_error() {
    let db = db().await;
    let zart = Zart::builder(db.store.clone())
        .task(
            "flaky",
            flaky(
                10,
                RetryPolicy::exponential(Duration::from_millis(5), Duration::from_millis(20), 3)
                    .jitter(0.5),
            ),
        )
        .build();
    let worker = zart.start_worker(fast());
    let client = zart.client();
    let id = start(&client, "flaky", json!(null)).await;
    let done = finish(&client, &id).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    let err = done.error.unwrap();
    assert_eq!(err.kind, ErrorKind::StepFailed);
    assert_eq!(err.step.as_deref(), Some("call"));
    assert_eq!(err.attempts, Some(3));
    assert!(err.message.contains("boom #3"), "{}", err.message);
    let step = &client.detail(&id, None).await.unwrap().steps[0];
    assert_eq!(step.status, StepStatus::Dead);
    assert_eq!(step.attempts.len(), 3);
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn permanent_errors_are_not_retried() {
    let db = db().await;
    let calls = Counter::default();
    let c = calls.clone();
    let zart = Zart::builder(db.store.clone())
        .task("permanent", move |ctx: Ctx, _: serde_json::Value| {
            let c = c.clone();
            async move {
                ctx.step("call", || {
                    let c = c.clone();
                    async move {
                        c.bump();
                        Err::<u32, _>(TaskError::permanent("card declined"))
                    }
                })
                .await
            }
        })
        .build();
    let worker = zart.start_worker(fast());
    let client = zart.client();
    let id = start(&client, "permanent", json!(null)).await;
    let done = finish(&client, &id).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.unwrap().attempts, Some(1));
    assert_eq!(calls.get(), 1);
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn long_backoff_parks_the_execution_and_frees_the_slot() {
    // Virtual time: the 10-minute backoff passes without waiting for it.
    let env = TestEnv::builder()
        .task(
            "flaky",
            flaky(1, RetryPolicy::fixed(Duration::from_secs(600), 2)),
        )
        .task(
            "echo",
            |_ctx: Ctx, v: serde_json::Value| async move { Ok(v) },
        )
        .worker(WorkerConfig::default().concurrency(1))
        .build()
        .unwrap();
    let id = env.start("flaky", json!(null)).await.unwrap();
    let parked = env.run_until_waiting(&id, "retry").await.unwrap();
    match parked.waiting_for {
        Some(WaitingFor::Retry { attempt, step, .. }) => {
            assert_eq!(attempt, 2);
            assert_eq!(step, "call#0");
        }
        other => panic!("expected a retry backoff, got {other:?}"),
    }
    // With one slot, another execution runs while the first one backs off.
    let t0 = env.now();
    let other = env.start("echo", json!("hi")).await.unwrap();
    env.settle().await.unwrap();
    assert_eq!(env.now(), t0, "nothing was due: the clock stays");
    let client = env.client();
    assert_eq!(
        client.get(&other).await.unwrap().status,
        ExecutionStatus::Completed
    );
    assert_eq!(
        client.get(&id).await.unwrap().status,
        ExecutionStatus::Running
    );
    assert_eq!(env.wait(&id).await.unwrap().result, Some(json!(2)));
    assert_eq!(env.now() - t0, chrono::Duration::minutes(10));
    env.shutdown().await;
}

#[tokio::test]
async fn step_timeout_stops_the_attempt_and_is_recorded() {
    let db = db().await;
    let zart = Zart::builder(db.store.clone())
        .task("slow", |ctx: Ctx, _: serde_json::Value| async move {
            let options = StepOptions::retry(RetryPolicy::fixed(Duration::ZERO, 2))
                .timeout(Duration::from_millis(50));
            ctx.step_with("hang", options, || async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(1)
            })
            .await
        })
        .build();
    let worker = zart.start_worker(fast());
    let client = zart.client();
    let id = start(&client, "slow", json!(null)).await;
    let done = finish(&client, &id).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    let step = &client.detail(&id, None).await.unwrap().steps[0];
    assert_eq!(step.attempts.len(), 2);
    assert!(step.attempts.iter().all(|a| a
        .error
        .as_deref()
        .unwrap()
        .contains("timed out after 50 ms")));
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn execution_deadline_stops_the_handler_and_fails_the_execution() {
    let db = db().await;
    let ran_after = Counter::default();
    let r = ran_after.clone();
    let zart = Zart::builder(db.store.clone())
        .task("long", move |ctx: Ctx, _: serde_json::Value| {
            let r = r.clone();
            async move {
                ctx.step("forever", || async {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Ok(())
                })
                .await?;
                ctx.step("after", || async { Ok(r.bump()) }).await
            }
        })
        .build();
    let worker = zart.start_worker(fast());
    let client = zart.client();
    let deadline = chrono::Utc::now() + chrono::Duration::milliseconds(300);
    let started = client
        .start(StartRequest::new("long", json!(null)).deadline_at(deadline))
        .await
        .unwrap();
    let done = finish(&client, &started.execution.id).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.unwrap().kind, ErrorKind::DeadlineExceeded);
    assert_eq!(ran_after.get(), 0);
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn deadline_also_bounds_a_sleeping_execution() {
    let env = TestEnv::builder()
        .task("sleepy", |ctx: Ctx, _: serde_json::Value| async move {
            ctx.sleep("nap", Duration::from_secs(3600)).await;
            Ok(())
        })
        .build()
        .unwrap();
    let deadline = env.now() + chrono::Duration::minutes(5);
    let request = StartRequest::new("sleepy", json!(null)).deadline_at(deadline);
    let id = env.start_request(request).await.unwrap();
    let done = env.wait(&id).await.unwrap();
    assert_eq!(done.error.unwrap().kind, ErrorKind::DeadlineExceeded);
    // The deadline, not the hour-long sleep, woke it.
    assert_eq!(env.now(), deadline);
    env.shutdown().await;
}
