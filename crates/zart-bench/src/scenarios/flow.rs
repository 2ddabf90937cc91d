//! `--scenario flow`: the throughput workload through a named queue with a global
//! concurrency limit and a per-key limit over 1,000 keys, next to the same workload
//! on the default queue, in the same run and database.
//!
//! The two alternate, half the executions each time (plain, flow, plain, flow), so a
//! machine that gets busier during the run, and the table that grows, weigh on both
//! alike. `flow_cost_ratio` is `1 - flow / plain`: the share of throughput flow
//! control costs (0.15 = 15% fewer executions per second; negative if flow was
//! faster).

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use serde_json::json;
use zart::{Client, Queue, StartRequest, WorkerConfig, Zart};

use crate::args::Args;
use crate::completion;
use crate::database::BenchDb;
use crate::error::{BenchError, BenchResult};
use crate::progress::Progress;
use crate::report::FlowReport;
use crate::workflows::{self, NOOP_STEPS};

/// The named queue of the flow phases.
pub const FLOW_QUEUE: &str = "bench-flow";
/// Concurrency keys the flow phases spread their executions over.
pub const FLOW_KEYS: u64 = 1_000;
/// Executions of one key running at once.
pub const PER_KEY: u32 = 1;

/// Generous: at 10 executions/s, 10,000 executions take 1,000 s.
const MIN_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs the scenario.
pub async fn run(db: &BenchDb, args: &Args, progress: &Progress) -> BenchResult<FlowReport> {
    let executions = args.executions();
    let half = executions / 2;
    if half == 0 {
        return Err(BenchError::Unexpected(
            "the flow scenario needs at least 2 executions".into(),
        ));
    }
    let queue = Queue::new(FLOW_QUEUE)
        .concurrency(args.concurrency)
        .key_concurrency(PER_KEY);
    let zart = workflows::register(Zart::builder(db.store.clone()))
        .queue(queue)
        .map_err(|e| BenchError::Unexpected(format!("flow queue: {e}")))?
        .build();
    let worker = zart.start_worker(WorkerConfig::default().concurrency(args.concurrency as usize));
    let client = zart.client();
    progress.note(format!(
        "{executions} executions of {} no-op steps each way, worker concurrency {}; \
         flow: queue limit {}, {PER_KEY} per key over {FLOW_KEYS} keys",
        args.steps, args.concurrency, args.concurrency
    ));
    let mut done = 0;
    let (mut plain, mut flow) = (Duration::ZERO, Duration::ZERO);
    let mut outcome = Ok(());
    for round in 0..2 {
        for flowing in [false, true] {
            let phase = Phase {
                prefix: format!("{}-{round}", if flowing { "flow" } else { "plain" }),
                executions: half,
                flowing,
            };
            done += half;
            match run_phase(db, &client, args, &phase, done, progress).await {
                Ok(wall) if flowing => flow += wall,
                Ok(wall) => plain += wall,
                Err(e) => outcome = Err(e),
            }
            if outcome.is_err() {
                break;
            }
        }
        if outcome.is_err() {
            break;
        }
    }
    worker.shutdown(Duration::from_secs(5)).await;
    outcome?;
    let per_variant = half * 2;
    let plain_per_sec = per_variant as f64 / plain.as_secs_f64().max(1e-9);
    let flow_per_sec = per_variant as f64 / flow.as_secs_f64().max(1e-9);
    Ok(FlowReport {
        backend: db.backend().as_str().to_owned(),
        executions: per_variant,
        steps_per_execution: args.steps,
        concurrency: args.concurrency,
        flow_keys: FLOW_KEYS,
        plain_executions_per_sec: plain_per_sec,
        flow_executions_per_sec: flow_per_sec,
        flow_cost_ratio: 1.0 - flow_per_sec / plain_per_sec.max(1e-9),
    })
}

/// One timed batch of executions.
struct Phase {
    prefix: String,
    executions: u64,
    /// On the flow queue, keyed; else on the default queue.
    flowing: bool,
}

/// Starts the phase's executions and waits until `done` in all are terminal: its
/// wall time, first start to last completion.
async fn run_phase(
    db: &BenchDb,
    client: &Client,
    args: &Args,
    phase: &Phase,
    done: u64,
    progress: &Progress,
) -> BenchResult<Duration> {
    let signals = db.store.subscribe();
    let timeout = MIN_TIMEOUT.max(Duration::from_secs_f64(phase.executions as f64 * 0.1));
    let started = Instant::now();
    let starting = futures::stream::iter(0..phase.executions)
        .map(|i| {
            let mut request = StartRequest::new(NOOP_STEPS, json!(args.steps))
                .id(format!("{}-{i}", phase.prefix));
            if phase.flowing {
                request = request
                    .queue(FLOW_QUEUE)
                    .concurrency_key(format!("key-{}", i % FLOW_KEYS));
            }
            client.start(request)
        })
        .buffer_unordered(args.concurrency as usize)
        .try_for_each(|_| async { Ok(()) });
    let starting = async { starting.await.map_err(BenchError::from) };
    let waiting = completion::wait_terminal(&db.store, signals, done, timeout, progress);
    tokio::try_join!(starting, waiting)?;
    let wall = started.elapsed();
    progress.note(format!(
        "{}: {} executions in {:.2} s",
        phase.prefix,
        phase.executions,
        wall.as_secs_f64()
    ));
    Ok(wall)
}
