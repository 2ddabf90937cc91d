//! `--scenario latency`: at low load (one execution at a time), the time from a
//! start request to the completion of a 3-step execution, from an event offered to
//! the handler resumed after `wait_for_event`, and the lateness of 100 ms durable
//! sleeps.
//!
//! The handlers stamp `Instant`s into `Probe` right after the awaited call returns,
//! so the numbers are what workflow code observes, not what the store records.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::mpsc;
use zart::{Client, Ctx, StartRequest, TaskResult, WorkerConfig, Zart};
use zart_core::WaitingFor;

use crate::args::Args;
use crate::database::BenchDb;
use crate::error::{BenchError, BenchResult};
use crate::percentiles::Percentiles;
use crate::progress::Progress;
use crate::report::LatencyReport;
use crate::workflows::{self, NOOP_STEPS};

const AWAIT_EVENT: &str = "await-event";
const NAP: &str = "nap";
/// The durable sleep whose lateness is measured.
pub const NAP_FOR: Duration = Duration::from_millis(100);
/// Unmeasured rounds before each measurement (connections, statement caches).
const WARM_UP: u32 = 10;
const PATIENCE: Duration = Duration::from_secs(30);

/// Instants stamped by the handlers.
#[derive(Clone)]
struct Probe {
    /// When each execution's nap is due (stamped the first time the handler gets there).
    due: Arc<Mutex<HashMap<String, Instant>>>,
    /// (execution, instant) when a handler resumed after its wait or sleep.
    resumed: mpsc::UnboundedSender<(String, Instant)>,
}

impl Probe {
    fn resumed(&self, ctx: &Ctx) {
        let _ = self
            .resumed
            .send((ctx.execution_id().to_owned(), Instant::now()));
    }

    fn arm_nap(&self, ctx: &Ctx) {
        let mut due = self.due.lock().unwrap_or_else(|e| e.into_inner());
        due.entry(ctx.execution_id().to_owned())
            .or_insert_with(|| Instant::now() + NAP_FOR);
    }

    fn nap_due(&self, id: &str) -> Option<Instant> {
        let due = self.due.lock().unwrap_or_else(|e| e.into_inner());
        due.get(id).copied()
    }
}

/// Runs the scenario.
pub async fn run(db: &BenchDb, args: &Args, progress: &Progress) -> BenchResult<LatencyReport> {
    let (tx, mut resumed) = mpsc::unbounded_channel();
    let probe = Probe {
        due: Arc::default(),
        resumed: tx,
    };
    let (p1, p2) = (probe.clone(), probe.clone());
    let builder = Zart::builder(db.store.clone())
        .task(AWAIT_EVENT, move |ctx: Ctx, _: Value| {
            let probe = p1.clone();
            async move {
                let event: Value = ctx.wait_for_event("go", Duration::from_secs(3600)).await?;
                probe.resumed(&ctx);
                Ok(event)
            }
        })
        .task(NAP, move |ctx: Ctx, _: Value| {
            let probe = p2.clone();
            async move { nap(ctx, probe).await }
        });
    let zart = workflows::register(builder).build();
    let worker = zart.start_worker(WorkerConfig::default().concurrency(args.concurrency as usize));
    let client = zart.client();
    let samples = args.samples();

    progress.note(format!(
        "start→complete of a 3-step execution, {samples} samples"
    ));
    let start_to_complete = start_to_complete(&client, samples).await;
    progress.note(format!("event→resume, {samples} samples"));
    let event_to_resume = event_to_resume(&client, &mut resumed, samples).await;
    progress.note(format!(
        "lateness of 100 ms durable sleeps, {samples} samples"
    ));
    let lateness = timer_lateness(&client, &probe, &mut resumed, samples).await;
    worker.shutdown(Duration::from_secs(5)).await;
    Ok(LatencyReport {
        backend: db.backend().as_str().to_owned(),
        start_to_complete_ms: percentiles(start_to_complete?)?,
        event_to_resume_ms: percentiles(event_to_resume?)?,
        timer_lateness_ms: percentiles(lateness?)?,
        samples,
    })
}

