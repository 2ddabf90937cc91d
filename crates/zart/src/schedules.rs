//! Schedules: the [`Client`] calls that manage them, and the loop every worker runs
//! to fire them.
//!
//! The loop reads the schedules due now, plans each one's firing with
//! [`zart_core::plan_firing`] (overlap and catch-up policies), and asks the store to
//! record it: a compare-and-set of the schedule's cursor and the inserts of the
//! firing's executions in one transaction. Any number of processes run the loop
//! against one database; for each slot one of them records the firing and the others
//! find the cursor moved, and the execution ids (`{scheduleId}@{slot}`) keep even a
//! retried firing from creating anything twice.
//!
//! The loop sleeps until the earliest cursor, at most [`POLL_EVERY`], and wakes early
//! when the store signals that the schedules changed (created, updated, resumed or
//! deleted in any process, over NOTIFY on PostgreSQL) or when the previous execution
//! of a schedule with a buffered slot finishes.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use zart_core::{
    firing_id, plan_firing, Clock, FireOutcome, InsertOutcome, NewExecution, ScheduleFire,
    SchedulePut, SchedulePutOutcome, ScheduleRecord, ScheduleSpec, Signal, Store, StoreError,
    Timestamp,
};

use crate::client::{not_found, validate_name};
use crate::registry::TaskRegistry;
use crate::{Client, ClientError};

/// The longest the loop goes without reading the due schedules.
pub const POLL_EVERY: Duration = Duration::from_secs(1);

/// How many upcoming fire times a [`Schedule`] lists.
pub const NEXT_FIRE_TIMES: usize = 5;

/// The most due schedules one pass of the loop reads.
const BATCH: u32 = 100;

/// A schedule as the API shows it: the stored record and its next fire times.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// The stored schedule.
    pub record: ScheduleRecord,
    /// Its next [`NEXT_FIRE_TIMES`] slots; empty while it is paused.
    pub next_fire_times: Vec<Timestamp>,
}

impl Schedule {
    /// `record` as of `now`: its next fire times are after `now` (a cursor left in
    /// the past by a pause of every process fires as its catch-up policy says, at
    /// once, and is not listed).
    fn of(record: ScheduleRecord, now: Timestamp) -> Self {
        let next_fire_times = match (record.paused, record.spec.timing()) {
            (false, Ok(timing)) => match record.cursor.next_fire_at {
                Some(next) if next > now => std::iter::once(next)
                    .chain(timing.upcoming(next, NEXT_FIRE_TIMES - 1))
                    .collect(),
                Some(_) => timing.upcoming(now, NEXT_FIRE_TIMES),
                None => Vec::new(),
            },
            _ => Vec::new(),
        };
        Self {
            record,
            next_fire_times,
        }
    }
}

/// Checks a spec for a store: its timing, its id, and, when the tasks are known,
/// that its task is registered and accepts its payload.
pub(crate) fn validate(
    spec: &ScheduleSpec,
    tasks: Option<&TaskRegistry>,
) -> Result<zart_core::Timing, ClientError> {
    validate_name("scheduleId", &spec.schedule_id)?;
    validate_name("taskName", &spec.task_name)?;
    let timing = spec.timing().map_err(ClientError::InvalidInput)?;
    if let Some(tasks) = tasks {
        tasks
            .validate_input(&spec.task_name, &spec.payload)
            .map_err(|e| match e.kind() {
                zart_core::ErrorKind::UnknownTask => ClientError::UnknownTask(e.message().into()),
                _ => ClientError::InvalidInput(e.message().into()),
            })?;
    }
    Ok(timing)
}

impl Client {
    /// Creates a schedule. Creating one that exists with the same spec changes
    /// nothing and returns it; with another spec it is [`ClientError::Conflict`].
    /// An invalid cron expression, time zone or interval is
    /// [`ClientError::InvalidInput`] saying what is wrong; an unregistered task,
    /// [`ClientError::UnknownTask`].
    pub async fn create_schedule(&self, spec: ScheduleSpec) -> Result<Schedule, ClientError> {
        self.create(spec, false).await
    }

    /// [`Client::create_schedule`], the schedule created paused (in the same
    /// transaction, so no slot fires before it is resumed). An existing schedule with
    /// the same spec is returned as it is.
    pub async fn create_paused_schedule(
        &self,
        spec: ScheduleSpec,
    ) -> Result<Schedule, ClientError> {
        self.create(spec, true).await
    }

