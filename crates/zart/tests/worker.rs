//! The worker: concurrency limit, graceful shutdown, lease release.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::json;
use zart::core::ExecutionStatus;
use zart::prelude::*;

#[tokio::test]
async fn the_worker_never_runs_more_executions_than_its_concurrency() {
    let db = db().await;
    let current = Arc::new(AtomicU32::new(0));
    let peak = Arc::new(AtomicU32::new(0));
    let (c, p) = (current.clone(), peak.clone());
    let zart = Zart::builder(db.store.clone())
        .task("busy", move |ctx: Ctx, _: serde_json::Value| {
            let (c, p) = (c.clone(), p.clone());
            async move {
                ctx.step("work", || {
                    let (c, p) = (c.clone(), p.clone());
                    async move {
                        let now = c.fetch_add(1, Ordering::SeqCst) + 1;
                        p.fetch_max(now, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(30)).await;
                        c.fetch_sub(1, Ordering::SeqCst);
                        Ok(())
                    }
                })
                .await
            }
        })
        .build();
    let client = zart.client();
    let mut ids = Vec::new();
    for _ in 0..8 {
        ids.push(start(&client, "busy", json!(null)).await);
    }
    let worker = zart.start_worker(fast().concurrency(2));
    for id in &ids {
        assert_eq!(finish(&client, id).await.status, ExecutionStatus::Completed);
    }
    assert_eq!(peak.load(Ordering::SeqCst), 2);
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn graceful_shutdown_lets_in_flight_executions_finish() {
    let db = db().await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let zart = Zart::builder(db.store.clone())
        .task("short", move |ctx: Ctx, _: serde_json::Value| {
            let tx = tx.clone();
            async move {
                ctx.step("work", || {
                    let tx = tx.clone();
                    async move {
                        let _ = tx.send(());
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        Ok(1)
                    }
                })
                .await
            }
        })
        .build();
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let id = start(&client, "short", json!(null)).await;
    rx.recv().await.unwrap();
    worker.shutdown(Duration::from_secs(10)).await;
    assert_eq!(
        client.get(&id).await.unwrap().status,
        ExecutionStatus::Completed
    );
}

#[tokio::test]
async fn shutdown_past_its_grace_releases_leases_so_another_worker_resumes_at_once() {
    let db = db().await;
    let runs = Counter::default();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let r = runs.clone();
    let zart = Zart::builder(db.store.clone())
        .task("stuck", move |ctx: Ctx, _: serde_json::Value| {
            let (r, tx) = (r.clone(), tx.clone());
            async move {
                ctx.step("work", || {
                    let (r, tx) = (r.clone(), tx.clone());
                    async move {
                        if r.bump() == 1 {
                            let _ = tx.send(());
                            std::future::pending::<()>().await;
                        }
                        Ok("done".to_string())
                    }
                })
                .await
            }
        })
        .build();
    let client = zart.client();
    // A lease far longer than the test: only an explicit release lets a new worker in.
    let long_lease = fast().lease_duration(Duration::from_secs(600));
    let worker = zart.start_worker(long_lease.clone());
    let id = start(&client, "stuck", json!(null)).await;
    rx.recv().await.unwrap();
    worker.shutdown(Duration::from_millis(100)).await;
    let released = client.get(&id).await.unwrap();
    assert!(
        released.waiting_for.is_none(),
        "lease still held: {released:?}"
    );
    let worker = zart.start_worker(long_lease);
    assert_eq!(finish(&client, &id).await.result, Some(json!("done")));
    assert_eq!(runs.get(), 2);
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn retention_deletes_finished_executions_and_keeps_unfinished_ones() {
    let db = db().await;
    let zart = Zart::builder(db.store.clone())
        .task(
            "echo",
            |_ctx: Ctx, v: serde_json::Value| async move { Ok(v) },
        )
        .task("gate", |ctx: Ctx, _: serde_json::Value| async move {
            ctx.wait_for_event::<u32>("go", Duration::from_secs(3600))
                .await
        })
        .build();
    let client = zart.client();
    let worker = zart.start_worker(fast().retention(Duration::from_millis(200)));
    let done = start(&client, "echo", json!(1)).await;
    finish(&client, &done).await;
    let waiting = start(&client, "gate", json!(null)).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while client.get(&done).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "never purged");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(matches!(
        client.detail(&done, None).await,
        Err(ClientError::NotFound(_))
    ));
    assert_eq!(
        client.get(&waiting).await.unwrap().status,
        ExecutionStatus::Running
    );
    worker.shutdown(Duration::from_secs(5)).await;
}
