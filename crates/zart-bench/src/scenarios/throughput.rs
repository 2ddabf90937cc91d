//! `--scenario throughput`: N executions of S no-op steps at concurrency C, against
//! the baseline commit rate measured in the same run.
//!
//! The baseline runs for half its time before the engine and half after, so a
//! machine that gets busier (or quieter) during the run moves both numbers alike.

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use serde_json::json;
use zart::{Client, StartRequest, WorkerConfig, Zart};

use crate::args::Args;
use crate::baseline::{self, CommitRate};
use crate::completion;
use crate::database::BenchDb;
use crate::error::BenchResult;
use crate::progress::Progress;
use crate::report::ThroughputReport;
use crate::rss::peak_rss_mb;
use crate::workflows::{self, NOOP_STEPS};

/// Generous: at 10 executions/s, 10,000 executions take 1,000 s.
const MIN_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs the scenario.
pub async fn run(db: &BenchDb, args: &Args, progress: &Progress) -> BenchResult<ThroughputReport> {
    let executions = args.executions();
    let half = args.baseline_duration() / 2;
    baseline::prepare(db).await?;
    progress.note(format!(
        "baseline: single-row insert commits from {} tasks for {:.1} s",
        args.concurrency,
        half.as_secs_f64()
    ));
    let before = baseline::measure(db, args.concurrency, half).await?;
    progress.note(format!("baseline: {:.0} commits/s", before.per_sec()));

    progress.note(format!(
        "engine: {executions} executions of {} no-op steps, worker concurrency {}",
        args.steps, args.concurrency
    ));
    let wall = run_engine(db, args, progress).await?;
    let engine_rss = peak_rss_mb().unwrap_or(0.0);

    let after = baseline::measure(db, args.concurrency, half).await?;
    progress.note(format!(
        "baseline (after): {:.0} commits/s",
        after.per_sec()
    ));
    let baseline = before.merge(after);
    Ok(report(db, args, wall, baseline, engine_rss))
}

async fn run_engine(db: &BenchDb, args: &Args, progress: &Progress) -> BenchResult<Duration> {
    let executions = args.executions();
    let zart = workflows::register(Zart::builder(db.store.clone())).build();
    let worker = zart.start_worker(WorkerConfig::default().concurrency(args.concurrency as usize));
    let client = zart.client();
    let signals = db.store.subscribe();
    let timeout = MIN_TIMEOUT.max(Duration::from_secs_f64(executions as f64 * 0.1));
    let started = Instant::now();
    let starting = start_all(
        &client,
        "t",
        executions,
        args.steps,
        args.concurrency as usize,
    );
    let waiting = completion::wait_terminal(&db.store, signals, executions, timeout, progress);
    // The first error (a failed start, or executions not finishing) ends both.
    let outcome = tokio::try_join!(starting, waiting);
    let wall = started.elapsed();
    worker.shutdown(Duration::from_secs(5)).await;
    outcome?;
    progress.note(format!("engine: done in {:.2} s", wall.as_secs_f64()));
    Ok(wall)
}

/// Starts `executions` executions of [`NOOP_STEPS`] with ids `{prefix}-{i}`,
/// `parallelism` at a time.
pub(crate) async fn start_all(
    client: &Client,
    prefix: &str,
    executions: u64,
    steps: u32,
    parallelism: usize,
) -> BenchResult<()> {
    futures::stream::iter(0..executions)
        .map(|i| {
            let request = StartRequest::new(NOOP_STEPS, json!(steps)).id(format!("{prefix}-{i}"));
            client.start(request)
        })
        .buffer_unordered(parallelism)
        .try_for_each(|_| async { Ok(()) })
        .await?;
    Ok(())
}

fn report(
    db: &BenchDb,
    args: &Args,
    wall: Duration,
    baseline: CommitRate,
    peak_rss_mb: f64,
) -> ThroughputReport {
    let executions = args.executions();
    let secs = wall.as_secs_f64().max(1e-9);
    let executions_per_sec = executions as f64 / secs;
    let steps_per_sec = executions_per_sec * f64::from(args.steps);
    let baseline_commits_per_sec = baseline.per_sec();
    ThroughputReport {
        backend: db.backend().as_str().to_owned(),
        executions,
        steps_per_execution: args.steps,
        concurrency: args.concurrency,
        baseline_commits_per_sec,
        executions_per_sec,
        steps_per_sec,
        steps_per_baseline_commit: steps_per_sec / baseline_commits_per_sec.max(1e-9),
        peak_rss_mb,
        wall_secs: secs,
    }
}
