//! `zart schedule ...`: each subcommand is one call to a schedule admin route.

use reqwest::Method;
use serde_json::{json, Value};

use super::commands::{pretty, render};
use super::{ApiClient, HttpError, Scope};
use crate::args::{ScheduleCommand, ScheduleCreateArgs};
use crate::output;

/// Runs one `zart schedule` subcommand; returns what to print.
pub(crate) async fn run(client: &ApiClient, command: ScheduleCommand) -> Result<String, HttpError> {
    let json = client.options.json;
    Ok(match command {
        ScheduleCommand::Create(args) => {
            let body = create_body(args);
            let reply = call(client, Method::POST, &["schedules"], Some(&body)).await?;
            render(&reply, json, |s| format!("created\n{}", schedule(s)))
        }
        ScheduleCommand::List => {
            let reply = call(client, Method::GET, &["schedules"], None).await?;
            let list = reply.as_array().ok_or_else(|| {
                HttpError::BadResponse("expected a JSON array of schedules".to_owned())
            })?;
            if json {
                pretty(&reply)
            } else if list.is_empty() {
                "no schedules\n".to_owned()
            } else {
                schedule_table(list)
            }
        }
        ScheduleCommand::Get { id } => {
            let reply = call(client, Method::GET, &["schedules", &id], None).await?;
            render(&reply, json, schedule)
        }
        ScheduleCommand::Delete { id } => {
            call(client, Method::DELETE, &["schedules", &id], None).await?;
            if json {
                pretty(&json!({ "deleted": id }))
            } else {
                format!("deleted schedule {id}\n")
            }
        }
        ScheduleCommand::Pause { id } => {
            let reply = call(client, Method::POST, &["schedules", &id, "pause"], None).await?;
            render(&reply, json, |s| format!("paused\n{}", schedule(s)))
        }
        ScheduleCommand::Resume { id } => {
            let reply = call(client, Method::POST, &["schedules", &id, "resume"], None).await?;
            render(&reply, json, |s| format!("resumed\n{}", schedule(s)))
        }
        ScheduleCommand::Trigger { id } => {
            let reply = call(client, Method::POST, &["schedules", &id, "trigger"], None).await?;
            render(&reply, json, output::execution)
        }
    })
}

/// The body of `POST /schedules` from the command's flags.
fn create_body(args: ScheduleCreateArgs) -> Value {
    let mut body = json!({
        "scheduleId": args.id,
        "taskName": args.task,
        "payload": args.payload.unwrap_or(Value::Null),
        "paused": args.paused,
    });
    if let Some(cron) = args.cron {
        body["cron"] = Value::String(cron);
    }
    if let Some(zone) = args.timezone {
        body["timezone"] = Value::String(zone);
    }
    if let Some(every) = args.every {
        body["intervalSecs"] = json!(every);
    }
    for (key, value) in [("overlap", args.overlap), ("catchUp", args.catch_up)] {
        if let Some(value) = value {
            body[key] = Value::String(value);
        }
    }
    body
}

async fn call(
    client: &ApiClient,
    method: Method,
    segments: &[&str],
    body: Option<&Value>,
) -> Result<Value, HttpError> {
    let url = client.url(Scope::Admin, segments);
    let mut request = client.request(Scope::Admin, method, url);
    if let Some(body) = body {
        request = request.json(body);
    }
    Ok(client.send(request).await?.body)
}

/// One schedule, a field per line.
fn schedule(s: &Value) -> String {
    let when = match (&s["cron"], &s["intervalSecs"]) {
        (Value::String(cron), _) => format!("cron {cron} ({})", output::text(&s["timezone"])),
        (_, every) => format!("every {} s", output::text(every)),
    };
    let next: Vec<String> = s["nextFireTimes"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(output::text)
        .collect();
    format!(
        "schedule   {}\ntask       {}\nwhen       {when}\noverlap    {}\ncatch-up   {}\n\
         paused     {}\nnext       {}\nlast fired {} ({})\n",
        output::text(&s["scheduleId"]),
        output::text(&s["taskName"]),
        output::text(&s["overlap"]),
        output::text(&s["catchUp"]),
        output::text(&s["paused"]),
        if next.is_empty() {
            "-".to_owned()
        } else {
            next.join(", ")
        },
        output::text(&s["lastFiredAt"]),
        output::text(&s["lastExecutionId"]),
    )
}

fn schedule_table(list: &[Value]) -> String {
    let rows = list
        .iter()
        .map(|s| {
            let when = match &s["cron"] {
                Value::String(cron) => cron.clone(),
                _ => format!("every {}s", output::text(&s["intervalSecs"])),
            };
            vec![
                output::text(&s["scheduleId"]),
                output::text(&s["taskName"]),
                when,
                output::text(&s["paused"]),
                output::text(&s["nextFireTimes"][0]),
                output::text(&s["lastExecutionId"]),
            ]
        })
        .collect::<Vec<_>>();
    output::table(
        &["SCHEDULE", "TASK", "WHEN", "PAUSED", "NEXT", "LAST"],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(cron: Option<&str>, every: Option<u64>) -> ScheduleCreateArgs {
        ScheduleCreateArgs {
            id: "nightly".into(),
            task: "echo".into(),
            cron: cron.map(str::to_owned),
            timezone: cron.map(|_| "Europe/Berlin".to_owned()),
            every,
            payload: Some(json!({"a": 1})),
            overlap: Some("buffer_one".into()),
            catch_up: None,
            paused: false,
        }
    }

    #[test]
    fn the_create_body_spells_the_api_fields() {
        let body = create_body(args(Some("0 3 * * *"), None));
        assert_eq!(
            body,
            json!({"scheduleId": "nightly", "taskName": "echo", "payload": {"a": 1},
                   "paused": false, "cron": "0 3 * * *", "timezone": "Europe/Berlin",
                   "overlap": "buffer_one"})
        );
        let body = create_body(args(None, Some(90)));
        assert_eq!(body["intervalSecs"], 90);
        assert!(body.get("cron").is_none());
    }

    #[test]
    fn a_schedule_prints_its_timing_and_next_fire_times() {
        let s = json!({"scheduleId": "h", "taskName": "heartbeat", "cron": "* * * * *",
            "timezone": "UTC", "overlap": "skip", "catchUp": "skip_missed", "paused": false,
            "nextFireTimes": ["2026-01-01T00:01:00Z"], "lastFiredAt": null,
            "lastExecutionId": null});
        let out = schedule(&s);
        assert!(out.contains("cron * * * * * (UTC)"), "{out}");
        assert!(out.contains("next       2026-01-01T00:01:00Z"), "{out}");
    }
}
