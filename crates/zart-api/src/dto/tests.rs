//! The wire contract, pinned: each response body built from a core record serializes to
//! exactly this JSON. A change here is a change of the HTTP contract (API.md), not a
//! refactoring.

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use zart_core as core;

use super::*;

mod operator;
use operator::{rerun_json, rerun_record};

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
}

fn wire<T: Serialize>(body: T) -> Value {
    serde_json::to_value(body).unwrap()
}

fn failed_execution(waiting_for: Option<core::WaitingFor>) -> core::ExecutionRecord {
    core::ExecutionRecord {
        task_name: "charge".into(),
        id: "e1".into(),
        payload: json!({"amount": 3}),
        status: core::ExecutionStatus::Failed,
        scheduled_at: at(0),
        completed_at: Some(at(9)),
        version: 7,
        result: Some(json!([1, 2])),
        error: Some(core::ExecutionError {
            kind: core::ErrorKind::StepFailed,
            message: "card declined".into(),
            step: Some("charge-card".into()),
            attempts: Some(3),
        }),
        waiting_for,
        run_index: 2,
        started_at: Some(at(1)),
        updated_at: at(9),
        parent_id: Some("p1".into()),
        deadline_at: None,
        queue: None,
        priority: 0,
    }
}

fn failed_execution_json(waiting_for: Value) -> Value {
    json!({
        "name": "charge",
        "durableExecutionId": "e1",
        "payload": {"amount": 3},
        "status": "failed",
        "scheduledAt": "2023-11-14T22:13:20Z",
        "completedAt": "2023-11-14T22:13:29Z",
        "version": 7,
        "result": [1, 2],
        "error": {
            "kind": "step_failed",
            "message": "card declined",
            "step": "charge-card",
            "attempts": 3
        },
        "waitingFor": waiting_for,
        "runIndex": 2,
        "startedAt": "2023-11-14T22:13:21Z",
        "updatedAt": "2023-11-14T22:13:29Z",
        "parentId": "p1",
        "deadlineAt": null,
        "queue": "default",
        "priority": 0
    })
}

#[test]
fn execution_with_each_waiting_for_kind() {
    let waits = [
        (
            core::WaitingFor::Timer {
                step: "nap".into(),
                due_at: at(5),
            },
            json!({"kind": "timer", "step": "nap", "dueAt": "2023-11-14T22:13:25Z"}),
        ),
        (
            core::WaitingFor::Event {
                name: "approved".into(),
                deadline: None,
            },
            json!({"kind": "event", "name": "approved", "deadline": null}),
        ),
        (
            core::WaitingFor::Event {
                name: "approved".into(),
                deadline: Some(at(60)),
            },
            json!({"kind": "event", "name": "approved", "deadline": "2023-11-14T22:14:20Z"}),
        ),
        (
            core::WaitingFor::Child {
                execution_id: "c1".into(),
            },
            json!({"kind": "child", "executionId": "c1"}),
        ),
        (
            core::WaitingFor::Retry {
                step: "s".into(),
                attempt: 2,
                retry_at: at(6),
            },
            json!({"kind": "retry", "step": "s", "attempt": 2, "retryAt": "2023-11-14T22:13:26Z"}),
        ),
        (
            core::WaitingFor::Lease {
                worker_id: "w1".into(),
                since: at(1),
                expires_at: at(31),
            },
            json!({
                "kind": "lease",
                "workerId": "w1",
                "since": "2023-11-14T22:13:21Z",
                "expiresAt": "2023-11-14T22:13:51Z"
            }),
        ),
        (
            core::WaitingFor::Pause {
                rule_id: "r1".into(),
                expires_at: None,
            },
            json!({"kind": "pause", "ruleId": "r1", "expiresAt": null}),
        ),
        (
            core::WaitingFor::Pause {
                rule_id: "r1".into(),
                expires_at: Some(at(60)),
            },
            json!({"kind": "pause", "ruleId": "r1", "expiresAt": "2023-11-14T22:14:20Z"}),
        ),
        (
            core::WaitingFor::Queue {
                queue: "payments".into(),
                reason: core::QueueWaitReason::Concurrency,
            },
            json!({"kind": "queue", "queue": "payments", "reason": "concurrency"}),
        ),
    ];
    for (wait, expected) in waits {
        let body = wire(Execution::from(failed_execution(Some(wait))));
        assert_eq!(body, failed_execution_json(expected));
    }
    let body = wire(Execution::from(failed_execution(None)));
    assert_eq!(body, failed_execution_json(Value::Null));
}

