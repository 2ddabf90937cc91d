//! `zart serve`'s connection limits come from its flags and environment: a client that
//! sends nothing, and an idle keep-alive connection, are closed after the set times.

mod common;

use std::time::Duration;

use common::{temp_db, Server, ServerOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

/// Reads until the server closes the connection; how long that took from `since`.
async fn closed_after(stream: &mut TcpStream, since: Instant) -> Duration {
    let closed = async {
        let mut chunk = [0u8; 1024];
        while matches!(stream.read(&mut chunk).await, Ok(n) if n > 0) {}
        since.elapsed()
    };
    timeout(Duration::from_secs(10), closed)
        .await
        .expect("the server never closed the connection")
}

#[tokio::test]
async fn header_and_idle_timeouts_are_set_by_flag_and_environment() {
    let (_dir, db) = temp_db();
    let options = ServerOptions::default()
        .args(&["--header-timeout-secs", "1"])
        .env("ZART_IDLE_TIMEOUT_SECS", "2");
    let server = Server::start(&db, options).await;
    let addr = server.base.trim_start_matches("http://").to_owned();

    let started = Instant::now();
    let mut silent = TcpStream::connect(&addr).await.unwrap();
    let after = closed_after(&mut silent, started).await;
    assert!(
        after >= Duration::from_secs(1) && after < Duration::from_secs(2),
        "{after:?}"
    );

    let mut idle = TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: zart\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let answered = Instant::now();
    let after = closed_after(&mut idle, answered).await;
    assert!(
        after >= Duration::from_millis(1900) && after < Duration::from_secs(4),
        "{after:?}"
    );
}
