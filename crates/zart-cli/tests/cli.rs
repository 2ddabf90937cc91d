//! The `zart` client subcommands against a running `zart serve`: exit codes, readable
//! output, `--json` output that parses, and one-line errors.

mod common;

use std::process::Output;
use std::time::Duration;

use common::run::{failed, ok, ok_json, stderr, stdout, zart};
use common::{temp_db, zart_command, Server, ServerOptions};

/// For `serve` and `migrate`, which log to stderr: exit code 1 and the last stderr
/// line is the one `error: ...` line; returns it.
fn failed_after_logs(out: &Output) -> String {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {}\nstderr: {err}",
        stdout(out)
    );
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert_eq!(err.trim_end().lines().last(), Some(errors[0]), "{err}");
    errors[0].to_owned()
}

#[tokio::test]
async fn start_get_wait_list_stats_and_detail_print_tables_and_json() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;

    let start_echo = [
        "start",
        "echo",
        "--id",
        "cli-echo",
        "--payload",
        r#"{"a":1}"#,
    ];
    let started = ok(&zart(&server, &start_echo).await);
    assert!(started.contains("started: cli-echo"), "{started}");
    let replay = ok(&zart(&server, &start_echo).await);
    assert!(replay.contains("already exists"), "{replay}");
    let json = ok_json(&zart(&server, &[&start_echo[..], &["--json"]].concat()).await);
    assert_eq!(json["durableExecutionId"], "cli-echo");

    let waited = ok_json(&zart(&server, &["wait", "cli-echo", "--timeout", "20", "--json"]).await);
    assert_eq!(waited["status"], "completed", "{waited}");
    assert_eq!(waited["result"]["a"], 1, "{waited}");
    let shown = ok(&zart(&server, &["get", "cli-echo"]).await);
    assert!(
        shown.contains("completed") && shown.contains(r#"{"a":1}"#),
        "{shown}"
    );
    let got = ok_json(&zart(&server, &["get", "cli-echo", "--json"]).await);
    assert_eq!(got["name"], "echo");

    let listed = ok(&zart(
        &server,
        &[
            "list",
            "--task",
            "echo",
            "--status",
            "completed",
            "--limit",
            "5",
        ],
    )
    .await);
    assert!(listed.starts_with("ID"), "{listed}");
    assert!(listed.contains("cli-echo"), "{listed}");
    let list_json = ok_json(&zart(&server, &["list", "--limit", "5", "--json"]).await);
    assert_eq!(list_json.as_array().map(Vec::len), Some(1), "{list_json}");

    let stats = ok(&zart(&server, &["stats"]).await);
    assert!(
        stats.contains("completed") && stats.contains('1'),
        "{stats}"
    );
    let stats_json = ok_json(&zart(&server, &["stats", "--json"]).await);
    assert_eq!(stats_json["completed"], 1, "{stats_json}");

    // The demo server declares no named queue: a header and no rows.
    let queues = ok(&zart(&server, &["queues"]).await);
    assert!(queues.starts_with("QUEUE"), "{queues}");
    let queues_json = ok_json(&zart(&server, &["queues", "--json"]).await);
    assert_eq!(queues_json, serde_json::json!([]), "{queues_json}");

    let detail = ok(&zart(&server, &["detail", "cli-echo"]).await);
    assert!(
        detail.contains("steps:") && detail.contains("echo#0"),
        "{detail}"
    );
    let detail_json = ok_json(&zart(&server, &["detail", "cli-echo", "--json"]).await);
    assert_eq!(detail_json["steps"][0]["name"], "echo", "{detail_json}");
}

