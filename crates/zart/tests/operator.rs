//! Operator actions through the Rust `Client`, with a real worker: retrying a dead
//! step, restarting, selectively rerunning, and pause rules that hold executions
//! before their next matching step. Each case runs on a SQLite file and on
//! PostgreSQL (skipped with a notice when `ZART_TEST_POSTGRES_URL` is unset).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use zart::core::{
    ActionKind, AttemptStatus, ExecutionStatus, RunTrigger, StaleStep, StepStatus, Store,
    WaitingFor,
};
use zart::prelude::*;
use zart::{ActionOptions, PauseRequest};

/// Side-effect counters and a switch that breaks step `b`.
#[derive(Clone, Default)]
struct Pipeline {
    a: Counter,
    b: Counter,
    c: Counter,
    broken: Arc<AtomicBool>,
}

impl Pipeline {
    fn broken() -> Self {
        let p = Self::default();
        p.broken.store(true, Ordering::SeqCst);
        p
    }

    fn fix(&self) {
        self.broken.store(false, Ordering::SeqCst);
    }

    fn counts(&self) -> (u32, u32, u32) {
        (self.a.get(), self.b.get(), self.c.get())
    }

    /// Steps `a`, `b` (fails while broken; two attempts per budget) and `c`, which
    /// returns what it got from `b`.
    fn zart(&self, store: Arc<dyn Store>) -> Zart {
        let p = self.clone();
        Zart::builder(store)
            .task("pipeline", move |ctx: Ctx, input: Value| {
                let p = p.clone();
                async move {
                    let a: u32 = ctx.step("a", || async { Ok(p.a.bump()) }).await?;
                    let retry = StepOptions::retry(RetryPolicy::fixed(Duration::from_millis(1), 2));
                    let b: String = ctx
                        .step_with("b", retry, || async {
                            let n = p.b.bump();
                            if p.broken.load(Ordering::SeqCst) {
                                return Err(TaskError::retryable(format!("b is broken ({n})")));
                            }
                            Ok(format!("b{n}"))
                        })
                        .await?;
                    let c: String = ctx
                        .step("c", || async {
                            p.c.bump();
                            Ok(format!("c saw {b}"))
                        })
                        .await?;
                    Ok(json!({"a": a, "b": b, "c": c, "input": input}))
                }
            })
            .build()
    }
}

async fn retry_step_resumes_from_the_dead_step_with_a_fresh_budget(store: Arc<dyn Store>) {
    let p = Pipeline::broken();
    let zart = p.zart(store);
    let worker = zart.start_worker(fast());
    let client = zart.client();
    let id = start(&client, "pipeline", json!(1)).await;
    let failed = finish(&client, &id).await;
    assert_eq!(failed.status, ExecutionStatus::Failed);
    assert_eq!(p.counts(), (1, 2, 0));

    // Still broken: the retry gets a whole new budget of two attempts, then dies.
    let first = client
        .retry_step(&id, "b", ActionOptions::triggered_by("ops@example"))
        .await
        .expect("retry a dead step");
    assert_eq!(first.kind, ActionKind::RetryStep);
    assert_eq!(first.step_name.as_deref(), Some("b#0"));
    let failed = finish(&client, &id).await;
    assert_eq!(failed.status, ExecutionStatus::Failed, "{failed:?}");
    assert_eq!(p.counts(), (1, 4, 0));

    // Fixed: the retry completes the execution; `a` is not run again.
    p.fix();
    let retried = client
        .retry_step(&id, "b", ActionOptions::default().idempotency_key("fix-1"))
        .await
        .expect("retry again");
    let replayed = client
        .retry_step(&id, "b", ActionOptions::default().idempotency_key("fix-1"))
        .await
        .expect("the same key answers the first action");
    assert_eq!(replayed.action_id, retried.action_id);
    let done = finish(&client, &id).await;
    assert_eq!(done.status, ExecutionStatus::Completed, "{done:?}");
    assert_eq!(done.result.as_ref().unwrap()["b"], "b5");
    assert_eq!(done.error, None);
    assert_eq!(p.counts(), (1, 5, 1), "b ran once for the replayed key");

    let detail = client.detail(&id, None).await.unwrap();
    let b = detail.steps.iter().find(|s| s.name == "b").unwrap();
    assert_eq!(b.status, StepStatus::Completed);
    assert_eq!(b.retry_attempt, 5);
    let numbers: Vec<u32> = b.attempts.iter().map(|a| a.attempt_number).collect();
    assert_eq!(numbers, vec![1, 2, 3, 4, 5]);
    assert_eq!(b.attempts[4].status, AttemptStatus::Completed);
    assert_eq!(b.attempts[4].result, Some(json!("b5")));
    let actions: Vec<(&str, ActionKind)> = detail
        .actions
        .iter()
        .map(|a| (a.triggered_by.as_str(), a.kind))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("ops@example", ActionKind::RetryStep),
            ("api", ActionKind::RetryStep)
        ]
    );

    // Nothing is dead any more, and the execution is finished.
    let err = client
        .retry_step(&id, "b", ActionOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Conflict(_)), "{err:?}");
    let err = client
        .retry_step(&id, "nope", ActionOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Conflict(_) | ClientError::NotFound(_)),
        "{err:?}"
    );
    let err = client
        .retry_step("missing", "b", ActionOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::NotFound(_)), "{err:?}");
    worker.shutdown(Duration::from_secs(5)).await;
}

