//! The original Zart (crates.io `zart` 0.2.0) running the same workflow as
//! `zart-bench --scenario throughput`: N executions of 3 no-op steps, on a fresh
//! PostgreSQL database that is dropped at the end. Prints executions/s.
//!
//! Configured for its best throughput: poll interval lowered from 5 s to 1 ms, tasks
//! per poll raised from 10 to 256 and concurrent tasks from 16 to 256 (the flags
//! below). On the 2-core machine of `docs/performance.md` a sweep of poll intervals
//! 1-20 ms, batches and concurrency 64-256 and pool sizes 10-20 moved its rate by
//! less than the run-to-run noise; these defaults were the best of that sweep. In zart 0.2 every step is its own
//! task row: the body runs, schedules the step as a task and exits; a worker polls
//! the step task, replays the body to run the step and schedules the body again. So
//! each step costs two queue hops, and each hop waits for the next poll.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};
use zart::postgres::PgBackend;
use zart::prelude::*;

/// Runs zart 0.2.0 on the 3-step no-op workflow and prints executions/s.
#[derive(Debug, Parser)]
struct Args {
    /// A PostgreSQL URL; a fresh database is created next to it and dropped after.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    db: String,
    /// Executions to run.
    #[arg(long, default_value_t = 1000)]
    executions: u64,
    /// `max_concurrent_tasks` of the worker (its default is 16).
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// `max_tasks_per_poll` of the worker (its default is 10).
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// `poll_interval` of the worker, in milliseconds (its default is 5000).
    #[arg(long, default_value_t = 1)]
    poll_ms: u64,
    /// Connection pool size.
    #[arg(long, default_value_t = 10)]
    pool_size: u32,
    /// Print one JSON object instead of a line of text.
    #[arg(long)]
    json: bool,
}

/// The error type zart 0.2 requires of a step (a no-op step never returns it).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct NoopError(String);

impl std::fmt::Display for NoopError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NoopError {}

/// One no-op step.
struct Noop(&'static str);

#[async_trait::async_trait]
impl ZartStep for Noop {
    type Output = u32;
    type Error = NoopError;

    fn step_name(&self) -> Cow<'static, str> {
        Cow::Borrowed(self.0)
    }

    async fn run(&self) -> Result<u32, NoopError> {
        Ok(1)
    }
}

/// The workflow: three no-op steps in a row.
struct ThreeSteps;

#[async_trait::async_trait]
impl DurableExecution for ThreeSteps {
    type Data = serde_json::Value;
    type Output = u32;

    async fn run(&self, _data: serde_json::Value) -> Result<u32, TaskError> {
        let mut sum = 0;
        for name in ["step-0", "step-1", "step-2"] {
            sum += zart::require(Noop(name)).await?;
        }
        Ok(sum)
    }
}

type AnyError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    let args = Args::parse();
    let base: PgConnectOptions = args.db.parse()?;
    let database = format!("peer_zart02_{}_{:06x}", std::process::id(), rand_suffix());
    let mut admin = base.connect().await?;
    sqlx::query(&format!("CREATE DATABASE {database}"))
        .execute(&mut admin)
        .await?;
    let outcome = run(&args, base.clone().database(&database)).await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    let (wall, executions) = outcome?;
    let per_sec = executions as f64 / wall.as_secs_f64();
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "engine": "zart 0.2.0 (crates.io)",
                "executions": executions,
                "steps_per_execution": 3,
                "concurrency": args.concurrency,
                "batch": args.batch,
                "poll_ms": args.poll_ms,
                "pool_size": args.pool_size,
                "wall_secs": wall.as_secs_f64(),
                "executions_per_sec": per_sec,
            })
        );
    } else {
        println!(
            "zart 0.2.0: {executions} executions in {:.2} s = {per_sec:.1} executions/s",
            wall.as_secs_f64()
        );
    }
    Ok(())
}

fn rand_suffix() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    nanos & 0xff_ffff
}

async fn run(args: &Args, options: PgConnectOptions) -> Result<(Duration, u64), AnyError> {
    let pool = PgPoolOptions::new()
        .max_connections(args.pool_size)
        .connect_with(options)
        .await?;
    let pg = PgBackend::new(pool.clone());
    pg.run_migrations().await?;
    let config = WorkerConfig {
        poll_interval: Duration::from_millis(args.poll_ms),
        max_tasks_per_poll: args.batch,
        max_concurrent_tasks: args.concurrency,
        ..WorkerConfig::default()
    };
    let worker = std::sync::Arc::new(
        WorkerBuilder::from_backend(&pg)
            .register_durable_task("three-steps", ThreeSteps)
            .config(config)
            .build(),
    );
    let running = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run().await }
    });
    let scheduler = DurableScheduler::from_backend(&pg);
    eprintln!("peer: starting {} executions", args.executions);
    let started = Instant::now();
    let starting = futures::stream::iter(0..args.executions)
        .map(|i| {
            let scheduler = &scheduler;
            async move {
                scheduler
                    .start(&format!("p-{i}"), "three-steps", serde_json::json!({}))
                    .await
                    .map(|_| ())
            }
        })
        .buffer_unordered(args.concurrency)
        .try_for_each(|()| async { Ok(()) });
    let finishing = wait_all(&scheduler, args.executions);
    let (started_all, finished) = tokio::join!(starting, finishing);
    let wall = started.elapsed();
    worker.stop();
    let _ = running.await;
    pool.close().await;
    started_all?;
    finished?;
    Ok((wall, args.executions))
}

/// Polls the status counts until every execution is terminal (zart 0.2 has no
/// completion notification; its own `wait` polls every 500 ms).
async fn wait_all(scheduler: &DurableScheduler, expected: u64) -> Result<(), AnyError> {
    let deadline = Instant::now() + Duration::from_secs(3600);
    let mut last_report = Instant::now();
    loop {
        let stats = scheduler.stats().await?;
        let done = (stats.completed + stats.failed + stats.cancelled) as u64;
        if done >= expected {
            if stats.failed > 0 || stats.cancelled > 0 {
                return Err(format!("not every execution completed: {stats:?}").into());
            }
            return Ok(());
        }
        if last_report.elapsed() >= Duration::from_secs(2) {
            last_report = Instant::now();
            eprintln!("peer: {done} of {expected} finished");
        }
        if Instant::now() >= deadline {
            return Err(format!("only {done} of {expected} finished within an hour").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
