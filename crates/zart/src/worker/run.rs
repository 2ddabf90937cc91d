//! Running one claimed execution: replay the handler against its journal, then record
//! how it ended (finished, parked, or given back).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use zart_core::{
    ClaimedExecution, ErrorKind, ExecutionError, ExecutionFinish, ExecutionOutcome,
    ExecutionStatus, ExecutionSuspend, LeaseGuard, Timestamp,
};

use super::{Shared, StopReason, WorkerSlot};
use crate::context::{Ctx, CtxConfig, CtxParts, Halt, Suspension};
use crate::registry::unknown_task;
use crate::retry_store::retry_store;

/// How the handler run ended, before it is written down.
enum Ending {
    Finish(ExecutionOutcome),
    Suspend(Suspension),
    /// Nothing to write: the lease is gone, or the store failed in a way that would
    /// recur at once, and the lease will expire so a later attempt resumes it.
    Abandon,
    /// Hand the lease back so the execution resumes at once (here or on another
    /// worker): shutdown past its grace, or a transient store failure.
    Release,
}

/// How long a lease hand-back is retried through a transient store failure: short,
/// since the lease expires anyway if the store stays unreachable.
const RELEASE_PATIENCE: Duration = Duration::from_secs(2);

/// Runs `claimed` in its `zart.run` span (see [`crate::spans::run`]), from the
/// claim to the write of its ending.
pub(super) async fn run_execution(
    shared: Arc<Shared>,
    claimed: ClaimedExecution,
    stop: CancellationToken,
    slot: WorkerSlot,
) {
    let span = crate::spans::run(&claimed);
    run_in_span(shared, claimed, stop, slot, &span)
        .instrument(span.clone())
        .await
}

async fn run_in_span(
    shared: Arc<Shared>,
    claimed: ClaimedExecution,
    stop: CancellationToken,
    slot: WorkerSlot,
    span: &tracing::Span,
) {
    let ending = drive(&shared, &claimed, &stop).await;
    record_ending(span, &ending);
    // The handler is done: its slot goes to the next execution while the ending is
    // written (the next claim and this finish share a commit).
    drop(slot);
    let guard = |shared: &Shared| LeaseGuard {
        execution_id: claimed.id.clone(),
        worker_id: shared.worker_id.clone(),
        fence: claimed.fence,
        now: shared.clock.now(),
    };
    let store = &shared.store;
    let patience = shared.config.lease_duration;
    match ending {
        Ending::Finish(outcome) => {
            let status = match &outcome {
                ExecutionOutcome::Completed(_) => ExecutionStatus::Completed,
                ExecutionOutcome::Failed(_) => ExecutionStatus::Failed,
            };
            let written = retry_store(patience, || {
                store.execution_finish(ExecutionFinish {
                    guard: guard(&shared),
                    run_index: claimed.run_index,
                    outcome: outcome.clone(),
                })
            })
            .await;
            if matches!(written, Ok(true)) {
                shared
                    .metrics
                    .execution_finished(&claimed.task_name, status);
            }
            report(&claimed.id, "finish", written);
        }
        Ending::Suspend(s) => {
            let wake_at = cap(s.wake_at, claimed.deadline_at);
            let written = retry_store(patience, || {
                store.execution_suspend(ExecutionSuspend {
                    guard: guard(&shared),
                    wake_at,
                    waiting_for: s.waiting_for.clone(),
                })
            })
            .await;
            report(&claimed.id, "suspend", written);
            shared.work.notify_one();
        }
        Ending::Release => {
            let patience = RELEASE_PATIENCE.min(patience);
            let written = retry_store(patience, || store.execution_release(guard(&shared))).await;
            report(&claimed.id, "release", written);
            shared.work.notify_one();
        }
        Ending::Abandon => {}
    }
}

fn record_ending(span: &tracing::Span, ending: &Ending) {
    let (outcome, error) = match ending {
        Ending::Finish(ExecutionOutcome::Completed(_)) => ("completed", None),
        Ending::Finish(ExecutionOutcome::Failed(e)) => ("failed", Some(e.message.as_str())),
        Ending::Suspend(_) => ("suspended", None),
        Ending::Abandon => ("abandoned", None),
        Ending::Release => ("released", None),
    };
    crate::spans::record_run(span, outcome, error);
}

fn report(id: &str, what: &str, written: Result<bool, zart_core::StoreError>) {
    match written {
        Ok(true) => {}
        Ok(false) => tracing::debug!(execution = id, "lease lost before {what}"),
        Err(e) => {
            tracing::warn!(execution = id, error = %e, "could not {what} execution; its lease will expire and it will be resumed")
        }
    }
}

fn cap(wake_at: Option<Timestamp>, deadline: Option<Timestamp>) -> Option<Timestamp> {
    match (wake_at, deadline) {
        (Some(w), Some(d)) => Some(w.min(d)),
        (w, d) => w.or(d),
    }
}

fn failure(kind: ErrorKind, message: String) -> Ending {
    Ending::Finish(ExecutionOutcome::Failed(ExecutionError {
        kind,
        message,
        step: None,
        attempts: None,
    }))
}

fn deadline_exceeded(deadline: Timestamp) -> Ending {
    failure(
        ErrorKind::DeadlineExceeded,
        format!("execution deadline {} passed", deadline.to_rfc3339()),
    )
}

