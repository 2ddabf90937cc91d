//! One connection: hyper's HTTP/1.1 state machine over the socket, watched by a timer
//! that closes the connection when a request head is late or the connection is idle.
//!
//! hyper's own `header_read_timeout` also runs while a keep-alive connection waits for
//! its next request, so it cannot tell a slow head from an idle connection; this
//! watcher keeps the two apart, from what the socket reads and what the router is
//! answering ([`Activity`]).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tower::ServiceExt;

use super::io::ConnIo;
use crate::ServerConfig;

/// The per-connection deadlines of a [`ServerConfig`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    header: Duration,
    idle: Duration,
}

impl From<&ServerConfig> for Limits {
    fn from(config: &ServerConfig) -> Self {
        Self {
            header: config.header_timeout,
            idle: config.idle_timeout,
        }
    }
}

/// What a connection is doing, for its deadline.
#[derive(Debug)]
pub(super) struct Activity {
    state: Mutex<State>,
    /// Wakes the watcher when the deadline moves (a head starts, an answer is made).
    moved: Notify,
}

#[derive(Debug)]
struct State {
    /// Requests handed to the router and not answered yet.
    in_flight: usize,
    /// When the connection opened or its last answer was produced.
    since: Instant,
    /// When the first byte of a request head not yet complete arrived.
    head_started: Option<Instant>,
    /// Whether a request was answered: the wait for the first head is a header
    /// timeout, later waits are idle time.
    answered: bool,
}

impl Activity {
    fn new() -> Self {
        Self {
            state: Mutex::new(State {
                in_flight: 0,
                since: Instant::now(),
                head_started: None,
                answered: false,
            }),
            moved: Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent under a panic: every update is one assignment.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes arrived from the client: when no request is in flight they start a head.
    pub(super) fn bytes_read(&self) {
        let mut state = self.state();
        if state.in_flight == 0 && state.head_started.is_none() {
            state.head_started = Some(Instant::now());
            self.moved.notify_one();
        }
    }

    fn request_started(&self) {
        let mut state = self.state();
        state.in_flight += 1;
        state.head_started = None;
    }

    fn request_answered(&self) {
        let mut state = self.state();
        state.in_flight = state.in_flight.saturating_sub(1);
        state.since = Instant::now();
        state.answered = true;
        self.moved.notify_one();
    }

    /// When the connection should be closed; `None` while a request is in flight.
    fn deadline(&self, limits: Limits) -> Option<Instant> {
        let state = self.state();
        if state.in_flight > 0 {
            return None;
        }
        Some(match state.head_started {
            Some(started) => started + limits.header,
            None if state.answered => state.since + limits.idle,
            None => state.since + limits.header,
        })
    }
}

/// Serves one connection until the client closes it, a deadline passes with no request
/// in flight, or the server shuts down (then requests in flight are answered first).
pub(super) async fn run(
    stream: TcpStream,
    app: Router,
    limits: Limits,
    mut stopped: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(ConnIo::new(stream, Arc::clone(&activity)));
    let service = {
        let activity = Arc::clone(&activity);
        service_fn(move |request: Request<Incoming>| {
            let (app, activity) = (app.clone(), Arc::clone(&activity));
            activity.request_started();
            async move {
                let response = app.oneshot(request.map(Body::new)).await;
                activity.request_answered();
                response
            }
        })
    };
    // Our watcher owns the header timeout; hyper's would also cut idle keep-alives.
    let connection = http1::Builder::new()
        .keep_alive(true)
        .header_read_timeout(None)
        .serve_connection(io, service);
    tokio::pin!(connection);
    let mut stopping = false;
    loop {
        let deadline = activity.deadline(limits);
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(%err, "connection ended with an error");
                }
                return;
            }
            _ = stopped.changed(), if !stopping => {
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
            () = activity.moved.notified() => {}
            () = sleep_until(deadline) => {
                // Nothing in flight: drop the connection, which closes the socket.
                if activity.deadline(limits).is_some_and(|d| d <= Instant::now()) {
                    return;
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
