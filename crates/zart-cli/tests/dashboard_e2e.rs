//! The original dashboard (`zart-ui`) against the real `zart serve`: every call that
//! API.md lists under "Clients of the original", sent the way that dashboard sends
//! them — `Content-Type: application/json` on every request, no `Authorization`
//! header, `sortBy=scheduled_at`, cancel without a body, empty filter values, event
//! answers parsed as JSON — with every response's field names and types checked.
//!
//! Run on SQLite, and on PostgreSQL when `ZART_TEST_POSTGRES_URL` is set (with
//! `ZART_REQUIRE_POSTGRES=1` a missing URL fails instead of skipping).

mod common;

use std::time::Duration;

use common::http::{ADMIN, API};
use common::{eventually, temp_db, Server, ServerOptions};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use zart_store_tests::postgres::FreshSchema;

/// A JSON type a field must have.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Str,
    Int,
    Bool,
    Array,
    /// Any JSON value, `null` included.
    Any,
    /// A string or `null`.
    OptStr,
    /// An object or `null`.
    OptObject,
}

impl Kind {
    fn admits(self, value: &Value) -> bool {
        match self {
            Kind::Str => value.is_string(),
            Kind::Int => value.is_i64() || value.is_u64(),
            Kind::Bool => value.is_boolean(),
            Kind::Array => value.is_array(),
            Kind::Any => true,
            Kind::OptStr => value.is_string() || value.is_null(),
            Kind::OptObject => value.is_object() || value.is_null(),
        }
    }
}

/// Asserts that `value` is an object with every field of `shape`, of its kind.
fn assert_shape(what: &str, value: &Value, shape: &[(&str, Kind)]) {
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("{what} is not an object: {value}"));
    for (field, kind) in shape {
        let got = object
            .get(*field)
            .unwrap_or_else(|| panic!("{what} lacks {field}: {value}"));
        assert!(kind.admits(got), "{what}.{field} is not {kind:?}: {value}");
    }
}

const EXECUTION: &[(&str, Kind)] = &[
    ("name", Kind::Str),
    ("durableExecutionId", Kind::Str),
    ("payload", Kind::Any),
    ("status", Kind::Str),
    ("scheduledAt", Kind::Str),
    ("completedAt", Kind::OptStr),
    ("version", Kind::Int),
    ("result", Kind::Any),
];
const STATS: &[(&str, Kind)] = &[
    ("scheduled", Kind::Int),
    ("running", Kind::Int),
    ("completed", Kind::Int),
    ("failed", Kind::Int),
    ("cancelled", Kind::Int),
];
const RUN: &[(&str, Kind)] = &[
    ("runId", Kind::Str),
    ("executionId", Kind::Str),
    ("runIndex", Kind::Int),
    ("payload", Kind::Any),
    ("status", Kind::Str),
    ("result", Kind::Any),
    ("startedAt", Kind::OptStr),
    ("completedAt", Kind::OptStr),
    ("trigger", Kind::Str),
    ("triggeredBy", Kind::OptStr),
    ("triggeredAt", Kind::OptStr),
];
const STEP: &[(&str, Kind)] = &[
    ("stepId", Kind::Str),
    ("name", Kind::Str),
    ("kind", Kind::Str),
    ("status", Kind::Str),
    ("retryAttempt", Kind::Int),
    ("attemptCount", Kind::Int),
    ("result", Kind::Any),
    ("lastError", Kind::OptStr),
    ("retryable", Kind::Bool),
    ("scheduledAt", Kind::Str),
    ("completedAt", Kind::OptStr),
    ("attempts", Kind::Array),
];
const ATTEMPT: &[(&str, Kind)] = &[
    ("attemptNumber", Kind::Int),
    ("status", Kind::Str),
    ("result", Kind::Any),
    ("error", Kind::OptStr),
    ("startedAt", Kind::Str),
    ("completedAt", Kind::OptStr),
];
const ACTION: &[(&str, Kind)] = &[
    ("actionId", Kind::Str),
    ("kind", Kind::Str),
    ("runIndex", Kind::Int),
    ("stepName", Kind::OptStr),
    ("triggeredBy", Kind::Str),
    ("triggeredAt", Kind::Str),
    ("effectiveRerun", Kind::Array),
    ("potentiallyStale", Kind::Array),
];
const PAUSE_RULE: &[(&str, Kind)] = &[
    ("ruleId", Kind::Str),
    ("executionId", Kind::OptStr),
    ("taskName", Kind::OptStr),
    ("stepPattern", Kind::OptStr),
    ("createdAt", Kind::Str),
    ("expiresAt", Kind::OptStr),
    ("createdBy", Kind::Str),
    ("deletedAt", Kind::OptStr),
    ("reason", Kind::OptStr),
];

