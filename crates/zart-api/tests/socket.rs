//! Over a real socket: the long-poll wait answers promptly after an event completes
//! the execution, and graceful shutdown lets requests in flight finish.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

struct Server {
    base: String,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Receives the path of every request as the server starts handling it.
    arrivals: Arrivals,
}

async fn serve(t: &TestApp) -> Server {
    let (app, listener, arrivals) = reporting_app(t).await;
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let done = tokio::spawn(zart_api::serve(listener, app, shutdown));
    Server {
        base,
        stop: Some(stop),
        done,
        arrivals,
    }
}

#[tokio::test]
async fn wait_answers_promptly_after_an_event_completes_the_execution() {
    let t = app().await;
    let mut server = serve(&t).await;
    let http = reqwest::Client::new();
    let start = json!({"executionId": "sock-1", "taskName": "approval"});
    let created = http
        .post(format!("{}{API}/executions", server.base))
        .json(&start)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    t.until_waiting_for_event("sock-1").await;

    let wait_url = format!("{}{API}/executions/sock-1/wait?timeoutSecs=30", server.base);
    let waiter = tokio::spawn({
        let http = http.clone();
        async move {
            let response = http.get(wait_url).send().await.unwrap();
            (
                Instant::now(),
                response.status(),
                response.json::<Value>().await.unwrap(),
            )
        }
    });
    server
        .arrivals
        .arrived(&format!("{API}/executions/sock-1/wait"))
        .await;
    let sent = Instant::now();
    let event = http
        .post(format!("{}{API}/events/sock-1/approved", server.base))
        .json(&json!({"ok": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(event.status(), 202);
    let (answered, status, body) = waiter.await.unwrap();
    let latency = answered.duration_since(sent);
    assert_eq!(status, 200);
    assert_eq!(body["status"], "completed");
    assert_eq!(body["result"], json!({"ok": true}));
    eprintln!("wait answered {latency:?} after the event was sent");
    assert!(
        latency < Duration::from_millis(1500),
        "wait took {latency:?}"
    );
}

#[tokio::test]
async fn graceful_shutdown_finishes_requests_in_flight_and_stops_accepting() {
    let t = app().await;
    let mut server = serve(&t).await;
    let http = reqwest::Client::new();
    t.start("sock-2", "approval", json!(null)).await;

    let wait_url = format!("{}{API}/executions/sock-2/wait?timeoutSecs=30", server.base);
    let waiter = tokio::spawn({
        let http = http.clone();
        async move { http.get(wait_url).send().await }
    });
    server
        .arrivals
        .arrived(&format!("{API}/executions/sock-2/wait"))
        .await;
    server.stop.take().unwrap().send(()).unwrap();
    refused_soon(&server.base).await;

    t.zart
        .client()
        .offer_event("sock-2", "approved", json!(1))
        .await
        .unwrap();
    let response = waiter
        .await
        .unwrap()
        .expect("the in-flight wait is answered");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap()["status"],
        "completed"
    );
    tokio::time::timeout(Duration::from_secs(10), server.done)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn errors_over_the_socket_are_json() {
    let t = app().await;
    let server = serve(&t).await;
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{}{API}/executions", server.base))
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("JSON"), "{body}");
    let health = http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.text().await.unwrap(), "ok");
}

/// Waits (bounded) until connecting to `base` fails: the listener is closed. Nothing
/// signals the close, so this retries.
async fn refused_soon(base: &str) {
    let addr = base.trim_start_matches("http://");
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(addr).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "the server still accepts connections"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
