//! Transactional steps and transactional enqueue on a real SQLite file: the
//! closure's writes commit with the step's journal entry or not at all, replays do
//! not run the closure, failed or timed-out attempts roll back, a worker that lost
//! its lease commits nothing, and an execution started in the caller's transaction
//! exists exactly when that transaction commits. The PostgreSQL side is
//! `pg_transactions.rs`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::json;
use zart::core::{ExecutionClaim, ExecutionStatus, StepStatus, Store, TransactionOutcome};
use zart::prelude::*;
use zart::sqlite::{SqliteStore, SqliteTransaction};

const EFFECTS: &str = "CREATE TABLE effects (execution_id TEXT NOT NULL, n INTEGER NOT NULL)";

fn sqlite(store: &Arc<dyn Store>) -> &SqliteStore {
    store
        .as_any()
        .and_then(|any| any.downcast_ref::<SqliteStore>())
        .expect("a SQLite store")
}

async fn create_effects(store: &Arc<dyn Store>) {
    sqlite(store)
        .transaction(|tx| Ok::<_, TaskError>(tx.execute_batch(EFFECTS)?))
        .await
        .expect("create the effects table");
}

/// The rows of `effects` for `id`.
async fn effects(store: &Arc<dyn Store>, id: &str) -> i64 {
    let id = id.to_owned();
    sqlite(store)
        .transaction(move |tx| {
            let n = tx.query_row(
                "SELECT count(*) FROM effects WHERE execution_id = ?1",
                [&id],
                |r| r.get(0),
            )?;
            Ok::<i64, TaskError>(n)
        })
        .await
        .expect("count effects")
}

fn insert_effect(tx: &SqliteTransaction<'_>, id: &str, n: i64) -> TaskResult<()> {
    tx.execute(
        "INSERT INTO effects (execution_id, n) VALUES (?1, ?2)",
        zart::sqlite::rusqlite::params![id, n],
    )?;
    Ok(())
}