/// What the dashboard got back.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    content_type: String,
    text: String,
}

impl Answer {
    /// The body parsed as JSON, as the dashboard does; asserts `status` and that the
    /// body says it is JSON.
    fn json(&self, status: StatusCode) -> Value {
        assert_eq!(self.status, status, "{self:?}");
        assert!(
            self.content_type.starts_with("application/json"),
            "{self:?}"
        );
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }
}

/// The dashboard's HTTP client: a JSON content type on every request, no token.
struct Dashboard {
    http: reqwest::Client,
    base: String,
}

impl Dashboard {
    fn new(server: &Server) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: server.base.clone(),
        }
    }

    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Answer {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("Content-Type", "application/json");
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let response = request.send().await.expect("the server answers");
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Answer {
            status: response.status(),
            content_type,
            text: response.text().await.expect("read the body"),
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send(Method::POST, path, Some(body)).await
    }

    /// An execution, shape checked.
    async fn execution(&self, id: &str) -> Value {
        let e = self
            .get(&format!("{API}/executions/{id}"))
            .await
            .json(StatusCode::OK);
        assert_shape("execution", &e, EXECUTION);
        e
    }

    /// Polls the execution page until `done` holds: for states no signal announces
    /// (waiting for an event, paused).
    async fn until(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        eventually(what, Duration::from_secs(30), || async {
            let e = self.execution(id).await;
            done(&e).then_some(e)
        })
        .await
    }

    /// Waits until the execution is terminal with the long-poll `wait` (a
    /// notification, not the dashboard's polling).
    async fn until_terminal(&self, id: &str) -> Value {
        let e = self
            .get(&format!("{API}/executions/{id}/wait?timeoutSecs=30"))
            .await
            .json(StatusCode::OK);
        assert_shape("terminal execution", &e, EXECUTION);
        e
    }

    /// The detail page with `runId=` as the dashboard sends it, every part checked.
    async fn detail(&self, id: &str, run_id: &str) -> Value {
        let d = self
            .get(&format!("{ADMIN}/executions/{id}/detail?runId={run_id}"))
            .await
            .json(StatusCode::OK);
        assert_shape("execution", &d["execution"], EXECUTION);
        for run in d["runs"].as_array().expect("runs") {
            assert_shape("run", run, RUN);
        }
        for step in d["steps"].as_array().expect("steps") {
            assert_shape("step", step, STEP);
            for attempt in step["attempts"].as_array().unwrap() {
                assert_shape("attempt", attempt, ATTEMPT);
            }
        }
        for action in d["actions"].as_array().expect("actions") {
            assert_shape("action", action, ACTION);
        }
        d
    }

    async fn start(&self, id: &str, task: &str, payload: Value) -> Value {
        let body = json!({"executionId": id, "taskName": task, "payload": payload});
        let e = self
            .post(&format!("{API}/executions"), &body)
            .await
            .json(StatusCode::CREATED);
        assert_shape("started execution", &e, EXECUTION);
        e
    }
}