async fn retry_step_refuses_a_step_that_is_not_dead(store: Arc<dyn Store>) {
    let p = Pipeline::broken();
    let zart = p.zart(store);
    let worker = zart.start_worker(fast());
    let client = zart.client();
    let id = start(&client, "pipeline", json!(1)).await;
    finish(&client, &id).await;
    let err = client
        .retry_step(&id, "a", ActionOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Conflict(m) if m.contains("not dead")),
        "{err:?}"
    );
    let err = client
        .retry_step(&id, "zzz", ActionOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::NotFound(_)), "{err:?}");
    let err = client
        .retry_step(&id, "", ActionOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::InvalidInput(_)), "{err:?}");
    assert!(client.detail(&id, None).await.unwrap().actions.is_empty());
    worker.shutdown(Duration::from_secs(5)).await;
}

async fn restart_runs_again_from_scratch_and_keeps_the_old_run(store: Arc<dyn Store>) {
    let p = Pipeline::default();
    let zart = p.zart(store);
    let worker = zart.start_worker(fast());
    let client = zart.client();
    let id = start(&client, "pipeline", json!(1)).await;
    assert_eq!(
        finish(&client, &id).await.status,
        ExecutionStatus::Completed
    );

    let record = client
        .restart(&id, Some(json!(2)), ActionOptions::triggered_by("alice"))
        .await
        .expect("restart a completed execution");
    assert_eq!(record.kind, ActionKind::Restart);
    assert_eq!(record.run_index, 2);
    let done = finish(&client, &id).await;
    assert_eq!(done.status, ExecutionStatus::Completed);
    assert_eq!(done.result.as_ref().unwrap()["input"], json!(2));
    assert_eq!(p.counts(), (2, 2, 2));

    let runs = client.runs(&id).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1].trigger, RunTrigger::Restart);
    assert_eq!(runs[1].triggered_by.as_deref(), Some("alice"));
    assert!(runs[1].triggered_at.is_some());
    assert_eq!(runs[1].payload, json!(2));
    let old = client.detail(&id, Some(1)).await.unwrap();
    assert_eq!(old.steps.len(), 3, "the first run's journal stays readable");

    // Restart without a payload keeps the current one.
    client
        .restart(&id, None, ActionOptions::default())
        .await
        .unwrap();
    let done = finish(&client, &id).await;
    assert_eq!(done.result.as_ref().unwrap()["input"], json!(2));
    worker.shutdown(Duration::from_secs(5)).await;
}

async fn restart_refuses_an_unfinished_execution(store: Arc<dyn Store>) {
    let p = Pipeline::default();
    let zart = p.zart(store);
    let client = zart.client();
    // No worker: the execution stays scheduled.
    let id = start(&client, "pipeline", json!(1)).await;
    let err = client
        .restart(&id, None, ActionOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Conflict(m) if m.contains("scheduled")),
        "{err:?}"
    );
    let err = client
        .rerun(&id, vec!["a".into()], vec![], ActionOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Conflict(_)), "{err:?}");
    assert_eq!(client.runs(&id).await.unwrap().len(), 1);
}