/// `record`: one transactional step inserting a row, failing its first `fail`
/// attempts after the insert, then waiting for the event `go` (so the handler is
/// replayed once it arrives).
fn engine(store: Arc<dyn Store>, runs: Counter, fail: u32) -> Zart {
    Zart::builder(store)
        .task("record", move |ctx: Ctx, _: serde_json::Value| {
            let runs = runs.clone();
            async move {
                let id = ctx.execution_id().to_owned();
                let options = StepOptions::retry(RetryPolicy::fixed(Duration::from_millis(10), 3));
                let n: u32 = ctx
                    .sqlite_transaction_with("insert", options, move |tx| {
                        let run = runs.bump();
                        insert_effect(tx, &id, i64::from(run))?;
                        if run <= fail {
                            return Err(TaskError::retryable(format!("attempt {run} fails")));
                        }
                        Ok(run)
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
async fn a_transactional_step_commits_its_rows_with_a_step_entry() {
    let db = db().await;
    create_effects(&db.store).await;
    let runs = Counter::default();
    let zart = engine(db.store.clone(), runs.clone(), 0);
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let id = start(&client, "record", json!(null)).await;
    until(&client, &id, parked_on("event")).await;
    assert_eq!(effects(&db.store, &id).await, 1);
    let detail = client.detail(&id, None).await.unwrap();
    let step = &detail.steps[0];
    assert_eq!(
        (step.name.as_str(), step.status, step.result.clone()),
        ("insert", StepStatus::Completed, Some(json!(1)))
    );
    assert_eq!(step.kind, zart::core::StepKind::Step);
    assert_eq!(step.attempts.len(), 1);
    client.offer_event(&id, "go", json!(null)).await.unwrap();
    let done = finish(&client, &id).await;
    assert_eq!(done.result, Some(json!(1)));
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_replay_returns_the_recorded_value_without_running_the_closure() {
    let db = db().await;
    create_effects(&db.store).await;
    let runs = Counter::default();
    let zart = engine(db.store.clone(), runs.clone(), 0);
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let id = start(&client, "record", json!(null)).await;
    until(&client, &id, parked_on("event")).await;
    // The event resumes the execution: its handler runs again from the journal.
    client.offer_event(&id, "go", json!(null)).await.unwrap();
    let done = finish(&client, &id).await;
    assert_eq!(done.status, ExecutionStatus::Completed);
    assert_eq!(runs.get(), 1, "the closure ran again on replay");
    assert_eq!(effects(&db.store, &id).await, 1);
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_failing_closure_is_rolled_back_and_its_retry_runs_it_again() {
    let db = db().await;
    create_effects(&db.store).await;
    let runs = Counter::default();
    let zart = engine(db.store.clone(), runs.clone(), 2);
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let id = start(&client, "record", json!(null)).await;
    until(&client, &id, parked_on("event")).await;
    assert_eq!(runs.get(), 3);
    // Each failed attempt inserted a row too: only the third attempt's remains.
    assert_eq!(effects(&db.store, &id).await, 1);
    let detail = client.detail(&id, None).await.unwrap();
    let step = &detail.steps[0];
    assert_eq!(step.status, StepStatus::Completed);
    assert_eq!(step.result, Some(json!(3)));
    let errors: Vec<_> = step.attempts.iter().map(|a| a.error.clone()).collect();
    assert_eq!(
        errors,
        [
            Some("attempt 1 fails".to_owned()),
            Some("attempt 2 fails".to_owned()),
            None
        ]
    );
    client.cancel(&id).await.unwrap();
    worker.shutdown(Duration::from_secs(5)).await;
}

/// `zart::current_attempt()` inside the synchronous closure (on the SQLite writer
/// thread) is the step's attempt, as it is inside `ctx.step`; outside, none.
#[tokio::test]
async fn current_attempt_is_known_inside_a_sqlite_transaction() {
    let db = db().await;
    let zart = Zart::builder(db.store.clone())
        .task("attempts", |ctx: Ctx, _: serde_json::Value| async move {
            let options = StepOptions::retry(RetryPolicy::fixed(Duration::ZERO, 3));
            let seen: Option<u32> = ctx
                .sqlite_transaction_with("count", options, |_tx| {
                    let attempt = zart::current_attempt();
                    if attempt < Some(3) {
                        return Err(TaskError::retryable(format!("attempt {attempt:?}")));
                    }
                    Ok(attempt)
                })
                .await?;
            Ok(json!({"inside": seen, "outside": zart::current_attempt()}))
        })
        .build();
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let id = start(&client, "attempts", json!(null)).await;
    let done = finish(&client, &id).await;
    assert_eq!(done.result, Some(json!({"inside": 3, "outside": null})));
    let detail = client.detail(&id, None).await.unwrap();
    let errors: Vec<_> = detail.steps[0]
        .attempts
        .iter()
        .map(|a| a.error.clone())
        .collect();
    assert_eq!(
        errors,
        [
            Some("attempt Some(1)".to_owned()),
            Some("attempt Some(2)".to_owned()),
            None
        ]
    );
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_closure_failing_every_attempt_leaves_no_rows_and_a_dead_step() {
    let db = db().await;
    create_effects(&db.store).await;
    let runs = Counter::default();
    let zart = engine(db.store.clone(), runs.clone(), 99);
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let id = start(&client, "record", json!(null)).await;
    let done = finish(&client, &id).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    let error = done.error.expect("an error");
    assert_eq!(error.step.as_deref(), Some("insert"));
    assert_eq!(runs.get(), 3);
    assert_eq!(effects(&db.store, &id).await, 0);
    worker.shutdown(Duration::from_secs(5)).await;
}

/// The store-level guard: a save whose lease was taken over rolls back the
/// closure's writes with it.
#[tokio::test]
async fn a_fenced_out_worker_cannot_commit_user_writes_on_sqlite() {
    let db = db().await;
    create_effects(&db.store).await;
    insert_unchecked(&db.store, "x", "record", json!(null)).await;
    let now = chrono::Utc::now();
    let claim = |worker: &str, now: zart::core::Timestamp| ExecutionClaim {
        worker_id: worker.into(),
        now,
        lease_expires_at: now + chrono::Duration::minutes(1),
        limit: 1,
        default_queue: true,
        queues: Vec::new(),
    };
    let mine = db.store.execution_claim(claim("me", now)).await.unwrap();
    let later = now + chrono::Duration::minutes(2);
    let theirs = db
        .store
        .execution_claim(claim("thief", later))
        .await
        .unwrap();
    assert_eq!((mine.len(), theirs.len()), (1, 1));
    let save = stale_save(&mine[0].fence, now);
    let outcome = sqlite(&db.store)
        .step_transaction(|tx| insert_effect(tx, "x", 1), move |_: &()| save)
        .await
        .unwrap();
    assert_eq!(outcome, TransactionOutcome::LeaseLost);
    assert_eq!(effects(&db.store, "x").await, 0);
    assert!(db.store.journal_load("x", 1).await.unwrap().is_empty());
}

/// A completed entry of execution `x` saved under worker `me`'s fence.
fn stale_save(fence: &i64, now: zart::core::Timestamp) -> zart::core::StepSave {
    let header = zart::core::StepHeader {
        name: "insert".into(),
        occurrence: 0,
        position: 0,
        kind: zart::core::StepKind::Step,
        retry_attempt: 1,
        scheduled_at: now,
    };
    zart::core::StepSave {
        guard: zart::core::LeaseGuard {
            execution_id: "x".into(),
            worker_id: "me".into(),
            fence: *fence,
            now,
        },
        run_index: 1,
        step: zart::core::StepWrite::completed(header, Some(json!(null)), now),
        attempt: None,
    }
}

/// A closure that outlives its lease (it blocks the writer, so no renewal can be
/// written meanwhile) commits nothing; the execution is claimed again and the
/// retry commits once.
#[tokio::test]
async fn a_transaction_that_outlived_its_lease_is_rolled_back_and_run_again() {
    let db = db().await;
    create_effects(&db.store).await;
    let runs = Counter::default();
    let zart = Zart::builder(db.store.clone())
        .task("slow", {
            let runs = runs.clone();
            move |ctx: Ctx, _: serde_json::Value| {
                let runs = runs.clone();
                async move {
                    let id = ctx.execution_id().to_owned();
                    ctx.sqlite_transaction("insert", move |tx| {
                        if runs.bump() == 1 {
                            // Longer than the lease: the guard fails at the save.
                            std::thread::sleep(Duration::from_millis(1200));
                        }
                        insert_effect(tx, &id, 1)
                    })
                    .await
                }
            }
        })
        .build();
    let client = zart.client();
    let worker = zart.start_worker(fast().lease_duration(Duration::from_millis(600)));
    let id = start(&client, "slow", json!(null)).await;
    let done = finish(&client, &id).await;
    assert_eq!(done.status, ExecutionStatus::Completed);
    assert_eq!(runs.get(), 2, "the stale attempt was not run again");
    assert_eq!(effects(&db.store, &id).await, 1);
    let detail = client.detail(&id, None).await.unwrap();
    assert_eq!(detail.steps[0].attempts.len(), 1);
    worker.shutdown(Duration::from_secs(5)).await;
}

/// An attempt that ran past its timeout is rolled back and counted as timed out;
/// the retry commits.
#[tokio::test]
async fn an_attempt_over_its_timeout_is_rolled_back_and_retried() {
    let db = db().await;
    create_effects(&db.store).await;
    let runs = Counter::default();
    let zart = Zart::builder(db.store.clone())
        .task("timed", {
            let runs = runs.clone();
            move |ctx: Ctx, _: serde_json::Value| {
                let runs = runs.clone();
                async move {
                    let id = ctx.execution_id().to_owned();
                    let options = StepOptions::retry(RetryPolicy::fixed(Duration::ZERO, 2))
                        .timeout(Duration::from_millis(50));
                    ctx.sqlite_transaction_with("insert", options, move |tx| {
                        insert_effect(tx, &id, 1)?;
                        if runs.bump() == 1 {
                            std::thread::sleep(Duration::from_millis(120));
                        }
                        Ok(())
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
    assert_eq!(effects(&db.store, &id).await, 1);
    let detail = client.detail(&id, None).await.unwrap();
    let first = detail.steps[0].attempts[0]
        .error
        .clone()
        .unwrap_or_default();
    assert!(first.contains("timed out after 50 ms"), "{first}");
    worker.shutdown(Duration::from_secs(5)).await;
}

/// A closure that commits by itself (vetoed: nothing of it is kept) fails its
/// attempts with an error saying so, and the step ends dead rather than looping.
#[tokio::test]
async fn a_closure_that_commits_by_itself_fails_its_step() {
    let db = db().await;
    create_effects(&db.store).await;
    let zart = Zart::builder(db.store.clone())
        .task("commits", |ctx: Ctx, _: serde_json::Value| async move {
            let id = ctx.execution_id().to_owned();
            let options = StepOptions::retry(RetryPolicy::fixed(Duration::ZERO, 2));
            ctx.sqlite_transaction_with("insert", options, move |tx| {
                insert_effect(tx, &id, 1)?;
                let _ = tx.execute_batch("COMMIT");
                Ok(())
            })
            .await
        })
        .build();
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let id = start(&client, "commits", json!(null)).await;
    let done = finish(&client, &id).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    let message = done.error.unwrap().message;
    assert!(
        message.contains("ended the transaction itself"),
        "{message}"
    );
    assert_eq!(effects(&db.store, &id).await, 0);
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn start_in_sqlite_commits_the_execution_with_the_callers_rows() {
    let db = db().await;
    create_effects(&db.store).await;
    let zart = Zart::builder(db.store.clone())
        .task("ship", |_: Ctx, order: String| async move { Ok(order) })
        .build();
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let mut signals = db.store.subscribe();
    let outbox = client.clone();
    let started = sqlite(&db.store)
        .transaction(move |tx| {
            insert_effect(tx, "order-1", 1)?;
            let request = StartRequest::new("ship", json!("order-1")).id("ship-1");
            Ok::<_, TaskError>(outbox.start_in_sqlite(tx, request)?)
        })
        .await
        .unwrap();
    assert!(started.created);
    assert_eq!(
        tokio::time::timeout(WAIT, signals.recv()).await.unwrap(),
        Some(zart::core::Signal::Work),
        "the commit wakes the workers"
    );
    let done = finish(&client, "ship-1").await;
    assert_eq!(done.result, Some(json!("order-1")));
    assert_eq!(effects(&db.store, "order-1").await, 1);
    // The same id, task and payload again: an idempotent replay.
    let outbox = client.clone();
    let again = sqlite(&db.store)
        .transaction(move |tx| {
            let request = StartRequest::new("ship", json!("order-1")).id("ship-1");
            outbox.start_in_sqlite(tx, request)
        })
        .await
        .unwrap();
    assert!(!again.created);
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn start_in_sqlite_rolled_back_leaves_no_execution() {
    let db = db().await;
    create_effects(&db.store).await;
    let zart = Zart::builder(db.store.clone())
        .task("ship", |_: Ctx, order: String| async move { Ok(order) })
        .build();
    let client = zart.client();
    let outbox = client.clone();
    let failed = sqlite(&db.store)
        .transaction(move |tx| {
            insert_effect(tx, "order-2", 1)?;
            let request = StartRequest::new("ship", json!("order-2")).id("ship-2");
            outbox.start_in_sqlite(tx, request)?;
            Err::<(), _>(TaskError::permanent("the caller changes its mind"))
        })
        .await;
    assert_eq!(failed.unwrap_err().message(), "the caller changes its mind");
    assert!(matches!(
        client.get("ship-2").await,
        Err(ClientError::NotFound(_))
    ));
    assert_eq!(effects(&db.store, "order-2").await, 0);
    // Validated as `start` does: an unknown task is refused, nothing is written.
    let outbox = client.clone();
    let unknown = sqlite(&db.store)
        .transaction(move |tx| outbox.start_in_sqlite(tx, StartRequest::new("nope", json!(1))))
        .await;
    assert!(
        matches!(unknown, Err(ClientError::UnknownTask(_))),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn start_in_sqlite_refuses_a_transaction_of_another_store() {
    let (a, b) = (db().await, db().await);
    let client = Zart::builder(a.store.clone()).build().client();
    let outcome = sqlite(&b.store)
        .transaction(move |tx| client.start_in_sqlite(tx, StartRequest::new("t", json!(1))))
        .await;
    match outcome {
        Err(ClientError::InvalidInput(message)) => {
            assert!(message.contains("this client's store"), "{message}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[cfg(feature = "postgres")]
/// `ctx.transaction` (PostgreSQL) on a SQLite store fails the execution with an
/// error naming the backends; it does not panic.
#[tokio::test]
async fn a_transaction_of_the_wrong_backend_is_a_clear_error() {
    let db = db().await;
    let zart = Zart::builder(db.store.clone())
        .task("wrong", |ctx: Ctx, _: serde_json::Value| async move {
            ctx.transaction("pg", |_tx| Box::pin(async { Ok(1) })).await
        })
        .build();
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let id = start(&client, "wrong", json!(null)).await;
    let done = finish(&client, &id).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    let message = done.error.unwrap().message;
    assert!(
        message.contains("ctx.transaction needs the PostgreSQL store")
            && message.contains("sqlite"),
        "{message}"
    );
    worker.shutdown(Duration::from_secs(5)).await;
}
