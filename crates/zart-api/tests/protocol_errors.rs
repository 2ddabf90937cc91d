//! Errors hyper answers before any request reaches the router (a malformed request
//! line, an oversized URI, too many headers) carry the API's JSON error body, over a
//! real socket.

mod common;
mod raw;

use common::*;
use raw::*;
use zart_api::ServerConfig;

async fn answer_to(request: &[u8]) -> Answer {
    let t = app().await;
    let server = serve(&t, ServerConfig::default()).await;
    let mut stream = send(server.addr, request).await;
    read_answer(&mut stream, PATIENCE).await.expect("an answer")
}

#[tokio::test]
async fn a_malformed_request_line_is_a_json_400() {
    let answer = answer_to(b"THIS IS NOT HTTP\r\n\r\n").await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(answer.error(), "malformed HTTP request");
}

#[tokio::test]
async fn an_oversized_uri_is_a_json_414() {
    let path = format!("/api/v1/executions/{}", "a".repeat(70_000));
    let answer = answer_to(&get_request(&path)).await;
    assert_eq!(answer.status, 414, "{answer:?}");
    assert_eq!(answer.error(), "request URI too long");
}

#[tokio::test]
async fn too_many_headers_are_a_json_431() {
    let mut request = String::from("GET /healthz HTTP/1.1\r\nHost: zart\r\n");
    for i in 0..200 {
        request.push_str(&format!("X-Padding-{i}: {i}\r\n"));
    }
    request.push_str("\r\n");
    let answer = answer_to(request.as_bytes()).await;
    assert_eq!(answer.status, 431, "{answer:?}");
    assert_eq!(answer.error(), "request header fields too large");
}
