//! `GET /executions`: filters, sorting, paging, and 400 for invalid values.

mod common;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use common::*;
use serde_json::{json, Value};

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .map(|e| e["durableExecutionId"].as_str().unwrap())
        .collect()
}

/// a, b, c completed (echo, echo, typed); d failed; e waiting.
async fn populated() -> TestApp {
    let t = app().await;
    t.start("a", "echo", json!(1)).await;
    t.start("b", "echo", json!(2)).await;
    t.start("c", "typed", json!({"n": 1})).await;
    t.start("d", "fail", json!(null)).await;
    t.start("e", "approval", json!(null)).await;
    for id in ["a", "b", "c", "d"] {
        t.finish(id).await;
    }
    t
}

#[tokio::test]
async fn list_filters_by_status_task_and_id_substring() {
    let t = populated().await;
    let list = t
        .get(&format!(
            "{API}/executions?status=completed&sortOrder=asc&sortBy=scheduledAt"
        ))
        .await;
    assert_eq!(ids(&list.expect(StatusCode::OK)), ["a", "b", "c"]);
    let list = t
        .get(&format!("{API}/executions?taskName=echo&sortOrder=asc"))
        .await;
    assert_eq!(ids(&list.expect(StatusCode::OK)), ["a", "b"]);
    let list = t.get(&format!("{API}/executions?status=failed")).await;
    assert_eq!(ids(&list.expect(StatusCode::OK)), ["d"]);
    let list = t.get(&format!("{API}/executions?search=e")).await;
    assert_eq!(ids(&list.expect(StatusCode::OK)), ["e"]);
}

#[tokio::test]
async fn list_sorts_and_pages() {
    let t = populated().await;
    let all = t
        .get(&format!("{API}/executions"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        ids(&all),
        ["e", "d", "c", "b", "a"],
        "newest first by default"
    );
    let page = t
        .get(&format!("{API}/executions?sortOrder=asc&limit=2&offset=1"))
        .await;
    assert_eq!(ids(&page.expect(StatusCode::OK)), ["b", "c"]);
    let by_task = t
        .get(&format!(
            "{API}/executions?sortBy=taskName&sortOrder=asc&limit=1"
        ))
        .await;
    assert_eq!(
        ids(&by_task.expect(StatusCode::OK)),
        ["e"],
        "approval sorts first"
    );
}

fn scheduled_at(e: &Value) -> DateTime<Utc> {
    e["scheduledAt"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn list_filters_by_scheduled_at_range() {
    let t = populated().await;
    let all = t
        .get(&format!("{API}/executions?sortOrder=asc"))
        .await
        .expect(StatusCode::OK);
    let all = all.as_array().unwrap().clone();
    let c = all.iter().find(|e| e["durableExecutionId"] == "c").unwrap();
    let at = scheduled_at(c);
    let param = c["scheduledAt"].as_str().unwrap().replace('+', "%2B");
    let expected = |keep: &dyn Fn(DateTime<Utc>) -> bool| {
        let kept: Vec<Value> = all
            .iter()
            .filter(|e| keep(scheduled_at(e)))
            .cloned()
            .collect();
        Value::Array(kept)
    };
    let from = t
        .get(&format!("{API}/executions?from={param}&sortOrder=asc"))
        .await;
    assert_eq!(
        ids(&from.expect(StatusCode::OK)),
        ids(&expected(&|s| s >= at))
    );
    let to = t
        .get(&format!("{API}/executions?to={param}&sortOrder=asc"))
        .await;
    assert_eq!(
        ids(&to.expect(StatusCode::OK)),
        ids(&expected(&|s| s <= at))
    );
    let future = t
        .get(&format!("{API}/executions?from=2999-01-01T00:00:00Z"))
        .await;
    assert_eq!(future.expect(StatusCode::OK), json!([]));
}

#[tokio::test]
async fn list_default_limit_is_20() {
    let t = app().await;
    for i in 0..25 {
        t.start(&format!("x{i:02}"), "approval", json!(null)).await;
    }
    let list = t
        .get(&format!("{API}/executions"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 20);
    let list = t
        .get(&format!("{API}/executions?limit=1000"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 25);
}

#[tokio::test]
async fn invalid_list_parameters_are_400_naming_the_parameter() {
    let t = app().await;
    for (param, value) in [
        ("status", "done"),
        ("sortBy", "id"),
        ("sortOrder", "sideways"),
        ("from", "yesterday"),
        ("to", "2024-02-30T00:00:00Z"),
        ("limit", "1001"),
        ("limit", "many"),
        ("offset", "-3"),
    ] {
        let reply = t.get(&format!("{API}/executions?{param}={value}")).await;
        let msg = reply.error(StatusCode::BAD_REQUEST);
        assert!(msg.contains(param), "{param}={value}: {msg}");
    }
}
