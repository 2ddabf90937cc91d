//! Shared harness: a real SQLite file per test, a real worker running the test tasks,
//! and the router called in-process with `tower::ServiceExt::oneshot`.
#![allow(dead_code)]

pub(crate) mod socket;

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{json, Value};
use tempfile::TempDir;
use tower::ServiceExt;
use zart::core::Store;
use zart::prelude::*;
use zart_api::ApiConfig;

/// The public prefix of the default configuration.
pub(crate) const API: &str = "/api/v1";
/// The admin prefix of the default configuration.
pub(crate) const ADMIN: &str = "/zart/admin/v1";
/// The most any test waits for an execution.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// Input of the `typed` task: the payload must be `{"n": <unsigned>}`.
#[derive(Deserialize)]
pub(crate) struct Typed {
    pub n: u64,
}

/// An engine with the test tasks, a running worker and the router over them.
pub(crate) struct TestApp {
    pub app: Router,
    pub zart: Zart,
    pub worker: WorkerHandle,
    pub dir: TempDir,
}

/// The test tasks:
/// - `echo`: returns its payload from a step;
/// - `approval`: waits for the event `approved` and returns its payload;
/// - `fail`: a step that fails permanently;
/// - `typed`: takes [`Typed`] and returns `n * 2`;
/// - `nap`: sleeps for an hour;
/// - `recover`: takes `{"failures": n}` (default 0); its step `charge` fails
///   permanently (dies) on attempts up to `n` and then returns the attempt number,
///   then the step `email` returns `"receipt {attempt}"`.
pub(crate) fn tasks() -> TaskRegistry {
    let mut tasks = TaskRegistry::new();
    tasks.register("echo", |ctx: Ctx, payload: Value| async move {
        ctx.step("echo", || {
            let payload = payload.clone();
            async move { Ok(payload) }
        })
        .await
    });
    tasks.register("approval", |ctx: Ctx, _: Value| async move {
        let decision: Value = ctx
            .wait_for_event("approved", Duration::from_secs(3600))
            .await?;
        Ok(decision)
    });
    tasks.register("fail", |ctx: Ctx, _: Value| async move {
        ctx.step("explode", || async {
            Err::<(), _>(TaskError::permanent("boom"))
        })
        .await?;
        Ok(())
    });
    tasks.register(
        "typed",
        |_ctx: Ctx, input: Typed| async move { Ok(input.n * 2) },
    );
    tasks.register("nap", |ctx: Ctx, _: Value| async move {
        ctx.sleep("nap", Duration::from_secs(3600)).await;
        Ok(())
    });
    tasks.register("recover", |ctx: Ctx, input: Value| async move {
        let failures = input["failures"].as_u64().unwrap_or(0);
        let charged: u64 = ctx
            .step("charge", move || async move {
                let attempt = u64::from(zart::current_attempt().unwrap_or(1));
                if attempt <= failures {
                    return Err(TaskError::permanent(format!(
                        "declined on attempt {attempt}"
                    )));
                }
                Ok(attempt)
            })
            .await?;
        let email: String = ctx
            .step(
                "email",
                move || async move { Ok(format!("receipt {charged}")) },
            )
            .await?;
        Ok(json!({"charged": charged, "email": email}))
    });
    tasks
}

/// The default configuration.
pub(crate) async fn app() -> TestApp {
    app_with(ApiConfig::default()).await
}

/// A fresh database, engine, worker and router with `config`.
pub(crate) async fn app_with(config: ApiConfig) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("zart.db").display());
    let store = zart::connect(&url).await.expect("open store");
    app_on(store, dir, config)
}

/// An engine over `store` with the test tasks, a worker and the router.
pub(crate) fn app_on(store: Arc<dyn Store>, dir: TempDir, config: ApiConfig) -> TestApp {
    let zart = Zart::builder(store)
        .tasks(tasks())
        .queue(zart::Queue::new("payments").concurrency(2))
        .expect("a valid queue")
        .queue(zart::Queue::new("metered").rate_limit(1, Duration::from_secs(3600)))
        .expect("a valid queue")
        .queue(zart::Queue::new("tenants").key_concurrency(1))
        .expect("a valid queue")
        .build();
    let worker = zart.start_worker(
        WorkerConfig::default()
            .concurrency(8)
            .poll_interval(Duration::from_millis(200))
            .lease_duration(Duration::from_secs(5)),
    );
    let app = zart_api::router(zart.client(), zart.metrics().clone(), config)
        .expect("a valid test configuration");
    TestApp {
        app,
        zart,
        worker,
        dir,
    }
}

