//! Connection limits over real TCP sockets: a slow request head, a slow body, an idle
//! keep-alive connection and the connection cap, with short settings.

mod common;
mod raw;

use std::time::Duration;

use common::*;
use raw::*;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;
use zart_api::{ApiConfig, ServerConfig};

const SHORT: Duration = Duration::from_millis(400);

fn limits() -> ServerConfig {
    ServerConfig::default()
        .header_timeout(SHORT)
        .idle_timeout(Duration::from_secs(30))
}

#[tokio::test]
async fn a_slowloris_head_is_cut_after_the_header_timeout() {
    let t = app().await;
    let server = serve(&t, limits()).await;
    let started = Instant::now();
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    // One byte every 50 ms: always sending, never finishing the head.
    let trickle = async {
        for byte in b"GET /healthz HTTP/1.1\r\nHost: zart\r\nX-Slow: "
            .iter()
            .cycle()
        {
            if stream.write_all(&[*byte]).await.is_err() {
                return Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            if started.elapsed() > PATIENCE {
                panic!("the slow head was never cut");
            }
        }
        unreachable!("the cycle is endless")
    };
    let cut = trickle.await;
    // The write that fails comes after the close; the close itself is at ~400 ms.
    let after = cut - started;
    assert!(after >= SHORT, "cut too early: {after:?}");

    // A client that connects and says nothing is cut after the same time.
    let started = Instant::now();
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let closed = closed_within(&mut silent, PATIENCE).await.expect("closed");
    let after = closed - started;
    assert!(after >= SHORT && after < PATIENCE, "{after:?}");
}

#[tokio::test]
async fn a_slow_body_gets_a_json_408_and_the_connection_closes() {
    let t = app_with(ApiConfig::default().body_timeout(SHORT)).await;
    let server = serve(&t, limits().header_timeout(Duration::from_secs(30))).await;
    let head = format!(
        "POST {API}/executions HTTP/1.1\r\nHost: zart\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{\"executionId\""
    );
    let started = Instant::now();
    let mut stream = send(server.addr, head.as_bytes()).await;
    let answer = read_answer(&mut stream, PATIENCE).await.expect("an answer");
    assert!(started.elapsed() >= SHORT, "{:?}", started.elapsed());
    assert_eq!(answer.status, 408, "{answer:?}");
    assert!(answer.error().contains("not received"), "{answer:?}");
    assert!(closed_within(&mut stream, PATIENCE).await.is_some());
    // Nothing was started from the half-sent body.
    assert_eq!(
        t.zart
            .client()
            .list(Default::default())
            .await
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_but_a_long_poll_is_not_idle() {
    let t = app().await;
    let config = ServerConfig::default()
        .header_timeout(SHORT)
        .idle_timeout(SHORT);
    let server = serve(&t, config).await;
    t.start("idle-1", "approval", json!(null)).await;

    let mut stream = send(server.addr, &get_request("/healthz")).await;
    let answer = read_answer(&mut stream, PATIENCE).await.expect("answered");
    assert_eq!(answer.status, 200);
    let answered = Instant::now();
    // Still open and usable right after the answer.
    stream.write_all(&get_request("/healthz")).await.unwrap();
    assert!(read_answer(&mut stream, PATIENCE).await.is_some());
    let answered_again = Instant::now();
    let closed = closed_within(&mut stream, PATIENCE).await.expect("closed");
    assert!(closed - answered_again >= SHORT, "{:?}", closed - answered);

    // A 1 s long-poll outlasts both timeouts and still gets its 504.
    let wait = format!("{API}/executions/idle-1/wait?timeoutSecs=1");
    let mut poll = send(server.addr, &get_request(&wait)).await;
    let answer = read_answer(&mut poll, PATIENCE)
        .await
        .expect("the poll answered");
    assert_eq!(answer.status, 504, "{answer:?}");
}

#[tokio::test]
async fn past_the_cap_new_connections_wait_and_in_flight_ones_are_answered() {
    let t = app().await;
    let server = serve(&t, limits().max_connections(2)).await;
    t.start("cap-1", "approval", json!(null)).await;
    let wait = get_request(&format!("{API}/executions/cap-1/wait?timeoutSecs=1"));
    // Accepts are first in, first out: these two take the slots.
    let mut first = send(server.addr, &wait).await;
    let mut second = send(server.addr, &wait).await;
    let mut third = send(server.addr, &get_request("/healthz")).await;

    for poll in [&mut first, &mut second] {
        let answer = read_answer(poll, PATIENCE)
            .await
            .expect("in flight answered");
        assert_eq!(answer.status, 504, "{answer:?}");
    }
    // Both keep-alive connections are still open: the third still waits.
    let early = read_answer(&mut third, Duration::from_millis(300)).await;
    assert!(early.is_none(), "served past the cap: {early:?}");
    drop(first);
    let answer = read_answer(&mut third, PATIENCE).await.expect("served");
    assert_eq!(answer.status, 200, "{answer:?}");
    // The second connection was not harmed: it still answers.
    second.write_all(&get_request("/healthz")).await.unwrap();
    let again = read_answer(&mut second, PATIENCE).await.expect("answered");
    assert_eq!(again.status, 200);
}
