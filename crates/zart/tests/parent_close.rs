//! What happens to children when their parent ends, and spawns that find their
//! child id taken.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use zart::core::{ErrorKind, ExecutionStatus};
use zart::prelude::*;

fn family(store: std::sync::Arc<dyn zart::core::Store>) -> Zart {
    Zart::builder(store)
        .task("leaver", |ctx: Ctx, _: serde_json::Value| async move {
            ctx.spawn::<_, ()>("kid", "waiter", json!(null)).await?;
            Ok(())
        })
        .task("releaser", |ctx: Ctx, _: serde_json::Value| async move {
            let options = ChildOptions::abandon();
            ctx.spawn_with::<_, ()>("kid", "waiter", json!(null), options)
                .await?;
            Ok(())
        })
        .task("waiter", |ctx: Ctx, _: serde_json::Value| async move {
            ctx.wait_for_event::<u32>("go", Duration::from_secs(3600))
                .await
        })
        .build()
}

#[tokio::test]
async fn a_parent_that_returns_cancels_its_unfinished_child() {
    let db = db().await;
    let zart = family(db.store.clone());
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let id = start(&client, "leaver", json!(null)).await;
    assert_eq!(
        finish(&client, &id).await.status,
        ExecutionStatus::Completed
    );
    let child = client.wait(&format!("{id}/kid#0"), WAIT).await.unwrap();
    assert_eq!(child.status, ExecutionStatus::Cancelled);
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn an_abandoned_child_outlives_its_parent() {
    let db = db().await;
    let zart = family(db.store.clone());
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let id = start(&client, "releaser", json!(null)).await;
    assert_eq!(
        finish(&client, &id).await.status,
        ExecutionStatus::Completed
    );
    let child_id = format!("{id}/kid#0");
    until(&client, &child_id, parked_on("event")).await;
    client.offer_event(&child_id, "go", json!(7)).await.unwrap();
    let child = finish(&client, &child_id).await;
    assert_eq!(child.status, ExecutionStatus::Completed);
    assert_eq!(child.result, Some(json!(7)));
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_spawn_whose_child_id_is_taken_fails_the_parent_without_adopting() {
    let db = db().await;
    let zart = family(db.store.clone());
    let client = zart.client();
    // Someone started an execution under the id the parent's child would get.
    let squatter = StartRequest::new("waiter", json!(null)).id("p1/kid#0");
    client.start(squatter).await.unwrap();
    let worker = zart.start_worker(fast());
    client
        .start(StartRequest::new("leaver", json!(null)).id("p1"))
        .await
        .unwrap();
    let done = finish(&client, "p1").await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    let error = done.error.unwrap();
    assert_eq!(error.kind, ErrorKind::ChildFailed);
    assert!(error.message.contains("not adopted"), "{}", error.message);
    let squatter = client.get("p1/kid#0").await.unwrap();
    assert_eq!(squatter.parent_id, None);
    assert!(
        !squatter.status.is_terminal(),
        "the parent's end left it alone"
    );
    worker.shutdown(Duration::from_secs(5)).await;
}
