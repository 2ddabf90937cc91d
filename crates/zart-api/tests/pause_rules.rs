//! Over a real socket: pause rules are created, listed, resumed and deleted; a rule
//! parks a matching execution (`waitingFor: pause`) and deleting it resumes it.

mod common;

use axum::http::{Method, StatusCode};
use common::socket::{serve, Call};
use common::*;
use serde_json::{json, Value};
use zart::core::ExecutionStatus;

const PAUSE: &str = "/zart/admin/v1/pause";

fn rule_path(rule: &Value) -> String {
    format!("{PAUSE}/{}", rule["ruleId"].as_str().expect("ruleId"))
}

#[tokio::test]
async fn a_created_rule_is_answered_with_every_field_and_listed() {
    let t = app().await;
    let s = serve(&t).await;
    let body = json!({
        "taskName": "billing",
        "stepPattern": "charge*",
        "expiresAt": "2999-01-01T00:00:00Z",
        "triggeredBy": "dana",
        "reason": "processor outage"
    });
    let created = s.post(PAUSE, &body).await;
    assert_eq!(
        created.headers["content-type"], "application/json",
        "{created:?}"
    );
    let rule = created.expect(StatusCode::CREATED);
    let fields: Vec<&str> = rule
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        [
            "createdAt",
            "createdBy",
            "deletedAt",
            "executionId",
            "expiresAt",
            "reason",
            "ruleId",
            "stepPattern",
            "taskName"
        ],
        "nulls are present, not omitted"
    );
    assert!(rule["ruleId"].is_string());
    assert_eq!(rule["executionId"], Value::Null);
    assert_eq!(rule["taskName"], "billing");
    assert_eq!(rule["stepPattern"], "charge*");
    assert_eq!(rule["expiresAt"], "2999-01-01T00:00:00Z");
    assert_eq!(rule["createdBy"], "dana");
    assert_eq!(rule["deletedAt"], Value::Null);
    assert_eq!(rule["reason"], "processor outage");
    assert!(rule["createdAt"].is_string());

    let plain = s
        .post(PAUSE, &json!({"executionId": "e-9"}))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(plain["createdBy"], "api", "the default author");
    assert_eq!(plain["expiresAt"], Value::Null);
    let listed = s.get(PAUSE).await.expect(StatusCode::OK);
    assert_eq!(listed, json!([rule, plain]));
}

#[tokio::test]
async fn a_rule_without_a_selector_is_422_and_bad_values_are_400() {
    let t = app().await;
    let s = serve(&t).await;
    let msg = s
        .post(PAUSE, &json!({"reason": "why not"}))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(msg.contains("selector"), "{msg}");
    for (body, needle) in [
        (json!({"stepPattern": "["}), "glob"),
        (
            json!({"taskName": "t", "expiresAt": "2001-01-01T00:00:00Z"}),
            "future",
        ),
        (
            json!({"taskName": "t", "expiresAt": "tomorrow"}),
            "expiresAt",
        ),
        (json!({"taskName": ""}), "taskName"),
        (
            json!({"taskName": "t", "reason": "r".repeat(1001)}),
            "reason",
        ),
        (json!({"taskName": 3}), "taskName"),
    ] {
        let msg = s.post(PAUSE, &body).await.error(StatusCode::BAD_REQUEST);
        assert!(msg.contains(needle), "{body}: {msg}");
    }
    let raw = s
        .send(Call::new(Method::POST, PAUSE).raw("application/json", "{"))
        .await;
    raw.error(StatusCode::BAD_REQUEST);
    assert_eq!(s.get(PAUSE).await.expect(StatusCode::OK), json!([]));
}

#[tokio::test]
async fn resume_answers_rules_deleted_and_delete_is_204_both_times() {
    let t = app().await;
    let s = serve(&t).await;
    let first = s
        .post(PAUSE, &json!({"taskName": "a"}))
        .await
        .expect(StatusCode::CREATED);
    let resumed = s
        .post_empty(&rule_path(&first))
        .await
        .expect(StatusCode::OK);
    assert_eq!(resumed, json!({"rulesDeleted": 1}));
    let again = s
        .post_empty(&rule_path(&first))
        .await
        .expect(StatusCode::OK);
    assert_eq!(again, json!({"rulesDeleted": 0}));

    let second = s
        .post(PAUSE, &json!({"taskName": "b"}))
        .await
        .expect(StatusCode::CREATED);
    for _ in 0..2 {
        let deleted = s.delete(&rule_path(&second)).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{deleted:?}");
        assert!(deleted.body.is_empty());
    }
    assert_eq!(s.get(PAUSE).await.expect(StatusCode::OK), json!([]));
    s.delete(&format!("{PAUSE}/ghost"))
        .await
        .error(StatusCode::NOT_FOUND);
    s.post_empty(&format!("{PAUSE}/ghost"))
        .await
        .error(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_paused_execution_waits_for_the_rule_and_resumes_when_it_is_deleted() {
    let t = app().await;
    let s = serve(&t).await;
    let rule = s
        .post(PAUSE, &json!({"taskName": "recover", "stepPattern": "em*"}))
        .await
        .expect(StatusCode::CREATED);
    t.start("held-1", "recover", json!({})).await;
    t.until_waiting_for("held-1", "pause").await;
    let held = s
        .get(&format!("{API}/executions/held-1"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(held["status"], "running");
    assert_eq!(
        held["waitingFor"],
        json!({"kind": "pause", "ruleId": rule["ruleId"], "expiresAt": null})
    );
    let detail = s
        .get(&format!("{ADMIN}/executions/held-1/detail"))
        .await
        .expect(StatusCode::OK);
    let names: Vec<&Value> = detail["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["name"])
        .collect();
    assert_eq!(names, [&json!("charge")], "stopped before `email`");

    let deleted = s.delete(&rule_path(&rule)).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let done = t.finish("held-1").await;
    assert_eq!(done.status, ExecutionStatus::Completed, "{done:?}");
}
