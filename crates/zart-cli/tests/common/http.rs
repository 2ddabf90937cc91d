//! A thin HTTP helper over reqwest for driving the server's API in tests.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

/// The public API prefix.
pub(crate) const API: &str = "/api/v1";
/// The admin API prefix.
pub(crate) const ADMIN: &str = "/zart/admin/v1";

/// A response: status, content type and body (JSON when it parses, else a string).
#[derive(Debug)]
pub(crate) struct Reply {
    /// The status code.
    pub status: StatusCode,
    /// The `Content-Type` header.
    pub content_type: String,
    /// The body as JSON (`Value::String` of the raw text when it is not JSON).
    pub body: Value,
}

impl Reply {
    /// The `{"error"}` message of an error body.
    pub(crate) fn error(&self) -> &str {
        self.body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("not a JSON error body: {self:?}"))
    }
}

/// Calls one server.
#[derive(Clone)]
pub(crate) struct Api {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    /// A helper for the server at `base`.
    pub(crate) fn new(base: &str) -> Api {
        Api {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("build a reqwest client"),
            base: base.to_owned(),
            token: None,
        }
    }

    /// Sends `Authorization: Bearer token` from now on.
    pub(crate) fn with_token(mut self, token: &str) -> Api {
        self.token = Some(token.to_owned());
        self
    }

    /// Sends a request with a raw body.
    pub(crate) async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some((content_type, bytes)) = body {
            request = request.header("content-type", content_type).body(bytes);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let text = response.text().await.expect("read the body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            content_type,
            body,
        }
    }

    /// GET.
    pub(crate) async fn get(&self, path: &str) -> Reply {
        self.raw(Method::GET, path, None).await
    }

    /// POST with a JSON body.
    pub(crate) async fn post(&self, path: &str, body: &Value) -> Reply {
        let bytes = serde_json::to_vec(body).expect("serialize JSON");
        self.raw(Method::POST, path, Some(("application/json", bytes)))
            .await
    }

    /// POST without a body.
    pub(crate) async fn post_empty(&self, path: &str) -> Reply {
        self.raw(Method::POST, path, None).await
    }

    /// DELETE.
    pub(crate) async fn delete(&self, path: &str) -> Reply {
        self.raw(Method::DELETE, path, None).await
    }

    /// `GET /executions` with the query `query` (without the `?`), asserting 200; the
    /// listed executions.
    pub(crate) async fn executions(&self, query: &str) -> Vec<Value> {
        let reply = self.get(&format!("{API}/executions?{query}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        reply
            .body
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("GET /executions did not answer an array: {reply:?}"))
    }

    /// Starts an execution: `POST /executions`.
    pub(crate) async fn start(&self, body: Value) -> Reply {
        self.post(&format!("{API}/executions"), &body).await
    }

    /// Starts `task` with `payload` under `id`, asserting 201.
    pub(crate) async fn start_ok(&self, id: &str, task: &str, payload: Value) -> Value {
        let reply = self
            .start(serde_json::json!({ "executionId": id, "taskName": task, "payload": payload }))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        reply.body
    }

    /// `GET /executions/{id}`.
    pub(crate) async fn execution(&self, id: &str) -> Reply {
        self.get(&format!("{API}/executions/{id}")).await
    }

    /// Long-polls `GET /executions/{id}/wait`, asserting 200.
    pub(crate) async fn wait(&self, id: &str, timeout_secs: u64) -> Value {
        let reply = self
            .get(&format!(
                "{API}/executions/{id}/wait?timeoutSecs={timeout_secs}"
            ))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        reply.body
    }

    /// `POST /executions/{id}/cancel`.
    pub(crate) async fn cancel(&self, id: &str) -> Reply {
        self.post_empty(&format!("{API}/executions/{id}/cancel"))
            .await
    }

    /// `POST /events/{id}/{name}`.
    pub(crate) async fn event(&self, id: &str, name: &str, payload: &Value) -> Reply {
        self.post(&format!("{API}/events/{id}/{name}"), payload)
            .await
    }

    /// The admin detail of an execution, asserting 200.
    pub(crate) async fn detail(&self, id: &str) -> Value {
        let reply = self.get(&format!("{ADMIN}/executions/{id}/detail")).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        reply.body
    }
}

/// The steps of a detail named `name` that completed.
pub(crate) fn completed_steps<'a>(detail: &'a Value, name: &str) -> Vec<&'a Value> {
    detail["steps"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .filter(|s| s["name"] == name && s["status"] == "completed")
                .collect()
        })
        .unwrap_or_default()
}

/// Completed `tick` steps of a countdown by step id: completion time and attempt count.
pub(crate) fn ticks(detail: &Value) -> BTreeMap<String, (Value, usize)> {
    completed_steps(detail, "tick")
        .into_iter()
        .map(|s| {
            let attempts = s["attempts"].as_array().map_or(0, Vec::len);
            let id = s["stepId"].as_str().unwrap_or_default().to_owned();
            (id, (s["completedAt"].clone(), attempts))
        })
        .collect()
}

/// Every tick in `before` (seen completed before a crash) still shows its one attempt
/// and its original completion time in `detail`: it did not run again.
pub(crate) fn assert_completed_ticks_did_not_run_again(
    before: &BTreeMap<String, (Value, usize)>,
    detail: &Value,
) {
    let after = ticks(detail);
    for (id, (completed_at, attempts)) in before {
        assert_eq!(*attempts, 1, "{id} before the crash: {detail}");
        let (again_at, again_attempts) = after
            .get(id)
            .unwrap_or_else(|| panic!("{id} is gone: {detail}"));
        assert_eq!(
            *again_attempts, 1,
            "{id} ran again after the crash: {detail}"
        );
        assert_eq!(
            again_at, completed_at,
            "{id} completed again after the crash: {detail}"
        );
    }
}
