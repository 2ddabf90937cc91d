//! OpenTelemetry traces from a real `zart serve` to a real OTLP/HTTP receiver: the
//! spans of an execution that survives a SIGKILL and a restart form one trace, under
//! the caller's `traceparent`, with the right parent links and attributes.

mod common;

use std::time::Duration;

use common::otlp::{Received, Receiver};
use common::{temp_db, Server, ServerOptions};
use serde_json::{json, Value};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";
const FLAKY_TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const SPAN_WAIT: Duration = Duration::from_secs(30);

fn traced(receiver: &Receiver, service: &str) -> ServerOptions {
    ServerOptions::default()
        .args(&["--lease-secs", "2"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint)
        .env("OTEL_SERVICE_NAME", service)
        // Export every 50 ms, so spans ended before the kill reach the receiver.
        .env("OTEL_BSP_SCHEDULE_DELAY", "50")
}

fn traceparent(trace_id: &str) -> String {
    format!("00-{trace_id}-{CALLER_SPAN}-01")
}

/// `POST /api/v1/executions` with a `traceparent` header.
async fn start_traced(server: &Server, traceparent: &str, body: Value) -> Value {
    let reply = reqwest::Client::new()
        .post(format!("{}/api/v1/executions", server.base))
        .header("traceparent", traceparent)
        .json(&body)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(reply.status(), 201);
    reply.json().await.expect("a JSON execution")
}

fn named<'a>(spans: &'a [Received], name: &str) -> Vec<&'a Received> {
    spans.iter().filter(|s| s.name == name).collect()
}

fn the<'a>(spans: &'a [Received], name: &str) -> &'a Received {
    let found = named(spans, name);
    assert_eq!(found.len(), 1, "one {name} span: {spans:#?}");
    found[0]
}

/// The span of the `POST /api/v1/executions` request (named after its route).
fn request_span(spans: &[Received]) -> &Received {
    spans
        .iter()
        .find(|s| s.name == "POST /api/v1/executions" && s.attr("method") == Some("POST"))
        .unwrap_or_else(|| panic!("no request span in {spans:#?}"))
}

#[tokio::test]
async fn an_execution_killed_mid_run_continues_the_callers_trace_after_restart() {
    let receiver = Receiver::start().await;
    let (_dir, db) = temp_db();
    let first = Server::start(&db, traced(&receiver, "zart-first")).await;
    start_traced(
        &first,
        &traceparent(TRACE_ID),
        json!({"executionId": "traced-1", "taskName": "countdown",
               "payload": {"steps": 12, "stepMs": 200}}),
    )
    .await;
    // Two tick attempts exported: the kill lands mid-run, after them.
    receiver
        .wait_until("two ticks from the first process", SPAN_WAIT, |spans| {
            named(spans, "zart.step").len() >= 2
        })
        .await;
    first.kill().await;

    let second = Server::start(&db, traced(&receiver, "zart-second")).await;
    let done = second.api().wait("traced-1", 30).await;
    assert_eq!(done["status"], "completed", "{done}");
    let spans = receiver
        .wait_until("the second process's run", SPAN_WAIT, |spans| {
            spans
                .iter()
                .any(|s| s.name == "zart.run" && s.service == "zart-second")
        })
        .await;

    // Every span of the execution is in the caller's trace.
    let ours: Vec<Received> = spans
        .iter()
        .filter(|s| s.trace_id == TRACE_ID)
        .cloned()
        .collect();
    for span in spans
        .iter()
        .filter(|s| s.attr("execution_id") == Some("traced-1"))
    {
        assert_eq!(span.trace_id, TRACE_ID, "{span:#?}");
    }
    // The request span is the caller's child; the start span the request's.
    let request = request_span(&ours);
    assert_eq!(request.parent_span_id, CALLER_SPAN);
    let start = the(&ours, "zart.start");
    assert_eq!(start.parent_span_id, request.span_id);
    assert_eq!(start.attr("execution_id"), Some("traced-1"));
    assert_eq!(start.attr("task"), Some("countdown"));
    assert_eq!(start.attr("created"), Some("true"));
    // The killed process never ended its run span; the restarted run is the start
    // span's child, read from the context stored with the execution.
    let run = the(&ours, "zart.run");
    assert_eq!(run.service, "zart-second");
    assert_eq!(run.parent_span_id, start.span_id);
    assert_eq!(run.attr("execution_id"), Some("traced-1"));
    assert_eq!(run.attr("task"), Some("countdown"));
    assert_eq!(run.attr("run"), Some("1"));
    assert_eq!(run.attr("outcome"), Some("completed"));
    assert_eq!(run.attr("trace_id"), Some(TRACE_ID));
    // Step attempts parent to their process's run span: the second process's to
    // `run`, the first's to the one run span it never ended.
    let steps = named(&ours, "zart.step");
    let (second_steps, first_steps): (Vec<&Received>, Vec<&Received>) = steps
        .iter()
        .copied()
        .partition(|s| s.service == "zart-second");
    assert!(first_steps.len() >= 2, "{steps:#?}");
    assert!(!second_steps.is_empty(), "{steps:#?}");
    for step in &second_steps {
        assert_eq!(step.parent_span_id, run.span_id, "{step:#?}");
    }
    let first_run = &first_steps[0].parent_span_id;
    assert_ne!(first_run, &run.span_id);
    for step in &first_steps {
        assert_eq!(&step.parent_span_id, first_run, "{step:#?}");
        assert_eq!(step.attr("outcome"), Some("completed"), "{step:#?}");
        assert_eq!(step.attr("attempt"), Some("1"), "{step:#?}");
        assert!(
            step.attr("step").is_some_and(|s| s.starts_with("tick")),
            "{step:#?}"
        );
    }
}

