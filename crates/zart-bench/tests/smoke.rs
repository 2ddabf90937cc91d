//! Runs the real binary on quick throughput, flow and schedules scenarios and checks the
//! JSON it prints: every contract key present, every number in range.

use std::process::Command;

use serde_json::Value;

use zart_bench::report::{FLOW_KEYS, HTTP_KEYS, THROUGHPUT_KEYS};

fn run_json(args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_zart-bench"))
        .args(args)
        .arg("--json")
        .output()
        .expect("the benchmark binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "failed: {stderr}");
    assert_eq!(
        stdout.lines().count(),
        1,
        "one JSON line expected: {stdout}"
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

fn assert_throughput_report(report: &Value, backend: &str, executions: u64) {
    assert_eq!(report["backend"], backend, "{report}");
    assert_eq!(report["executions"], executions, "{report}");
    for key in THROUGHPUT_KEYS {
        let value = report[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} missing or not a number in {report}"));
        assert!(value > 0.0, "{key} = {value} in {report}");
    }
    let ratio = report["steps_per_sec"].as_f64().unwrap()
        / report["baseline_commits_per_sec"].as_f64().unwrap();
    let reported = report["steps_per_baseline_commit"].as_f64().unwrap();
    assert!((ratio - reported).abs() < 1e-6 * ratio.max(1.0), "{report}");
}

#[test]
fn throughput_on_sqlite_reports_every_key_positive() {
    let report = run_json(&[
        "--scenario",
        "throughput",
        "--backend",
        "sqlite",
        "--executions",
        "50",
        "--concurrency",
        "8",
        "--baseline-secs",
        "0.4",
    ]);
    assert_throughput_report(&report, "sqlite", 50);
    assert_eq!(report["steps_per_execution"], 3);
}

#[test]
fn schedules_on_sqlite_reports_the_lateness_of_each_measured_firing() {
    let report = run_json(&["--scenario", "schedules", "--samples", "3"]);
    assert_eq!(report["backend"], "sqlite", "{report}");
    assert_eq!(report["firings"], 3, "{report}");
    assert_eq!(report["interval_secs"], 1, "{report}");
    for key in ["schedule_lateness_ms", "creation_lateness_ms"] {
        let (p50, p99, max) = (
            report[key]["p50"].as_f64(),
            report[key]["p99"].as_f64(),
            report[key]["max"].as_f64(),
        );
        let (Some(p50), Some(p99), Some(max)) = (p50, p99, max) else {
            panic!("{key} lacks p50, p99 or max in {report}");
        };
        // A firing is never recorded before its slot, and is far from a slot late.
        assert!(0.0 <= p50 && p50 <= p99 && p99 <= max, "{key} in {report}");
        assert!(max < 1000.0, "{key} in {report}");
    }
}

#[test]
fn throughput_on_postgres_reports_every_key_positive() {
    let Some(url) = zart_store_tests::postgres::database_url() else {
        return;
    };
    let report = run_json(&[
        "--backend",
        "postgres",
        "--db",
        &url,
        "--executions",
        "30",
        "--concurrency",
        "8",
        "--baseline-secs",
        "0.4",
    ]);
    assert_throughput_report(&report, "postgres", 30);
}

#[test]
fn concurrent_http_on_sqlite_reports_throughput_latency_and_the_direct_figure() {
    let report = run_json(&[
        "--scenario",
        "http",
        "--http-clients",
        "4",
        "--samples",
        "40",
        "--concurrency",
        "8",
    ]);
    assert_eq!(report["backend"], "sqlite", "{report}");
    assert_eq!(report["http_clients"], 4, "{report}");
    assert_eq!(report["samples"], 40, "{report}");
    for key in HTTP_KEYS {
        assert!(!report[key].is_null(), "{key} missing from {report}");
    }
    for key in [
        "http_starts_per_sec",
        "direct_starts_per_sec",
        "http_to_direct_ratio",
    ] {
        let value = report[key].as_f64().unwrap_or_default();
        assert!(value > 0.0, "{key} in {report}");
    }
    let ratio = report["http_starts_per_sec"].as_f64().unwrap()
        / report["direct_starts_per_sec"].as_f64().unwrap();
    let reported = report["http_to_direct_ratio"].as_f64().unwrap();
    assert!((ratio - reported).abs() < 1e-6 * ratio.max(1.0), "{report}");
    for key in ["http_start_ms", "direct_start_ms"] {
        let (p50, p99) = (report[key]["p50"].as_f64(), report[key]["p99"].as_f64());
        let (Some(p50), Some(p99)) = (p50, p99) else {
            panic!("{key} lacks p50 or p99 in {report}");
        };
        assert!(0.0 < p50 && p50 <= p99, "{key} in {report}");
    }
}

#[test]
fn scaleout_on_postgres_runs_one_worker_process_then_several() {
    let Some(url) = zart_store_tests::postgres::database_url() else {
        return;
    };
    let report = run_json(&[
        "--scenario",
        "scaleout",
        "--backend",
        "postgres",
        "--db",
        &url,
        "--executions",
        "30",
        "--concurrency",
        "8",
        "--pool-size",
        "4",
        "--processes",
        "2",
    ]);
    assert_eq!(report["backend"], "postgres", "{report}");
    assert_eq!(report["executions"], 30, "{report}");
    assert_eq!(report["single"]["processes"], 1, "{report}");
    assert_eq!(report["multi"]["processes"], 2, "{report}");
    for run in ["single", "multi"] {
        let per_sec = report[run]["executions_per_sec"]
            .as_f64()
            .unwrap_or_default();
        assert!(per_sec > 0.0, "{run} in {report}");
        assert!(
            report[run]["activity_samples"].as_u64().is_some(),
            "{run} in {report}"
        );
        assert!(
            report[run]["claim_lock_wait_samples"].as_u64().is_some(),
            "{run} in {report}"
        );
    }
    let ratio = report["multi"]["executions_per_sec"].as_f64().unwrap()
        / report["single"]["executions_per_sec"].as_f64().unwrap();
    let reported = report["scaleout_ratio"].as_f64().unwrap();
    assert!((ratio - reported).abs() < 1e-6 * ratio.max(1.0), "{report}");
}

#[test]
fn scaleout_on_sqlite_is_refused_with_a_reason() {
    let output = Command::new(env!("CARGO_BIN_EXE_zart-bench"))
        .args(["--scenario", "scaleout", "--json"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("needs --backend postgres"), "{stderr}");
}

#[test]
fn an_existing_sqlite_file_is_refused_rather_than_reused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("taken.db");
    std::fs::write(&path, b"").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_zart-bench"))
        .args(["--db", &format!("sqlite://{}", path.display()), "--json"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("fresh database"), "{stderr}");
}

/// The flow scenario's contract keys, and its cost ratio consistent with the rates.
fn assert_flow_report(report: &Value, backend: &str) {
    assert_eq!(report["backend"], backend, "{report}");
    assert_eq!(report["executions"], 40, "{report}");
    let number = |key: &str| {
        report[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} missing or not a number in {report}"))
    };
    for key in FLOW_KEYS {
        number(key);
    }
    let (plain, flow) = (
        number("plain_executions_per_sec"),
        number("flow_executions_per_sec"),
    );
    assert!(plain > 0.0 && flow > 0.0, "{report}");
    let cost = 1.0 - flow / plain;
    assert!((cost - number("flow_cost_ratio")).abs() < 1e-9, "{report}");
}

#[test]
fn flow_on_sqlite_reports_both_rates_and_the_cost() {
    let report = run_json(&[
        "--scenario",
        "flow",
        "--executions",
        "40",
        "--concurrency",
        "8",
    ]);
    assert_flow_report(&report, "sqlite");
}

#[test]
fn flow_on_postgres_reports_both_rates_and_the_cost() {
    let Some(url) = zart_store_tests::postgres::database_url() else {
        return;
    };
    let report = run_json(&[
        "--backend",
        "postgres",
        "--db",
        &url,
        "--scenario",
        "flow",
        "--executions",
        "40",
        "--concurrency",
        "8",
    ]);
    assert_flow_report(&report, "postgres");
}
