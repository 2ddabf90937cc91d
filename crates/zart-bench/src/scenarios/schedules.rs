//! `--scenario schedules`: on an idle engine, a 1-second interval schedule created
//! through [`Client::create_schedule`] fires N slots; for each firing, how late after
//! its slot its execution was created and started.
//!
//! A firing's execution id carries its slot (`{scheduleId}@{slot}`), so the run knows
//! every id in advance; the schedule catches up every missed slot and lets firings
//! overlap, so each slot fires however late it is. The start is the store's
//! `startedAt`, stamped by the worker that claimed the execution (in whole
//! milliseconds, rounded down; slots are whole seconds). Creation is when a reader
//! polling for that id from the slot on, every millisecond, first finds it: an upper
//! bound that includes the polling and the read, which is why it can exceed the start
//! (a claim stamps the time it asked at, and may be answered just after the firing's
//! commit).

use std::time::Duration;

use serde_json::{json, Value};
use zart::{Client, Ctx, WorkerConfig, Zart};
use zart_core::{
    firing_id, CatchUpPolicy, Clock, ExecutionStatus, OverlapPolicy, ScheduleSpec, SystemClock,
    Timestamp,
};

use crate::args::Args;
use crate::database::BenchDb;
use crate::error::{BenchError, BenchResult};
use crate::percentiles::PercentilesMax;
use crate::progress::Progress;
use crate::report::ScheduleReport;

/// The schedule the run creates.
const SCHEDULE_ID: &str = "bench-tick";
/// The task it starts: returns its input.
const ECHO: &str = "echo";
/// The schedule's interval.
pub const INTERVAL: Duration = Duration::from_secs(1);
/// Unmeasured firings first (connections, statement caches).
const WARM_UP: u32 = 2;
/// How long past its slot a firing may take to appear, or to finish.
const PATIENCE: Duration = Duration::from_secs(30);
/// How often the reader looks for a firing's execution.
const POLL: Duration = Duration::from_millis(1);

/// How late one firing was.
struct Firing {
    created: Duration,
    started: Duration,
}

/// Runs the scenario.
pub async fn run(db: &BenchDb, args: &Args, progress: &Progress) -> BenchResult<ScheduleReport> {
    let zart = Zart::builder(db.store.clone())
        .task(ECHO, |_ctx: Ctx, input: Value| async move { Ok(input) })
        .build();
    let worker = zart.start_worker(WorkerConfig::default().concurrency(args.concurrency as usize));
    let client = zart.client();
    let samples = args.samples();
    progress.note(format!(
        "a {}-second schedule firing {samples} slots (after {WARM_UP} unmeasured)",
        INTERVAL.as_secs()
    ));
    let measured = measure(db, &client, samples).await;
    let deleted = client.delete_schedule(SCHEDULE_ID).await;
    worker.shutdown(Duration::from_secs(5)).await;
    let firings = measured?;
    deleted?;
    let of = |pick: fn(&Firing) -> Duration| {
        let samples: Vec<Duration> = firings.iter().map(pick).collect();
        PercentilesMax::of(&samples).ok_or_else(|| BenchError::Unexpected("no firings".into()))
    };
    Ok(ScheduleReport {
        backend: db.backend().as_str().to_owned(),
        schedule_lateness_ms: of(|f| f.started)?,
        creation_lateness_ms: of(|f| f.created)?,
        firings: samples,
        interval_secs: INTERVAL.as_secs(),
    })
}

/// Creates the schedule and measures its firings after the warm-up, in slot order.
async fn measure(db: &BenchDb, client: &Client, samples: u32) -> BenchResult<Vec<Firing>> {
    // Every slot fires, however late: a firing delayed past the next slot (a stalled
    // disk) shows up as lateness instead of as a slot the default catch-up drops.
    let spec = ScheduleSpec::every(SCHEDULE_ID, ECHO, INTERVAL)
        .payload(json!({"bench": true}))
        .catch_up(CatchUpPolicy::All)
        .overlap(OverlapPolicy::AllowAll);
    let schedule = client.create_schedule(spec).await?;
    let first = *schedule
        .next_fire_times
        .first()
        .ok_or_else(|| BenchError::Unexpected("the schedule has no next slot".into()))?;
    let mut firings = Vec::with_capacity(samples as usize);
    for i in 0..WARM_UP + samples {
        let slot = first + INTERVAL * i;
        let firing = one_firing(db, client, slot).await?;
        if i >= WARM_UP {
            firings.push(firing);
        }
    }
    Ok(firings)
}

/// Waits for the firing of `slot` to appear and complete; how late it was.
async fn one_firing(db: &BenchDb, client: &Client, slot: Timestamp) -> BenchResult<Firing> {
    let id = firing_id(SCHEDULE_ID, slot);
    let created_at = appeared_at(db, &id, slot).await?;
    let done = client.wait(&id, PATIENCE).await?;
    if done.status != ExecutionStatus::Completed {
        return Err(BenchError::Unexpected(format!(
            "{id} ended {} ({:?})",
            done.status, done.error
        )));
    }
    let started_at = done
        .started_at
        .ok_or_else(|| BenchError::Unexpected(format!("{id} completed without a start")))?;
    Ok(Firing {
        created: late(created_at, slot),
        started: late(started_at, slot),
    })
}

/// Sleeps until `slot`, then polls until the execution `id` exists; when it was
/// first seen.
async fn appeared_at(db: &BenchDb, id: &str, slot: Timestamp) -> BenchResult<Timestamp> {
    tokio::time::sleep(late(slot, SystemClock.now())).await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if db.store.execution_get(id).await?.is_some() {
            return Ok(SystemClock.now());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(BenchError::Unexpected(format!(
                "{id} did not appear within {PATIENCE:?} of its slot"
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// How far `at` is after `slot` (zero when it is not after it).
fn late(at: Timestamp, slot: Timestamp) -> Duration {
    (at - slot).to_std().unwrap_or_default()
}
