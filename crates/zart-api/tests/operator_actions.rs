//! Over a real socket: retry a dead step, restart, selective rerun; their answers,
//! their records in `detail` and `runs`, idempotency keys, and the refusals.

mod common;

use axum::http::{Method, StatusCode};
use common::socket::{serve, Call, Socket};
use common::*;
use serde_json::{json, Value};
use zart::core::{ExecutionRecord, ExecutionStatus};

/// `recover` started under `id` with `failures`, run until terminal.
async fn finished_recover(t: &TestApp, id: &str, failures: u64) -> ExecutionRecord {
    t.start(id, "recover", json!({"failures": failures})).await;
    t.finish(id).await
}

async fn detail(s: &Socket, id: &str) -> Value {
    s.get(&format!("{ADMIN}/executions/{id}/detail"))
        .await
        .expect(StatusCode::OK)
}

fn action(id: &str, what: &str) -> String {
    format!("{ADMIN}/executions/{id}/{what}")
}

#[tokio::test]
async fn retry_step_revives_a_dead_step_and_the_execution_completes() {
    let t = app().await;
    let s = serve(&t).await;
    let failed = finished_recover(&t, "rs-1", 1).await;
    assert_eq!(failed.status, ExecutionStatus::Failed);

    let body = json!({"stepName": "charge", "triggeredBy": "alice"});
    let answer = s
        .post(&action("rs-1", "retry-step"), &body)
        .await
        .expect(StatusCode::OK);
    let task_id = answer["newTaskId"].as_str().expect("newTaskId is a string");
    assert_eq!(answer.as_object().unwrap().len(), 1, "{answer}");

    let done = t.finish("rs-1").await;
    assert_eq!(done.status, ExecutionStatus::Completed, "{done:?}");
    assert_eq!(
        done.result,
        Some(json!({"charged": 2, "email": "receipt 2"}))
    );
    let detail = detail(&s, "rs-1").await;
    let actions = detail["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{detail}");
    let recorded = &actions[0];
    assert_eq!(recorded["actionId"], task_id);
    assert_eq!(recorded["kind"], "retry_step");
    assert_eq!(recorded["runIndex"], 1);
    assert_eq!(recorded["stepName"], "charge#0");
    assert_eq!(recorded["triggeredBy"], "alice");
    assert!(recorded["triggeredAt"].is_string(), "{recorded}");
    assert_eq!(recorded["effectiveRerun"], json!([]));
    assert_eq!(recorded["potentiallyStale"], json!([]));
    let charge = &detail["steps"][0];
    assert_eq!(charge["status"], "completed", "{charge}");
    assert_eq!(charge["attemptCount"], 2, "{charge}");
    assert_eq!(charge["retryAttempt"], 1, "{charge}");
}

#[tokio::test]
async fn retry_step_refusals_are_json_404_409_and_400() {
    let t = app().await;
    let s = serve(&t).await;
    finished_recover(&t, "rs-2", 0).await;
    let retry = |id: &str, body: Value| {
        let path = action(id, "retry-step");
        let s = &s;
        async move { s.post(&path, &body).await }
    };
    let msg = retry("rs-2", json!({"stepName": "charge"}))
        .await
        .error(StatusCode::CONFLICT);
    assert!(msg.contains("completed"), "{msg}");
    t.start("rs-3", "approval", json!(null)).await;
    t.until_waiting_for_event("rs-3").await;
    let msg = retry("rs-3", json!({"stepName": "approved"}))
        .await
        .error(StatusCode::CONFLICT);
    assert!(msg.contains("not dead"), "{msg}");
    finished_recover(&t, "rs-4", 1).await;
    retry("rs-4", json!({"stepName": "email"}))
        .await
        .error(StatusCode::NOT_FOUND);
    retry("ghost", json!({"stepName": "charge"}))
        .await
        .error(StatusCode::NOT_FOUND);
    let msg = retry("rs-2", json!({}))
        .await
        .error(StatusCode::BAD_REQUEST);
    assert!(msg.contains("stepName"), "{msg}");
    let msg = retry("rs-2", json!({"stepName": ""}))
        .await
        .error(StatusCode::BAD_REQUEST);
    assert!(msg.contains("stepName"), "{msg}");
    let msg = retry("rs-2", json!({"stepName": "charge", "triggeredBy": ""}))
        .await
        .error(StatusCode::BAD_REQUEST);
    assert!(msg.contains("triggeredBy"), "{msg}");
    s.post_empty(&action("rs-2", "retry-step"))
        .await
        .error(StatusCode::BAD_REQUEST);
    let path = action("rs-2", "retry-step");
    let raw = s
        .send(Call::new(Method::POST, &path).raw("application/json", "{oops"))
        .await;
    let msg = raw.error(StatusCode::BAD_REQUEST);
    assert!(msg.contains("JSON"), "{msg}");
}