#[tokio::test]
async fn event_delivers_a_decision_and_cancel_stops_an_execution() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;

    ok(&zart(&server, &["start", "approval", "--id", "cli-approve"]).await);
    let payload = r#"{"approved":true,"by":"bo"}"#;
    let sent = ok(&zart(
        &server,
        &["event", "cli-approve", "decision", "--payload", payload],
    )
    .await);
    assert!(sent.contains("delivered"), "{sent}");
    let done = ok_json(&zart(&server, &["wait", "cli-approve", "--json"]).await);
    assert_eq!(
        done["result"],
        serde_json::json!({"approved": true, "by": "bo"}),
        "{done}"
    );
    let late = failed(&zart(&server, &["event", "cli-approve", "decision"]).await);
    assert!(late.contains("409"), "{late}");

    ok(&zart(
        &server,
        &["start", "approval", "--id", "cli-approve-2", "--json"],
    )
    .await);
    let sent_json = ok_json(
        &zart(
            &server,
            &[
                "event",
                "cli-approve-2",
                "decision",
                "--payload",
                payload,
                "--json",
            ],
        )
        .await,
    );
    assert_eq!(sent_json["accepted"], true, "{sent_json}");
    assert_eq!(sent_json["duplicate"], false, "{sent_json}");

    ok(&zart(&server, &["start", "approval", "--id", "cli-approve-3"]).await);
    let keyed = ["event", "cli-approve-3", "decision", "--payload", payload];
    let keyed = [&keyed[..], &["--id", "decision-1", "--json"]].concat();
    let first = ok_json(&zart(&server, &keyed).await);
    assert_eq!(first["duplicate"], false, "{first}");
    let retry = ok_json(&zart(&server, &keyed).await);
    assert_eq!(retry["duplicate"], true, "{retry}");
    assert_eq!(retry["sequence"], first["sequence"], "{retry}");

    let countdown = r#"{"steps":500,"stepMs":50}"#;
    ok(&zart(
        &server,
        &[
            "start",
            "countdown",
            "--id",
            "cli-count",
            "--payload",
            countdown,
        ],
    )
    .await);
    let cancelled = ok(&zart(&server, &["cancel", "cli-count"]).await);
    assert!(cancelled.contains("cancelled cli-count"), "{cancelled}");
    let again = failed(&zart(&server, &["cancel", "cli-count"]).await);
    assert!(again.contains("409"), "{again}");
    let shown = ok_json(&zart(&server, &["get", "cli-count", "--json"]).await);
    assert_eq!(shown["status"], "cancelled", "{shown}");
}

#[tokio::test]
async fn wait_that_times_out_fails_with_the_servers_message() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    ok(&zart(&server, &["start", "approval", "--id", "cli-slow"]).await);
    let started = std::time::Instant::now();
    let err = failed(&zart(&server, &["wait", "cli-slow", "--timeout", "1"]).await);
    assert!(err.contains("504") && err.contains("cli-slow"), "{err}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "gave up after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn server_errors_are_one_line_with_exit_code_1() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;

    let missing = failed(&zart(&server, &["get", "no-such-execution"]).await);
    assert!(
        missing.contains("not found") && missing.contains("404"),
        "{missing}"
    );
    let unknown = failed(&zart(&server, &["start", "no-such-task"]).await);
    assert!(unknown.contains("422"), "{unknown}");
    let bad_filter = failed(&zart(&server, &["list", "--status", "sleeping"]).await);
    assert!(bad_filter.contains("400"), "{bad_filter}");
}

#[tokio::test]
async fn usage_errors_exit_with_2() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    let no_task = zart(&server, &["start"]).await;
    assert_eq!(no_task.status.code(), Some(2), "{}", stderr(&no_task));
    let bad_json = zart(&server, &["start", "echo", "--payload", "{oops"]).await;
    assert_eq!(bad_json.status.code(), Some(2), "{}", stderr(&bad_json));
    assert!(
        stderr(&bad_json).contains("not valid JSON"),
        "{}",
        stderr(&bad_json)
    );
    // `0` and `off` disable retention; anything else that is not a number is a mistake.
    let bad_retention = zart_command()
        .args([
            "serve",
            "--retention-hours",
            "soon",
            "--bind",
            "127.0.0.1:0",
        ])
        .output()
        .await
        .expect("run zart");
    assert_eq!(bad_retention.status.code(), Some(2));
    assert!(stderr(&bad_retention).contains("retention-hours"));
}