async fn rerun_replays_preserved_steps_and_reports_stale_ones(store: Arc<dyn Store>) {
    let p = Pipeline::default();
    let zart = p.zart(store);
    let worker = zart.start_worker(fast());
    let client = zart.client();
    let id = start(&client, "pipeline", json!(1)).await;
    let first = finish(&client, &id).await;
    assert_eq!(first.result.as_ref().unwrap()["c"], "c saw b1");

    let err = client
        .rerun(&id, vec!["nope".into()], vec![], ActionOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Unprocessable(m) if m.contains("nope")),
        "{err:?}"
    );

    let record = client
        .rerun(&id, vec!["b".into()], vec![], ActionOptions::default())
        .await
        .expect("rerun b");
    assert_eq!(record.kind, ActionKind::SelectiveRerun);
    assert_eq!(record.run_index, 2);
    assert_eq!(record.effective_rerun, vec!["b".to_string()]);
    assert_eq!(
        record.potentially_stale,
        vec![StaleStep {
            preserved_step: "c".into(),
            possibly_depends_on: vec!["b".into()],
        }]
    );
    let done = finish(&client, &id).await;
    assert_eq!(done.status, ExecutionStatus::Completed);
    // `a` and `c` were replayed from the first run: `c` still shows b's old output.
    assert_eq!(done.result.as_ref().unwrap()["b"], "b2");
    assert_eq!(done.result.as_ref().unwrap()["c"], "c saw b1");
    assert_eq!(p.counts(), (1, 2, 1));
    let runs = client.runs(&id).await.unwrap();
    assert_eq!(runs[1].trigger, RunTrigger::SelectiveRerun);
    worker.shutdown(Duration::from_secs(5)).await;
}

async fn rerun_includes_dead_steps_unless_preserved(store: Arc<dyn Store>) {
    let p = Pipeline::broken();
    let zart = p.zart(store);
    let worker = zart.start_worker(fast());
    let client = zart.client();
    let id = start(&client, "pipeline", json!(1)).await;
    assert_eq!(finish(&client, &id).await.status, ExecutionStatus::Failed);
    p.fix();
    let record = client
        .rerun(&id, vec![], vec![], ActionOptions::default())
        .await
        .expect("rerun the dead step");
    assert_eq!(record.effective_rerun, vec!["b".to_string()]);
    assert!(record.potentially_stale.is_empty());
    let done = finish(&client, &id).await;
    assert_eq!(done.status, ExecutionStatus::Completed, "{done:?}");
    assert_eq!(p.counts(), (1, 3, 1));
    worker.shutdown(Duration::from_secs(5)).await;
}

/// Steps `prepare`, `charge` and `ship`, each counted; `prepare` waits for the gate.
#[derive(Clone, Default)]
struct Order {
    prepare: Counter,
    charge: Counter,
    ship: Counter,
}

impl Order {
    fn zart(&self, store: Arc<dyn Store>) -> Zart {
        let o = self.clone();
        Zart::builder(store)
            .task("order", move |ctx: Ctx, _: Value| {
                let o = o.clone();
                async move {
                    ctx.step("prepare", || async { Ok(o.prepare.bump()) })
                        .await?;
                    ctx.step("charge", || async { Ok(o.charge.bump()) }).await?;
                    ctx.step("ship", || async { Ok(o.ship.bump()) }).await?;
                    Ok(())
                }
            })
            .build()
    }

    fn counts(&self) -> (u32, u32, u32) {
        (self.prepare.get(), self.charge.get(), self.ship.get())
    }
}

fn paused_on(rule_id: &str) -> impl Fn(&zart::core::ExecutionRecord) -> bool + '_ {
    move |e| matches!(&e.waiting_for, Some(WaitingFor::Pause { rule_id: r, .. }) if r == rule_id)
}

async fn a_step_pattern_rule_holds_executions_before_the_matching_step(store: Arc<dyn Store>) {
    let o = Order::default();
    let zart = o.zart(store);
    let worker = zart.start_worker(fast());
    let client = zart.client();
    let rule = client
        .pause(PauseRequest {
            task_name: Some("order".into()),
            step_pattern: Some("char*".into()),
            reason: Some("payment provider incident".into()),
            ..PauseRequest::default()
        })
        .await
        .expect("create a rule");
    assert_eq!(rule.created_by, "api");
    assert_eq!(client.pauses().await.unwrap(), vec![rule.clone()]);

    let ids = [
        start(&client, "order", json!(null)).await,
        start(&client, "order", json!(null)).await,
    ];
    for id in &ids {
        let parked = until(&client, id, paused_on(&rule.rule_id)).await;
        assert_eq!(parked.status, ExecutionStatus::Running);
    }
    idle(&worker).await;
    assert_eq!(o.counts(), (2, 0, 0), "nothing passed the paused step");

    assert_eq!(client.resume(&rule.rule_id).await.unwrap(), 1);
    for id in &ids {
        assert_eq!(finish(&client, id).await.status, ExecutionStatus::Completed);
    }
    assert_eq!(o.counts(), (2, 2, 2), "no step ran twice");
    assert_eq!(client.resume(&rule.rule_id).await.unwrap(), 0);
    assert!(client.pauses().await.unwrap().is_empty());
    let err = client.resume("no-such-rule").await.unwrap_err();
    assert!(matches!(err, ClientError::NotFound(_)), "{err:?}");
    worker.shutdown(Duration::from_secs(5)).await;
}