async fn nap(ctx: Ctx, probe: Probe) -> TaskResult<()> {
    probe.arm_nap(&ctx);
    ctx.sleep("nap", NAP_FOR).await;
    probe.resumed(&ctx);
    Ok(())
}

fn percentiles(samples: Vec<Duration>) -> BenchResult<Percentiles> {
    Percentiles::of(&samples).ok_or_else(|| BenchError::Unexpected("no samples".into()))
}

async fn start_to_complete(client: &Client, samples: u32) -> BenchResult<Vec<Duration>> {
    let mut took = Vec::with_capacity(samples as usize);
    for i in 0..WARM_UP + samples {
        let t0 = Instant::now();
        let id = start(client, NOOP_STEPS, json!(3), format!("c-{i}")).await?;
        finish(client, &id).await?;
        if i >= WARM_UP {
            took.push(t0.elapsed());
        }
    }
    Ok(took)
}

async fn event_to_resume(
    client: &Client,
    resumed: &mut mpsc::UnboundedReceiver<(String, Instant)>,
    samples: u32,
) -> BenchResult<Vec<Duration>> {
    let mut took = Vec::with_capacity(samples as usize);
    for i in 0..WARM_UP + samples {
        let id = start(client, AWAIT_EVENT, Value::Null, format!("e-{i}")).await?;
        parked_on_event(client, &id).await?;
        let offered = Instant::now();
        client.offer_event(&id, "go", json!({"n": i})).await?;
        let at = resumed_at(resumed, &id).await?;
        finish(client, &id).await?;
        if i >= WARM_UP {
            took.push(at.saturating_duration_since(offered));
        }
    }
    Ok(took)
}

async fn timer_lateness(
    client: &Client,
    probe: &Probe,
    resumed: &mut mpsc::UnboundedReceiver<(String, Instant)>,
    samples: u32,
) -> BenchResult<Vec<Duration>> {
    let mut late = Vec::with_capacity(samples as usize);
    for i in 0..WARM_UP.min(3) + samples {
        let id = start(client, NAP, Value::Null, format!("n-{i}")).await?;
        let at = resumed_at(resumed, &id).await?;
        finish(client, &id).await?;
        let due = probe
            .nap_due(&id)
            .ok_or_else(|| BenchError::Unexpected(format!("{id} resumed before it slept")))?;
        if i >= WARM_UP.min(3) {
            // The store keeps due times in whole milliseconds, so a timer may fire up
            // to 1 ms before the instant stamped here: that counts as on time.
            late.push(at.saturating_duration_since(due));
        }
    }
    Ok(late)
}

async fn start(client: &Client, task: &str, input: Value, id: String) -> BenchResult<String> {
    let started = client.start(StartRequest::new(task, input).id(id)).await?;
    Ok(started.execution.id)
}

async fn finish(client: &Client, id: &str) -> BenchResult<()> {
    let done = client.wait(id, PATIENCE).await?;
    if done.status != zart_core::ExecutionStatus::Completed {
        return Err(BenchError::Unexpected(format!(
            "{id} ended {} ({:?})",
            done.status, done.error
        )));
    }
    Ok(())
}

/// Waits until the store shows the execution parked on its event (not merely
/// running towards it), so the offer measures a real wake-up.
async fn parked_on_event(client: &Client, id: &str) -> BenchResult<()> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let execution = client.get(id).await?;
        if matches!(execution.waiting_for, Some(WaitingFor::Event { .. })) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(BenchError::Unexpected(format!(
                "{id} did not park on its event: {:?}",
                execution.waiting_for
            )));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn resumed_at(
    resumed: &mut mpsc::UnboundedReceiver<(String, Instant)>,
    id: &str,
) -> BenchResult<Instant> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match tokio::time::timeout_at(deadline, resumed.recv()).await {
            Ok(Some((who, at))) if who == id => return Ok(at),
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => {
                return Err(BenchError::Unexpected(format!("{id} did not resume")))
            }
        }
    }
}