#[tokio::test]
async fn unreachable_server_is_a_one_line_error() {
    let out = zart_command()
        .args(["stats", "--server", "http://127.0.0.1:9"])
        .output()
        .await
        .expect("run zart");
    let err = failed(&out);
    assert!(err.contains("cannot reach the Zart server"), "{err}");
}

#[tokio::test]
async fn tokens_come_from_flags_or_the_environment() {
    let (_dir, db) = temp_db();
    let options = ServerOptions::default()
        .env("ZART_API_TOKEN", "tok-api")
        .env("ZART_ADMIN_TOKEN", "tok-admin");
    let server = Server::start(&db, options).await;

    let refused = failed(&zart(&server, &["stats"]).await);
    assert!(refused.contains("401"), "{refused}");
    ok(&zart(
        &server,
        &["start", "echo", "--id", "cli-tok", "--token", "tok-api"],
    )
    .await);
    let from_env = zart_command()
        .args(["wait", "cli-tok", "--json", "--server", &server.base])
        .env("ZART_API_TOKEN", "tok-api")
        .output()
        .await
        .expect("run zart");
    assert_eq!(ok_json(&from_env)["status"], "completed");

    let admin_refused = failed(&zart(&server, &["detail", "cli-tok", "--token", "tok-api"]).await);
    assert!(admin_refused.contains("401"), "{admin_refused}");
    let args = [
        "detail",
        "cli-tok",
        "--token",
        "tok-api",
        "--admin-token",
        "tok-admin",
        "--json",
    ];
    assert_eq!(
        ok_json(&zart(&server, &args).await)["execution"]["durableExecutionId"],
        "cli-tok"
    );
}

#[tokio::test]
async fn migrate_creates_then_reopens_a_database() {
    let (_dir, db) = temp_db();
    let url = format!("sqlite://{}", db.display());
    let first = zart_command()
        .args(["migrate", "--db", &url])
        .output()
        .await
        .expect("run zart");
    let text = ok(&first);
    assert!(text.contains("created sqlite database"), "{text}");
    assert!(text.contains("schema is up to date"), "{text}");
    assert_lists_every_migration(&text);
    assert!(db.exists());
    let second = zart_command()
        .args(["migrate", "--db", &url])
        .output()
        .await
        .expect("run zart");
    let text = ok(&second);
    assert!(text.contains("opened sqlite database"), "{text}");
    assert_lists_every_migration(&text);

    let bad = zart_command()
        .args(["migrate", "--db", "mysql://x"])
        .output()
        .await
        .expect("run zart");
    let err = failed_after_logs(&bad);
    assert!(err.contains("mysql://x"), "{err}");
}

/// `zart migrate` printed one line per migration of this build, in order, each with
/// its version and name.
fn assert_lists_every_migration(text: &str) {
    let versions: Vec<String> = zart::core::SCHEMA_MIGRATIONS
        .iter()
        .map(|m| m.version.to_string())
        .collect();
    let summary = format!("migrations {} applied", versions.join(", "));
    assert!(text.contains(&summary), "{text}");
    let listed: Vec<(&str, &str)> = text
        .lines()
        .filter(|line| line.starts_with("  ") && line.contains(" applied "))
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some((words.next()?, words.next()?))
        })
        .collect();
    let expected: Vec<(String, &str)> = zart::core::SCHEMA_MIGRATIONS
        .iter()
        .map(|m| (m.version.to_string(), m.name))
        .collect();
    let expected: Vec<(&str, &str)> = expected.iter().map(|(v, n)| (v.as_str(), *n)).collect();
    assert_eq!(listed, expected, "{text}");
}

#[tokio::test]
async fn serve_on_an_address_in_use_fails_with_one_line() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let (_other_dir, other_db) = temp_db();
    let url = format!("sqlite://{}", other_db.display());
    let mut run = zart_command();
    run.args(["serve", "--db", &url, "--bind", &addr]);
    let out = tokio::time::timeout(Duration::from_secs(20), run.output())
        .await
        .expect("zart serve gives up at once")
        .expect("run zart");
    let err = failed_after_logs(&out);
    assert!(err.contains(&addr), "{err}");
}
