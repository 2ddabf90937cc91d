//! The client subcommands: one HTTP call each (a few for `wait`), printed as a table
//! or, with `--json`, as the server's JSON.

use std::time::Duration;

use anyhow::Context;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::time::Instant;

use super::{operator, ApiClient, HttpError, Reply, Scope};
use crate::args::Command;
use crate::output;

/// The longest single long poll the server grants; longer waits are several polls.
const MAX_WAIT_POLL_SECS: u64 = 30;
/// Extra time a long-poll request may take beyond the time the server waits.
const WAIT_SLACK: Duration = Duration::from_secs(15);
/// After a poll times out, another is made only if at least this much time is left.
const MIN_NEXT_POLL: Duration = Duration::from_millis(500);

/// Runs one client subcommand and prints its outcome on stdout. `Serve` and `Migrate`
/// are not client subcommands and are rejected.
pub(crate) async fn run_command(client: &ApiClient, command: Command) -> anyhow::Result<()> {
    let json = client.options.json;
    let text = match command {
        Command::Start { task, id, payload } => start(client, task, id, payload, json).await?,
        Command::Get { id } => {
            let reply = client.send(get(client, &["executions", &id])).await?;
            render(&reply.body, json, output::execution)
        }
        Command::List {
            status,
            task,
            limit,
        } => list(client, status, task, limit, json).await?,
        Command::Cancel { id } => {
            let url = client.url(Scope::Api, &["executions", &id, "cancel"]);
            client
                .send(client.request(Scope::Api, Method::POST, url))
                .await?;
            simple(
                json,
                json!({ "executionId": id, "cancelled": true }),
                format!("cancelled {id}\n"),
            )
        }
        Command::Wait { id, timeout } => {
            let reply = wait(client, &id, Duration::from_secs(timeout)).await?;
            render(&reply.body, json, output::execution)
        }
        Command::Event {
            id,
            name,
            payload,
            key,
        } => event(client, (id, name), payload, key, json).await?,
        Command::Stats => {
            let reply = client.send(get(client, &["stats"])).await?;
            render(&reply.body, json, output::stats)
        }
        Command::Queues => {
            let reply = client.send(get(client, &["queues"])).await?;
            render(&reply.body, json, output::queues)
        }
        Command::Detail { id } => {
            let url = client.url(Scope::Admin, &["executions", &id, "detail"]);
            let reply = client
                .send(client.request(Scope::Admin, Method::GET, url))
                .await?;
            render(&reply.body, json, output::detail)
        }
        Command::RetryStep { id, step, action } => {
            operator::retry_step(client, &id, &step, &action).await?
        }
        Command::Restart {
            id,
            payload,
            action,
        } => operator::restart(client, &id, payload, &action).await?,
        Command::Rerun {
            id,
            rerun,
            preserve,
            action,
        } => operator::rerun(client, &id, (rerun, preserve), &action).await?,
        Command::Pause(args) => operator::pause(client, args).await?,
        Command::Pauses => operator::pauses(client).await?,
        Command::Resume { rule_id } => operator::resume(client, &rule_id).await?,
        Command::Schedule(command) => super::schedules::run(client, command).await?,
        Command::Serve(_) | Command::Migrate(_) => anyhow::bail!("not a client subcommand"),
    };
    output::emit(&text).context("writing to stdout")
}

fn get(client: &ApiClient, segments: &[&str]) -> reqwest::RequestBuilder {
    client.request(Scope::Api, Method::GET, client.url(Scope::Api, segments))
}

async fn start(
    client: &ApiClient,
    task: String,
    id: Option<String>,
    payload: Option<Value>,
    json: bool,
) -> Result<String, HttpError> {
    let mut body = json!({ "taskName": task, "payload": payload.unwrap_or(Value::Null) });
    if let Some(id) = id {
        body["executionId"] = Value::String(id);
    }
    let url = client.url(Scope::Api, &["executions"]);
    let reply = client
        .send(client.request(Scope::Api, Method::POST, url).json(&body))
        .await?;
    if json {
        let mut summary = reply.body.clone();
        if let Some(fields) = summary.as_object_mut() {
            fields.insert("accepted".into(), Value::Bool(true));
        }
        return Ok(pretty(&summary));
    }
    let what = if reply.status == StatusCode::CREATED {
        "started"
    } else {
        "already exists (same task and payload; nothing started)"
    };
    let id = output::text(&reply.body["durableExecutionId"]);
    Ok(format!("{what}: {id}\n{}", output::execution(&reply.body)))
}