#[tokio::test]
async fn a_failed_attempt_carries_its_error_and_logs_name_the_trace() {
    let receiver = Receiver::start().await;
    let (_dir, db) = temp_db();
    let server = Server::start(&db, traced(&receiver, "zart-flaky")).await;
    start_traced(
        &server,
        &traceparent(FLAKY_TRACE_ID),
        json!({"executionId": "flaky-1", "taskName": "flaky",
               "payload": {"failTimes": 1}}),
    )
    .await;
    let done = server.api().wait("flaky-1", 30).await;
    assert_eq!(done["status"], "completed", "{done}");
    let spans = receiver
        .wait_until("the flaky run", SPAN_WAIT, |spans| {
            spans.iter().any(|s| s.name == "zart.run")
        })
        .await;
    let run = the(&spans, "zart.run");
    assert_eq!(run.trace_id, FLAKY_TRACE_ID);
    let mut attempts = named(&spans, "zart.step");
    attempts.sort_by_key(|s| s.attr("attempt").map(str::to_owned));
    assert_eq!(attempts.len(), 2, "{spans:#?}");
    let (failed, succeeded) = (attempts[0], attempts[1]);
    assert_eq!(failed.attr("attempt"), Some("1"));
    assert_eq!(failed.attr("outcome"), Some("retrying"));
    assert!(
        failed
            .attr("error")
            .is_some_and(|e| e.contains("simulated failure")),
        "{failed:#?}"
    );
    assert_eq!(succeeded.attr("attempt"), Some("2"));
    assert_eq!(succeeded.attr("outcome"), Some("completed"));
    for attempt in [failed, succeeded] {
        assert_eq!(attempt.parent_span_id, run.span_id);
        assert_eq!(attempt.trace_id, FLAKY_TRACE_ID);
    }
    // The failed attempt's log line names the execution and the trace.
    let log = server.log();
    let line = log
        .lines()
        .find(|l| l.contains("step attempt failed"))
        .unwrap_or_else(|| panic!("no failed-attempt line in:\n{log}"));
    assert!(line.contains("execution_id=flaky-1"), "{line}");
    assert!(
        line.contains(&format!("trace_id={FLAKY_TRACE_ID}")),
        "{line}"
    );
}

/// A collector that accepts connections and never answers.
async fn black_hole() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("address"));
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (endpoint, task)
}

/// A port nothing listens on.
fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener);
    endpoint
}

#[tokio::test]
async fn an_unreachable_collector_neither_slows_nor_fails_executions() {
    let (hung, _hole) = black_hole().await;
    for endpoint in [hung, closed_port()] {
        let (_dir, db) = temp_db();
        // Exports that never answer would hold for 20 s each: an execution that
        // waited for one could not finish within the bound below.
        let options = ServerOptions::default()
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
            .env("OTEL_EXPORTER_OTLP_TIMEOUT", "20000")
            .env("OTEL_BSP_SCHEDULE_DELAY", "10");
        let server = Server::start(&db, options).await;
        let began = std::time::Instant::now();
        start_traced(
            &server,
            &traceparent(TRACE_ID),
            json!({"executionId": "unheard", "taskName": "countdown",
                   "payload": {"steps": 40, "stepMs": 0}}),
        )
        .await;
        let done = server.api().wait("unheard", 30).await;
        let took = began.elapsed();
        assert_eq!(done["status"], "completed", "{endpoint}: {done}");
        assert!(took < Duration::from_secs(10), "{endpoint}: took {took:?}");
        // Shutdown flushes for at most its timeout, not the hung export's.
        let status = server.terminate(Duration::from_secs(15)).await;
        assert!(status.success(), "{endpoint}: {status}");
    }
}

#[tokio::test]
async fn without_an_endpoint_nothing_is_traced_and_logs_still_name_the_execution() {
    let (_dir, db) = temp_db();
    // Sampler and service variables alone do not turn export on.
    let options = ServerOptions::default()
        .env("OTEL_SERVICE_NAME", "untraced")
        .env("OTEL_TRACES_SAMPLER", "always_on");
    let server = Server::start(&db, options).await;
    start_traced(
        &server,
        &traceparent(FLAKY_TRACE_ID),
        json!({"executionId": "plain-1", "taskName": "flaky", "payload": {"failTimes": 1}}),
    )
    .await;
    let done = server.api().wait("plain-1", 30).await;
    assert_eq!(done["status"], "completed", "{done}");
    let log = server.log();
    let line = log
        .lines()
        .find(|l| l.contains("step attempt failed"))
        .unwrap_or_else(|| panic!("no failed-attempt line in:\n{log}"));
    assert!(line.contains("execution_id=plain-1"), "{line}");
    assert!(!line.contains("trace_id="), "no trace is recorded: {line}");
}

#[tokio::test]
async fn a_malformed_traceparent_is_ignored_and_the_start_succeeds() {
    let receiver = Receiver::start().await;
    let (_dir, db) = temp_db();
    let server = Server::start(&db, traced(&receiver, "zart-malformed")).await;
    start_traced(
        &server,
        "00-not-a-trace-01",
        json!({"executionId": "bad-parent", "taskName": "echo", "payload": {"x": 1}}),
    )
    .await;
    let done = server.api().wait("bad-parent", 30).await;
    assert_eq!(done["status"], "completed", "{done}");
    let spans = receiver
        .wait_until("the run", SPAN_WAIT, |spans| {
            spans.iter().any(|s| s.name == "zart.run")
        })
        .await;
    // A new trace: the request span is a root, and the run joins its trace.
    let request = request_span(&spans);
    assert_eq!(request.parent_span_id, "");
    let run = the(&spans, "zart.run");
    assert_eq!(run.trace_id, request.trace_id);
    assert_eq!(run.parent_span_id, the(&spans, "zart.start").span_id);
}
