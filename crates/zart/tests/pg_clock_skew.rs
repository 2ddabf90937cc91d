//! Workers on hosts whose clocks disagree (issue 10): one engine's injected clock
//! runs 60 s fast, another's 60 s slow, both on one PostgreSQL database. The
//! database's clock decides: the fast worker never takes a lease the slow one
//! holds, a start from a skewed client runs at once, and a 2 s sleep fires about
//! 2 s later whichever worker wrote it and whichever wakes it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Notify};
use zart::core::{Clock, ExecutionStatus, Timestamp, WaitingFor};
use zart::prelude::*;
use zart_postgres::{PgOptions, PgStore};
use zart_store_tests::postgres::FreshSchema;

/// A host clock off by a fixed amount.
struct Skewed(chrono::Duration);

impl Clock for Skewed {
    fn now(&self) -> Timestamp {
        chrono::Utc::now() + self.0
    }
}

/// What handlers report to the test: which worker ran a step, and when.
type Events = mpsc::UnboundedSender<(&'static str, &'static str, Instant)>;

/// One host: its own store (its own view of the database clock), a clock off by
/// `skew_secs`, and the test's tasks, which report as `host`.
async fn host(schema: &FreshSchema, host: &'static str, skew_secs: i64, events: Events) -> Zart {
    let options = PgOptions::default().schema(schema.name());
    let store = PgStore::connect_with(schema.database_url(), options)
        .await
        .expect("connect");
    let release = Arc::new(Notify::new());
    let (hold_events, nap_events) = (events.clone(), events);
    Zart::builder(Arc::new(store))
        .clock(Arc::new(Skewed(chrono::Duration::seconds(skew_secs))))
        .task("hold", move |ctx: Ctx, _: ()| {
            let (events, release) = (hold_events.clone(), release.clone());
            async move {
                ctx.step("hold", || async {
                    let _ = events.send((host, "hold", Instant::now()));
                    release.notified().await;
                    Ok(())
                })
                .await
            }
        })
        .task("mark", move |_: Ctx, _: ()| async move { Ok(host) })
        .task("nap", move |ctx: Ctx, _: ()| {
            let events = nap_events.clone();
            async move {
                let report = |phase: &'static str| {
                    let events = events.clone();
                    move || {
                        let _ = events.send((host, phase, Instant::now()));
                        async { Ok(()) }
                    }
                };
                ctx.step("before", report("before")).await?;
                ctx.sleep("nap", Duration::from_secs(2)).await;
                ctx.step("after", report("after")).await
            }
        })
        .build()
}

fn config(worker: &str, slots: usize) -> WorkerConfig {
    WorkerConfig::default()
        .worker_id(worker)
        .concurrency(slots)
        .lease_duration(Duration::from_secs(10))
        .poll_interval(Duration::from_millis(100))
}

async fn start(zart: &Zart, task: &str) -> String {
    let client = zart.client();
    let started = client.start(StartRequest::new(task, ().into()));
    let started = started.await.expect("start");
    started.execution.id
}

async fn next(
    events: &mut mpsc::UnboundedReceiver<(&'static str, &'static str, Instant)>,
) -> (&'static str, &'static str, Instant) {
    tokio::time::timeout(Duration::from_secs(15), events.recv())
        .await
        .expect("no step ran within 15 s")
        .expect("events channel open")
}

