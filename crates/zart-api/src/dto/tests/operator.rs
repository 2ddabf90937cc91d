//! The wire form of the operator-action and pause-rule bodies, and the fields the
//! actions added to steps and runs.

use serde_json::{json, Value};
use zart_core as core;

use super::super::*;
use super::{at, run_record, step_record, wire};

#[test]
fn retry_attempt_is_the_zero_based_number_of_the_last_attempt() {
    for (made, retry_attempt) in [(0, 0), (1, 0), (2, 1), (5, 4)] {
        let body = wire(Step::from(core::StepRecord {
            retry_attempt: made,
            ..step_record()
        }));
        assert_eq!(body["retryAttempt"], retry_attempt, "{made} attempts made");
        assert_eq!(body["attemptCount"], made);
    }
}

#[test]
fn run_started_by_an_operator_shows_who_and_when() {
    let run = core::RunRecord {
        run_index: 2,
        run_id: "e1:2".into(),
        trigger: core::RunTrigger::Restart,
        triggered_by: Some("alice".into()),
        triggered_at: Some(at(30)),
        ..run_record()
    };
    let body = wire(Run::from(run));
    assert_eq!(body["trigger"], "restart");
    assert_eq!(body["triggeredBy"], "alice");
    assert_eq!(body["triggeredAt"], "2023-11-14T22:13:50Z");
}

pub(super) fn rerun_record() -> core::ActionRecord {
    core::ActionRecord {
        action_id: "a1".into(),
        execution_id: "e1".into(),
        kind: core::ActionKind::SelectiveRerun,
        run_index: 3,
        step_name: None,
        triggered_by: "bob".into(),
        triggered_at: at(40),
        effective_rerun: vec!["charge".into()],
        potentially_stale: vec![core::StaleStep {
            preserved_step: "email".into(),
            possibly_depends_on: vec!["charge".into()],
        }],
    }
}

pub(super) fn rerun_json() -> Value {
    json!({
        "actionId": "a1",
        "kind": "selective_rerun",
        "runIndex": 3,
        "stepName": null,
        "triggeredBy": "bob",
        "triggeredAt": "2023-11-14T22:14:00Z",
        "effectiveRerun": ["charge"],
        "potentiallyStale": [{"preservedStep": "email", "possiblyDependsOn": ["charge"]}]
    })
}

#[test]
fn every_action_kind_on_the_wire() {
    let kinds: Vec<Value> = [
        core::ActionKind::RetryStep,
        core::ActionKind::Restart,
        core::ActionKind::SelectiveRerun,
    ]
    .into_iter()
    .map(|kind| {
        wire(Action::from(core::ActionRecord {
            kind,
            ..rerun_record()
        }))["kind"]
            .clone()
    })
    .collect();
    assert_eq!(
        kinds,
        [
            json!("retry_step"),
            json!("restart"),
            json!("selective_rerun")
        ]
    );
}

#[test]
fn action_answers() {
    let retried = core::ActionRecord {
        kind: core::ActionKind::RetryStep,
        step_name: Some("charge#0".into()),
        effective_rerun: vec![],
        potentially_stale: vec![],
        ..rerun_record()
    };
    assert_eq!(
        wire(StepRetried::from(retried.clone())),
        json!({"newTaskId": "a1"})
    );
    assert_eq!(
        wire(Restarted::from(retried.clone())),
        json!({"newRunId": "e1:3", "runIndex": 3})
    );
    assert_eq!(
        wire(RerunStarted::from(rerun_record())),
        json!({
            "newRunNumber": 3,
            "effectiveRerun": ["charge"],
            "potentiallyStale": [{"preservedStep": "email", "possiblyDependsOn": ["charge"]}]
        })
    );
    assert_eq!(
        wire(RerunStarted::from(retried)),
        json!({"newRunNumber": 3, "effectiveRerun": []}),
        "potentiallyStale is omitted when empty"
    );
}

#[test]
fn restart_tells_an_absent_payload_from_a_null_one() {
    let absent: RestartExecution = serde_json::from_value(json!({})).unwrap();
    assert_eq!(absent.payload, None);
    let null: RestartExecution = serde_json::from_value(json!({"payload": null})).unwrap();
    assert_eq!(null.payload, Some(Value::Null));
    let given: RestartExecution =
        serde_json::from_value(json!({"payload": {"n": 1}, "triggeredBy": "ops"})).unwrap();
    assert_eq!(given.payload, Some(json!({"n": 1})));
    assert_eq!(given.triggered_by.as_deref(), Some("ops"));
}

#[test]
fn rerun_lists_default_to_empty() {
    let body: RerunExecution = serde_json::from_value(json!({"rerunSteps": ["a"]})).unwrap();
    assert_eq!(body.rerun_steps, ["a"]);
    assert!(body.preserve_steps.is_empty());
    assert_eq!(body.triggered_by, None);
}

#[test]
fn pause_rule_has_nulls_not_missing_fields() {
    let rule = core::PauseRule {
        rule_id: "r1".into(),
        execution_id: None,
        task_name: Some("billing".into()),
        step_pattern: Some("charge*".into()),
        created_at: at(0),
        expires_at: None,
        created_by: "api".into(),
        deleted_at: None,
        reason: None,
    };
    assert_eq!(
        wire(PauseRule::from(rule)),
        json!({
            "ruleId": "r1",
            "executionId": null,
            "taskName": "billing",
            "stepPattern": "charge*",
            "createdAt": "2023-11-14T22:13:20Z",
            "expiresAt": null,
            "createdBy": "api",
            "deletedAt": null,
            "reason": null
        })
    );
    assert_eq!(
        wire(RulesDeleted { rules_deleted: 1 }),
        json!({"rulesDeleted": 1})
    );
}

#[test]
fn pause_request_maps_triggered_by_to_the_author() {
    let body: CreatePause = serde_json::from_value(json!({
        "taskName": "billing",
        "expiresAt": "2030-01-01T00:00:00Z",
        "triggeredBy": "carol",
        "reason": "card processor down"
    }))
    .unwrap();
    let request = zart::PauseRequest::from(body);
    assert_eq!(request.task_name.as_deref(), Some("billing"));
    assert_eq!(request.created_by.as_deref(), Some("carol"));
    assert_eq!(request.reason.as_deref(), Some("card processor down"));
    assert_eq!(
        request.expires_at.map(|t| t.to_rfc3339()),
        Some("2030-01-01T00:00:00+00:00".to_owned())
    );
    assert!(serde_json::from_value::<CreatePause>(json!({"expiresAt": "soon"})).is_err());
}
