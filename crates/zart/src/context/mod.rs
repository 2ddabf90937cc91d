//! The handler's context: memoized steps (transactional ones too), durable timers,
//! events, children and journaled values.
//!
//! Every call takes the next *position* in the run and an *occurrence* index for its
//! name, synchronously, before the returned future is first polled. So positions follow
//! program order even inside `join!`, and replay compares each call with the journal
//! entry recorded at the same position.

mod child;
mod patch;
mod state;
mod step;
mod transaction;
mod values;
mod wait;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Notify;
use zart_core::{
    step_id, Clock, ErrorKind, ExecutionError, LeaseGuard, StepHeader, StepKind, StepRecord,
    StepSave, StepStatus, StepWrite, Store, Timestamp, WaitingFor,
};

use crate::metrics::Metrics;
use crate::pauses::PauseRules;
use crate::TaskError;

pub use child::{ChildHandle, ChildOptions};
use state::CtxState;
pub(crate) use state::{Halt, Suspension};
pub use step::current_attempt;
pub(crate) use step::{panicked, Attempt};

/// Settings that shape how a context runs steps.
#[derive(Debug, Clone)]
pub(crate) struct CtxConfig {
    /// Retry backoffs up to this long are slept in place; longer ones release the slot.
    pub(crate) inline_backoff: std::time::Duration,
    /// A test environment's hooks (`None` outside `zart::testing`).
    pub(crate) hooks: Option<Arc<crate::testing::Hooks>>,
}

/// The context passed to a handler. Cheap to clone; clones share the same run.
#[derive(Clone)]
pub struct Ctx {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx").finish_non_exhaustive()
    }
}

struct Inner {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    metrics: Metrics,
    config: CtxConfig,
    execution_id: String,
    task_name: String,
    run_index: i32,
    worker_id: String,
    fence: i64,
    journal: HashMap<u32, StepRecord>,
    pauses: Arc<PauseRules>,
    trace_context: Option<String>,
    state: Mutex<CtxState>,
    changed: Notify,
}

/// A reserved journal position: what the code reached, and what the journal holds there.
pub(crate) struct Reservation {
    pub(crate) name: String,
    pub(crate) occurrence: u32,
    pub(crate) position: u32,
    pub(crate) kind: StepKind,
    pub(crate) recorded: Option<StepRecord>,
}

impl Reservation {
    pub(crate) fn id(&self) -> String {
        step_id(&self.name, self.occurrence)
    }

    /// What any new state of this entry carries over: its place, and the attempts and
    /// first-recorded time the journal holds (`now` for a new entry).
    pub(crate) fn header(&self, now: Timestamp) -> StepHeader {
        StepHeader {
            name: self.name.clone(),
            occurrence: self.occurrence,
            position: self.position,
            kind: self.kind,
            retry_attempt: self.recorded.as_ref().map_or(0, |r| r.retry_attempt),
            scheduled_at: self.recorded.as_ref().map_or(now, |r| r.scheduled_at),
        }
    }
}

/// Facts the worker passes when it builds a context for a claimed execution.
pub(crate) struct CtxParts {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) metrics: Metrics,
    pub(crate) config: CtxConfig,
    pub(crate) execution_id: String,
    pub(crate) task_name: String,
    pub(crate) run_index: i32,
    pub(crate) worker_id: String,
    pub(crate) fence: i64,
    pub(crate) journal: Vec<StepRecord>,
    /// The worker's pause rules, checked before every new journal entry.
    pub(crate) pauses: Arc<PauseRules>,
    /// The trace context stored with the execution, which children inherit when
    /// this process records no spans.
    pub(crate) trace_context: Option<String>,
}

impl Ctx {
    pub(crate) fn new(parts: CtxParts) -> Self {
        let journal = parts.journal.into_iter().map(|s| (s.position, s)).collect();
        Self {
            inner: Arc::new(Inner {
                store: parts.store,
                clock: parts.clock,
                metrics: parts.metrics,
                config: parts.config,
                execution_id: parts.execution_id,
                task_name: parts.task_name,
                run_index: parts.run_index,
                worker_id: parts.worker_id,
                fence: parts.fence,
                journal,
                pauses: parts.pauses,
                trace_context: parts.trace_context,
                state: Mutex::new(CtxState::default()),
                changed: Notify::new(),
            }),
        }
    }

    /// The id of the running execution.
    pub fn execution_id(&self) -> &str {
        &self.inner.execution_id
    }

    /// The task name of the running execution.
    pub fn task_name(&self) -> &str {
        &self.inner.task_name
    }

    /// The current run (1 for the initial run).
    pub fn run_index(&self) -> i32 {
        self.inner.run_index
    }

    /// The trace context stored with the execution, in its stored form.
    pub(crate) fn trace_context(&self) -> Option<&str> {
        self.inner.trace_context.as_deref()
    }

