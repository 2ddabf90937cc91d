//! Versioning in-flight executions: `ctx.patch`, `ctx.deprecate_patch`, and the
//! non-determinism error a changed workflow without a patch gets.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use zart::core::{ErrorKind, ExecutionStatus, StepKind};
use zart::prelude::*;

const TASK: &str = "onboard";
const GO: Duration = Duration::from_secs(3600);

/// v1: `a`, wait for "go", `b`.
fn v1(store: std::sync::Arc<dyn zart::core::Store>) -> Zart {
    Zart::builder(store)
        .task(TASK, |ctx: Ctx, _: serde_json::Value| async move {
            ctx.step("a", || async { Ok(()) }).await?;
            ctx.wait_for_event::<()>("go", GO).await?;
            ctx.step("b", || async { Ok(()) }).await?;
            Ok(json!({"patched": false}))
        })
        .build()
}

/// v2: `a`, the patched `new-step`, wait for "go", `b`. Counts `new-step` runs.
fn v2(store: std::sync::Arc<dyn zart::core::Store>, runs: Counter) -> Zart {
    Zart::builder(store)
        .task(TASK, move |ctx: Ctx, _: serde_json::Value| {
            let runs = runs.clone();
            async move {
                ctx.step("a", || async { Ok(()) }).await?;
                let patched = ctx.patch("new-step").await;
                if patched {
                    ctx.step("new-step", || async { Ok(runs.bump()) }).await?;
                }
                ctx.wait_for_event::<()>("go", GO).await?;
                ctx.step("b", || async { Ok(()) }).await?;
                Ok(json!({"patched": patched}))
            }
        })
        .build()
}

/// v3, the cleanup release: the old path is gone and the patch deprecated.
fn v3(store: std::sync::Arc<dyn zart::core::Store>, runs: Counter) -> Zart {
    Zart::builder(store)
        .task(TASK, move |ctx: Ctx, _: serde_json::Value| {
            let runs = runs.clone();
            async move {
                ctx.step("a", || async { Ok(()) }).await?;
                ctx.deprecate_patch("new-step");
                ctx.step("new-step", || async { Ok(runs.bump()) }).await?;
                ctx.wait_for_event::<()>("go", GO).await?;
                ctx.step("b", || async { Ok(()) }).await?;
                Ok(json!({"patched": true}))
            }
        })
        .build()
}

async fn start_parked(client: &Client, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..count {
        ids.push(start(client, TASK, json!(null)).await);
    }
    for id in &ids {
        until(client, id, parked_on("event")).await;
    }
    ids
}

async fn release(client: &Client, ids: &[String]) -> Vec<ExecutionRecord> {
    let mut done = Vec::new();
    for id in ids {
        client.offer_event(id, "go", json!(null)).await.unwrap();
    }
    for id in ids {
        done.push(finish(client, id).await);
    }
    done
}

async fn kinds(client: &Client, id: &str) -> Vec<(String, StepKind)> {
    let detail = client.detail(id, None).await.unwrap();
    detail
        .steps
        .into_iter()
        .map(|s| (s.step_id, s.kind))
        .collect()
}

#[tokio::test]
async fn a_patch_keeps_old_executions_on_the_old_path_and_new_ones_on_the_new() {
    let db = db().await;
    let zart = v1(db.store.clone());
    let worker = zart.start_worker(fast());
    let old = start_parked(&zart.client(), 3).await;
    worker.shutdown(Duration::from_secs(5)).await;

    let runs = Counter::default();
    let zart = v2(db.reopen().await, runs.clone());
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let new = start_parked(&client, 2).await;
    for done in release(&client, &old).await {
        assert_eq!(done.status, ExecutionStatus::Completed, "{:?}", done.error);
        assert_eq!(done.result, Some(json!({"patched": false})));
    }
    assert_eq!(
        runs.get(),
        2,
        "only the executions started under v2 ran new-step"
    );
    assert_eq!(
        kinds(&client, &old[0]).await,
        [
            ("a#0".to_owned(), StepKind::Step),
            ("go#0".to_owned(), StepKind::WaitForEvent),
            ("b#0".to_owned(), StepKind::Step),
        ]
    );
    assert_eq!(
        kinds(&client, &new[0]).await[..3],
        [
            ("a#0".to_owned(), StepKind::Step),
            ("zart.patch:new-step#0".to_owned(), StepKind::Patch),
            ("new-step#0".to_owned(), StepKind::Step),
        ]
    );
    worker.shutdown(Duration::from_secs(5)).await;

    // The cleanup release: executions that took the patch replay through its marker.
    let zart = v3(db.reopen().await, runs.clone());
    let client = zart.client();
    let worker = zart.start_worker(fast());
    for done in release(&client, &new).await {
        assert_eq!(done.status, ExecutionStatus::Completed, "{:?}", done.error);
        assert_eq!(done.result, Some(json!({"patched": true})));
    }
    assert_eq!(runs.get(), 2, "new-step replayed from the journal under v3");
    // A new execution under v3 records no marker.
    let fresh = start_parked(&client, 1).await;
    let done = release(&client, &fresh).await;
    assert_eq!(done[0].status, ExecutionStatus::Completed);
    assert!(kinds(&client, &fresh[0])
        .await
        .iter()
        .all(|(_, kind)| *kind != StepKind::Patch));
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_patch_is_memoized_when_the_patched_execution_resumes() {
    let db = db().await;
    let runs = Counter::default();
    let zart = v2(db.store.clone(), runs.clone());
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let ids = start_parked(&client, 1).await;
    let done = release(&client, &ids).await;
    assert_eq!(done[0].result, Some(json!({"patched": true})));
    let markers = kinds(&client, &ids[0])
        .await
        .into_iter()
        .filter(|(_, kind)| *kind == StepKind::Patch)
        .count();
    assert_eq!((markers, runs.get()), (1, 1));
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_changed_workflow_without_a_patch_fails_naming_both_steps_and_the_patch() {
    let db = db().await;
    let zart = v1(db.store.clone());
    let worker = zart.start_worker(fast());
    let old = start_parked(&zart.client(), 1).await;
    worker.shutdown(Duration::from_secs(5)).await;

    // v2 adds a step before the wait without guarding it.
    let zart = Zart::builder(db.reopen().await)
        .task(TASK, |ctx: Ctx, _: serde_json::Value| async move {
            ctx.step("a", || async { Ok(()) }).await?;
            ctx.step("new-step", || async { Ok(()) }).await?;
            ctx.wait_for_event::<()>("go", GO).await?;
            Ok(json!(null))
        })
        .build();
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let done = release(&client, &old).await;
    assert_eq!(done[0].status, ExecutionStatus::Failed);
    let err = done[0].error.clone().unwrap();
    assert_eq!(err.kind, ErrorKind::NonDeterminism);
    assert_eq!(
        err.message,
        "non-determinism at journal position 1: the journal recorded wait_for_event \
         \"go#0\" but the code now calls step \"new-step#0\". If the workflow's code \
         changed while this execution was in flight, guard the change with \
         `ctx.patch(\"<change-id>\")` so executions recorded under the old code keep \
         their old path"
    );
    worker.shutdown(Duration::from_secs(5)).await;
}
