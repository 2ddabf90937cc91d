//! `--scenario suspended`: N executions parked on `wait_for_event` at once, then all
//! woken by events. Parked executions should cost database rows, not worker memory:
//! the peak RSS is this whole process's, worker included.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use serde_json::{json, Value};
use zart::{Client, Ctx, StartRequest, WorkerConfig, WorkerHandle, Zart};

use crate::args::Args;
use crate::completion;
use crate::database::BenchDb;
use crate::error::{BenchError, BenchResult};
use crate::progress::Progress;
use crate::report::SuspendedReport;
use crate::rss::peak_rss_mb;

const PARKED_TASK: &str = "parked";
/// How often the park phase re-reads the counts.
const POLL: Duration = Duration::from_millis(50);

/// Runs the scenario.
pub async fn run(db: &BenchDb, args: &Args, progress: &Progress) -> BenchResult<SuspendedReport> {
    let executions = args.executions();
    let reached = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&reached);
    let zart = Zart::builder(db.store.clone())
        .task(PARKED_TASK, move |ctx: Ctx, _: Value| {
            let counter = Arc::clone(&counter);
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                let event: Value = ctx
                    .wait_for_event("wake", Duration::from_secs(86_400))
                    .await?;
                Ok(event)
            }
        })
        .build();
    let worker = zart.start_worker(WorkerConfig::default().concurrency(args.concurrency as usize));
    let client = zart.client();
    let parallelism = args.concurrency as usize;
    let patience = Duration::from_secs(120).max(Duration::from_secs_f64(executions as f64 * 0.05));

    progress.note(format!(
        "starting {executions} executions that wait for an event"
    ));
    let began = Instant::now();
    for_each(executions, parallelism, |i| {
        let request = StartRequest::new(PARKED_TASK, Value::Null).id(id(i));
        let client = client.clone();
        async move { client.start(request).await.map(|_| ()) }
    })
    .await?;
    all_parked(db, &worker, &reached, executions, patience, progress).await?;
    let park_all = began.elapsed();
    progress.note(format!(
        "{executions} parked in {:.2} s",
        park_all.as_secs_f64()
    ));

    progress.note("offering every execution its event");
    let signals = db.store.subscribe();
    let woke = Instant::now();
    let offering = offer_all(&client, executions, parallelism);
    let finishing = completion::wait_terminal(&db.store, signals, executions, patience, progress);
    let outcome = tokio::try_join!(offering, finishing);
    let wake_all = woke.elapsed();
    worker.shutdown(Duration::from_secs(5)).await;
    outcome?;
    progress.note(format!(
        "all woken and completed in {:.2} s",
        wake_all.as_secs_f64()
    ));
    Ok(SuspendedReport {
        backend: db.backend().as_str().to_owned(),
        suspended: executions,
        peak_rss_mb: peak_rss_mb().unwrap_or(0.0),
        wake_all_secs: wake_all.as_secs_f64(),
        park_all_secs: park_all.as_secs_f64(),
    })
}

fn id(i: u64) -> String {
    format!("s-{i}")
}

async fn offer_all(client: &Client, executions: u64, parallelism: usize) -> BenchResult<()> {
    for_each(executions, parallelism, |i| {
        let client = client.clone();
        async move { client.offer_event(&id(i), "wake", json!({"n": i})).await }
    })
    .await
}

async fn for_each<F, Fut>(count: u64, parallelism: usize, op: F) -> BenchResult<()>
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = Result<(), zart::ClientError>>,
{
    futures::stream::iter(0..count)
        .map(op)
        .buffer_unordered(parallelism)
        .try_for_each(|()| async { Ok(()) })
        .await?;
    Ok(())
}

/// Parked = every handler reached its wait, none is scheduled any more, and the
/// worker holds none of them (each suspended and gave its slot back).
async fn all_parked(
    db: &BenchDb,
    worker: &WorkerHandle,
    reached: &AtomicU64,
    executions: u64,
    patience: Duration,
    progress: &Progress,
) -> BenchResult<()> {
    let deadline = Instant::now() + patience;
    let mut last_report = Instant::now();
    loop {
        let stats = db.store.execution_stats().await?;
        let at_wait = reached.load(Ordering::Relaxed);
        if at_wait >= executions && stats.scheduled == 0 && worker.running() == 0 {
            return Ok(());
        }
        if last_report.elapsed() >= Duration::from_secs(1) {
            last_report = Instant::now();
            progress.note(format!(
                "{at_wait} of {executions} reached their wait; worker holds {}",
                worker.running()
            ));
        }
        if Instant::now() >= deadline {
            return Err(BenchError::Unexpected(format!(
                "only {at_wait} of {executions} executions parked within {} s",
                patience.as_secs()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}