#[tokio::test]
async fn a_replayed_key_answers_the_first_answer_and_another_kind_is_409() {
    let t = app().await;
    let s = serve(&t).await;
    finished_recover(&t, "key-1", 1).await;
    let path = action("key-1", "retry-step");
    let call = || {
        Call::new(Method::POST, &path)
            .json(&json!({"stepName": "charge"}))
            .header("Idempotency-Key", "k-1")
    };
    let first = s.send(call()).await.expect(StatusCode::OK);
    t.finish("key-1").await;
    let again = s.send(call()).await.expect(StatusCode::OK);
    assert_eq!(again, first, "a replay answers the first answer");
    assert_eq!(
        detail(&s, "key-1").await["actions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let restart = s
        .send(
            Call::new(Method::POST, &action("key-1", "restart"))
                .json(&json!({}))
                .header("Idempotency-Key", "k-1"),
        )
        .await;
    let msg = restart.error(StatusCode::CONFLICT);
    assert!(msg.contains("Idempotency-Key"), "{msg}");
    let long = "k".repeat(256);
    let msg = s
        .send(
            Call::new(Method::POST, &action("key-1", "restart"))
                .json(&json!({}))
                .header("Idempotency-Key", &long),
        )
        .await
        .error(StatusCode::BAD_REQUEST);
    assert!(msg.contains("Idempotency-Key"), "{msg}");
}

#[tokio::test]
async fn restart_and_rerun_replayed_under_a_key_act_once() {
    let t = app().await;
    let s = serve(&t).await;
    finished_recover(&t, "key-2", 0).await;
    for (what, body, key) in [
        ("restart", json!({}), "k-restart"),
        ("rerun", json!({"rerunSteps": ["email"]}), "k-rerun"),
    ] {
        let path = action("key-2", what);
        let call = || {
            Call::new(Method::POST, &path)
                .json(&body)
                .header("Idempotency-Key", key)
        };
        let first = s.send(call()).await.expect(StatusCode::OK);
        let again = s.send(call()).await.expect(StatusCode::OK);
        assert_eq!(again, first, "{what}: the replay answers the first answer");
        t.finish("key-2").await;
        let later = s.send(call()).await.expect(StatusCode::OK);
        assert_eq!(later, first, "{what}: also once the run finished");
    }
    let runs = s
        .get(&format!("{ADMIN}/executions/key-2/runs"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        runs.as_array().unwrap().len(),
        3,
        "one run per action: {runs}"
    );
}

#[tokio::test]
async fn restart_starts_a_new_run_with_the_old_or_a_new_payload() {
    let t = app().await;
    let s = serve(&t).await;
    t.start("rst-1", "echo", json!("first")).await;
    t.finish("rst-1").await;

    let answer = s
        .post_empty(&action("rst-1", "restart"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(answer, json!({"newRunId": "rst-1:2", "runIndex": 2}));
    let done = t.finish("rst-1").await;
    assert_eq!(done.result, Some(json!("first")), "the old payload");

    let body = json!({"payload": "second", "triggeredBy": "bob"});
    let answer = s
        .post(&action("rst-1", "restart"), &body)
        .await
        .expect(StatusCode::OK);
    assert_eq!(answer["runIndex"], 3);
    let done = t.finish("rst-1").await;
    assert_eq!(done.result, Some(json!("second")));
    assert_eq!(done.run_index, 3);

    let runs = s
        .get(&format!("{ADMIN}/executions/rst-1/runs"))
        .await
        .expect(StatusCode::OK);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 3, "{runs:?}");
    assert_eq!(
        runs[2]["runId"], answer["newRunId"],
        "newRunId names the run"
    );
    assert_eq!(runs[0]["trigger"], "initial");
    assert_eq!(runs[0]["triggeredBy"], Value::Null);
    assert_eq!(runs[1]["trigger"], "restart");
    assert_eq!(runs[1]["triggeredBy"], "api", "the default trigger");
    assert_eq!(runs[2]["triggeredBy"], "bob");
    assert!(runs[2]["triggeredAt"].is_string(), "{:?}", runs[2]);
    let first_run = s
        .get(&format!("{ADMIN}/executions/rst-1/detail?runId=rst-1:1"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        first_run["steps"][0]["result"], "first",
        "old journals stay"
    );
}

#[tokio::test]
async fn restart_of_an_unfinished_execution_is_409_and_of_an_unknown_one_404() {
    let t = app().await;
    let s = serve(&t).await;
    t.start("rst-2", "approval", json!(null)).await;
    let msg = s
        .post(&action("rst-2", "restart"), &json!({}))
        .await
        .error(StatusCode::CONFLICT);
    assert!(
        msg.contains("running") || msg.contains("scheduled"),
        "{msg}"
    );
    s.post(&action("ghost", "restart"), &json!({}))
        .await
        .error(StatusCode::NOT_FOUND);
    s.post(
        &action("rst-2", "restart"),
        &json!({"payload": 1, "triggeredBy": 7}),
    )
    .await
    .error(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn rerun_replays_kept_steps_and_names_the_possibly_stale_ones() {
    let t = app().await;
    let s = serve(&t).await;
    finished_recover(&t, "rr-1", 0).await;
    let body = json!({"rerunSteps": ["charge"], "preserveSteps": [], "triggeredBy": "carol"});
    let answer = s
        .post(&action("rr-1", "rerun"), &body)
        .await
        .expect(StatusCode::OK);
    assert_eq!(answer["newRunNumber"], 2, "{answer}");
    assert_eq!(answer["effectiveRerun"], json!(["charge"]));
    assert_eq!(
        answer["potentiallyStale"],
        json!([{"preservedStep": "email", "possiblyDependsOn": ["charge"]}])
    );
    let done = t.finish("rr-1").await;
    assert_eq!(done.status, ExecutionStatus::Completed, "{done:?}");
    let detail = detail(&s, "rr-1").await;
    let runs = detail["runs"].as_array().unwrap();
    assert_eq!(runs[1]["trigger"], "selective_rerun");
    assert_eq!(runs[1]["triggeredBy"], "carol");
    let recorded = &detail["actions"][0];
    assert_eq!(recorded["kind"], "selective_rerun");
    assert_eq!(recorded["runIndex"], 2);
    assert_eq!(recorded["effectiveRerun"], json!(["charge"]));

    let answer = s
        .post(&action("rr-1", "rerun"), &json!({"rerunSteps": ["email"]}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(answer["newRunNumber"], 3);
    assert!(
        answer.get("potentiallyStale").is_none(),
        "omitted when empty: {answer}"
    );
}

#[tokio::test]
async fn rerun_refusals_are_422_409_404_and_400() {
    let t = app().await;
    let s = serve(&t).await;
    finished_recover(&t, "rr-2", 0).await;
    let msg = s
        .post(&action("rr-2", "rerun"), &json!({"rerunSteps": ["nope"]}))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(msg.contains("nope"), "{msg}");
    s.post(&action("ghost", "rerun"), &json!({"rerunSteps": []}))
        .await
        .error(StatusCode::NOT_FOUND);
    s.post(&action("rr-2", "rerun"), &json!({"rerunSteps": "charge"}))
        .await
        .error(StatusCode::BAD_REQUEST);
    t.start("rr-3", "approval", json!(null)).await;
    s.post(&action("rr-3", "rerun"), &json!({"rerunSteps": []}))
        .await
        .error(StatusCode::CONFLICT);
}
