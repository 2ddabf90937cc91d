//! A server on a real socket with chosen connection limits, and a raw HTTP/1.1 client
//! that sends exactly the bytes a test wants (slowly, malformed, oversized) and reads
//! the answer byte for byte.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{timeout, Instant};
use zart_api::ServerConfig;

use crate::common::TestApp;

/// The longest a test waits for anything the server should do promptly.
pub(crate) const PATIENCE: Duration = Duration::from_secs(5);

/// A running `serve_with`; stops when dropped.
pub(crate) struct Running {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    pub done: JoinHandle<std::io::Result<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.done.abort();
    }
}

/// Serves `t`'s router on a fresh port under `config`.
pub(crate) async fn serve(t: &TestApp, config: ServerConfig) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let done = tokio::spawn(zart_api::serve_with(
        listener,
        t.app.clone(),
        config,
        shutdown,
    ));
    Running {
        addr,
        stop: Some(stop),
        done,
    }
}

/// An answer read off the socket.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON, asserting the content type says so.
    pub(crate) fn json(&self) -> Value {
        let head = self.head.to_ascii_lowercase();
        assert!(
            head.contains("content-type: application/json"),
            "not JSON: {self:?}"
        );
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    /// The `error` message of a JSON error body.
    pub(crate) fn error(&self) -> String {
        let body = self.json();
        body["error"].as_str().expect("an error message").to_owned()
    }
}

/// Reads one response (head, then a `content-length` body) within `within`; `None` if
/// nothing complete arrived in time. Panics if the connection closes first.
pub(crate) async fn read_answer(stream: &mut TcpStream, within: Duration) -> Option<Answer> {
    timeout(within, read_answer_now(stream)).await.ok()
}

async fn read_answer_now(stream: &mut TcpStream) -> Answer {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            break end + 4;
        }
        fill(stream, &mut buf).await;
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status = head[9..12].parse().expect("a status code");
    let length = content_length(&head);
    while buf.len() < head_end + length {
        fill(stream, &mut buf).await;
    }
    let body = buf[head_end..head_end + length].to_vec();
    Answer { status, head, body }
}

async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) {
    let mut chunk = [0u8; 8192];
    let n = stream.read(&mut chunk).await.expect("read");
    assert!(
        n > 0,
        "closed mid-answer after {:?}",
        String::from_utf8_lossy(buf)
    );
    buf.extend_from_slice(&chunk[..n]);
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0)
}

/// Waits until the server closes the connection (end of file or reset), reading and
/// discarding anything before; returns when, or `None` if still open after `within`.
pub(crate) async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Instant> {
    let closed = async {
        let mut chunk = [0u8; 1024];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return Instant::now(),
                Ok(_) => {}
            }
        }
    };
    timeout(within, closed).await.ok()
}

/// Connects and sends `request` whole.
pub(crate) async fn send(addr: SocketAddr, request: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    stream
}

/// A GET of `path` on a keep-alive connection.
pub(crate) fn get_request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: zart\r\n\r\n").into_bytes()
}