    async fn create(&self, spec: ScheduleSpec, paused: bool) -> Result<Schedule, ClientError> {
        match self.put_schedule(spec, false, paused).await? {
            SchedulePutOutcome::Conflict(existing) => Err(ClientError::Conflict(format!(
                "schedule {:?} already exists with other settings",
                existing.spec.schedule_id
            ))),
            SchedulePutOutcome::Created(r)
            | SchedulePutOutcome::Unchanged(r)
            | SchedulePutOutcome::Updated(r) => Ok(Schedule::of(r, self.now())),
        }
    }

    /// Creates a schedule, or updates the one of that id to `spec` (its pause and
    /// its last firing are kept; its next slot is recomputed from now): what a
    /// schedule declared in code does at each worker start.
    pub async fn declare_schedule(&self, spec: ScheduleSpec) -> Result<Schedule, ClientError> {
        match self.put_schedule(spec, true, false).await? {
            SchedulePutOutcome::Created(r)
            | SchedulePutOutcome::Unchanged(r)
            | SchedulePutOutcome::Updated(r)
            | SchedulePutOutcome::Conflict(r) => Ok(Schedule::of(r, self.now())),
        }
    }

    async fn put_schedule(
        &self,
        spec: ScheduleSpec,
        replace: bool,
        paused: bool,
    ) -> Result<SchedulePutOutcome, ClientError> {
        let timing = validate(&spec, self.tasks())?;
        let now = self.now();
        Ok(self
            .store()
            .schedule_put(SchedulePut {
                next_fire_at: timing.next_after(now),
                spec,
                paused,
                replace,
                now,
            })
            .await?)
    }

    /// One schedule; [`ClientError::NotFound`] if there is none.
    pub async fn schedule(&self, schedule_id: &str) -> Result<Schedule, ClientError> {
        validate_name("scheduleId", schedule_id)?;
        match self.store().schedule_get(schedule_id).await? {
            Some(record) => Ok(Schedule::of(record, self.now())),
            None => Err(schedule_not_found(schedule_id)),
        }
    }

    /// Every schedule, by id.
    pub async fn schedules(&self) -> Result<Vec<Schedule>, ClientError> {
        let records = self.store().schedule_list().await?;
        let now = self.now();
        Ok(records.into_iter().map(|r| Schedule::of(r, now)).collect())
    }

    /// Deletes a schedule; the executions it started stay.
    /// [`ClientError::NotFound`] if there is none.
    pub async fn delete_schedule(&self, schedule_id: &str) -> Result<(), ClientError> {
        validate_name("scheduleId", schedule_id)?;
        match self.store().schedule_delete(schedule_id).await? {
            true => Ok(()),
            false => Err(schedule_not_found(schedule_id)),
        }
    }

    /// Pauses a schedule: it fires nothing until resumed. Pausing a paused schedule
    /// changes nothing.
    pub async fn pause_schedule(&self, schedule_id: &str) -> Result<Schedule, ClientError> {
        self.set_schedule_paused(schedule_id, true).await
    }

    /// Resumes a paused schedule from its next slot after now: the slots that passed
    /// while it was paused do not fire. Resuming a running schedule changes nothing.
    pub async fn resume_schedule(&self, schedule_id: &str) -> Result<Schedule, ClientError> {
        self.set_schedule_paused(schedule_id, false).await
    }

    async fn set_schedule_paused(
        &self,
        schedule_id: &str,
        paused: bool,
    ) -> Result<Schedule, ClientError> {
        let current = self.schedule(schedule_id).await?;
        let now = self.now();
        let next = current
            .record
            .spec
            .timing()
            .ok()
            .and_then(|t| t.next_after(now));
        match self
            .store()
            .schedule_set_paused(schedule_id, paused, next, now)
            .await?
        {
            Some(record) => Ok(Schedule::of(record, self.now())),
            None => Err(schedule_not_found(schedule_id)),
        }
    }