async fn drive(shared: &Shared, claimed: &ClaimedExecution, stop: &CancellationToken) -> Ending {
    let now = shared.clock.now();
    if let Some(deadline) = claimed.deadline_at.filter(|d| *d <= now) {
        return deadline_exceeded(deadline);
    }
    let Some(task) = shared.tasks.get(&claimed.task_name) else {
        let err = unknown_task(&claimed.task_name);
        return failure(ErrorKind::UnknownTask, err.message().to_owned());
    };
    if stop.is_cancelled() {
        // Claimed as shutdown began: hand it back before any step runs.
        return stopped(shared, claimed);
    }
    let first_claim = claimed.fence == 1 && claimed.run_index == 1;
    let journal = match load_journal(shared, claimed, first_claim).await {
        Ok(journal) => journal,
        Err(e) => {
            tracing::warn!(execution = %claimed.id, error = %e, "could not load journal");
            return store_failed(&Halt::store(&e));
        }
    };
    let ctx = Ctx::new(CtxParts {
        store: Arc::clone(&shared.store),
        clock: Arc::clone(&shared.clock),
        metrics: shared.metrics.clone(),
        config: CtxConfig {
            inline_backoff: shared.config.inline_backoff,
            hooks: shared.hooks.clone(),
        },
        execution_id: claimed.id.clone(),
        task_name: claimed.task_name.clone(),
        run_index: claimed.run_index,
        worker_id: shared.worker_id.clone(),
        fence: claimed.fence,
        journal,
        pauses: Arc::clone(&shared.pauses),
        trace_context: claimed.trace_context.clone(),
    });
    let handler =
        AssertUnwindSafe((task.handler)(ctx.clone(), claimed.payload.clone())).catch_unwind();
    let mut handler = std::pin::pin!(handler);
    let until_deadline = claimed
        .deadline_at
        .map(|d| (d - now).to_std().unwrap_or_default());
    let deadline_timer = async {
        match until_deadline {
            Some(left) => tokio::time::sleep(left).await,
            None => std::future::pending().await,
        }
    };
    let mut deadline_timer = std::pin::pin!(deadline_timer);
    loop {
        let changed = ctx.changed().notified();
        if let Some(ending) = halted(&ctx) {
            return ending;
        }
        tokio::select! {
            outcome = &mut handler => return handler_ended(&ctx, outcome),
            _ = changed => {}
            _ = stop.cancelled() => return stopped(shared, claimed),
            _ = &mut deadline_timer => {
                return deadline_exceeded(claimed.deadline_at.unwrap_or(now));
            }
        }
    }
}

/// The ending of a run stopped from outside its handler.
fn stopped(shared: &Shared, claimed: &ClaimedExecution) -> Ending {
    match shared.stop_reason(&claimed.id, claimed.fence) {
        StopReason::Release => Ending::Release,
        StopReason::LeaseLost | StopReason::Cancelled => Ending::Abandon,
    }
}

/// The run's journal; a first claim has none, which saves a read per execution.
async fn load_journal(
    shared: &Shared,
    claimed: &ClaimedExecution,
    first_claim: bool,
) -> Result<Vec<zart_core::StepRecord>, zart_core::StoreError> {
    if first_claim {
        return Ok(Vec::new());
    }
    shared
        .store
        .journal_load(&claimed.id, claimed.run_index)
        .await
}

/// Acts on a halt once it is actionable: a suspension waits for in-flight steps.
fn halted(ctx: &Ctx) -> Option<Ending> {
    let state = ctx.lock();
    match &state.halt {
        Some(Halt::LeaseLost) => Some(Ending::Abandon),
        Some(halt @ Halt::Store { message, .. }) => {
            tracing::warn!(execution = ctx.execution_id(), error = %message, "store failed during run");
            Some(store_failed(halt))
        }
        Some(Halt::Fatal(err)) => Some(Ending::Finish(ExecutionOutcome::Failed(err.clone()))),
        Some(Halt::Suspend(s)) if state.in_flight == 0 => Some(Ending::Suspend(s.clone())),
        _ => None,
    }
}

/// After a transient store failure the lease is handed back; after any other, it is
/// left to expire, so a failure that recurs at once does not replay in a tight loop.
fn store_failed(halt: &Halt) -> Ending {
    match halt {
        Halt::Store { release: true, .. } => Ending::Release,
        _ => Ending::Abandon,
    }
}

type HandlerOutcome =
    Result<Result<serde_json::Value, crate::TaskError>, Box<dyn std::any::Any + Send>>;

fn handler_ended(ctx: &Ctx, outcome: HandlerOutcome) -> Ending {
    match &ctx.lock().halt {
        Some(Halt::Fatal(err)) => return Ending::Finish(ExecutionOutcome::Failed(err.clone())),
        Some(Halt::LeaseLost) => return Ending::Abandon,
        Some(halt @ Halt::Store { .. }) => return store_failed(halt),
        _ => {}
    }
    match outcome {
        Ok(Ok(value)) => Ending::Finish(ExecutionOutcome::Completed(value)),
        Ok(Err(err)) => Ending::Finish(ExecutionOutcome::Failed(err.to_execution_error())),
        Err(panic) => {
            let err = crate::context::panicked(panic);
            failure(ErrorKind::Panic, format!("handler {}", err.message()))
        }
    }
}
