//! Memoized steps, loops, parallel steps and journaled values.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use zart::core::{ExecutionStatus, StepStatus};
use zart::prelude::*;

#[tokio::test]
async fn completed_steps_do_not_run_again_after_a_suspension() {
    let db = db().await;
    let first = Counter::default();
    let second = Counter::default();
    let (a, b) = (first.clone(), second.clone());
    let zart = Zart::builder(db.store.clone())
        .task("two-steps", move |ctx: Ctx, _: serde_json::Value| {
            let (a, b) = (a.clone(), b.clone());
            async move {
                let x: u32 = ctx.step("first", || async { Ok(a.bump() * 10) }).await?;
                ctx.sleep("pause", Duration::from_millis(50)).await;
                let y: u32 = ctx.step("second", || async { Ok(b.bump()) }).await?;
                Ok(json!({"x": x, "y": y}))
            }
        })
        .build();
    let worker = zart.start_worker(fast());
    let client = zart.client();
    let id = start(&client, "two-steps", json!(null)).await;
    let done = finish(&client, &id).await;
    assert_eq!(done.status, ExecutionStatus::Completed);
    assert_eq!(done.result, Some(json!({"x": 10, "y": 1})));
    // The handler ran twice (before and after the sleep); each step once.
    assert_eq!((first.get(), second.get()), (1, 1));
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn repeated_step_names_get_occurrence_indexes() {
    let db = db().await;
    let zart = Zart::builder(db.store.clone())
        .task("loop", |ctx: Ctx, n: u32| async move {
            let mut sum = 0;
            for i in 0..n {
                sum += ctx.step("add", || async move { Ok(i) }).await?;
            }
            Ok(sum)
        })
        .build();
    let worker = zart.start_worker(fast());
    let client = zart.client();
    let id = start(&client, "loop", json!(4)).await;
    assert_eq!(finish(&client, &id).await.result, Some(json!(6)));
    let detail = client.detail(&id, None).await.unwrap();
    let ids: Vec<&str> = detail.steps.iter().map(|s| s.step_id.as_str()).collect();
    assert_eq!(ids, vec!["add#0", "add#1", "add#2", "add#3"]);
    assert!(detail
        .steps
        .iter()
        .all(|s| s.status == StepStatus::Completed && s.attempts.len() == 1));
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn parallel_steps_of_different_types_join_and_commit_separately() {
    let db = db().await;
    let zart = Zart::builder(db.store.clone())
        .task("join", |ctx: Ctx, _: serde_json::Value| async move {
            let (n, s, b) = futures::try_join!(
                ctx.step("number", || async { Ok(7u32) }),
                ctx.step("text", || async { Ok("seven".to_string()) }),
                ctx.step("flag", || async { Ok(true) }),
            )?;
            Ok(json!({"n": n, "s": s, "b": b}))
        })
        .build();
    let worker = zart.start_worker(fast());
    let client = zart.client();
    let id = start(&client, "join", json!(null)).await;
    let done = finish(&client, &id).await;
    assert_eq!(done.result, Some(json!({"n": 7, "s": "seven", "b": true})));
    let steps = client.detail(&id, None).await.unwrap().steps;
    assert_eq!(steps.len(), 3);
    assert!(steps.iter().all(|s| s.status == StepStatus::Completed));
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn after_an_interruption_only_unfinished_parallel_branches_run() {
    let db = db().await;
    let fast_runs = Counter::default();
    let slow_runs = Counter::default();
    let gate = std::sync::Arc::new(tokio::sync::Notify::new());
    let (f, s, g) = (fast_runs.clone(), slow_runs.clone(), gate.clone());
    let (reached_tx, mut reached) = tokio::sync::mpsc::unbounded_channel();
    let build = |store| {
        let (f, s, g, reached_tx) = (f.clone(), s.clone(), g.clone(), reached_tx.clone());
        Zart::builder(store)
            .task("branches", move |ctx: Ctx, _: serde_json::Value| {
                let (f, s, g, reached_tx) = (f.clone(), s.clone(), g.clone(), reached_tx.clone());
                async move {
                    let (a, b) = futures::try_join!(
                        ctx.step("fast", || async { Ok(f.bump()) }),
                        ctx.step("slow", || {
                            let (s, g, reached_tx) = (s.clone(), g.clone(), reached_tx.clone());
                            async move {
                                let n = s.bump();
                                if n == 1 {
                                    let _ = reached_tx.send(());
                                    g.notified().await; // blocks until the worker is stopped
                                }
                                Ok(n)
                            }
                        }),
                    )?;
                    Ok(json!([a, b]))
                }
            })
            .build()
    };
    let zart = build(db.store.clone());
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let id = start(&client, "branches", json!(null)).await;
    reached.recv().await.unwrap();
    // Wait for the fast branch's commit; the slow branch is still in flight.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let journal = db.store.journal_load(&id, 1).await.unwrap();
        if journal
            .iter()
            .any(|s| s.name == "fast" && s.status == StepStatus::Completed)
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "fast branch never committed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    worker.shutdown(Duration::ZERO).await;
    let zart = build(db.reopen().await);
    let worker = zart.start_worker(fast());
    let done = finish(&zart.client(), &id).await;
    assert_eq!(done.result, Some(json!([1, 2])));
    assert_eq!(
        fast_runs.get(),
        1,
        "the completed branch must not run again"
    );
    assert_eq!(slow_runs.get(), 2, "the unfinished branch runs again");
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn now_uuid_and_random_are_stable_across_replays() {
    let db = db().await;
    let zart = Zart::builder(db.store.clone())
        .task("values", |ctx: Ctx, _: serde_json::Value| async move {
            let now = ctx.now().await;
            let id = ctx.uuid().await;
            let r = ctx.random().await;
            ctx.sleep("replay", Duration::from_millis(20)).await;
            let again = (ctx.now().await, ctx.uuid().await, ctx.random().await);
            Ok(json!({"first": [now, id, r], "second": [again.0, again.1, again.2]}))
        })
        .build();
    let worker = zart.start_worker(fast());
    let client = zart.client();
    let id = start(&client, "values", json!(null)).await;
    let done = finish(&client, &id).await;
    let result = done.result.unwrap();
    // Replayed values equal the journaled ones; the second calls are new entries.
    let detail = client.detail(&id, None).await.unwrap();
    let journaled: Vec<serde_json::Value> = detail
        .steps
        .iter()
        .take(3)
        .map(|s| s.result.clone().unwrap())
        .collect();
    assert_eq!(result["first"].as_array().unwrap(), &journaled);
    assert_ne!(result["first"][1], result["second"][1]);
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn replay_that_reaches_a_different_step_fails_with_non_determinism() {
    let db = db().await;
    let v1 = Zart::builder(db.store.clone())
        .task("evolving", |ctx: Ctx, _: serde_json::Value| async move {
            ctx.step("charge-card", || async { Ok(1) }).await?;
            // Short enough to wake under the new code, long enough to stop v1 first.
            ctx.sleep("wait", Duration::from_secs(1)).await;
            Ok(0)
        })
        .build();
    let client = v1.client();
    let worker = v1.start_worker(fast());
    let id = start(&client, "evolving", json!(null)).await;
    until(&client, &id, parked_on("timer")).await;
    worker.shutdown(Duration::from_secs(5)).await;

    // New code: a different step where the journal has "charge-card".
    let v2 = Zart::builder(db.reopen().await)
        .task("evolving", |ctx: Ctx, _: serde_json::Value| async move {
            ctx.step("send-invoice", || async { Ok(1) }).await?;
            Ok(0)
        })
        .build();
    let client = v2.client();
    let worker = v2.start_worker(fast());
    let done = finish(&client, &id).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    let err = done.error.unwrap();
    assert_eq!(err.kind, zart::core::ErrorKind::NonDeterminism);
    assert!(
        err.message.contains("send-invoice") && err.message.contains("charge-card"),
        "{}",
        err.message
    );
    worker.shutdown(Duration::from_secs(5)).await;
}

/// A value whose `Serialize` impl always fails.
struct Opaque(#[allow(dead_code)] u32);

impl serde::Serialize for Opaque {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("opaque values do not serialize"))
    }
}

impl<'de> serde::Deserialize<'de> for Opaque {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <serde::de::IgnoredAny as serde::Deserialize>::deserialize(d).map(|_| Opaque(0))
    }
}

#[tokio::test]
async fn a_step_whose_value_does_not_serialize_is_recorded_dead_and_never_runs_again() {
    let db = db().await;
    let effects = Counter::default();
    let e = effects.clone();
    let zart = Zart::builder(db.store.clone())
        .task("opaque", move |ctx: Ctx, _: serde_json::Value| {
            let e = e.clone();
            async move {
                let value = ctx.step("make", || async { Ok(Opaque(e.bump())) }).await;
                // The sleep parks the run: the step is replayed when it resumes.
                ctx.sleep("pause", Duration::from_millis(50)).await;
                value.map(|_| ())
            }
        })
        .build();
    let worker = zart.start_worker(fast());
    let client = zart.client();
    let id = start(&client, "opaque", json!(null)).await;
    let done = finish(&client, &id).await;
    assert_eq!(effects.get(), 1, "the side effect ran again on replay");
    assert_eq!(done.status, ExecutionStatus::Failed);
    let error = done.error.expect("an error");
    assert_eq!(error.kind, zart::core::ErrorKind::StepFailed);
    assert_eq!(error.step.as_deref(), Some("make"));
    assert!(
        error.message.contains("opaque values do not serialize"),
        "{error:?}"
    );
    let journal = db.store.journal_load(&id, 1).await.unwrap();
    let step = journal
        .iter()
        .find(|s| s.name == "make")
        .expect("the step is journaled");
    assert_eq!(step.status, StepStatus::Dead);
    assert!(!step.retryable);
    let last_error = step.last_error.as_deref().unwrap_or_default();
    assert!(
        last_error.contains("does not serialize to JSON"),
        "{last_error}"
    );
    worker.shutdown(Duration::from_secs(5)).await;
}