/// The dashboard's pages and buttons, in the order an operator uses them.
async fn replay_the_dashboard(server: &Server) {
    let ui = Dashboard::new(server);
    let stats = ui.get(&format!("{API}/stats")).await.json(StatusCode::OK);
    assert_shape("stats", &stats, STATS);

    // A step that dies: flaky fails twice with a budget of two attempts.
    ui.start(
        "ui-flaky",
        "flaky",
        json!({"failTimes": 2, "maxAttempts": 2}),
    )
    .await;
    ui.start("ui-wait", "approval", json!({})).await;
    let list = ui
        .get(&format!(
            "{API}/executions?limit=20&offset=0&status=&taskName=&search=&sortBy=scheduled_at&sortOrder=desc"
        ))
        .await
        .json(StatusCode::OK);
    let listed = list.as_array().expect("the list is an array");
    assert_eq!(listed.len(), 2, "{list}");
    listed
        .iter()
        .for_each(|e| assert_shape("listed", e, EXECUTION));
    let by_task = ui
        .get(&format!(
            "{API}/executions?limit=20&offset=0&taskName=flaky&sortBy=task_name&sortOrder=asc"
        ))
        .await
        .json(StatusCode::OK);
    assert_eq!(by_task.as_array().map(Vec::len), Some(1), "{by_task}");

    let failed = ui.until_terminal("ui-flaky").await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let detail = ui.detail("ui-flaky", "").await;
    let step = &detail["steps"][0];
    assert_eq!(step["status"], "dead", "{step}");
    assert_eq!(
        step["retryAttempt"], 1,
        "two attempts shown as retryAttempt + 1"
    );
    assert_eq!(step["attempts"].as_array().map(Vec::len), Some(2));

    retry_restart_and_rerun(&ui).await;
    events_and_cancel(&ui).await;
    pause_rules(&ui).await;
}

async fn retry_restart_and_rerun(ui: &Dashboard) {
    let retried = ui
        .post(
            &format!("{ADMIN}/executions/ui-flaky/retry-step"),
            &json!({"stepName": "flaky-call"}),
        )
        .await
        .json(StatusCode::OK);
    assert_shape("retry-step answer", &retried, &[("newTaskId", Kind::Str)]);
    let done = ui.until_terminal("ui-flaky").await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["result"], json!({"attempts": 3}));
    let detail = ui.detail("ui-flaky", "1").await;
    assert_eq!(detail["steps"][0]["retryAttempt"], 2, "{detail}");
    assert_eq!(detail["steps"][0]["attemptCount"], 3, "{detail}");
    assert_eq!(detail["actions"][0]["actionId"], retried["newTaskId"]);

    let restarted = ui
        .post(
            &format!("{ADMIN}/executions/ui-flaky/restart"),
            &json!({"payload": {"failTimes": 0}}),
        )
        .await
        .json(StatusCode::OK);
    assert_shape(
        "restart answer",
        &restarted,
        &[("newRunId", Kind::Str), ("runIndex", Kind::Int)],
    );
    let done = ui.until_terminal("ui-flaky").await;
    assert_eq!(done["result"], json!({"attempts": 1}), "{done}");
    let new_run = restarted["newRunId"].as_str().unwrap();
    let detail = ui.detail("ui-flaky", new_run).await;
    let run = detail["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["runId"] == new_run)
        .unwrap_or_else(|| panic!("no run {new_run}: {detail}"));
    assert_eq!(run["trigger"], "restart");
    assert_eq!(run["triggeredBy"], "api");

    let rerun = ui
        .post(
            &format!("{ADMIN}/executions/ui-flaky/rerun"),
            &json!({"rerunSteps": ["flaky-call"], "preserveSteps": []}),
        )
        .await
        .json(StatusCode::OK);
    assert_shape(
        "rerun answer",
        &rerun,
        &[("newRunNumber", Kind::Int), ("effectiveRerun", Kind::Array)],
    );
    assert_eq!(rerun["newRunNumber"], 3);
    assert_eq!(rerun["effectiveRerun"], json!(["flaky-call"]));
    if let Some(stale) = rerun.get("potentiallyStale") {
        assert!(stale.as_array().is_some_and(|s| !s.is_empty()), "{rerun}");
    }
    ui.until_terminal("ui-flaky").await;
    let detail = ui.detail("ui-flaky", "").await;
    assert_eq!(detail["runs"].as_array().map(Vec::len), Some(3));
    assert_eq!(detail["runs"][2]["trigger"], "selective_rerun");
}

