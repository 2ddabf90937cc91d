//! Errors produced outside the handlers still have the JSON shape: unknown routes,
//! wrong methods, oversized bodies.

mod common;

use axum::body::Body;
use axum::http::{header, Method, StatusCode};
use common::*;
use futures::stream;
use serde_json::json;
use zart_api::ApiConfig;

#[tokio::test]
async fn unknown_routes_are_json_404s() {
    let t = app().await;
    for uri in [
        format!("{API}/nope"),
        format!("{API}/executions/a/b/c"),
        format!("{ADMIN}/nope"),
        "/nowhere".to_owned(),
    ] {
        let msg = t.get(&uri).await.error(StatusCode::NOT_FOUND);
        // The whole path the client sent, prefix included.
        assert_eq!(msg, format!("no route for GET {uri}"), "{uri}");
    }
}

#[tokio::test]
async fn wrong_methods_are_json_405s_with_allow() {
    let t = app().await;
    for (method, uri) in [
        (Method::DELETE, format!("{API}/executions")),
        (Method::GET, format!("{API}/executions/x/cancel")),
        (Method::PUT, format!("{API}/events/x/y")),
        (Method::POST, format!("{ADMIN}/executions/x/runs")),
        (Method::POST, "/healthz".to_owned()),
    ] {
        let reply = t
            .call(request(method.clone(), &uri).body(Body::empty()).unwrap())
            .await;
        let msg = reply.error(StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(msg, format!("method {method} is not allowed on {uri}"));
        assert!(reply.headers.contains_key(header::ALLOW), "{method} {uri}");
    }
}

#[tokio::test]
async fn bodies_over_the_limit_are_json_413s() {
    let t = app_with(ApiConfig::default().max_body_bytes(1024)).await;
    let big = json!({"taskName": "echo", "payload": "x".repeat(2000)});
    let msg = t
        .post_json(&format!("{API}/executions"), &big)
        .await
        .error(StatusCode::PAYLOAD_TOO_LARGE);
    assert!(msg.contains("too large"), "{msg}");
    t.post_json(&format!("{API}/events/x/y"), &big)
        .await
        .error(StatusCode::PAYLOAD_TOO_LARGE);
    let small = json!({"taskName": "echo", "payload": "x".repeat(900)});
    t.post_json(&format!("{API}/executions"), &small)
        .await
        .expect(StatusCode::CREATED);
}

#[tokio::test]
async fn streamed_bodies_over_the_limit_are_json_413s() {
    let t = app_with(ApiConfig::default().max_body_bytes(1024)).await;
    let chunks: Vec<Result<String, std::io::Error>> =
        (0..20).map(|_| Ok("x".repeat(100))).collect();
    let request = request(Method::POST, &format!("{API}/events/x/y"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream::iter(chunks)))
        .unwrap();
    t.call(request).await.error(StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn the_limit_can_be_raised_above_axums_default() {
    let t = app_with(ApiConfig::default().max_body_bytes(4 * 1024 * 1024)).await;
    let big = json!({"taskName": "echo", "payload": "x".repeat(3 * 1024 * 1024)});
    t.post_json(&format!("{API}/executions"), &big)
        .await
        .expect(StatusCode::CREATED);
}

#[tokio::test]
async fn the_default_limit_is_one_mebibyte() {
    let t = app().await;
    let over = json!({"taskName": "echo", "payload": "x".repeat(1024 * 1024)});
    t.post_json(&format!("{API}/executions"), &over)
        .await
        .error(StatusCode::PAYLOAD_TOO_LARGE);
    let under = json!({"taskName": "echo", "payload": "x".repeat(1000 * 1000)});
    t.post_json(&format!("{API}/executions"), &under)
        .await
        .expect(StatusCode::CREATED);
}

#[tokio::test]
async fn declared_oversized_bodies_are_refused_over_a_socket() {
    let t = app_with(ApiConfig::default().max_body_bytes(1024)).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(zart_api::serve(
        listener,
        t.app.clone(),
        std::future::pending(),
    ));
    // reqwest declares the Content-Length: the limit layer refuses before reading.
    let response = reqwest::Client::new()
        .post(format!("{base}{API}/executions"))
        .json(&json!({"taskName": "echo", "payload": "x".repeat(4096)}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, json!({"error": "request body too large"}));
    server.abort();
}
