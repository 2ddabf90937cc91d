//! Per-key concurrency through the runtime: the per-key limit holds across several
//! workers (SQLite) and several engines with their own pools (PostgreSQL), and keys
//! are served fairly: a key with 10,000 queued executions does not delay a key with
//! 10 queued after them.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use zart::core::Store;
use zart::prelude::*;
use zart_postgres::{PgOptions, PgStore};
use zart_store_tests::postgres::FreshSchema;

use common::{db, fast, finish};

/// What the `import` task saw: per run, its key with its step's start and end (µs
/// since `base`), in the order the steps ended.
#[derive(Clone)]
struct Runs {
    base: Instant,
    seen: Arc<Mutex<Vec<(String, u128, u128)>>>,
}

impl Runs {
    fn new() -> Self {
        Self {
            base: Instant::now(),
            seen: Arc::default(),
        }
    }

    /// The most runs of `key` open at one instant.
    fn max_overlap(&self, key: &str) -> usize {
        let seen = self.seen.lock().unwrap();
        let mut edges: Vec<(u128, i32)> = Vec::new();
        for (k, start, end) in seen.iter().filter(|(k, _, _)| k == key) {
            let _ = k;
            edges.push((*start, 1));
            edges.push((*end, -1));
        }
        edges.sort();
        let (mut open, mut most) = (0i32, 0i32);
        for (_, delta) in edges {
            open += delta;
            most = most.max(open);
        }
        most as usize
    }
}

/// An engine whose `import` task (on queue `imports`) holds each run for `hold`.
fn engine(store: Arc<dyn Store>, queue: Queue, runs: Runs, hold: Duration) -> Zart {
    Zart::builder(store)
        .queue(queue)
        .expect("valid queue")
        .task("import", move |ctx: Ctx, input: serde_json::Value| {
            let runs = runs.clone();
            async move {
                let key = input["key"].as_str().unwrap_or_default().to_owned();
                ctx.step("import", || {
                    let runs = runs.clone();
                    let key = key.clone();
                    async move {
                        let start = runs.base.elapsed().as_micros();
                        tokio::time::sleep(hold).await;
                        let end = runs.base.elapsed().as_micros();
                        runs.seen.lock().unwrap().push((key, start, end));
                        Ok(())
                    }
                })
                .await?;
                Ok(())
            }
        })
        .task_queue("import", "imports")
        .expect("declared queue")
        .build()
}

/// Starts `n` imports for `key`, concurrently in chunks; their ids.
async fn start_for(client: &Client, key: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    let mut i = 0;
    while i < n {
        let chunk = (i..n.min(i + 500)).map(|_| {
            client.start(StartRequest::new("import", json!({ "key": key })).concurrency_key(key))
        });
        for started in futures::future::join_all(chunk).await {
            ids.push(started.expect("start").execution.id);
        }
        i += 500;
    }
    ids
}

/// Starts 4 imports for each of 3 customers, runs them all, and checks that no
/// customer ever had two at once while the queue ran several customers side by side.
async fn per_key_limit_holds(engines: &[Zart], runs: &Runs) {
    let client = engines[0].client();
    let mut ids = Vec::new();
    for key in ["acme", "globex", "initech"] {
        ids.extend(start_for(&client, key, 4).await);
    }
    let workers: Vec<_> = engines.iter().map(|z| z.start_worker(fast())).collect();
    for id in &ids {
        assert_eq!(finish(&client, id).await.status, ExecutionStatus::Completed);
    }
    for key in ["acme", "globex", "initech"] {
        let most = runs.max_overlap(key);
        assert_eq!(
            most, 1,
            "{key} ran {most} at once under a per-key limit of 1"
        );
    }
    assert_eq!(runs.seen.lock().unwrap().len(), 12);
    for w in workers {
        w.shutdown(Duration::from_secs(5)).await;
    }
}

/// 10,000 imports for one customer, then 10 for another: the small customer's
/// imports all finish while at most 60 of the big one's have (round-robin would
/// give about 10, plus what was in flight; first come, first served 10,000).
async fn small_key_is_not_delayed(engines: &[Zart], runs: &Runs) {
    let client = engines[0].client();
    start_for(&client, "big", 10_000).await;
    let small = start_for(&client, "small", 10).await;
    let workers: Vec<_> = engines.iter().map(|z| z.start_worker(fast())).collect();
    for id in &small {
        assert_eq!(finish(&client, id).await.status, ExecutionStatus::Completed);
    }
    let seen = runs.seen.lock().unwrap().clone();
    let last_small = seen
        .iter()
        .rposition(|(k, _, _)| k == "small")
        .expect("small ran");
    let big_before = seen[..last_small]
        .iter()
        .filter(|(k, _, _)| k == "big")
        .count();
    assert!(
        big_before <= 60,
        "{big_before} of the big key's imports finished before the small key's 10"
    );
    for w in workers {
        w.shutdown(Duration::from_secs(5)).await;
    }
}

fn limited() -> Queue {
    Queue::new("imports").concurrency(4).key_concurrency(1)
}

fn fair() -> Queue {
    Queue::new("imports").concurrency(4).key_concurrency(4)
}

async fn pg_engines(fresh: &FreshSchema, queue: Queue, runs: &Runs, hold: Duration) -> Vec<Zart> {
    let mut engines = Vec::new();
    for _ in 0..3 {
        let store = PgStore::connect_with(
            fresh.database_url(),
            PgOptions::default().schema(fresh.name()),
        )
        .await
        .expect("connect store");
        engines.push(engine(Arc::new(store), queue.clone(), runs.clone(), hold));
    }
    engines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_per_key_limit_holds_across_three_workers() {
    let db = db().await;
    let runs = Runs::new();
    let zart = engine(
        Arc::clone(&db.store),
        limited(),
        runs.clone(),
        Duration::from_millis(15),
    );
    // Three workers of one engine share its store, as three processes would.
    let engines = vec![zart.clone(), zart.clone(), zart];
    per_key_limit_holds(&engines, &runs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_per_key_limit_holds_across_three_engines_with_their_own_pools() {
    let Some(fresh) = FreshSchema::new("queue_keys") else {
        return;
    };
    let runs = Runs::new();
    let engines = pg_engines(&fresh, limited(), &runs, Duration::from_millis(15)).await;
    per_key_limit_holds(&engines, &runs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_key_with_10_is_not_delayed_by_a_key_with_10_000() {
    let db = db().await;
    let runs = Runs::new();
    let zart = engine(
        Arc::clone(&db.store),
        fair(),
        runs.clone(),
        Duration::from_millis(1),
    );
    small_key_is_not_delayed(&[zart], &runs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_key_with_10_is_not_delayed_by_a_key_with_10_000() {
    let Some(fresh) = FreshSchema::new("queue_fair") else {
        return;
    };
    let runs = Runs::new();
    let engines = pg_engines(&fresh, fair(), &runs, Duration::from_millis(1)).await;
    small_key_is_not_delayed(&engines, &runs).await;
}