    /// Fires a schedule once now, whatever its timing, overlap policy or pause: the
    /// execution `{scheduleId}@{now}` with the schedule's task and payload. Its
    /// cursor does not move.
    pub async fn trigger_schedule(
        &self,
        schedule_id: &str,
    ) -> Result<zart_core::ExecutionRecord, ClientError> {
        let schedule = self.schedule(schedule_id).await?;
        let spec = &schedule.record.spec;
        if let Some(tasks) = self.tasks() {
            validate(spec, Some(tasks))?;
        }
        let now = self.now();
        let start = NewExecution {
            id: zart_core::trigger_id(schedule_id, now),
            ..new_execution(spec, now, now)
        };
        let id = start.id.clone();
        let fired = self
            .store()
            .schedule_fire(ScheduleFire {
                schedule_id: schedule_id.to_owned(),
                cursor: None,
                starts: vec![start],
                fired_at: Some(now),
                now,
            })
            .await?;
        match fired {
            FireOutcome::Fired(outcomes) => match outcomes.into_iter().next() {
                Some(InsertOutcome::Created(e)) => {
                    self.metrics().execution_started(&e.task_name);
                    Ok(e)
                }
                Some(InsertOutcome::Existing(e) | InsertOutcome::Deduplicated(e)) => Ok(e),
                None => Err(not_found(&id)),
            },
            FireOutcome::NotFound | FireOutcome::Stale => Err(schedule_not_found(schedule_id)),
        }
    }
}

fn schedule_not_found(schedule_id: &str) -> ClientError {
    ClientError::NotFound(format!("schedule {schedule_id:?} not found"))
}

/// The execution a firing of `spec` for `slot` creates at `now`: its `scheduledAt`
/// is the slot.
fn new_execution(spec: &ScheduleSpec, slot: Timestamp, now: Timestamp) -> NewExecution {
    NewExecution {
        id: firing_id(&spec.schedule_id, slot),
        task_name: spec.task_name.clone(),
        payload: spec.payload.clone(),
        now: slot.min(now),
        run_at: now,
        deadline_at: None,
        parent_id: None,
        trace_context: None,
        queue: None,
        priority: 0,
        deduplication_id: None,
        concurrency_key: None,
    }
}

/// Fires due schedules until `shutdown`, after declaring `declared` (retried until
/// the store takes them).
pub(crate) async fn run(
    client: Client,
    clock: Arc<dyn Clock>,
    declared: Arc<Vec<ScheduleSpec>>,
    shutdown: CancellationToken,
    hooks: Option<Arc<crate::testing::Hooks>>,
) {
    let mut signals = client.store().subscribe();
    let mut undeclared = !declared.is_empty();
    let mut backoff = Duration::from_millis(100);
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        let mut watched = HashSet::new();
        let pass = async {
            if undeclared {
                for spec in declared.iter() {
                    match client.declare_schedule(spec.clone()).await {
                        Ok(_) => {}
                        Err(ClientError::Unavailable(m)) => {
                            return Err(StoreError::Unavailable(m));
                        }
                        Err(e) => tracing::error!(
                            schedule = %spec.schedule_id,
                            error = %e,
                            "a declared schedule was refused"
                        ),
                    }
                }
                undeclared = false;
            }
            fire_due(&client, clock.as_ref(), &mut watched).await
        };
        let wait = match pass.await {
            Ok(wait) => {
                backoff = Duration::from_millis(100);
                wait
            }
            Err(e) => {
                tracing::warn!(error = %e, "firing schedules failed; retrying in {backoff:?}");
                let wait = backoff;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                wait
            }
        };
        let until = tokio::time::Instant::now() + wait;
        if let Some(hooks) = &hooks {
            hooks.pulse();
        }
        loop {
            let woken = async {
                match &hooks {
                    Some(hooks) => hooks.wake_schedules.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = woken => break,
                _ = tokio::time::sleep_until(until) => break,
                signal = signals.recv() => match signal {
                    Some(Signal::Schedules | Signal::Lagged) => break,
                    Some(Signal::Finished { execution_id, .. })
                        if watched.contains(&execution_id) => break,
                    Some(_) => {}
                    None => return,
                },
            }
        }
    }
}

