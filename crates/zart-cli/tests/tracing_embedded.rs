//! OpenTelemetry traces from an embedded engine (`zart::telemetry` in the embedder's
//! own subscriber) to a real OTLP/HTTP receiver: a child's runs continue its
//! parent's trace, and `Client::start` picks up the caller's current span.
//!
//! One test in this binary: it installs the process's global subscriber.

mod common;

use std::time::Duration;

use common::otlp::{Received, Receiver};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;
use zart::prelude::*;
use zart::telemetry::TelemetryConfig;
use zart::TraceContext;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn one<'a>(spans: &'a [Received], pick: impl Fn(&Received) -> bool, what: &str) -> &'a Received {
    let found: Vec<&Received> = spans.iter().filter(|s| pick(s)).collect();
    assert_eq!(found.len(), 1, "one {what}: {spans:#?}");
    found[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_and_callers_spans_carry_the_trace_into_every_run() {
    let receiver = Receiver::start().await;
    let telemetry = TelemetryConfig::default()
        .endpoint(&receiver.endpoint)
        .service_name("embedded")
        .build()
        .expect("builds")
        .expect("an endpoint turns export on");
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(telemetry.layer()))
        .expect("the only subscriber of this test binary");

    let store = zart::connect("sqlite::memory:").await.expect("store");
    let zart = Zart::builder(store)
        .task("parent", |ctx: Ctx, n: u32| async move {
            let doubled: u32 = ctx.child("kid", "double", n).await?;
            Ok(doubled)
        })
        .task("double", |ctx: Ctx, n: u32| async move {
            ctx.step("times-two", || async move { Ok(n * 2) }).await
        })
        .build();
    let worker = zart.start_worker(WorkerConfig::default());
    let client = zart.client();

    // An explicit context (as from an incoming traceparent).
    let caller = TraceContext::parse(&format!("00-{TRACE_ID}-{CALLER_SPAN}-01"), None)
        .expect("a valid traceparent");
    let request = StartRequest::new("parent", 21.into())
        .id("p")
        .trace_context(caller);
    client.start(request).await.expect("start p");
    // No explicit context: the caller's current span is the parent.
    let span = tracing::info_span!("caller");
    client
        .start(StartRequest::new("double", 5.into()).id("q"))
        .instrument(span)
        .await
        .expect("start q");
    for id in ["p", "q"] {
        let done = client.wait(id, Duration::from_secs(20)).await.expect(id);
        assert_eq!(done.status, ExecutionStatus::Completed, "{id}: {done:?}");
    }
    worker.shutdown(Duration::from_secs(5)).await;
    // Flushes every ended span to the receiver (blocking: off the runtime's threads).
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .expect("shutdown");
    let spans = receiver.spans();

    let start_p = one(
        &spans,
        |s| s.name == "zart.start" && s.attr("execution_id") == Some("p"),
        "start of p",
    );
    assert_eq!(start_p.trace_id, TRACE_ID);
    assert_eq!(start_p.parent_span_id, CALLER_SPAN);
    // The parent ran twice (suspended on its child, then finished), both times
    // under its start span.
    let parent_runs: Vec<&Received> = spans
        .iter()
        .filter(|s| s.name == "zart.run" && s.attr("execution_id") == Some("p"))
        .collect();
    assert_eq!(parent_runs.len(), 2, "{spans:#?}");
    for run in &parent_runs {
        assert_eq!(run.trace_id, TRACE_ID);
        assert_eq!(run.parent_span_id, start_p.span_id);
    }
    let outcomes: Vec<_> = parent_runs.iter().map(|r| r.attr("outcome")).collect();
    assert!(outcomes.contains(&Some("suspended")), "{outcomes:?}");
    assert!(outcomes.contains(&Some("completed")), "{outcomes:?}");
    // The child's run is a child of the spawn's span, in the same trace.
    let spawn = one(
        &spans,
        |s| s.name == "zart.child" && s.attr("child_task") == Some("double"),
        "spawn span",
    );
    assert_eq!(spawn.trace_id, TRACE_ID);
    let child_id = spawn.attr("child_id").expect("the child's id");
    let child_run = one(
        &spans,
        |s| s.name == "zart.run" && s.attr("execution_id") == Some(child_id),
        "child run",
    );
    assert_eq!(child_run.trace_id, TRACE_ID);
    assert_eq!(child_run.parent_span_id, spawn.span_id);
    let step = one(
        &spans,
        |s| s.name == "zart.step" && s.trace_id == TRACE_ID,
        "the child's step",
    );
    assert_eq!(step.parent_span_id, child_run.span_id);
    assert_eq!(step.attr("step"), Some("times-two"));

    // q: its start is the caller span's child, and its run joins that trace.
    let caller = one(&spans, |s| s.name == "caller", "caller span");
    let start_q = one(
        &spans,
        |s| s.name == "zart.start" && s.attr("execution_id") == Some("q"),
        "start of q",
    );
    assert_eq!(start_q.parent_span_id, caller.span_id);
    assert_eq!(start_q.trace_id, caller.trace_id);
    let run_q = one(
        &spans,
        |s| s.name == "zart.run" && s.attr("execution_id") == Some("q"),
        "run of q",
    );
    assert_eq!(run_q.parent_span_id, start_q.span_id);
    assert_eq!(run_q.trace_id, caller.trace_id);
}
