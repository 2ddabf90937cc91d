//! Flow control through the runtime: a named queue's global concurrency limit holds
//! across several workers and (on PostgreSQL) several engines, each with its own
//! connection pool, sharing one database; the per-worker limit holds; a parked
//! execution gives its slot back; bad queue settings and starts are refused;
//! deduplicated starts run the work once; a rate limit holds across workers and
//! (on PostgreSQL) engines.
//!
//! Every step records its start and end on one monotonic clock; the most intervals
//! open at once is the concurrency actually reached.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use zart::core::Store;
use zart::prelude::*;
use zart_postgres::{PgOptions, PgStore};
use zart_store_tests::postgres::FreshSchema;

use common::{db, fast, finish};

const EXECUTIONS: usize = 24;

/// The (start, end) of every step run, in microseconds since `base`.
#[derive(Clone)]
struct Intervals {
    base: Instant,
    seen: Arc<Mutex<Vec<(u128, u128)>>>,
}

impl Intervals {
    fn new() -> Self {
        Self {
            base: Instant::now(),
            seen: Arc::default(),
        }
    }

    /// The most intervals open at one instant.
    fn max_overlap(&self) -> usize {
        let seen = self.seen.lock().unwrap();
        let mut edges: Vec<(u128, i32)> = Vec::new();
        for (start, end) in seen.iter() {
            edges.push((*start, 1));
            edges.push((*end, -1));
        }
        // An end at the same instant as a start closes first.
        edges.sort();
        let (mut open, mut most) = (0i32, 0i32);
        for (_, delta) in edges {
            open += delta;
            most = most.max(open);
        }
        most as usize
    }
}

fn engine(store: Arc<dyn Store>, queue: Queue, intervals: Intervals) -> Zart {
    Zart::builder(store)
        .queue(queue)
        .expect("valid queue")
        .task("charge", move |ctx: Ctx, _: serde_json::Value| {
            let intervals = intervals.clone();
            async move {
                ctx.step("call-provider", || {
                    let intervals = intervals.clone();
                    async move {
                        let start = intervals.base.elapsed().as_micros();
                        tokio::time::sleep(Duration::from_millis(15)).await;
                        let end = intervals.base.elapsed().as_micros();
                        intervals.seen.lock().unwrap().push((start, end));
                        Ok(())
                    }
                })
                .await?;
                Ok(())
            }
        })
        .task_queue("charge", "payments")
        .expect("declared queue")
        .build()
}

/// Starts `EXECUTIONS` charges (on the task's default queue) and waits for them all.
async fn run_all(client: &Client) {
    let mut ids = Vec::new();
    for _ in 0..EXECUTIONS {
        let started = client
            .start(StartRequest::new("charge", json!(null)))
            .await
            .expect("start");
        assert_eq!(started.execution.queue.as_deref(), Some("payments"));
        ids.push(started.execution.id);
    }
    for id in ids {
        assert_eq!(finish(client, &id).await.status, ExecutionStatus::Completed);
    }
}

