//! Each DTO serializes exactly like its `zart-core` twin, so the API shows the shapes
//! the core documents.

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use serde_json::json;
use zart_core as core;

use super::*;

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
}

fn same_json<A: Serialize, B: Serialize>(dto: A, core: B) {
    assert_eq!(
        serde_json::to_value(dto).unwrap(),
        serde_json::to_value(core).unwrap()
    );
}

fn execution(waiting_for: Option<core::WaitingFor>) -> core::ExecutionRecord {
    core::ExecutionRecord {
        name: "charge".into(),
        durable_execution_id: "e1".into(),
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
    }
}

#[test]
fn execution_serializes_like_the_core_record() {
    let waits = [
        core::WaitingFor::Timer {
            step: "nap".into(),
            due_at: at(5),
        },
        core::WaitingFor::Event {
            name: "approved".into(),
            deadline: None,
        },
        core::WaitingFor::Child {
            execution_id: "c1".into(),
        },
        core::WaitingFor::Retry {
            step: "s".into(),
            attempt: 2,
            retry_at: at(6),
        },
        core::WaitingFor::Lease {
            worker_id: "w1".into(),
            since: at(1),
            expires_at: at(31),
        },
    ];
    for wait in waits {
        let record = execution(Some(wait));
        same_json(Execution::from(record.clone()), record);
    }
    let mut plain = execution(None);
    plain.error = Some(core::ExecutionError {
        kind: core::ErrorKind::Panic,
        message: "boom".into(),
        step: None,
        attempts: None,
    });
    same_json(Execution::from(plain.clone()), plain);
}

#[test]
fn execution_has_the_contract_field_names() {
    let value = serde_json::to_value(Execution::from(execution(None))).unwrap();
    for field in [
        "name",
        "durableExecutionId",
        "payload",
        "status",
        "scheduledAt",
        "completedAt",
        "version",
        "result",
    ] {
        assert!(value.get(field).is_some(), "missing {field} in {value}");
    }
}

#[test]
fn stats_serializes_like_the_core_stats() {
    let stats = core::Stats {
        scheduled: 1,
        running: 2,
        completed: 3,
        failed: 4,
        cancelled: 5,
    };
    same_json(Stats::from(stats), stats);
}

#[test]
fn detail_serializes_like_the_core_detail() {
    let run = core::RunRecord {
        run_id: "e1:1".into(),
        execution_id: "e1".into(),
        run_index: 1,
        payload: json!(null),
        status: core::ExecutionStatus::Completed,
        result: Some(json!("ok")),
        started_at: Some(at(1)),
        completed_at: Some(at(2)),
        trigger: core::RunTrigger::Initial,
    };
    let step = core::StepRecord {
        step_id: "charge#0".into(),
        name: "charge".into(),
        occurrence: 0,
        position: 0,
        kind: core::StepKind::Step,
        status: core::StepStatus::Completed,
        retry_attempt: 2,
        result: Some(json!(1)),
        last_error: Some("timeout".into()),
        retryable: true,
        scheduled_at: at(1),
        completed_at: Some(at(2)),
        wake_at: None,
        attempts: vec![core::AttemptRecord {
            attempt_number: 1,
            status: core::AttemptStatus::Failed,
            result: None,
            error: Some("timeout".into()),
            started_at: at(1),
            completed_at: Some(at(1)),
        }],
    };
    let detail = core::ExecutionDetail {
        execution: execution(None),
        runs: vec![run],
        steps: vec![step],
    };
    same_json(ExecutionDetail::from(detail.clone()), detail);
}

#[test]
fn start_request_defaults_id_and_payload() {
    let body: StartExecution = serde_json::from_value(json!({"taskName": "t"})).unwrap();
    assert_eq!(body.execution_id, None);
    assert_eq!(body.payload, serde_json::Value::Null);
}