#[test]
fn execution_error_omits_absent_step_and_attempts() {
    let record = core::ExecutionRecord {
        error: Some(core::ExecutionError {
            kind: core::ErrorKind::Handler,
            message: "boom".into(),
            step: None,
            attempts: None,
        }),
        ..failed_execution(None)
    };
    let body = wire(Execution::from(record));
    assert_eq!(
        body["error"],
        json!({"kind": "handler_error", "message": "boom"})
    );
}

#[test]
fn scheduled_execution_has_nulls_not_missing_fields() {
    let record = core::ExecutionRecord {
        task_name: "echo".into(),
        id: "e2".into(),
        payload: Value::Null,
        status: core::ExecutionStatus::Scheduled,
        scheduled_at: at(0),
        completed_at: None,
        version: 1,
        result: None,
        error: None,
        waiting_for: None,
        run_index: 1,
        started_at: None,
        updated_at: at(0),
        parent_id: None,
        deadline_at: Some(at(3600)),
        queue: None,
        priority: 0,
    };
    assert_eq!(
        wire(Execution::from(record)),
        json!({
            "name": "echo",
            "durableExecutionId": "e2",
            "payload": null,
            "status": "scheduled",
            "scheduledAt": "2023-11-14T22:13:20Z",
            "completedAt": null,
            "version": 1,
            "result": null,
            "error": null,
            "waitingFor": null,
            "runIndex": 1,
            "startedAt": null,
            "updatedAt": "2023-11-14T22:13:20Z",
            "parentId": null,
            "deadlineAt": "2023-11-14T23:13:20Z",
            "queue": "default",
            "priority": 0
        })
    );
}

