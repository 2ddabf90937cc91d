//! The runtime's spans: one per run (claim to end, `INFO`) and, inside it, one per
//! step attempt, sleep, wait and child (`DEBUG`, so a subscriber logging at `INFO`
//! never builds them; an OpenTelemetry layer asks for them by its own filter).
//!
//! Fields become span attributes under an OpenTelemetry layer and appear in log lines
//! of a `fmt` layer. Recording checks `is_disabled` first, so with no subscriber
//! interested a span costs no allocation.

use tracing::field::Empty;
use tracing::Span;
use zart_core::ClaimedExecution;

use crate::context::{Attempt, Halt, Reservation};
use crate::trace_context::{record_trace_id, TraceContext};

/// The span of one run of a claimed execution: a child of the trace context stored
/// with the execution (so every run, on any process, joins the starter's trace), a
/// root when it has none.
pub(crate) fn run(claimed: &ClaimedExecution) -> Span {
    let span = tracing::info_span!(
        parent: None,
        "zart.run",
        otel.kind = "consumer",
        execution_id = %claimed.id,
        task = %claimed.task_name,
        run = claimed.run_index,
        claim = claimed.fence,
        outcome = Empty,
        error = Empty,
        trace_id = Empty,
    );
    if span.is_disabled() {
        return span;
    }
    if let Some(cx) = claimed
        .trace_context
        .as_deref()
        .and_then(TraceContext::from_stored)
    {
        cx.set_parent_of(&span);
    }
    record_trace_id(&span);
    span
}

/// Records how a run ended.
pub(crate) fn record_run(span: &Span, outcome: &str, error: Option<&str>) {
    if span.is_disabled() {
        return;
    }
    span.record("outcome", outcome);
    if let Some(error) = error {
        record_error(span, error);
    }
}

/// The span of attempt `attempt` of a step.
pub(crate) fn step_attempt(reserved: &Reservation, attempt: u32) -> Span {
    tracing::debug_span!(
        "zart.step",
        step = %reserved.name,
        occurrence = reserved.occurrence,
        attempt,
        outcome = Empty,
        error = Empty,
    )
}

/// Records an attempt's ending: `completed`, `retrying`, `dead`, or why the run
/// stopped (`suspended`, `halted`).
pub(crate) fn record_attempt<T>(span: &Span, outcome: &Result<Attempt<T>, Halt>) {
    if span.is_disabled() {
        return;
    }
    match outcome {
        Ok(Attempt::Done(Ok(_))) => span.record("outcome", "completed"),
        Ok(Attempt::Done(Err(e))) => {
            record_error(span, e.message());
            span.record("outcome", "dead")
        }
        Ok(Attempt::RetryAt(_)) => span.record("outcome", "retrying"),
        Err(halt) => span.record("outcome", halt_name(halt)),
    };
}

/// Whether `reserved` only replays a completed entry: it gets no span of its own.
fn replayed(reserved: &Reservation) -> bool {
    reserved
        .recorded
        .as_ref()
        .is_some_and(|r| r.status == zart_core::StepStatus::Completed)
}

/// The span of a durable sleep (none when it replays).
pub(crate) fn sleep(reserved: &Reservation) -> Span {
    if replayed(reserved) {
        return Span::none();
    }
    tracing::debug_span!(
        "zart.sleep",
        step = %reserved.name,
        occurrence = reserved.occurrence,
        outcome = Empty,
    )
}

/// The span of a wait for the event `reserved.name` (none when it replays).
pub(crate) fn wait(reserved: &Reservation) -> Span {
    if replayed(reserved) {
        return Span::none();
    }
    tracing::debug_span!(
        "zart.wait",
        step = %reserved.name,
        occurrence = reserved.occurrence,
        outcome = Empty,
        error = Empty,
    )
}

/// The span of spawning a child execution (none when it replays).
pub(crate) fn child(reserved: &Reservation, child_id: &str, task_name: &str) -> Span {
    if replayed(reserved) {
        return Span::none();
    }
    tracing::debug_span!(
        "zart.child",
        step = %reserved.name,
        occurrence = reserved.occurrence,
        child_id,
        child_task = task_name,
        outcome = Empty,
        error = Empty,
    )
}

/// Records the ending of a sleep, wait or child call: `done`, or why the run
/// stopped there.
pub(crate) fn record_halt<T>(span: &Span, outcome: &Result<T, Halt>) {
    if span.is_disabled() {
        return;
    }
    match outcome {
        Ok(_) => span.record("outcome", "done"),
        Err(halt) => span.record("outcome", halt_name(halt)),
    };
}

/// Records `error` on a span declared with an `error` field.
pub(crate) fn record_error(span: &Span, error: &str) {
    if !span.is_disabled() {
        span.record("error", error);
    }
}

fn halt_name(halt: &Halt) -> &'static str {
    match halt {
        Halt::Suspend(_) => "suspended",
        Halt::Fatal(_) => "failed",
        Halt::LeaseLost => "lease_lost",
        Halt::Store { .. } => "store_failed",
    }
}