/// The global-limit tests' check: at most 3 charges overlapped (and at least 2, so
/// the workers did run side by side), every execution ran, then the workers stop.
async fn held_a_limit_of_three(intervals: &Intervals, workers: Vec<WorkerHandle>) {
    let most = intervals.max_overlap();
    assert!(most <= 3, "{most} steps ran at once under a limit of 3");
    assert!(most >= 2, "the workers never ran two charges at once");
    assert_eq!(intervals.seen.lock().unwrap().len(), EXECUTIONS);
    for w in workers {
        w.shutdown(Duration::from_secs(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_global_limit_holds_across_three_workers() {
    let db = db().await;
    let intervals = Intervals::new();
    let zart = engine(
        Arc::clone(&db.store),
        Queue::new("payments").concurrency(3),
        intervals.clone(),
    );
    let workers: Vec<_> = (0..3).map(|_| zart.start_worker(fast())).collect();
    run_all(&zart.client()).await;
    held_a_limit_of_three(&intervals, workers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_global_limit_holds_across_three_engines_with_their_own_pools() {
    let Some(fresh) = FreshSchema::new("queues") else {
        return;
    };
    let intervals = Intervals::new();
    let mut engines = Vec::new();
    for _ in 0..3 {
        let store = PgStore::connect_with(
            fresh.database_url(),
            PgOptions::default().schema(fresh.name()),
        )
        .await
        .expect("connect store");
        engines.push(engine(
            Arc::new(store),
            Queue::new("payments").concurrency(3),
            intervals.clone(),
        ));
    }
    let workers: Vec<_> = engines.iter().map(|z| z.start_worker(fast())).collect();
    run_all(&engines[0].client()).await;
    held_a_limit_of_three(&intervals, workers).await;
}

/// The rate-limit tests' check, for `RATE` claims per `RATE_PERIOD`: no span of one
/// period saw more than twice the limit start (the bucket's burst plus its refill),
/// and the starts spread over at least the time the rate allows (less two periods
/// of tolerance), where unthrottled they would all start at once.
async fn held_the_rate(intervals: &Intervals, workers: Vec<WorkerHandle>) {
    let period = RATE_PERIOD.as_micros();
    let mut starts: Vec<u128> = intervals.seen.lock().unwrap().iter().map(|s| s.0).collect();
    starts.sort_unstable();
    assert_eq!(starts.len(), EXECUTIONS);
    for (i, from) in starts.iter().enumerate() {
        let within = starts[i..]
            .iter()
            .take_while(|t| **t < from + period)
            .count();
        assert!(
            within <= 2 * RATE as usize,
            "{within} starts within one period under a rate of {RATE}"
        );
    }
    let spread = starts[starts.len() - 1] - starts[0];
    let least = (EXECUTIONS as u128 / u128::from(RATE) - 2) * period;
    assert!(
        spread >= least,
        "{EXECUTIONS} starts spread over {spread} us, under the {least} us the rate allows"
    );
    for w in workers {
        w.shutdown(Duration::from_secs(5)).await;
    }
}

/// The rate-limit tests' limit: `RATE` claims per `RATE_PERIOD`.
const RATE: u32 = 4;
const RATE_PERIOD: Duration = Duration::from_millis(250);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_rate_limit_holds_across_three_workers() {
    let db = db().await;
    let intervals = Intervals::new();
    let zart = engine(
        Arc::clone(&db.store),
        Queue::new("payments").rate_limit(RATE, RATE_PERIOD),
        intervals.clone(),
    );
    let workers: Vec<_> = (0..3).map(|_| zart.start_worker(fast())).collect();
    run_all(&zart.client()).await;
    held_the_rate(&intervals, workers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rate_limit_holds_across_three_engines_with_their_own_pools() {
    let Some(fresh) = FreshSchema::new("queues_rate") else {
        return;
    };
    let intervals = Intervals::new();
    let mut engines = Vec::new();
    for _ in 0..3 {
        let store = PgStore::connect_with(
            fresh.database_url(),
            PgOptions::default().schema(fresh.name()),
        )
        .await
        .expect("connect store");
        engines.push(engine(
            Arc::new(store),
            Queue::new("payments").rate_limit(RATE, RATE_PERIOD),
            intervals.clone(),
        ));
    }
    let workers: Vec<_> = engines.iter().map(|z| z.start_worker(fast())).collect();
    run_all(&engines[0].client()).await;
    held_the_rate(&intervals, workers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_worker_limit_holds_on_one_worker() {
    let db = db().await;
    let intervals = Intervals::new();
    let zart = engine(
        Arc::clone(&db.store),
        Queue::new("payments").per_worker(2),
        intervals.clone(),
    );
    let worker = zart.start_worker(fast());
    run_all(&zart.client()).await;
    let most = intervals.max_overlap();
    assert!(
        most <= 2,
        "{most} steps ran at once under a per-worker limit of 2"
    );
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn sleeping_execution_gives_its_slot_to_another() {
    let db = db().await;
    let zart = Zart::builder(Arc::clone(&db.store))
        .queue(Queue::new("solo").concurrency(1))
        .expect("valid queue")
        .task("nap", |ctx: Ctx, ms: u64| async move {
            ctx.sleep("nap", Duration::from_millis(ms)).await;
            Ok(ms)
        })
        .build();
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let long = client
        .start(StartRequest::new("nap", json!(3_000)).queue("solo"))
        .await
        .unwrap()
        .execution
        .id;
    common::until(&client, &long, |e| {
        matches!(e.waiting_for, Some(zart::core::WaitingFor::Timer { .. }))
    })
    .await;
    let short = client
        .start(StartRequest::new("nap", json!(1)).queue("solo"))
        .await
        .unwrap()
        .execution
        .id;
    // The short one runs while the long one sleeps, though the queue has one slot.
    let done = finish(&client, &short).await;
    assert_eq!(done.status, ExecutionStatus::Completed);
    assert!(!client.get(&long).await.unwrap().status.is_terminal());
    worker.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn bad_queue_settings_and_starts_are_refused() {
    let db = db().await;
    let builder = || Zart::builder(Arc::clone(&db.store));
    for bad in [
        Queue::new(""),
        Queue::new("x".repeat(65)),
        Queue::new("has space"),
        Queue::new("default"),
        Queue::new("q").concurrency(0),
        Queue::new("q").per_worker(0),
        Queue::new("q").key_concurrency(0),
        Queue::new("q").rate_limit(0, Duration::from_secs(1)),
        Queue::new("q").rate_limit(5, Duration::ZERO),
        Queue::new("q").rate_limit(5, Duration::from_secs(32 * 24 * 3600)),
    ] {
        let err = builder().queue(bad).unwrap_err();
        assert!(matches!(err, ClientError::InvalidInput(_)), "{err:?}");
    }
    let twice = builder()
        .queue(Queue::new("q"))
        .unwrap()
        .queue(Queue::new("q"));
    assert!(twice.is_err());
    assert!(builder().task_queue("t", "undeclared").is_err());

    let zart = builder()
        .queue(Queue::new("known"))
        .unwrap()
        .task("t", |_ctx: Ctx, _: serde_json::Value| async move { Ok(()) })
        .build();
    let client = zart.client();
    let unknown = client
        .start(StartRequest::new("t", json!(null)).queue("nobody-declared-me"))
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, ClientError::Unprocessable(_)),
        "{unknown:?}"
    );
    let out_of_range = client
        .start(
            StartRequest::new("t", json!(null))
                .queue("known")
                .priority(1001),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(out_of_range, ClientError::InvalidInput(_)),
        "{out_of_range:?}"
    );
    // A declared queue is put into the store on first use, before any worker runs.
    let ok = client
        .start(
            StartRequest::new("t", json!(null))
                .queue("known")
                .priority(-5),
        )
        .await
        .unwrap();
    assert_eq!(ok.execution.priority, -5);
    assert!(db.store.queue_get("known").await.unwrap().is_some());
    // "default" names the default queue, stored as no queue.
    let plain = client
        .start(StartRequest::new("t", json!(null)).queue("default"))
        .await
        .unwrap();
    assert_eq!(plain.execution.queue, None);
}

#[tokio::test]
async fn deduplicated_starts_run_the_work_once() {
    let db = db().await;
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = Arc::clone(&runs);
    let zart = Zart::builder(Arc::clone(&db.store))
        .queue(Queue::new("reports"))
        .unwrap()
        .task("report", move |ctx: Ctx, day: serde_json::Value| {
            let counted = Arc::clone(&counted);
            async move {
                ctx.step("build", || async {
                    counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Ok(())
                })
                .await?;
                Ok(day)
            }
        })
        .task_queue("report", "reports")
        .unwrap()
        .build();
    let client = zart.client();
    let start = |day: i32| {
        client.start(StartRequest::new("report", json!(day)).deduplication_id("nightly"))
    };
    let first = start(1).await.unwrap();
    assert!(first.created);
    for day in 2..=10 {
        let again = start(day).await.unwrap();
        assert!(!again.created, "day {day} must be deduplicated");
        assert_eq!(again.execution.id, first.execution.id);
        assert_eq!(again.execution.payload, json!(1));
    }
    let worker = zart.start_worker(fast());
    let done = finish(&client, &first.execution.id).await;
    assert_eq!(done.result, Some(json!(1)));
    assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);
    // Finished: the next start is new work.
    let next = start(11).await.unwrap();
    assert!(next.created);
    assert_ne!(next.execution.id, first.execution.id);
    finish(&client, &next.execution.id).await;
    assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 2);
    for bad in [String::new(), "d".repeat(256), "a\nb".to_owned()] {
        let err = client
            .start(StartRequest::new("report", json!(0)).deduplication_id(bad))
            .await
            .unwrap_err();
        assert!(
            matches!(err, ClientError::InvalidInput(ref m) if m.contains("deduplicationId")),
            "{err:?}"
        );
    }
    worker.shutdown(Duration::from_secs(5)).await;
}