#[test]
fn every_enum_value_on_the_wire() {
    let texts = |values: Vec<Value>| -> Vec<String> {
        values
            .into_iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let statuses = core::ExecutionStatus::ALL
        .iter()
        .map(|s| {
            wire(Execution::from(core::ExecutionRecord {
                status: *s,
                ..failed_execution(None)
            }))["status"]
                .clone()
        })
        .collect();
    assert_eq!(
        texts(statuses),
        ["scheduled", "running", "completed", "failed", "cancelled"]
    );
    let kinds = core::ErrorKind::ALL
        .iter()
        .map(|kind| {
            wire(ExecutionError::from(core::ExecutionError {
                kind: *kind,
                message: String::new(),
                step: None,
                attempts: None,
            }))["kind"]
                .clone()
        })
        .collect();
    assert_eq!(
        texts(kinds),
        [
            "step_failed",
            "handler_error",
            "panic",
            "non_determinism",
            "deadline_exceeded",
            "event_timeout",
            "invalid_input",
            "unknown_task",
            "child_failed"
        ]
    );
    let step_kinds = core::StepKind::ALL
        .iter()
        .map(|kind| {
            wire(Step::from(core::StepRecord {
                kind: *kind,
                ..step_record()
            }))["kind"]
                .clone()
        })
        .collect();
    assert_eq!(
        texts(step_kinds),
        [
            "step",
            "sleep",
            "wait_for_event",
            "spawn",
            "child",
            "now",
            "uuid",
            "random",
            "patch"
        ]
    );
    let step_statuses = core::StepStatus::ALL
        .iter()
        .map(|status| {
            wire(Step::from(core::StepRecord {
                status: *status,
                ..step_record()
            }))["status"]
                .clone()
        })
        .collect();
    assert_eq!(
        texts(step_statuses),
        ["scheduled", "running", "completed", "dead"]
    );
    let triggers = core::RunTrigger::ALL
        .iter()
        .map(|trigger| {
            wire(Run::from(core::RunRecord {
                trigger: *trigger,
                ..run_record()
            }))["trigger"]
                .clone()
        })
        .collect();
    assert_eq!(texts(triggers), ["initial", "restart", "selective_rerun"]);
    let attempt_statuses = core::AttemptStatus::ALL
        .iter()
        .map(|status| {
            wire(Attempt::from(core::AttemptRecord {
                status: *status,
                ..attempt_record()
            }))["status"]
                .clone()
        })
        .collect();
    assert_eq!(texts(attempt_statuses), ["running", "completed", "failed"]);
}

#[test]
fn stats() {
    let stats = core::Stats {
        scheduled: 1,
        running: 2,
        completed: 3,
        failed: 4,
        cancelled: 5,
    };
    assert_eq!(
        wire(Stats::from(stats)),
        json!({"scheduled": 1, "running": 2, "completed": 3, "failed": 4, "cancelled": 5})
    );
}

fn run_record() -> core::RunRecord {
    core::RunRecord {
        run_id: "e1:1".into(),
        execution_id: "e1".into(),
        run_index: 1,
        payload: json!(null),
        status: core::ExecutionStatus::Completed,
        result: Some(json!("ok")),
        started_at: Some(at(1)),
        completed_at: Some(at(2)),
        trigger: core::RunTrigger::Initial,
        triggered_by: None,
        triggered_at: None,
    }
}

fn run_json() -> Value {
    json!({
        "runId": "e1:1",
        "executionId": "e1",
        "runIndex": 1,
        "payload": null,
        "status": "completed",
        "result": "ok",
        "startedAt": "2023-11-14T22:13:21Z",
        "completedAt": "2023-11-14T22:13:22Z",
        "trigger": "initial",
        "triggeredBy": null,
        "triggeredAt": null
    })
}

fn attempt_record() -> core::AttemptRecord {
    core::AttemptRecord {
        attempt_number: 1,
        status: core::AttemptStatus::Failed,
        result: None,
        error: Some("timeout".into()),
        started_at: at(1),
        completed_at: Some(at(1)),
    }
}

fn step_record() -> core::StepRecord {
    core::StepRecord {
        step_id: "charge#0".into(),
        name: "charge".into(),
        occurrence: 0,
        position: 0,
        kind: core::StepKind::Step,
        status: core::StepStatus::Completed,
        retry_attempt: 2,
        attempt_base: 0,
        result: Some(json!(1)),
        last_error: Some("timeout".into()),
        retryable: true,
        scheduled_at: at(1),
        completed_at: Some(at(2)),
        wake_at: None,
        attempts: vec![
            attempt_record(),
            core::AttemptRecord {
                attempt_number: 2,
                status: core::AttemptStatus::Completed,
                result: Some(json!(1)),
                error: None,
                started_at: at(2),
                completed_at: Some(at(2)),
            },
        ],
    }
}

fn step_json() -> Value {
    json!({
        "stepId": "charge#0",
        "name": "charge",
        "occurrence": 0,
        "position": 0,
        "kind": "step",
        "status": "completed",
        "retryAttempt": 1,
        "attemptCount": 2,
        "result": 1,
        "lastError": "timeout",
        "retryable": true,
        "scheduledAt": "2023-11-14T22:13:21Z",
        "completedAt": "2023-11-14T22:13:22Z",
        "wakeAt": null,
        "attempts": [
            {
                "attemptNumber": 1,
                "status": "failed",
                "result": null,
                "error": "timeout",
                "startedAt": "2023-11-14T22:13:21Z",
                "completedAt": "2023-11-14T22:13:21Z"
            },
            {
                "attemptNumber": 2,
                "status": "completed",
                "result": 1,
                "error": null,
                "startedAt": "2023-11-14T22:13:22Z",
                "completedAt": "2023-11-14T22:13:22Z"
            }
        ]
    })
}

#[test]
fn run_and_step_with_attempts() {
    assert_eq!(wire(Run::from(run_record())), run_json());
    assert_eq!(wire(Step::from(step_record())), step_json());
}

#[test]
fn detail() {
    let detail = core::ExecutionDetail {
        execution: failed_execution(None),
        runs: vec![run_record()],
        steps: vec![step_record()],
        actions: vec![rerun_record()],
    };
    assert_eq!(
        wire(ExecutionDetail::from(detail)),
        json!({
            "execution": failed_execution_json(Value::Null),
            "runs": [run_json()],
            "steps": [step_json()],
            "actions": [rerun_json()]
        })
    );
}

#[test]
fn event_offer_answer() {
    let body = EventAccepted {
        execution_id: "e1".into(),
        event_name: "approved".into(),
        sequence: 4,
        duplicate: false,
    };
    assert_eq!(
        wire(body),
        json!({"executionId": "e1", "eventName": "approved", "sequence": 4, "duplicate": false})
    );
}

#[test]
fn error_body() {
    let body = ErrorBody {
        error: "no such execution".into(),
    };
    assert_eq!(wire(body), json!({"error": "no such execution"}));
}

#[test]
fn start_request_reads_camel_case_and_defaults_id_and_payload() {
    let body: StartExecution = serde_json::from_value(json!({"taskName": "t"})).unwrap();
    assert_eq!(body.execution_id, None);
    assert_eq!(body.payload, Value::Null);
    let full: StartExecution =
        serde_json::from_value(json!({"executionId": "x", "taskName": "t", "payload": [1]}))
            .unwrap();
    assert_eq!(full.execution_id.as_deref(), Some("x"));
    assert_eq!(full.task_name, "t");
    assert_eq!(full.payload, json!([1]));
}