/// One pass: fires what is due; returns how long to sleep. `watched` gets the
/// previous executions that buffered slots wait for.
async fn fire_due(
    client: &Client,
    clock: &dyn Clock,
    watched: &mut HashSet<String>,
) -> Result<Duration, StoreError> {
    let store = client.store();
    let now = clock.now();
    let due = store.schedule_due(now, BATCH).await?;
    let mut fired = 0;
    for schedule in &due {
        match fire_one(client, schedule, now).await {
            Ok(done) => {
                fired += usize::from(done.fired);
                // A slot still buffered after this pass waits for this execution.
                watched.extend(done.buffered_behind);
            }
            Err(e) => tracing::warn!(
                schedule = %schedule.spec.schedule_id,
                error = %e,
                "firing a schedule failed"
            ),
        }
    }
    if fired > 0 && due.len() == BATCH as usize {
        return Ok(Duration::ZERO);
    }
    let mut wait = POLL_EVERY;
    if let Some(next) = next_wake(store.as_ref(), now).await? {
        wait = wait.min((next - clock.now()).to_std().unwrap_or_default());
    }
    Ok(wait)
}

/// The earliest cursor to wake for after a pass that began at `now`. A cursor still at
/// or before `now` belongs to a schedule this pass could not fire (its firing failed,
/// or its stored spec does not parse): waking for it would spin the loop, so it waits
/// for the next poll, and the wake is the earliest cursor after `now`.
async fn next_wake(store: &dyn Store, now: Timestamp) -> Result<Option<Timestamp>, StoreError> {
    match store.schedule_next_due().await? {
        Some(next) if next <= now => Ok(store
            .schedule_list()
            .await?
            .into_iter()
            .filter(|s| !s.paused)
            .filter_map(|s| s.cursor.next_fire_at)
            .filter(|at| *at > now)
            .min()),
        next => Ok(next),
    }
}

/// What [`fire_one`] did to one due schedule.
#[derive(Debug, Default)]
struct Firing {
    /// Whether it recorded a firing (false when nothing was due or another process
    /// got there first).
    fired: bool,
    /// The execution a slot still buffered afterwards waits for: the pass wakes when
    /// it finishes.
    buffered_behind: Option<String>,
}

/// Plans and records one schedule's firing.
async fn fire_one(
    client: &Client,
    schedule: &ScheduleRecord,
    now: Timestamp,
) -> Result<Firing, StoreError> {
    let store = client.store();
    let spec = &schedule.spec;
    let timing = match spec.timing() {
        Ok(timing) => timing,
        Err(e) => {
            // Specs are validated before they are stored; this one came from
            // elsewhere (another build, a hand edit).
            tracing::error!(schedule = %spec.schedule_id, error = %e, "a stored schedule is invalid");
            return Ok(Firing::default());
        }
    };
    let previous = match &schedule.last_execution_id {
        Some(id) => store.execution_get(id).await?.map(|e| e.status),
        None => None,
    };
    let Some(plan) = plan_firing(schedule, &timing, previous, now) else {
        // Nothing to do yet: a buffered slot keeps waiting for the previous execution.
        let buffered_behind = schedule
            .cursor
            .buffered_at
            .and(schedule.last_execution_id.clone());
        return Ok(Firing {
            fired: false,
            buffered_behind,
        });
    };
    let starts: Vec<NewExecution> = plan
        .starts
        .iter()
        .map(|slot| new_execution(spec, *slot, now))
        .collect();
    let outcome = store
        .schedule_fire(ScheduleFire {
            schedule_id: spec.schedule_id.clone(),
            cursor: Some((schedule.cursor, plan.cursor)),
            starts,
            fired_at: plan.starts.last().copied(),
            now,
        })
        .await?;
    let FireOutcome::Fired(outcomes) = outcome else {
        return Ok(Firing::default());
    };
    let mut latest = schedule.last_execution_id.clone();
    for outcome in &outcomes {
        let e = outcome.execution();
        if let InsertOutcome::Created(_) = outcome {
            client.metrics().execution_started(&e.task_name);
        }
        latest = Some(e.id.clone());
    }
    if plan.cancel_previous {
        if let Some(previous) = &schedule.last_execution_id {
            match client.cancel(previous).await {
                Ok(()) | Err(ClientError::Conflict(_) | ClientError::NotFound(_)) => {}
                Err(e) => tracing::warn!(
                    schedule = %spec.schedule_id,
                    execution = %previous,
                    error = %e,
                    "cancelling the previous firing failed"
                ),
            }
        }
    }
    Ok(Firing {
        fired: true,
        buffered_behind: plan.cursor.buffered_at.and(latest),
    })
}
