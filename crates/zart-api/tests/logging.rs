//! What the log says about answered requests: a `wait` that times out (504) and user
//! mistakes (4xx) are not errors, so a polling client cannot fill the log with them.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use common::*;
use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;

/// Every log line written while it is the default subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

// A current-thread runtime: the thread-local subscriber sees every task's events.
#[tokio::test]
async fn wait_timeouts_and_client_errors_are_not_logged_as_errors() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let t = app().await;
    t.start("logged-1", "approval", json!(null)).await;
    let timed_out = t
        .get(&format!("{API}/executions/logged-1/wait?timeoutSecs=1"))
        .await;
    assert_eq!(timed_out.status, StatusCode::GATEWAY_TIMEOUT);
    let missing = t.get(&format!("{API}/executions/nobody")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let bad = t.post_json(&format!("{API}/executions"), &json!({})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let log = captured.text();
    assert!(log.contains("wait timed out"), "the 504 is logged: {log}");
    let errors: Vec<&str> = log.lines().filter(|l| l.contains(" ERROR ")).collect();
    assert!(errors.is_empty(), "logged as errors: {errors:#?}");
}
