//! Over a real socket: event offers answer where the event is, a retried offer with
//! the same key is stored once, a full inbox refuses offers with 429, and the inbox
//! lists its events page by page.

mod common;

use std::sync::Arc;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use zart::core::Store;
use zart::Zart;
use zart_api::ApiConfig;

/// A server whose executions hold at most `max_pending` unconsumed events. No
/// worker runs, so offered events stay in the inbox.
struct Server {
    base: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn serve(max_pending: u32) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("zart.db").display());
    let store: Arc<dyn Store> = zart::connect(&url).await.expect("open store");
    let zart = Zart::builder(store)
        .tasks(tasks())
        .max_pending_events(Some(max_pending))
        .build();
    let app = zart_api::router(zart.client(), zart.metrics().clone(), ApiConfig::default())
        .expect("the default configuration is valid");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}{API}", listener.local_addr().unwrap());
    tokio::spawn(zart_api::serve(listener, app, std::future::pending()));
    let server = Server {
        base,
        http: reqwest::Client::new(),
        _dir: dir,
    };
    let start = json!({"executionId": "e1", "taskName": "approval"});
    let created = server.post("/executions", None, &start).await;
    assert_eq!(created.0, StatusCode::CREATED);
    server
}

impl Server {
    /// `POST path` with `body` and an optional `Idempotency-Key`; status and JSON.
    async fn post(&self, path: &str, key: Option<&str>, body: &Value) -> (StatusCode, Value) {
        let mut request = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.unwrap();
        (response.status(), response.json().await.unwrap())
    }

    /// `GET path`; status and JSON.
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }
}

#[tokio::test]
async fn inbox_lists_pending_events_newest_first_in_pages() {
    let server = serve(100).await;
    let (_, empty) = server.get("/executions/e1/events").await;
    assert_eq!(empty, json!({"events": [], "nextBefore": null}));
    let mut sequences = Vec::new();
    for (i, key) in [Some("k-0"), None, None].into_iter().enumerate() {
        let (_, offered) = server
            .post("/events/e1/approved", key, &json!({"n": i}))
            .await;
        sequences.push(offered["sequence"].as_i64().unwrap());
    }
    let (status, all) = server.get("/executions/e1/events").await;
    assert_eq!(status, StatusCode::OK);
    let events = all["events"].as_array().unwrap();
    let listed: Vec<i64> = events
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, sequences.iter().rev().copied().collect::<Vec<_>>());
    assert_eq!(all["nextBefore"], Value::Null);
    let oldest = &events[2];
    assert_eq!(oldest["eventName"], "approved");
    assert_eq!(oldest["payload"], json!({"n": 0}));
    assert_eq!(oldest["status"], "pending");
    assert_eq!(oldest["eventId"], "k-0");
    assert_eq!(oldest["consumedAt"], Value::Null);
    assert_eq!(oldest["consumedBy"], Value::Null);
    assert!(oldest["receivedAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(events[0]["eventId"], Value::Null);

    // Two pages of two: the first names where the second starts.
    let (_, first) = server.get("/executions/e1/events?limit=2").await;
    assert_eq!(first["events"].as_array().unwrap().len(), 2);
    assert_eq!(first["nextBefore"], json!(sequences[1]));
    let (_, second) = server
        .get(&format!(
            "/executions/e1/events?limit=2&before={}",
            sequences[1]
        ))
        .await;
    let rest: Vec<i64> = second["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(rest, vec![sequences[0]]);
    assert_eq!(second["nextBefore"], Value::Null);
}

#[tokio::test]
async fn inbox_of_an_unknown_execution_is_404_and_bad_paging_is_400() {
    let server = serve(100).await;
    let (status, body) = server.get("/executions/ghost/events").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().unwrap().contains("ghost"), "{body}");
    for (query, named) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("before=0", "before"),
        ("before=-3", "before"),
        ("before=x", "before"),
    ] {
        let (status, body) = server.get(&format!("/executions/e1/events?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        let message = body["error"].as_str().unwrap();
        assert!(message.contains(named), "{query}: {message}");
    }
}

#[tokio::test]
async fn offer_answers_202_with_its_sequence() {
    let server = serve(100).await;
    let (status, first) = server.post("/events/e1/approved", None, &json!(1)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(first["executionId"], "e1");
    assert_eq!(first["eventName"], "approved");
    assert_eq!(first["duplicate"], false);
    let (_, second) = server.post("/events/e1/approved", None, &json!(2)).await;
    assert!(second["sequence"].as_i64() > first["sequence"].as_i64());
    assert_eq!(second["duplicate"], false);
}

#[tokio::test]
async fn retried_offer_with_the_same_key_is_stored_once() {
    let server = serve(100).await;
    let path = "/events/e1/approved";
    let (status, first) = server.post(path, Some("pay-42"), &json!("a")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(first["duplicate"], false);
    let (status, retry) = server.post(path, Some("pay-42"), &json!("a")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(retry["duplicate"], true);
    assert_eq!(retry["sequence"], first["sequence"]);
    // The query parameter is the same key.
    let (_, by_param) = server
        .post(&format!("{path}?eventId=pay-42"), None, &json!("a"))
        .await;
    assert_eq!(by_param["duplicate"], true);
    let (status, body) = server
        .post(
            &format!("{path}?eventId=other"),
            Some("pay-42"),
            &json!("a"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("differ"), "{body}");
    let long = "k".repeat(256);
    let (status, body) = server.post(path, Some(&long), &json!("a")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn offer_to_a_full_inbox_is_429_and_stores_nothing() {
    let server = serve(2).await;
    let path = "/events/e1/approved";
    for key in ["a", "b"] {
        let (status, _) = server.post(path, Some(key), &json!(key)).await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let (status, body) = server.post(path, Some("c"), &json!("c")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let message = body["error"].as_str().unwrap();
    assert!(message.contains("2 unconsumed events"), "{message}");
    // A retry of a stored offer is still answered, full or not.
    let (status, retry) = server.post(path, Some("a"), &json!("a")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(retry["duplicate"], true);
    // The refused offer took no room and its key stays free: still refused.
    let (status, _) = server.post(path, Some("c"), &json!("c")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}