async fn an_execution_rule_holds_it_before_its_first_step_and_expires(store: Arc<dyn Store>) {
    let o = Order::default();
    let zart = o.zart(store);
    let worker = zart.start_worker(fast());
    let client = zart.client();
    // Stores keep milliseconds.
    let soon = chrono::Utc::now() + chrono::Duration::milliseconds(1500);
    let expires_at = chrono::DateTime::from_timestamp_millis(soon.timestamp_millis()).unwrap();
    let rule = client
        .pause(PauseRequest {
            execution_id: Some("held".into()),
            expires_at: Some(expires_at),
            ..PauseRequest::default()
        })
        .await
        .unwrap();
    client
        .start(StartRequest::new("order", json!(null)).id("held"))
        .await
        .unwrap();
    let other = start(&client, "order", json!(null)).await;
    assert_eq!(
        finish(&client, &other).await.status,
        ExecutionStatus::Completed
    );
    let parked = until(&client, "held", paused_on(&rule.rule_id)).await;
    match parked.waiting_for {
        Some(WaitingFor::Pause { expires_at: e, .. }) => assert_eq!(e, Some(expires_at)),
        other => panic!("not paused: {other:?}"),
    }
    assert_eq!(o.counts(), (1, 1, 1), "only the other execution ran");
    // Reaching `expiresAt` resumes it with no call.
    let done = finish(&client, "held").await;
    assert_eq!(done.status, ExecutionStatus::Completed);
    assert!(chrono::Utc::now() >= expires_at);
    assert_eq!(o.counts(), (2, 2, 2));
    assert!(
        client.pauses().await.unwrap().is_empty(),
        "an expired rule is not active"
    );
    worker.shutdown(Duration::from_secs(5)).await;
}

async fn bad_pause_rules_are_refused(store: Arc<dyn Store>) {
    let zart = Order::default().zart(store);
    let client = zart.client();
    let err = client.pause(PauseRequest::default()).await.unwrap_err();
    assert!(
        matches!(&err, ClientError::Unprocessable(m) if m.contains("selector")),
        "{err:?}"
    );
    let bad_glob = PauseRequest {
        step_pattern: Some("[oops".into()),
        ..PauseRequest::default()
    };
    let err = client.pause(bad_glob).await.unwrap_err();
    assert!(
        matches!(&err, ClientError::InvalidInput(m) if m.contains("glob")),
        "{err:?}"
    );
    let past = PauseRequest {
        task_name: Some("order".into()),
        expires_at: Some(chrono::Utc::now() - chrono::Duration::seconds(1)),
        ..PauseRequest::default()
    };
    let err = client.pause(past).await.unwrap_err();
    assert!(
        matches!(&err, ClientError::InvalidInput(m) if m.contains("future")),
        "{err:?}"
    );
    let long = PauseRequest {
        task_name: Some("order".into()),
        reason: Some("x".repeat(zart::MAX_REASON_CHARS + 1)),
        ..PauseRequest::default()
    };
    let err = client.pause(long).await.unwrap_err();
    assert!(matches!(err, ClientError::InvalidInput(_)), "{err:?}");
    assert!(
        client.pauses().await.unwrap().is_empty(),
        "nothing was stored"
    );
}

on_both!(
    retry_step_resumes_from_the_dead_step_with_a_fresh_budget,
    retry_step_refuses_a_step_that_is_not_dead,
    restart_runs_again_from_scratch_and_keeps_the_old_run,
    restart_refuses_an_unfinished_execution,
    rerun_replays_preserved_steps_and_reports_stale_ones,
    rerun_includes_dead_steps_unless_preserved,
    a_step_pattern_rule_holds_executions_before_the_matching_step,
    an_execution_rule_holds_it_before_its_first_step_and_expires,
    bad_pause_rules_are_refused,
);