    /// Takes the next position for a call named `name` of kind `kind`. A journal entry
    /// of another name or kind at that position is a replay divergence: the run halts
    /// with a non-determinism error.
    pub(crate) fn reserve(&self, name: &str, kind: StepKind) -> Result<Reservation, Halt> {
        let mut state = self.lock();
        if let Some(halt) = state.halt_for_new_work() {
            return Err(halt);
        }
        let position = state.next_position;
        state.next_position += 1;
        let counter = state.occurrences.entry(name.to_owned()).or_insert(0);
        let occurrence = *counter;
        *counter += 1;
        let recorded = self.inner.journal.get(&position).cloned();
        if let Some(rec) = &recorded {
            if rec.name != name || rec.occurrence != occurrence || rec.kind != kind {
                let error = non_determinism(position, rec, kind, &step_id(name, occurrence));
                drop(state);
                return Err(self.halt(Halt::Fatal(error)));
            }
        }
        drop(state);
        self.check_pauses(name, kind, recorded.as_ref())?;
        Ok(Reservation {
            name: name.to_owned(),
            occurrence,
            position,
            kind,
            recorded,
        })
    }

    /// Parks the execution before `name` when a pause rule holds it. Completed
    /// entries replay (they start nothing), and journaled values are not steps.
    fn check_pauses(
        &self,
        name: &str,
        kind: StepKind,
        recorded: Option<&StepRecord>,
    ) -> Result<(), Halt> {
        if matches!(
            kind,
            StepKind::Now | StepKind::Uuid | StepKind::Random | StepKind::Patch
        ) || recorded.is_some_and(|r| r.status == StepStatus::Completed)
        {
            return Ok(());
        }
        let inner = &self.inner;
        match inner
            .pauses
            .holding(&inner.execution_id, &inner.task_name, name, self.now_wall())
        {
            Some((wake_at, waiting_for)) => Err(self.suspend(wake_at, waiting_for)),
            None => Ok(()),
        }
    }

    /// Records a reason to stop the handler and wakes the worker's runner.
    pub(crate) fn halt(&self, halt: Halt) -> Halt {
        let merged = self.lock().record_halt(halt);
        self.inner.changed.notify_one();
        merged
    }

    /// Asks the runner to park the execution (once no step is in flight).
    pub(crate) fn suspend(&self, wake_at: Option<Timestamp>, waiting_for: WaitingFor) -> Halt {
        self.halt(Halt::Suspend(Suspension {
            wake_at,
            waiting_for,
        }))
    }

    pub(crate) fn guard(&self) -> LeaseGuard {
        LeaseGuard {
            execution_id: self.inner.execution_id.clone(),
            worker_id: self.inner.worker_id.clone(),
            fence: self.inner.fence,
            now: self.now_wall(),
        }
    }

    pub(crate) fn now_wall(&self) -> Timestamp {
        self.inner.clock.now()
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub(crate) fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.inner.clock)
    }

    /// Writes a journal entry; a lost lease halts the run.
    pub(crate) async fn save(
        &self,
        step: StepWrite,
        attempt: Option<zart_core::AttemptWrite>,
    ) -> Result<(), Halt> {
        let params = StepSave {
            guard: self.guard(),
            run_index: self.inner.run_index,
            step,
            attempt,
        };
        self.save_params(params).await
    }

    /// Writes a step save; a lost lease halts the run.
    pub(crate) async fn save_params(&self, params: StepSave) -> Result<(), Halt> {
        match self.inner.store.step_save(params).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(self.halt(Halt::LeaseLost)),
            Err(e) => Err(self.halt(Halt::store(&e))),
        }
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, CtxState> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What the runner waits on: state changes (halts, in-flight counts).
    pub(crate) fn changed(&self) -> &Notify {
        &self.inner.changed
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub(crate) fn config(&self) -> &CtxConfig {
        &self.inner.config
    }
}

/// The error of a replay that reaches `kind` `code_step` at `position` where the journal
/// recorded `rec`: it names both, and points at `ctx.patch`, the way to change a
/// workflow's steps under executions in flight.
pub(crate) fn non_determinism(
    position: u32,
    rec: &StepRecord,
    kind: StepKind,
    code_step: &str,
) -> ExecutionError {
    ExecutionError {
        kind: ErrorKind::NonDeterminism,
        message: format!(
            "non-determinism at journal position {position}: the journal recorded {} {:?} \
             but the code now calls {kind} {code_step:?}. If the workflow's code changed \
             while this execution was in flight, guard the change with \
             `ctx.patch(\"<change-id>\")` so executions recorded under the old code keep \
             their old path",
            rec.kind, rec.step_id
        ),
        step: Some(code_step.to_owned()),
        attempts: None,
    }
}

/// Turns a halt into the never-ending future that parks the handler: the runner drops
/// the handler once it has acted on the halt.
pub(crate) async fn park<T>(_halt: Halt) -> T {
    std::future::pending().await
}

pub(crate) fn decode<T: DeserializeOwned>(
    reserved: &Reservation,
    value: Option<Value>,
) -> Result<T, TaskError> {
    let value = value.unwrap_or(Value::Null);
    serde_json::from_value(value).map_err(|e| {
        TaskError::permanent(format!(
            "the journaled value of {:?} does not deserialize into {}: {e}",
            reserved.id(),
            std::any::type_name::<T>()
        ))
    })
}

/// Runs `fut` as in-flight work: the runner will not park the execution while it runs.
pub(crate) async fn in_flight<F: Future>(ctx: &Ctx, fut: F) -> F::Output {
    struct Guard<'a>(&'a Ctx);
    impl Drop for Guard<'_> {
        fn drop(&mut self) {
            self.0.lock().in_flight -= 1;
            self.0.changed().notify_one();
        }
    }
    ctx.lock().in_flight += 1;
    let _guard = Guard(ctx);
    fut.await
}
