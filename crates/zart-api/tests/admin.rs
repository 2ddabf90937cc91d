//! Admin routes: detail and runs.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;

#[tokio::test]
async fn detail_shows_the_execution_its_runs_and_steps_with_attempts() {
    let t = app().await;
    t.start("d1", "fail", json!(null)).await;
    t.finish("d1").await;
    let detail = t
        .get(&format!("{ADMIN}/executions/d1/detail"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(detail["execution"]["durableExecutionId"], "d1");
    assert_eq!(detail["execution"]["status"], "failed");
    let runs = detail["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["runId"], "d1:1");
    assert_eq!(runs[0]["trigger"], "initial");
    let steps = detail["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1);
    let step = &steps[0];
    assert_eq!(step["name"], "explode");
    assert_eq!(step["kind"], "step");
    assert_eq!(step["status"], "dead");
    assert_eq!(step["retryable"], false);
    let attempts = step["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["attemptNumber"], 1);
    assert_eq!(attempts[0]["status"], "failed");
    for field in [
        "stepId",
        "retryAttempt",
        "result",
        "lastError",
        "scheduledAt",
        "completedAt",
    ] {
        assert!(step.get(field).is_some(), "step lacks {field}: {step}");
    }
}

#[tokio::test]
async fn detail_selects_a_run_by_index_or_run_id() {
    let t = app().await;
    t.start("d2", "echo", json!("hi")).await;
    t.finish("d2").await;
    let by_index = t
        .get(&format!("{ADMIN}/executions/d2/detail?runId=1"))
        .await
        .expect(StatusCode::OK);
    let by_id = t
        .get(&format!("{ADMIN}/executions/d2/detail?runId=d2:1"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(by_index, by_id);
    assert_eq!(by_index["steps"][0]["result"], json!("hi"));

    let msg = t
        .get(&format!("{ADMIN}/executions/d2/detail?runId=2"))
        .await
        .error(StatusCode::NOT_FOUND);
    assert!(msg.contains("run 2"), "{msg}");
    for bad in ["zero", "0", "other:1"] {
        let msg = t
            .get(&format!("{ADMIN}/executions/d2/detail?runId={bad}"))
            .await
            .error(StatusCode::BAD_REQUEST);
        assert!(msg.contains("runId"), "{bad}: {msg}");
    }
}

#[tokio::test]
async fn detail_and_runs_of_an_unknown_execution_are_404() {
    let t = app().await;
    t.get(&format!("{ADMIN}/executions/ghost/detail"))
        .await
        .error(StatusCode::NOT_FOUND);
    t.get(&format!("{ADMIN}/executions/ghost/runs"))
        .await
        .error(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn runs_lists_the_runs() {
    let t = app().await;
    t.start("r1", "echo", json!(1)).await;
    t.finish("r1").await;
    let runs = t
        .get(&format!("{ADMIN}/executions/r1/runs"))
        .await
        .expect(StatusCode::OK);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run["runId"], "r1:1");
    assert_eq!(run["executionId"], "r1");
    assert_eq!(run["runIndex"], 1);
    assert_eq!(run["status"], "completed");
    assert_eq!(run["result"], json!(1));
    assert_eq!(run["trigger"], "initial");
    assert!(run["startedAt"].is_string() && run["completedAt"].is_string());
}
