//! Transactional steps and transactional enqueue on real PostgreSQL (a fresh schema
//! per test): the closure's writes commit with the step's journal entry or not at
//! all, replays do not run the closure, failed or timed-out attempts roll back, a
//! worker that lost its lease commits nothing, and `Client::start_in` commits and
//! rolls back with the caller's transaction. The SQLite side is `transactions.rs`.
#![cfg(feature = "postgres")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::json;
use zart::core::{ExecutionClaim, ExecutionStatus, StepStatus, Store};
use zart::prelude::*;

use zart::postgres::sqlx;
use zart::postgres::{PgStore, PgTransaction};

fn pg_store(store: &Arc<dyn Store>) -> &PgStore {
    store
        .as_any()
        .and_then(|any| any.downcast_ref::<PgStore>())
        .expect("a PostgreSQL store")
}

async fn pg_with_effects(test: &str) -> Option<PgDb> {
    let db = pg(test).await?;
    let sql = format!(
        "CREATE TABLE \"{}\".effects (execution_id TEXT NOT NULL, n INTEGER NOT NULL)",
        db.schema.name()
    );
    sqlx::query(&sql)
        .execute(pg_store(&db.store).pool())
        .await
        .expect("create the effects table");
    Some(db)
}

async fn effects(db: &PgDb, id: &str) -> i64 {
    let sql = format!(
        "SELECT count(*) FROM \"{}\".effects WHERE execution_id = $1",
        db.schema.name()
    );
    sqlx::query_scalar(&sql)
        .bind(id)
        .fetch_one(pg_store(&db.store).pool())
        .await
        .expect("count effects")
}

