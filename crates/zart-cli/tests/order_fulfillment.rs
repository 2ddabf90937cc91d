//! The `order-fulfillment` demo end to end over HTTP against a real `zart serve`:
//! the shipment event delivered after the workflow reaches its wait, before it does,
//! and never.

mod common;

use std::time::Duration;

use common::{eventually, temp_db, Api, Server, ServerOptions};
use reqwest::StatusCode;
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(20);

/// Polls until the execution's `waitingFor.kind` is `kind`.
async fn wait_until_waiting_for(api: &Api, id: &str, kind: &str) -> Value {
    eventually(&format!("{id} waiting for a {kind}"), LIMIT, || async {
        let e = api.execution(id).await.body;
        (e["waitingFor"]["kind"] == kind).then_some(e)
    })
    .await
}

fn order(id: &str, settle_ms: u64) -> Value {
    json!({ "orderId": id, "amount": 42.5, "settleMs": settle_ms })
}

fn assert_fulfilled(done: &Value, order_id: &str, tracking: &str) {
    assert_eq!(done["status"], "completed", "{done}");
    let result = &done["result"];
    assert_eq!(result["orderId"], order_id, "{done}");
    assert_eq!(result["trackingNumber"], tracking, "{done}");
    let txn = result["transactionId"].as_str().unwrap_or_default();
    assert!(txn.starts_with("txn-"), "{done}");
}

#[tokio::test]
async fn shipment_event_after_the_wait_is_reached_completes_the_order() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    let api = server.api();
    api.start_ok("order-after", "order-fulfillment", order("o-1", 50))
        .await;

    let waiting = wait_until_waiting_for(&api, "order-after", "event").await;
    assert_eq!(waiting["waitingFor"]["name"], "shipment_ready", "{waiting}");
    let sent = api
        .event(
            "order-after",
            "shipment_ready",
            &json!({"trackingNumber": "TRK-1"}),
        )
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{sent:?}");

    let done = api.wait("order-after", 20).await;
    assert_fulfilled(&done, "o-1", "TRK-1");
    let detail = api.detail("order-after").await;
    let names: Vec<&str> = detail["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        [
            "validate-address",
            "process-payment",
            "reserve-inventory",
            "warehouse-settle",
            "shipment_ready"
        ],
        "{detail}"
    );
    assert!(
        detail["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .all(|s| s["status"] == "completed"),
        "{detail}"
    );
}

#[tokio::test]
async fn shipment_event_sent_before_the_wait_is_kept_and_consumed() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    let api = server.api();
    api.start_ok("order-before", "order-fulfillment", order("o-2", 1500))
        .await;

    // The workflow is in its durable sleep: the wait for the event is still ahead.
    let sleeping = wait_until_waiting_for(&api, "order-before", "timer").await;
    assert_eq!(
        sleeping["waitingFor"]["step"], "warehouse-settle#0",
        "{sleeping}"
    );
    let sent = api
        .event(
            "order-before",
            "shipment_ready",
            &json!({"trackingNumber": "TRK-2"}),
        )
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{sent:?}");

    let done = api.wait("order-before", 20).await;
    assert_fulfilled(&done, "o-2", "TRK-2");
}

#[tokio::test]
async fn missing_shipment_fails_the_order_with_an_error_naming_the_wait() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    let api = server.api();
    let payload =
        json!({ "orderId": "o-3", "amount": 10, "settleMs": 0, "shipmentTimeoutSecs": 1 });
    api.start_ok("order-late", "order-fulfillment", payload)
        .await;

    let done = api.wait("order-late", 20).await;
    assert_eq!(done["status"], "failed", "{done}");
    let error = done["error"].to_string();
    assert!(error.contains("shipment_ready"), "{done}");
}

#[tokio::test]
async fn declined_payment_fails_the_order_without_retrying() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    let api = server.api();
    api.start_ok(
        "order-free",
        "order-fulfillment",
        json!({ "orderId": "o-4", "amount": 0 }),
    )
    .await;

    let done = api.wait("order-free", 20).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["error"]["step"], "process-payment", "{done}");
    let detail = api.detail("order-free").await;
    let payment = detail["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == "process-payment"))
        .expect("process-payment step");
    assert_eq!(payment["status"], "dead", "{detail}");
    assert_eq!(
        payment["attempts"].as_array().map(Vec::len),
        Some(1),
        "{detail}"
    );
}

#[tokio::test]
async fn order_without_its_required_fields_is_rejected_with_400() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    let reply = server
        .api()
        .start(json!({ "taskName": "order-fulfillment" }))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
    assert!(reply.error().contains("orderId"), "{reply:?}");
}