/// A fresh schema for one test; `None` without a test database.
fn fresh_schema(tag: &str) -> Option<FreshSchema> {
    FreshSchema::new(&format!("skew_{tag}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_worker_never_takes_a_lease_the_slow_one_holds() {
    let Some(schema) = fresh_schema("lease") else {
        return;
    };
    let (tx, mut events) = mpsc::unbounded_channel();
    let slow = host(&schema, "slow", -60, tx.clone()).await;
    let fast = host(&schema, "fast", 60, tx).await;
    let slow_worker = slow.start_worker(config("slow", 1));
    let held = start(&slow, "hold").await;
    assert_eq!(next(&mut events).await.0, "slow");

    let fast_worker = fast.start_worker(config("fast", 4));
    // The slow worker's only slot is busy, so the fast one runs `mark`: by then it
    // has claimed at least once while `held` was leased by the slow one.
    let marked = start(&slow, "mark").await;
    let done = slow.client().wait(&marked, Duration::from_secs(15)).await;
    assert_eq!(done.expect("mark finishes").result, Some("fast".into()));
    let record = slow.client().get(&held).await.expect("get held");
    match record.waiting_for {
        Some(WaitingFor::Lease { worker_id, .. }) => assert_eq!(worker_id, "slow"),
        other => panic!("held must stay leased by the slow worker: {other:?}"),
    }
    assert!(events.try_recv().is_err(), "`hold` ran on a second worker");
    fast_worker.shutdown(Duration::ZERO).await;
    slow_worker.shutdown(Duration::ZERO).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_from_a_fast_client_runs_at_once_on_a_slow_worker() {
    let Some(schema) = fresh_schema("start") else {
        return;
    };
    let (tx, _events) = mpsc::unbounded_channel();
    let slow = host(&schema, "slow", -60, tx.clone()).await;
    let fast = host(&schema, "fast", 60, tx).await;
    let slow_worker = slow.start_worker(config("slow", 4));
    let id = start(&fast, "mark").await;
    let done = fast.client().wait(&id, Duration::from_secs(10)).await;
    assert_eq!(done.expect("runs at once").result, Some("slow".into()));
    slow_worker.shutdown(Duration::ZERO).await;
}

/// Waits (bounded) until `id` is parked on its timer.
async fn parked(zart: &Zart, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let record = zart.client().get(id).await.expect("get");
        if matches!(record.waiting_for, Some(WaitingFor::Timer { .. })) {
            return;
        }
        assert!(Instant::now() < deadline, "never parked: {record:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `nap` up to its sleep on `first`, then lets `second` wake it; returns how
/// long the 2 s sleep took.
async fn nap_across(first: (i64, &'static str), second: (i64, &'static str)) -> Option<Duration> {
    let schema = fresh_schema(first.1)?;
    let (tx, mut events) = mpsc::unbounded_channel();
    let a = host(&schema, first.1, first.0, tx.clone()).await;
    let b = host(&schema, second.1, second.0, tx).await;
    let a_worker = a.start_worker(config(first.1, 4));
    let id = start(&a, "nap").await;
    let (who, phase, slept_at) = next(&mut events).await;
    assert_eq!((who, phase), (first.1, "before"));
    parked(&a, &id).await;
    a_worker.shutdown(Duration::from_secs(5)).await;
    let b_worker = b.start_worker(config(second.1, 4));
    let (who, phase, woke_at) = next(&mut events).await;
    assert_eq!((who, phase), (second.1, "after"));
    let record = b.client().wait(&id, Duration::from_secs(15)).await;
    assert_eq!(
        record.expect("nap finishes").status,
        ExecutionStatus::Completed
    );
    b_worker.shutdown(Duration::ZERO).await;
    let took = woke_at - slept_at;
    eprintln!(
        "a 2 s sleep written on {} and woken on {}: {took:?}",
        first.1, second.1
    );
    Some(took)
}

const NAP_TOLERANCE: (Duration, Duration) = (Duration::from_millis(1_500), Duration::from_secs(6));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sleep_written_by_a_slow_host_does_not_fire_early_on_a_fast_one() {
    let Some(took) = nap_across((-60, "slow"), (60, "fast")).await else {
        return;
    };
    assert!(
        took >= NAP_TOLERANCE.0 && took <= NAP_TOLERANCE.1,
        "{took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sleep_written_by_a_fast_host_does_not_fire_late_on_a_slow_one() {
    let Some(took) = nap_across((60, "fast"), (-60, "slow")).await else {
        return;
    };
    assert!(
        took >= NAP_TOLERANCE.0 && took <= NAP_TOLERANCE.1,
        "{took:?}"
    );
}
