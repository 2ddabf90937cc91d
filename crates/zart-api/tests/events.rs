//! `POST /events/{executionId}/{eventName}`.

mod common;

use axum::body::Body;
use axum::http::{header, Method, StatusCode};
use common::*;
use serde_json::json;

#[tokio::test]
async fn event_is_accepted_and_completes_the_waiting_execution() {
    let t = app().await;
    t.start("ap1", "approval", json!(null)).await;
    t.until_waiting_for_event("ap1").await;
    let reply = t
        .post_json(&format!("{API}/events/ap1/approved"), &json!({"by": "ana"}))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    let done = t.finish("ap1").await;
    assert_eq!(done.result, Some(json!({"by": "ana"})));
}

#[tokio::test]
async fn consumed_event_is_listed_with_the_wait_that_took_it() {
    let t = app().await;
    t.start("ap9", "approval", json!(null)).await;
    t.post_json(&format!("{API}/events/ap9/approved"), &json!("yes"))
        .await
        .expect(StatusCode::ACCEPTED);
    t.post_json(&format!("{API}/events/ap9/unrelated"), &json!(2))
        .await
        .expect(StatusCode::ACCEPTED);
    t.finish("ap9").await;
    let page = t
        .get(&format!("{API}/executions/ap9/events"))
        .await
        .expect(StatusCode::OK);
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{page}");
    assert_eq!(events[0]["eventName"], "unrelated");
    assert_eq!(events[0]["status"], "pending");
    let taken = &events[1];
    assert_eq!(taken["eventName"], "approved");
    assert_eq!(taken["status"], "consumed");
    assert!(
        taken["consumedBy"]
            .as_str()
            .unwrap()
            .starts_with("approved#"),
        "{taken}"
    );
    assert!(taken["consumedAt"].is_string(), "{taken}");
}

#[tokio::test]
async fn event_sent_before_the_wait_is_not_lost() {
    let t = app().await;
    // Created but not necessarily started: the event waits in the inbox.
    t.start("ap2", "approval", json!(null)).await;
    t.post_json(&format!("{API}/events/ap2/approved"), &json!("yes"))
        .await
        .expect(StatusCode::ACCEPTED);
    assert_eq!(t.finish("ap2").await.result, Some(json!("yes")));
}

#[tokio::test]
async fn empty_event_body_is_a_null_payload() {
    let t = app().await;
    t.start("ap3", "approval", json!(null)).await;
    t.post_empty(&format!("{API}/events/ap3/approved"))
        .await
        .expect(StatusCode::ACCEPTED);
    let done = t.finish("ap3").await;
    assert_eq!(done.status, zart::core::ExecutionStatus::Completed);
    assert_eq!(done.result, Some(json!(null)));
}

#[tokio::test]
async fn any_json_value_is_a_payload() {
    let t = app().await;
    t.start("ap4", "approval", json!(null)).await;
    t.post_json(
        &format!("{API}/events/ap4/approved"),
        &json!([1, "two", 3.5]),
    )
    .await
    .expect(StatusCode::ACCEPTED);
    assert_eq!(t.finish("ap4").await.result, Some(json!([1, "two", 3.5])));
}

#[tokio::test]
async fn event_for_an_unknown_execution_is_404() {
    let t = app().await;
    t.post_json(&format!("{API}/events/ghost/approved"), &json!(1))
        .await
        .error(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn event_for_a_finished_execution_is_409() {
    let t = app().await;
    t.start("done", "echo", json!(1)).await;
    t.finish("done").await;
    let msg = t
        .post_json(&format!("{API}/events/done/approved"), &json!(1))
        .await
        .error(StatusCode::CONFLICT);
    assert!(msg.contains("completed"), "{msg}");
}

#[tokio::test]
async fn malformed_event_json_is_400_and_other_content_types_415() {
    let t = app().await;
    t.start("ap5", "approval", json!(null)).await;
    let uri = format!("{API}/events/ap5/approved");
    let broken = request(Method::POST, &uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    let msg = t.call(broken).await.error(StatusCode::BAD_REQUEST);
    assert!(msg.contains("JSON"), "{msg}");
    let form = request(Method::POST, &uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("a=1"))
        .unwrap();
    t.call(form).await.error(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let untyped = request(Method::POST, &uri)
        .body(Body::from("{\"ok\": true}"))
        .unwrap();
    assert_eq!(
        t.call(untyped).await.status,
        StatusCode::ACCEPTED,
        "JSON without a Content-Type is read"
    );
}

#[tokio::test]
async fn event_name_longer_than_255_characters_is_400() {
    let t = app().await;
    t.start("ap6", "approval", json!(null)).await;
    let name = "n".repeat(256);
    t.post_json(&format!("{API}/events/ap6/{name}"), &json!(1))
        .await
        .error(StatusCode::BAD_REQUEST);
}
