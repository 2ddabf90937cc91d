//! The client API: start (idempotency, conflicts, validation), wait, list, stats.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use zart::core::{ExecutionQuery, ExecutionStatus, SortBy, SortOrder};
use zart::prelude::*;

#[derive(serde::Deserialize, serde::Serialize)]
struct Order {
    id: u32,
}

fn engine(store: std::sync::Arc<dyn zart::core::Store>) -> Zart {
    Zart::builder(store)
        .task(
            "echo",
            |_ctx: Ctx, v: serde_json::Value| async move { Ok(v) },
        )
        .task("order", |_ctx: Ctx, o: Order| async move { Ok(o.id) })
        .task("gate", |ctx: Ctx, _: serde_json::Value| async move {
            ctx.wait_for_event::<serde_json::Value>("go", Duration::from_secs(60))
                .await
        })
        .build()
}

#[tokio::test]
async fn start_is_idempotent_by_id_and_conflicts_on_a_different_task_or_payload() {
    let db = db().await;
    let client = engine(db.store.clone()).client();
    let first = client
        .start(StartRequest::new("echo", json!({"a": 1})).id("order-1"))
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.execution.status, ExecutionStatus::Scheduled);
    let again = client
        .start(StartRequest::new("echo", json!({"a": 1})).id("order-1"))
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.execution.id, "order-1");
    let err = client
        .start(StartRequest::new("echo", json!({"a": 2})).id("order-1"))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Conflict(_)), "{err:?}");
    let err = client
        .start(StartRequest::new("order", json!({"id": 1})).id("order-1"))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Conflict(_)), "{err:?}");
}

#[tokio::test]
async fn unknown_tasks_bad_payloads_and_bad_ids_are_rejected_before_anything_is_stored() {
    let db = db().await;
    let client = engine(db.store.clone()).client();
    let err = client
        .start(StartRequest::new("nope", json!(null)))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::UnknownTask(m) if m.contains("nope")),
        "{err:?}"
    );
    let err = client
        .start(StartRequest::new("order", json!({"id": "x"})))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::InvalidInput(m) if m.contains("order") && m.contains("Order")),
        "{err:?}"
    );
    for bad in ["", "a\nb", &"x".repeat(256)] {
        let err = client
            .start(StartRequest::new("echo", json!(1)).id(bad))
            .await
            .unwrap_err();
        assert!(
            matches!(err, ClientError::InvalidInput(_)),
            "{bad:?}: {err:?}"
        );
    }
    assert_eq!(client.stats().await.unwrap(), zart::core::Stats::default());
}

#[tokio::test]
async fn a_start_from_a_client_without_the_handler_fails_the_execution_cleanly() {
    // A worker that lacks the task: the execution fails once with a clear error, not
    // an endless retry.
    let db = db().await;
    let zart = engine(db.store.clone());
    let worker = zart.start_worker(fast());
    insert_unchecked(&db.store, "orphan", "missing-task", json!(null)).await;
    let done = finish(&zart.client(), "orphan").await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    let err = done.error.unwrap();
    assert_eq!(err.kind, zart::core::ErrorKind::UnknownTask);
    assert!(err.message.contains("missing-task"));
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn wait_answers_when_the_execution_finishes_and_times_out_otherwise() {
    let db = db().await;
    let zart = engine(db.store.clone());
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let id = start(&client, "gate", json!(null)).await;
    let err = client
        .wait(&id, Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Timeout(_)), "{err:?}");
    let waiter = {
        let client = client.clone();
        let id = id.clone();
        tokio::spawn(async move { client.wait(&id, WAIT).await })
    };
    client.offer_event(&id, "go", json!("now")).await.unwrap();
    let done = waiter.await.unwrap().unwrap();
    assert_eq!(done.result, Some(json!("now")));
    let err = client
        .wait("missing", Duration::from_millis(10))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::NotFound(_)));
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn list_filters_sorts_pages_and_stats_count() {
    let db = db().await;
    let zart = engine(db.store.clone());
    let client = zart.client();
    for i in 0..5 {
        client
            .start(StartRequest::new("echo", json!(i)).id(format!("e-{i}")))
            .await
            .unwrap();
    }
    client
        .start(StartRequest::new("gate", json!(null)).id("g-1"))
        .await
        .unwrap();
    let worker = zart.start_worker(fast());
    for i in 0..5 {
        finish(&client, &format!("e-{i}")).await;
    }
    client.cancel("g-1").await.unwrap();
    let stats = client.stats().await.unwrap();
    assert_eq!(
        (
            stats.completed,
            stats.cancelled,
            stats.running,
            stats.scheduled
        ),
        (5, 1, 0, 0)
    );
    let page = client
        .list(ExecutionQuery {
            task_name: Some("echo".into()),
            sort_by: SortBy::ScheduledAt,
            sort_order: SortOrder::Asc,
            limit: 2,
            offset: 1,
            ..ExecutionQuery::default()
        })
        .await
        .unwrap();
    let ids: Vec<_> = page.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, vec!["e-1", "e-2"]);
    let cancelled = client
        .list(ExecutionQuery {
            status: Some(ExecutionStatus::Cancelled),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(cancelled.len(), 1);
    let searched = client
        .list(ExecutionQuery {
            search: Some("g-".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(searched.len(), 1);
    let err = client
        .list(ExecutionQuery {
            limit: 1001,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::InvalidInput(_)));
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn cancel_of_unknown_or_finished_executions_is_an_error() {
    let db = db().await;
    let zart = engine(db.store.clone());
    let client = zart.client();
    let worker = zart.start_worker(fast());
    assert!(matches!(
        client.cancel("nope").await,
        Err(ClientError::NotFound(_))
    ));
    let id = start(&client, "echo", json!(1)).await;
    finish(&client, &id).await;
    assert!(matches!(
        client.cancel(&id).await,
        Err(ClientError::Conflict(_))
    ));
    worker.shutdown(Duration::from_secs(5)).await;
}
