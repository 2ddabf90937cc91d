//! Child executions and cancellation.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use zart::core::ExecutionStatus;
use zart::prelude::*;

fn family(store: std::sync::Arc<dyn zart::core::Store>, steps: Counter) -> Zart {
    Zart::builder(store)
        .task("parent", |ctx: Ctx, items: Vec<u32>| async move {
            let mut handles = Vec::new();
            for item in items {
                handles.push(ctx.spawn::<_, u32>("square", "square", item).await?);
            }
            let mut out = Vec::new();
            for h in &handles {
                out.push(ctx.join(h).await?);
            }
            Ok(out)
        })
        .task("square", |ctx: Ctx, n: u32| async move {
            ctx.step("mul", || async move { Ok(n * n) }).await
        })
        .task(
            "failing-child",
            |ctx: Ctx, _: serde_json::Value| async move {
                ctx.child::<_, u32>("bad", "bad", json!(null)).await
            },
        )
        .task("bad", |ctx: Ctx, _: serde_json::Value| async move {
            ctx.step_with("x", StepOptions::retry(RetryPolicy::none()), || async {
                Err::<u32, _>(TaskError::permanent("nope"))
            })
            .await
        })
        .task("slow-parent", |ctx: Ctx, _: serde_json::Value| async move {
            ctx.child::<_, ()>("forever", "ticker", json!(null)).await
        })
        .task("ticker", move |ctx: Ctx, _: serde_json::Value| {
            let steps = steps.clone();
            async move {
                for _ in 0..1000 {
                    let s = steps.clone();
                    ctx.step("tick", || {
                        let s = s.clone();
                        async move {
                            s.bump();
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            Ok(())
                        }
                    })
                    .await?;
                }
                Ok(())
            }
        })
        .build()
}

#[tokio::test]
async fn parent_awaits_children_without_holding_a_slot() {
    let db = db().await;
    let zart = family(db.store.clone(), Counter::default());
    let client = zart.client();
    // One slot: the parent must park while its children run.
    let worker = zart.start_worker(fast().concurrency(1));
    let id = start(&client, "parent", json!([2, 3, 4])).await;
    let done = finish(&client, &id).await;
    assert_eq!(done.result, Some(json!([4, 9, 16])));
    let child = client.get(&format!("{id}/square#1")).await.unwrap();
    assert_eq!(child.parent_id.as_deref(), Some(id.as_str()));
    assert_eq!(child.result, Some(json!(9)));
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_failed_child_is_an_error_in_the_parent() {
    let db = db().await;
    let zart = family(db.store.clone(), Counter::default());
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let id = start(&client, "failing-child", json!(null)).await;
    let done = finish(&client, &id).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.unwrap().kind, zart::core::ErrorKind::ChildFailed);
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn cancelling_a_parent_cancels_its_running_child_and_stops_its_steps() {
    let db = db().await;
    let steps = Counter::default();
    let zart = family(db.store.clone(), steps.clone());
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let id = start(&client, "slow-parent", json!(null)).await;
    let child_id = format!("{id}/forever#0");
    until(&client, &id, parked_on("child")).await;
    // Let the child commit a few ticks, then cancel the parent.
    let deadline = tokio::time::Instant::now() + WAIT;
    while steps.get() < 3 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    client.cancel(&id).await.unwrap();
    assert_eq!(
        client.get(&id).await.unwrap().status,
        ExecutionStatus::Cancelled
    );
    let child = client.wait(&child_id, WAIT).await.unwrap();
    assert_eq!(child.status, ExecutionStatus::Cancelled);
    // The handler is stopped at its next await point: at most the tick in flight ends.
    let ticks = client.detail(&child_id, None).await.unwrap().steps.len();
    let seen = steps.get();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(steps.get() <= seen + 1, "steps kept running after cancel");
    assert_eq!(
        client.detail(&child_id, None).await.unwrap().steps.len(),
        ticks,
        "a step committed after cancel"
    );
    let err = client.cancel(&id).await.unwrap_err();
    assert!(matches!(err, ClientError::Conflict(_)), "{err:?}");
    idle(&worker).await;
    worker.shutdown(Duration::from_secs(5)).await;
}
