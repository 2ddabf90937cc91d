//! Readable renderings of the server's JSON: key/value blocks and aligned tables.
//!
//! They read fields by name from the JSON rather than from typed records, so a server
//! that adds fields (which the contract allows) or omits an optional one still prints.

use std::io::Write;

use serde_json::Value;

/// Writes `text` to stdout. A reader that went away (`zart list | head -1`) is not an
/// error: the output is simply no longer wanted.
pub(crate) fn emit(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// One execution as a key/value block.
pub(crate) fn execution(e: &Value) -> String {
    let mut rows = vec![
        ("id", text(&e["durableExecutionId"])),
        ("task", text(&e["name"])),
        ("status", text(&e["status"])),
    ];
    if !e["runIndex"].is_null() {
        rows.push(("run", text(&e["runIndex"])));
    }
    rows.push(("scheduled", text(&e["scheduledAt"])));
    for (label, key) in [("started", "startedAt"), ("completed", "completedAt")] {
        if !e[key].is_null() {
            rows.push((label, text(&e[key])));
        }
    }
    if !e["waitingFor"].is_null() {
        rows.push(("waiting for", waiting_for(&e["waitingFor"])));
    }
    rows.push(("payload", text(&e["payload"])));
    if !e["result"].is_null() {
        rows.push(("result", text(&e["result"])));
    }
    if !e["error"].is_null() {
        rows.push(("error", error(&e["error"])));
    }
    key_values(&rows)
}

/// A list of executions as a table.
pub(crate) fn execution_list(list: &[Value]) -> String {
    if list.is_empty() {
        return "no executions\n".to_owned();
    }
    let rows = list
        .iter()
        .map(|e| {
            let cells = [
                "durableExecutionId",
                "name",
                "status",
                "scheduledAt",
                "completedAt",
            ];
            cells.iter().map(|key| text(&e[*key])).collect()
        })
        .collect::<Vec<_>>();
    table(&["ID", "TASK", "STATUS", "SCHEDULED", "COMPLETED"], &rows)
}

/// Counts by status as a table.
pub(crate) fn stats(stats: &Value) -> String {
    let statuses = ["scheduled", "running", "completed", "failed", "cancelled"];
    let rows = statuses
        .iter()
        .map(|s| vec![(*s).to_owned(), text(&stats[*s])])
        .collect::<Vec<_>>();
    table(&["STATUS", "COUNT"], &rows)
}

/// The named queues, one row each (`-` for no limit; a rate as `20/1s`).
pub(crate) fn queues(queues: &Value) -> String {
    let limit = |v: &Value| if v.is_null() { "-".to_owned() } else { text(v) };
    let rate = |q: &Value| match (q["rateLimit"].as_u64(), q["ratePeriodMs"].as_u64()) {
        (Some(n), Some(ms)) if ms % 1000 == 0 => format!("{n}/{}s", ms / 1000),
        (Some(n), Some(ms)) => format!("{n}/{ms}ms"),
        _ => "-".to_owned(),
    };
    let rows = as_list(queues)
        .iter()
        .map(|q| {
            vec![
                text(&q["name"]),
                limit(&q["concurrency"]),
                limit(&q["perWorker"]),
                limit(&q["keyConcurrency"]),
                rate(q),
                text(&q["depth"]),
                text(&q["running"]),
            ]
        })
        .collect::<Vec<_>>();
    table(
        &[
            "QUEUE",
            "CONCURRENCY",
            "PER WORKER",
            "PER KEY",
            "RATE",
            "DEPTH",
            "RUNNING",
        ],
        &rows,
    )
}

/// An execution with its runs and the selected run's steps.
pub(crate) fn detail(detail: &Value) -> String {
    let mut out = execution(&detail["execution"]);
    let runs = as_list(&detail["runs"]);
    if !runs.is_empty() {
        let rows = runs
            .iter()
            .map(|r| {
                [
                    "runIndex",
                    "status",
                    "trigger",
                    "triggeredBy",
                    "startedAt",
                    "completedAt",
                ]
                .iter()
                .map(|k| text(&r[*k]))
                .collect()
            })
            .collect::<Vec<_>>();
        out.push_str("\nruns:\n");
        out.push_str(&table(
            &["RUN", "STATUS", "TRIGGER", "BY", "STARTED", "COMPLETED"],
            &rows,
        ));
    }
    let actions = as_list(&detail["actions"]);
    if !actions.is_empty() {
        let rows = actions
            .iter()
            .map(|a| {
                ["triggeredAt", "kind", "runIndex", "stepName", "triggeredBy"]
                    .iter()
                    .map(|k| text(&a[*k]))
                    .collect()
            })
            .collect::<Vec<_>>();
        out.push_str("\nactions:\n");
        out.push_str(&table(&["AT", "ACTION", "RUN", "STEP", "BY"], &rows));
    }
    let steps = as_list(&detail["steps"]);
    out.push_str("\nsteps:\n");
    if steps.is_empty() {
        out.push_str("no steps yet\n");
        return out;
    }
    let rows = steps.iter().map(step_row).collect::<Vec<_>>();
    out.push_str(&table(
        &["STEP", "KIND", "STATUS", "ATTEMPTS", "OUTCOME"],
        &rows,
    ));
    out
}

fn step_row(step: &Value) -> Vec<String> {
    let attempts = match step["attempts"].as_array() {
        Some(list) if !list.is_empty() => list.len().to_string(),
        _ => text(&step["retryAttempt"]),
    };
    let outcome = if !step["result"].is_null() {
        text(&step["result"])
    } else {
        text(&step["lastError"])
    };
    vec![
        text(&step["stepId"]),
        text(&step["kind"]),
        text(&step["status"]),
        attempts,
        outcome,
    ]
}

/// What a blocked execution waits for, in words.
fn waiting_for(w: &Value) -> String {
    match w["kind"].as_str() {
        Some("timer") => format!("timer {} until {}", text(&w["step"]), text(&w["dueAt"])),
        Some("event") if w["deadline"].is_null() => format!("event {}", text(&w["name"])),
        Some("event") => format!("event {} until {}", text(&w["name"]), text(&w["deadline"])),
        Some("child") => format!("child execution {}", text(&w["executionId"])),
        Some("retry") => format!(
            "retry of {} (attempt {}) at {}",
            text(&w["step"]),
            text(&w["attempt"]),
            text(&w["retryAt"])
        ),
        Some("pause") if w["expiresAt"].is_null() => format!("pause rule {}", text(&w["ruleId"])),
        Some("pause") => format!(
            "pause rule {} (expires {})",
            text(&w["ruleId"]),
            text(&w["expiresAt"])
        ),
        Some("lease") => format!(
            "worker {} (since {})",
            text(&w["workerId"]),
            text(&w["since"])
        ),
        _ => text(w),
    }
}

fn error(e: &Value) -> String {
    let mut out = text(&e["message"]);
    if e["message"].is_null() {
        return text(e);
    }
    if let Some(kind) = e["kind"].as_str() {
        out = format!("[{kind}] {out}");
    }
    out
}

fn as_list(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

/// A JSON value as one line: strings bare, `null` as `-`, anything else compact JSON.
pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn key_values(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    rows.iter()
        .map(|(k, v)| format!("{:<width$} {v}\n", format!("{k}:")))
        .collect()
}

/// Left-aligned columns separated by two spaces, with a header row.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    std::iter::once(&header)
        .chain(rows)
        .map(|row| line(row, &widths))
        .collect()
}

fn line(cells: &[String], widths: &[usize]) -> String {
    let padded: Vec<String> = cells
        .iter()
        .zip(widths)
        .map(|(cell, width)| format!("{cell:<width$}"))
        .collect();
    format!("{}\n", padded.join("  ").trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_aligns_columns_under_their_headers() {
        let rows = vec![
            vec!["a-long-id".to_owned(), "x".to_owned()],
            vec!["b".to_owned(), "yy".to_owned()],
        ];
        let out = table(&["ID", "V"], &rows);
        assert_eq!(out, "ID         V\na-long-id  x\nb          yy\n");
    }

    #[test]
    fn execution_block_shows_what_a_blocked_execution_waits_for() {
        let e = json!({
            "durableExecutionId": "o-1", "name": "order-fulfillment", "status": "running",
            "scheduledAt": "2024-01-01T00:00:00Z", "payload": {"orderId": "o-1"},
            "waitingFor": {"kind": "event", "name": "shipment_ready", "deadline": "2024-01-01T01:00:00Z"}
        });
        let out = execution(&e);
        assert!(
            out.contains("event shipment_ready until 2024-01-01T01:00:00Z"),
            "{out}"
        );
        assert!(out.contains("status:"), "{out}");
        assert!(!out.contains("result:"), "{out}");
    }

    #[test]
    fn failed_execution_shows_its_error_kind_and_message() {
        let e = json!({"status": "failed", "error": {"kind": "step_failed", "message": "boom"}});
        assert!(execution(&e).contains("[step_failed] boom"));
    }
}
