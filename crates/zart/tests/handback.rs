//! A worker hands its leases back where it still can instead of letting them expire:
//! after a transient store failure mid-run, and at shutdown (including an execution
//! whose claim was answered after shutdown began). Each test runs on SQLite and on
//! PostgreSQL, with a lease far longer than the test, so only a hand-back lets the
//! execution go on in time.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::faulty::Faulty;
use common::*;
use serde_json::json;
use zart::core::{ExecutionStatus, Store};
use zart::prelude::*;

/// Far longer than any wait below: an execution resumed in time was handed back.
const LONG_LEASE: Duration = Duration::from_secs(600);
/// How long a handed-back execution may take to finish.
const PROMPTLY: Duration = Duration::from_secs(10);

/// Two steps; `first` counts runs of the first one.
fn two_steps(store: Arc<dyn Store>, first: Counter, second: Counter) -> Zart {
    Zart::builder(store)
        .task("two-steps", move |ctx: Ctx, _: serde_json::Value| {
            let (first, second) = (first.clone(), second.clone());
            async move {
                let a: u32 = ctx.step("a", || async { Ok(first.bump()) }).await?;
                let b: u32 = ctx.step("b", || async { Ok(second.bump()) }).await?;
                Ok(a + b)
            }
        })
        .build()
}

async fn a_transient_step_write_failure_hands_the_lease_back(store: Arc<dyn Store>) {
    let faulty = Faulty::new(store);
    let (first, second) = (Counter::default(), Counter::default());
    let zart = two_steps(faulty.clone(), first.clone(), second.clone());
    let client = zart.client();
    faulty.fail_step_saves(1);
    let worker = zart.start_worker(fast().lease_duration(LONG_LEASE));
    let id = start(&client, "two-steps", json!(null)).await;
    let done = client
        .wait(&id, PROMPTLY)
        .await
        .expect("resumed well before the lease expired");
    assert_eq!(done.status, ExecutionStatus::Completed, "{done:?}");
    // Step `a` ran, its write failed, and it ran again on the resumed run.
    assert_eq!((first.get(), second.get()), (2, 1));
    assert_eq!(done.result, Some(json!(3)));
    worker.shutdown(Duration::from_secs(5)).await;
}

/// A task whose step never ends the first time it runs.
fn stuck(
    store: Arc<dyn Store>,
    runs: Counter,
    started: tokio::sync::mpsc::UnboundedSender<()>,
) -> Zart {
    Zart::builder(store)
        .task("stuck", move |ctx: Ctx, _: serde_json::Value| {
            let (runs, started) = (runs.clone(), started.clone());
            async move {
                ctx.step("work", || {
                    let (runs, started) = (runs.clone(), started.clone());
                    async move {
                        if runs.bump() == 1 {
                            let _ = started.send(());
                            std::future::pending::<()>().await;
                        }
                        Ok("done".to_string())
                    }
                })
                .await
            }
        })
        .build()
}

async fn shutdown_past_its_grace_hands_the_lease_back(store: Arc<dyn Store>) {
    let runs = Counter::default();
    let (tx, mut started) = tokio::sync::mpsc::unbounded_channel();
    let zart = stuck(store, runs.clone(), tx);
    let client = zart.client();
    let worker = zart.start_worker(fast().lease_duration(LONG_LEASE));
    let id = start(&client, "stuck", json!(null)).await;
    started.recv().await.expect("the step started");
    worker.shutdown(Duration::from_millis(100)).await;
    let released = client.get(&id).await.expect("get");
    assert!(
        released.waiting_for.is_none(),
        "lease still held: {released:?}"
    );
    let worker = zart.start_worker(fast().lease_duration(LONG_LEASE));
    let done = client.wait(&id, PROMPTLY).await.expect("resumed at once");
    assert_eq!(done.result, Some(json!("done")));
    assert_eq!(runs.get(), 2);
    worker.shutdown(Duration::from_secs(5)).await;
}

async fn a_claim_answered_after_shutdown_began_is_handed_back(store: Arc<dyn Store>) {
    let faulty = Faulty::new(store);
    let runs = Counter::default();
    let (tx, _started) = tokio::sync::mpsc::unbounded_channel();
    let zart = stuck(faulty.clone(), runs.clone(), tx);
    let client = zart.client();
    let (claimed, answer) = faulty.hold_next_claim();
    let worker = zart.start_worker(fast().lease_duration(LONG_LEASE));
    let id = start(&client, "stuck", json!(null)).await;
    claimed.await.expect("the claim was written");
    // Shutdown begins (its first poll stops claiming), then the claim answers.
    let mut shutdown = Box::pin(worker.shutdown(Duration::from_millis(100)));
    assert!(futures::poll!(&mut shutdown).is_pending());
    answer.send(()).expect("the claim is waiting");
    tokio::time::timeout(PROMPTLY, shutdown)
        .await
        .expect("shutdown ends");
    let released = client.get(&id).await.expect("get");
    assert!(
        released.waiting_for.is_none(),
        "lease still held: {released:?}"
    );
    assert_eq!(runs.get(), 0, "a step ran after shutdown began");
    // Another worker resumes it at once; its step does not hang (its count starts at 1).
    let (tx, _started) = tokio::sync::mpsc::unbounded_channel();
    let resumed = Counter::default();
    resumed.bump();
    let again = stuck(faulty.clone(), resumed.clone(), tx);
    let worker = again.start_worker(fast().lease_duration(LONG_LEASE));
    let done = client.wait(&id, PROMPTLY).await.expect("resumed at once");
    assert_eq!(done.result, Some(json!("done")));
    assert_eq!((runs.get(), resumed.get()), (0, 2));
    worker.shutdown(Duration::from_secs(5)).await;
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = super::db().await;
                    super::$name(db.store.clone()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = super::pg(stringify!($name)).await else { return };
                    super::$name(db.store.clone()).await;
                }
            )*
        }
    };
}

on_both_backends!(
    a_transient_step_write_failure_hands_the_lease_back,
    shutdown_past_its_grace_hands_the_lease_back,
    a_claim_answered_after_shutdown_began_is_handed_back,
);
