//! The operator subcommands: retry a dead step, restart, rerun, and pause rules. Each
//! is one call to an admin route.

use reqwest::Method;
use serde_json::{json, Value};

use super::commands::{pretty, render};
use super::{ApiClient, HttpError, Scope};
use crate::args::{ActionArgs, PauseArgs};
use crate::output;

/// Recorded as who acted when `--by` is not given.
const TRIGGERED_BY: &str = "cli";

/// POSTs `body` to the admin route `segments`, with the action's idempotency key.
async fn post(
    client: &ApiClient,
    segments: &[&str],
    body: &Value,
    key: Option<&str>,
) -> Result<Value, HttpError> {
    let url = client.url(Scope::Admin, segments);
    let mut request = client.request(Scope::Admin, Method::POST, url).json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    Ok(client.send(request).await?.body)
}

fn by(action: &ActionArgs) -> String {
    action.by.clone().unwrap_or_else(|| TRIGGERED_BY.to_owned())
}

/// `zart retry-step ID STEP`.
pub(crate) async fn retry_step(
    client: &ApiClient,
    id: &str,
    step: &str,
    action: &ActionArgs,
) -> Result<String, HttpError> {
    let body = json!({ "stepName": step, "triggeredBy": by(action) });
    let reply = post(
        client,
        &["executions", id, "retry-step"],
        &body,
        action.key.as_deref(),
    )
    .await?;
    Ok(render(&reply, client.options.json, |r| {
        format!(
            "retrying step {step} of {id} with a fresh attempt budget (action {})\n",
            output::text(&r["newTaskId"])
        )
    }))
}

/// `zart restart ID [--payload JSON]`.
pub(crate) async fn restart(
    client: &ApiClient,
    id: &str,
    payload: Option<Value>,
    action: &ActionArgs,
) -> Result<String, HttpError> {
    let mut body = json!({ "triggeredBy": by(action) });
    if let Some(payload) = payload {
        body["payload"] = payload;
    }
    let reply = post(
        client,
        &["executions", id, "restart"],
        &body,
        action.key.as_deref(),
    )
    .await?;
    Ok(render(&reply, client.options.json, |r| {
        format!(
            "restarted {id}: run {} ({})\n",
            output::text(&r["runIndex"]),
            output::text(&r["newRunId"])
        )
    }))
}

/// `zart rerun ID --rerun a,b [--preserve c]`.
pub(crate) async fn rerun(
    client: &ApiClient,
    id: &str,
    (rerun, preserve): (Vec<String>, Vec<String>),
    action: &ActionArgs,
) -> Result<String, HttpError> {
    let body = json!({ "rerunSteps": rerun, "preserveSteps": preserve, "triggeredBy": by(action) });
    let reply = post(
        client,
        &["executions", id, "rerun"],
        &body,
        action.key.as_deref(),
    )
    .await?;
    Ok(render(&reply, client.options.json, |r| rerun_text(id, r)))
}

fn rerun_text(id: &str, r: &Value) -> String {
    let names = |v: &Value| -> String {
        let list: Vec<String> = v
            .as_array()
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .map(output::text)
            .collect();
        if list.is_empty() {
            "-".to_owned()
        } else {
            list.join(", ")
        }
    };
    let mut out = format!(
        "rerunning {id}: run {}; running again: {}\n",
        output::text(&r["newRunNumber"]),
        names(&r["effectiveRerun"])
    );
    for stale in r["potentiallyStale"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
    {
        out.push_str(&format!(
            "warning: {} keeps its recorded result but ran after {}, whose old output it may have used\n",
            output::text(&stale["preservedStep"]),
            names(&stale["possiblyDependsOn"])
        ));
    }
    out
}

/// `zart pause [--execution ID] [--task NAME] [--step GLOB] [--for 1h] [--reason ..]`.
pub(crate) async fn pause(client: &ApiClient, args: PauseArgs) -> Result<String, HttpError> {
    let mut body = json!({ "triggeredBy": args.by.unwrap_or_else(|| TRIGGERED_BY.to_owned()) });
    for (key, value) in [
        ("executionId", args.execution),
        ("taskName", args.task),
        ("stepPattern", args.step),
        ("reason", args.reason),
    ] {
        if let Some(value) = value {
            body[key] = Value::String(value);
        }
    }
    if let Some(duration) = args.duration {
        let expires_at = chrono::Duration::from_std(duration)
            .ok()
            .and_then(|d| chrono::Utc::now().checked_add_signed(d))
            .ok_or_else(|| HttpError::BadResponse("--for is too long".to_owned()))?;
        body["expiresAt"] = Value::String(expires_at.to_rfc3339());
    }
    let rule = post(client, &["pause"], &body, None).await?;
    Ok(render(&rule, client.options.json, |r| {
        format!(
            "paused: rule {}\n{}",
            output::text(&r["ruleId"]),
            pause_rules(std::slice::from_ref(r))
        )
    }))
}

/// `zart pauses`.
pub(crate) async fn pauses(client: &ApiClient) -> Result<String, HttpError> {
    let url = client.url(Scope::Admin, &["pause"]);
    let reply = client
        .send(client.request(Scope::Admin, Method::GET, url))
        .await?;
    let rules = reply
        .body
        .as_array()
        .ok_or_else(|| HttpError::BadResponse("expected a JSON array of pause rules".to_owned()))?;
    Ok(if client.options.json {
        pretty(&reply.body)
    } else if rules.is_empty() {
        "no active pause rules\n".to_owned()
    } else {
        pause_rules(rules)
    })
}

/// `zart resume RULE_ID`.
pub(crate) async fn resume(client: &ApiClient, rule_id: &str) -> Result<String, HttpError> {
    let reply = post(client, &["pause", rule_id], &Value::Null, None).await?;
    Ok(render(&reply, client.options.json, |r| {
        match r["rulesDeleted"].as_u64() {
            Some(0) => format!("rule {rule_id} was already deleted; nothing changed\n"),
            _ => format!("resumed: rule {rule_id} deleted; the executions it held continue\n"),
        }
    }))
}

fn pause_rules(rules: &[Value]) -> String {
    let rows = rules
        .iter()
        .map(|r| {
            [
                "ruleId",
                "executionId",
                "taskName",
                "stepPattern",
                "expiresAt",
                "createdBy",
                "reason",
            ]
            .iter()
            .map(|k| output::text(&r[*k]))
            .collect()
        })
        .collect::<Vec<_>>();
    output::table(
        &[
            "RULE",
            "EXECUTION",
            "TASK",
            "STEP",
            "EXPIRES",
            "BY",
            "REASON",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rerun_text_names_the_steps_and_warns_about_stale_ones() {
        let reply = json!({
            "newRunNumber": 2,
            "effectiveRerun": ["charge"],
            "potentiallyStale": [{"preservedStep": "ship", "possiblyDependsOn": ["charge"]}]
        });
        let out = rerun_text("o-1", &reply);
        assert!(out.contains("run 2; running again: charge"), "{out}");
        assert!(
            out.contains("warning: ship keeps its recorded result but ran after charge"),
            "{out}"
        );
        let quiet = rerun_text("o-1", &json!({"newRunNumber": 3, "effectiveRerun": []}));
        assert!(!quiet.contains("warning"), "{quiet}");
        assert!(quiet.contains("running again: -"), "{quiet}");
    }
}