async fn list(
    client: &ApiClient,
    status: Option<String>,
    task: Option<String>,
    limit: Option<u32>,
    json: bool,
) -> Result<String, HttpError> {
    let mut url = client.url(Scope::Api, &["executions"]);
    {
        let mut query = url.query_pairs_mut();
        if let Some(status) = &status {
            query.append_pair("status", status);
        }
        if let Some(task) = &task {
            query.append_pair("taskName", task);
        }
        if let Some(limit) = limit {
            query.append_pair("limit", &limit.to_string());
        }
    }
    let reply = client
        .send(client.request(Scope::Api, Method::GET, url))
        .await?;
    let items = reply
        .body
        .as_array()
        .ok_or_else(|| HttpError::BadResponse("expected a JSON array of executions".to_owned()))?;
    Ok(if json {
        pretty(&reply.body)
    } else {
        output::execution_list(items)
    })
}

/// Long-polls until the execution is terminal, in polls of at most 30 s (the
/// server's cap) until `timeout` has passed.
async fn wait(client: &ApiClient, id: &str, timeout: Duration) -> Result<Reply, HttpError> {
    // `--timeout` is any u64: saturate rather than overflow the monotonic clock.
    const FAR: Duration = Duration::from_secs(86_400 * 365 * 30);
    let deadline = Instant::now() + timeout.min(FAR);
    let mut polls = 0;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let poll = whole_seconds(remaining).min(MAX_WAIT_POLL_SECS);
        let mut url = client.url(Scope::Api, &["executions", id, "wait"]);
        url.query_pairs_mut()
            .append_pair("timeoutSecs", &poll.to_string());
        let request = client
            .request(Scope::Api, Method::GET, url)
            .timeout(Duration::from_secs(poll) + WAIT_SLACK);
        polls += 1;
        match client.send(request).await {
            Err(HttpError::Server {
                status: 504,
                message,
            }) => {
                if deadline.saturating_duration_since(Instant::now()) >= MIN_NEXT_POLL {
                    continue;
                }
                if polls == 1 {
                    return Err(HttpError::Server {
                        status: 504,
                        message,
                    });
                }
                let message = format!("{message}; gave up after {} s in all", timeout.as_secs());
                return Err(HttpError::Server {
                    status: 504,
                    message,
                });
            }
            other => return other,
        }
    }
}

/// `d` in seconds, rounded up: a poll never ends before the caller's deadline.
fn whole_seconds(d: Duration) -> u64 {
    let millis = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    millis.div_ceil(1000)
}

/// Offers the event (with `key` as its `Idempotency-Key`) and prints where it is.
async fn event(
    client: &ApiClient,
    (id, name): (String, String),
    payload: Option<Value>,
    key: Option<String>,
    json: bool,
) -> Result<String, HttpError> {
    let url = client.url(Scope::Api, &["events", &id, &name]);
    let body = payload.unwrap_or(Value::Null);
    let mut request = client.request(Scope::Api, Method::POST, url).json(&body);
    if let Some(key) = &key {
        request = request.header("Idempotency-Key", key);
    }
    let reply = client.send(request).await?;
    if json {
        let mut summary = reply.body.clone();
        if let Some(fields) = summary.as_object_mut() {
            fields.insert("accepted".into(), Value::Bool(true));
        }
        return Ok(pretty(&summary));
    }
    let sequence = &reply.body["sequence"];
    Ok(match reply.body["duplicate"].as_bool() {
        Some(true) => {
            format!("event {name:?} was already delivered to {id} (sequence {sequence})\n")
        }
        _ => format!("event {name:?} delivered to {id} (sequence {sequence})\n"),
    })
}

pub(super) fn render(body: &Value, json: bool, table: impl FnOnce(&Value) -> String) -> String {
    if json {
        pretty(body)
    } else {
        table(body)
    }
}

/// For routes without a response body: a small JSON summary with `--json`.
fn simple(json: bool, summary: Value, text: String) -> String {
    if json {
        pretty(&summary)
    } else {
        text
    }
}

pub(super) fn pretty(body: &Value) -> String {
    let mut text = serde_json::to_string_pretty(body).unwrap_or_else(|_| body.to_string());
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_polls_round_up_to_whole_seconds() {
        assert_eq!(whole_seconds(Duration::ZERO), 0);
        assert_eq!(whole_seconds(Duration::from_millis(999)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1000)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1001)), 2);
    }
}