/// A response, fully read.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON.
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }

    /// The body as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts the status and returns the JSON body.
    pub(crate) fn expect(&self, status: StatusCode) -> Value {
        assert_eq!(self.status, status, "body: {}", self.text());
        if self.body.is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }

    /// Asserts a JSON error body `{"error": "..."}` with `status`; returns the message.
    pub(crate) fn error(&self, status: StatusCode) -> String {
        assert_eq!(self.status, status, "body: {}", self.text());
        let content_type = self
            .headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap());
        assert_eq!(
            content_type,
            Some("application/json"),
            "body: {}",
            self.text()
        );
        let body = self.json();
        let object = body.as_object().expect("error body is an object");
        assert_eq!(object.len(), 1, "error body has only `error`: {body}");
        let message = object["error"]
            .as_str()
            .expect("error is a string")
            .to_owned();
        assert!(!message.is_empty());
        message
    }
}

impl TestApp {
    /// Sends `request` through the router in-process.
    pub(crate) async fn call(&self, request: Request<Body>) -> Reply {
        call(&self.app, request).await
    }

    /// `GET uri`.
    pub(crate) async fn get(&self, uri: &str) -> Reply {
        get(&self.app, uri).await
    }

    /// `POST uri` with a JSON body.
    pub(crate) async fn post_json(&self, uri: &str, body: &Value) -> Reply {
        let request = request(Method::POST, uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.call(request).await
    }

    /// `POST uri` without a body.
    pub(crate) async fn post_empty(&self, uri: &str) -> Reply {
        self.call(request(Method::POST, uri).body(Body::empty()).unwrap())
            .await
    }

    /// Starts `task` with `payload` over HTTP under `id`; returns the execution JSON.
    pub(crate) async fn start(&self, id: &str, task: &str, payload: Value) -> Value {
        let body = json!({"executionId": id, "taskName": task, "payload": payload});
        self.post_json(&format!("{API}/executions"), &body)
            .await
            .expect(StatusCode::CREATED)
    }

    /// Waits until `id` is terminal, through the engine client.
    pub(crate) async fn finish(&self, id: &str) -> ExecutionRecord {
        self.zart
            .client()
            .wait(id, WAIT)
            .await
            .expect("execution finishes")
    }

    /// Waits until `id` is parked waiting for an event: polls the store, because no
    /// signal announces a suspension.
    pub(crate) async fn until_waiting_for_event(&self, id: &str) {
        self.until_waiting_for(id, "event").await;
    }

    /// Waits until `id` waits for something of `kind` (`event`, `pause`, ...): polls
    /// the store, because no signal announces a suspension.
    pub(crate) async fn until_waiting_for(&self, id: &str, kind: &str) -> ExecutionRecord {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let e = self.zart.client().get(id).await.expect("get");
            if e.waiting_for.as_ref().is_some_and(|w| w.kind() == kind) {
                return e;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{id} never waited: {e:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A request builder for `method uri`.
pub(crate) fn request(method: Method, uri: &str) -> axum::http::request::Builder {
    Request::builder().method(method).uri(uri)
}

/// Sends `request` through `app` in-process.
pub(crate) async fn call(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// `GET uri` through `app`.
pub(crate) async fn get(app: &Router, uri: &str) -> Reply {
    call(app, request(Method::GET, uri).body(Body::empty()).unwrap()).await
}

/// The paths of the requests a server starts handling, in order: lets a socket test
/// act at the moment a request is inside the app.
pub(crate) struct Arrivals(tokio::sync::mpsc::UnboundedReceiver<String>);

impl Arrivals {
    /// Returns once the server has started handling a request to `path`.
    pub(crate) async fn arrived(&mut self, path: &str) {
        while let Some(arrived) = self.0.recv().await {
            if arrived == path {
                return;
            }
        }
        panic!("server stopped before {path} arrived");
    }
}

/// The test app with a layer reporting every request's path as it arrives, and a
/// loopback listener to serve it on.
pub(crate) async fn reporting_app(t: &TestApp) -> (Router, tokio::net::TcpListener, Arrivals) {
    let (tx, arrivals) = tokio::sync::mpsc::unbounded_channel();
    let app = t.app.clone().layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            let _ = tx.send(request.uri().path().to_owned());
            next.run(request)
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    (app, listener, Arrivals(arrivals))
}