async fn insert_effect(tx: &mut PgTransaction, schema: &str, id: &str, n: i32) -> TaskResult<()> {
    let sql = format!("INSERT INTO \"{schema}\".effects (execution_id, n) VALUES ($1, $2)");
    sqlx::query(&sql)
        .bind(id)
        .bind(n)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// `record`, as on SQLite; `gate`, when set, holds every attempt after its
/// insert until notified.
fn engine(db: &PgDb, runs: Counter, fail: u32, gate: Option<Arc<tokio::sync::Notify>>) -> Zart {
    let schema = db.schema.name().to_owned();
    Zart::builder(db.store.clone())
        .task("record", move |ctx: Ctx, _: serde_json::Value| {
            let (runs, gate, schema) = (runs.clone(), gate.clone(), schema.clone());
            async move {
                let id = ctx.execution_id().to_owned();
                let options = StepOptions::retry(RetryPolicy::fixed(Duration::from_millis(10), 3));
                let n: u32 = ctx
                    .transaction_with("insert", options, |tx| {
                        let (runs, gate) = (runs.clone(), gate.clone());
                        let (schema, id) = (schema.clone(), id.clone());
                        Box::pin(async move {
                            let run = runs.bump();
                            insert_effect(tx, &schema, &id, run as i32).await?;
                            if let Some(gate) = gate {
                                gate.notified().await;
                            }
                            if run <= fail {
                                return Err(TaskError::retryable(format!("attempt {run} fails")));
                            }
                            Ok(run)
                        })
                    })
                    .await?;
                let _: serde_json::Value =
                    ctx.wait_for_event("go", Duration::from_secs(60)).await?;
                Ok(n)
            }
        })
        .build()
}

#[tokio::test]
async fn pg_a_transactional_step_commits_once_and_replays_without_running() {
    let Some(db) = pg_with_effects("tx_commit").await else {
        return;
    };
    let runs = Counter::default();
    let zart = engine(&db, runs.clone(), 0, None);
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let id = start(&client, "record", json!(null)).await;
    until(&client, &id, parked_on("event")).await;
    assert_eq!(effects(&db, &id).await, 1);
    let detail = client.detail(&id, None).await.unwrap();
    let step = &detail.steps[0];
    assert_eq!(step.status, StepStatus::Completed);
    assert_eq!(step.result, Some(json!(1)));
    assert_eq!(step.attempts.len(), 1);
    client.offer_event(&id, "go", json!(null)).await.unwrap();
    let done = finish(&client, &id).await;
    assert_eq!(done.result, Some(json!(1)));
    assert_eq!(runs.get(), 1, "the closure ran again on replay");
    assert_eq!(effects(&db, &id).await, 1);
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn pg_a_failing_closure_is_rolled_back_and_its_retry_runs_it_again() {
    let Some(db) = pg_with_effects("tx_retry").await else {
        return;
    };
    let runs = Counter::default();
    let zart = engine(&db, runs.clone(), 2, None);
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let id = start(&client, "record", json!(null)).await;
    until(&client, &id, parked_on("event")).await;
    assert_eq!(runs.get(), 3);
    assert_eq!(effects(&db, &id).await, 1);
    let detail = client.detail(&id, None).await.unwrap();
    assert_eq!(detail.steps[0].result, Some(json!(3)));
    assert_eq!(detail.steps[0].attempts.len(), 3);
    client.cancel(&id).await.unwrap();
    worker.shutdown(Duration::from_secs(5)).await;
}

/// The lease is taken over while the closure runs (it has inserted its row and
/// waits): the step save's guard fails in the same transaction, so the row is
/// rolled back with it and the stale worker writes nothing.
#[tokio::test]
async fn pg_a_worker_that_lost_its_lease_cannot_commit_user_writes() {
    let Some(db) = pg_with_effects("tx_fence").await else {
        return;
    };
    let runs = Counter::default();
    let gate = Arc::new(tokio::sync::Notify::new());
    let zart = engine(&db, runs.clone(), 0, Some(gate.clone()));
    let client = zart.client();
    let worker = zart.start_worker(fast().lease_duration(Duration::from_secs(600)));
    let id = start(&client, "record", json!(null)).await;
    until(&client, &id, |_| runs.get() == 1).await;
    // Another worker takes the execution over, as if the lease had expired:
    // the server's clock decides, so the claim is an hour ahead of it.
    let later = db.store.clock().expect("the server's clock").now() + chrono::Duration::hours(1);
    let stolen = db
        .store
        .execution_claim(ExecutionClaim {
            worker_id: "thief".into(),
            now: later,
            lease_expires_at: later + chrono::Duration::hours(1),
            limit: 1,
            default_queue: true,
            queues: Vec::new(),
        })
        .await
        .unwrap();
    assert_eq!(stolen.len(), 1);
    gate.notify_one();
    idle(&worker).await;
    assert_eq!(
        effects(&db, &id).await,
        0,
        "a stale worker committed its row"
    );
    let journal = db.store.journal_load(&id, 1).await.unwrap();
    assert!(journal.is_empty(), "a stale worker wrote {journal:?}");
    worker.shutdown(Duration::from_secs(5)).await;
}

/// An attempt past its timeout is stopped, and its insert rolled back.
#[tokio::test]
async fn pg_an_attempt_over_its_timeout_is_stopped_and_rolled_back() {
    let Some(db) = pg_with_effects("tx_timeout").await else {
        return;
    };
    let (schema, runs) = (db.schema.name().to_owned(), Counter::default());
    let zart = Zart::builder(db.store.clone())
        .task("timed", {
            let runs = runs.clone();
            move |ctx: Ctx, _: serde_json::Value| {
                let (runs, schema) = (runs.clone(), schema.clone());
                async move {
                    let id = ctx.execution_id().to_owned();
                    let options = StepOptions::retry(RetryPolicy::fixed(Duration::ZERO, 2))
                        .timeout(Duration::from_millis(100));
                    ctx.transaction_with("insert", options, |tx| {
                        let (runs, schema, id) = (runs.clone(), schema.clone(), id.clone());
                        Box::pin(async move {
                            insert_effect(tx, &schema, &id, 1).await?;
                            if runs.bump() == 1 {
                                // Stopped here by the timeout.
                                std::future::pending::<()>().await;
                            }
                            Ok(())
                        })
                    })
                    .await
                }
            }
        })
        .build();
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let id = start(&client, "timed", json!(null)).await;
    assert_eq!(
        finish(&client, &id).await.status,
        ExecutionStatus::Completed
    );
    assert_eq!(runs.get(), 2);
    assert_eq!(effects(&db, &id).await, 1);
    worker.shutdown(Duration::from_secs(5)).await;
}

/// A closure that ignores a failed statement and returns `Ok` left its
/// transaction aborted: its attempts fail with an error saying so (nothing of them
/// is kept), and the step ends dead rather than looping.
#[tokio::test]
async fn pg_a_closure_that_ignores_a_failed_statement_fails_its_step() {
    let Some(db) = pg_with_effects("tx_aborted").await else {
        return;
    };
    let schema = db.schema.name().to_owned();
    let zart = Zart::builder(db.store.clone())
        .task("ignores", move |ctx: Ctx, _: serde_json::Value| {
            let schema = schema.clone();
            async move {
                let id = ctx.execution_id().to_owned();
                let options = StepOptions::retry(RetryPolicy::fixed(Duration::ZERO, 2));
                ctx.transaction_with("insert", options, |tx| {
                    let (schema, id) = (schema.clone(), id.clone());
                    Box::pin(async move {
                        insert_effect(tx, &schema, &id, 1).await?;
                        let _ = sqlx::query("SELECT no_such_column")
                            .execute(&mut **tx)
                            .await;
                        Ok(())
                    })
                })
                .await
            }
        })
        .build();
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let id = start(&client, "ignores", json!(null)).await;
    let done = finish(&client, &id).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    let message = done.error.unwrap().message;
    assert!(message.contains("aborted the transaction"), "{message}");
    assert_eq!(effects(&db, &id).await, 0);
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn pg_start_in_commits_with_the_caller_and_rolls_back_with_it() {
    let Some(db) = pg_with_effects("tx_start_in").await else {
        return;
    };
    let schema = db.schema.name().to_owned();
    let zart = Zart::builder(db.store.clone())
        .task("ship", |_: Ctx, order: String| async move { Ok(order) })
        .build();
    let client = zart.client();
    let worker = zart.start_worker(fast().poll_interval(Duration::from_secs(600)));
    let pool = pg_store(&db.store).pool().clone();

    let mut tx = pool.begin().await.unwrap();
    insert_effect(&mut tx, &schema, "order-1", 1).await.unwrap();
    let request = StartRequest::new("ship", json!("order-1")).id("ship-1");
    let started = client.start_in(&mut tx, request).await.unwrap();
    assert!(started.created);
    // Not visible before the commit.
    assert!(matches!(
        client.get("ship-1").await,
        Err(ClientError::NotFound(_))
    ));
    tx.commit().await.unwrap();
    // The NOTIFY of the commit wakes the worker (it would poll only after
    // ten minutes).
    let done = finish(&client, "ship-1").await;
    assert_eq!(done.result, Some(json!("order-1")));
    assert_eq!(effects(&db, "order-1").await, 1);

    let mut tx = pool.begin().await.unwrap();
    insert_effect(&mut tx, &schema, "order-2", 1).await.unwrap();
    let request = StartRequest::new("ship", json!("order-2")).id("ship-2");
    client.start_in(&mut tx, request).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(matches!(
        client.get("ship-2").await,
        Err(ClientError::NotFound(_))
    ));
    assert_eq!(effects(&db, "order-2").await, 0);

    // Idempotent by id, and a conflict for another payload, as `start`.
    let mut tx = pool.begin().await.unwrap();
    let same = StartRequest::new("ship", json!("order-1")).id("ship-1");
    assert!(!client.start_in(&mut tx, same).await.unwrap().created);
    let other = StartRequest::new("ship", json!("order-9")).id("ship-1");
    let conflict = client.start_in(&mut tx, other).await;
    assert!(
        matches!(conflict, Err(ClientError::Conflict(_))),
        "{conflict:?}"
    );
    tx.rollback().await.unwrap();
    worker.shutdown(Duration::from_secs(5)).await;
}

/// `start_in` and `ctx.sqlite_transaction` on the other backend are clear
/// errors.
#[tokio::test]
async fn pg_the_wrong_backends_calls_are_clear_errors() {
    let Some(db) = pg_with_effects("tx_wrong").await else {
        return;
    };
    let sqlite_db = common::db().await;
    let client = Zart::builder(sqlite_db.store.clone()).build().client();
    let mut tx = pg_store(&db.store).pool().begin().await.unwrap();
    let refused = client
        .start_in(&mut tx, StartRequest::new("t", json!(1)))
        .await;
    match refused {
        Err(ClientError::InvalidInput(m)) => assert!(m.contains("PostgreSQL store"), "{m}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let zart = Zart::builder(db.store.clone())
        .task("wrong", |ctx: Ctx, _: serde_json::Value| async move {
            ctx.sqlite_transaction("s", |_tx| Ok(1)).await
        })
        .build();
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let id = start(&client, "wrong", json!(null)).await;
    let done = finish(&client, &id).await;
    let message = done.error.unwrap().message;
    assert!(message.contains("needs the SQLite store"), "{message}");
    worker.shutdown(Duration::from_secs(5)).await;
}