async fn events_and_cancel(ui: &Dashboard) {
    ui.until("ui-wait", "the approval waiting", |e| {
        e["waitingFor"]["kind"] == "event"
    })
    .await;
    let offered = ui
        .post(
            &format!("{API}/events/ui-wait/decision"),
            &json!({"approved": true, "by": "dashboard"}),
        )
        .await
        .json(StatusCode::ACCEPTED);
    assert_shape(
        "event answer",
        &offered,
        &[
            ("executionId", Kind::Str),
            ("eventName", Kind::Str),
            ("sequence", Kind::Int),
            ("duplicate", Kind::Bool),
        ],
    );
    let done = ui.until_terminal("ui-wait").await;
    assert_eq!(done["status"], "completed", "{done}");

    ui.start("ui-cancel", "approval", json!({})).await;
    let cancelled = ui
        .send(
            Method::POST,
            &format!("{API}/executions/ui-cancel/cancel"),
            None,
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::NO_CONTENT, "{cancelled:?}");
    assert_eq!(ui.execution("ui-cancel").await["status"], "cancelled");
    let again = ui
        .send(
            Method::POST,
            &format!("{API}/executions/ui-cancel/cancel"),
            None,
        )
        .await;
    assert_shape(
        "error",
        &again.json(StatusCode::CONFLICT),
        &[("error", Kind::Str)],
    );
}

async fn pause_rules(ui: &Dashboard) {
    let pause = format!("{ADMIN}/pause");
    let body = json!({"taskName": "echo", "stepPattern": "ech*", "reason": "maintenance"});
    let rule = ui.post(&pause, &body).await.json(StatusCode::CREATED);
    assert_shape("pause rule", &rule, PAUSE_RULE);
    let rules = ui.get(&pause).await.json(StatusCode::OK);
    let active: Vec<&Value> = rules
        .as_array()
        .expect("rules")
        .iter()
        .filter(|r| r["deletedAt"].is_null())
        .collect();
    assert_eq!(active, [&rule]);

    ui.start("ui-held", "echo", json!("held")).await;
    let held = ui
        .until("ui-held", "the echo paused", |e| {
            e["waitingFor"]["kind"] == "pause"
        })
        .await;
    assert_eq!(held["waitingFor"]["ruleId"], rule["ruleId"], "{held}");
    assert_shape("waitingFor", &held["waitingFor"], &[("ruleId", Kind::Str)]);

    let rule_path = format!("{pause}/{}", rule["ruleId"].as_str().unwrap());
    let deleted = ui.send(Method::DELETE, &rule_path, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{deleted:?}");
    let done = ui.until_terminal("ui-held").await;
    assert_eq!(done["result"], "held");
    let rules = ui.get(&pause).await.json(StatusCode::OK);
    assert!(
        rules
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["ruleId"] != rule["ruleId"] || !r["deletedAt"].is_null()),
        "{rules}"
    );
    let stats = ui.get(&format!("{API}/stats")).await.json(StatusCode::OK);
    assert_shape("stats", &stats, STATS);
    assert_shape("waitingFor", &held, &[("waitingFor", Kind::OptObject)]);
}

#[tokio::test]
async fn the_original_dashboard_works_against_zart_serve_on_sqlite() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    replay_the_dashboard(&server).await;
}

#[tokio::test]
async fn the_original_dashboard_works_against_zart_serve_on_postgres() {
    let Some(schema) = FreshSchema::new("zart_cli_dashboard") else {
        return;
    };
    let logs = tempfile::tempdir().expect("temp dir");
    let server =
        Server::start_url(&schema.schema_url(), logs.path(), ServerOptions::default()).await;
    replay_the_dashboard(&server).await;
}
