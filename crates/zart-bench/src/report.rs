//! Results: one JSON object (`--json`) or a readable table.

use serde::Serialize;

use crate::percentiles::{Percentiles, PercentilesMax};

/// The JSON keys of the throughput scenario fixed by the issue (besides `backend`).
pub const THROUGHPUT_KEYS: &[&str] = &[
    "executions",
    "steps_per_execution",
    "concurrency",
    "baseline_commits_per_sec",
    "executions_per_sec",
    "steps_per_sec",
    "steps_per_baseline_commit",
    "peak_rss_mb",
];

/// `--scenario throughput`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThroughputReport {
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Executions run.
    pub executions: u64,
    /// No-op steps per execution.
    pub steps_per_execution: u32,
    /// Worker slots, and concurrent baseline writers.
    pub concurrency: u32,
    /// Single-row insert transactions per second, same database and concurrency.
    pub baseline_commits_per_sec: f64,
    /// Executions per second, first start to last completion.
    pub executions_per_sec: f64,
    /// Steps per second over the same time.
    pub steps_per_sec: f64,
    /// `steps_per_sec / baseline_commits_per_sec`.
    pub steps_per_baseline_commit: f64,
    /// Peak resident memory of this process (engine and worker included), in MiB.
    pub peak_rss_mb: f64,
    /// First start to last completion, in seconds.
    pub wall_secs: f64,
}

/// `--scenario latency`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencyReport {
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Start requested → execution seen completed, for a 3-step execution.
    pub start_to_complete_ms: Percentiles,
    /// Event offered → handler resumed after `wait_for_event`.
    pub event_to_resume_ms: Percentiles,
    /// Handler resumed after a 100 ms durable sleep − the sleep's due instant.
    pub timer_lateness_ms: Percentiles,
    /// Samples per measurement.
    pub samples: u32,
}

/// `--scenario suspended`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuspendedReport {
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Executions parked on `wait_for_event` at once.
    pub suspended: u64,
    /// Peak resident memory of this process (worker included), in MiB.
    pub peak_rss_mb: f64,
    /// First event offered → last execution completed, in seconds.
    pub wake_all_secs: f64,
    /// First start → all parked, in seconds.
    pub park_all_secs: f64,
}

/// The JSON keys of the http scenario fixed by the issue (besides `backend`).
pub const HTTP_KEYS: &[&str] = &[
    "http_clients",
    "http_starts_per_sec",
    "http_start_ms",
    "direct_starts_per_sec",
    "direct_start_ms",
    "http_to_direct_ratio",
    "samples",
];

/// `--scenario http`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpReport {
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Concurrent keep-alive HTTP clients (and direct-start tasks).
    pub http_clients: u32,
    /// `POST /api/v1/executions` answered per second, first request to last answer.
    pub http_starts_per_sec: f64,
    /// `POST /api/v1/executions` round trip over loopback.
    pub http_start_ms: Percentiles,
    /// `Client::start` calls per second with as many tasks, same workload (the mean of
    /// the phase before the HTTP phase and the one after it).
    pub direct_starts_per_sec: f64,
    /// `Client::start` call latency, both direct phases.
    pub direct_start_ms: Percentiles,
    /// `http_starts_per_sec / direct_starts_per_sec`.
    pub http_to_direct_ratio: f64,
    /// Requests measured per phase (after the warm-up).
    pub samples: u32,
}

/// One run of the scaleout scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScaleoutRun {
    /// Worker processes.
    pub processes: u32,
    /// Executions per second, first start to last completion.
    pub executions_per_sec: f64,
    /// First start to last completion, in seconds.
    pub wall_secs: f64,
    /// `pg_stat_activity` polls during the run.
    pub activity_samples: u64,
    /// Sessions of the workers seen waiting on a heavyweight lock
    /// (`wait_event_type = 'Lock'`), summed over the polls.
    pub lock_wait_samples: u64,
    /// Of those, sessions running a claim.
    pub claim_lock_wait_samples: u64,
    /// Sessions of the workers seen running a claim, summed over the polls.
    pub claim_active_samples: u64,
    /// Sessions of the workers seen waiting on a lightweight lock (`LWLock`: buffer
    /// content, WAL insertion), summed over the polls; informational.
    pub lwlock_wait_samples: u64,
    /// The most frequent lock waits: `"wait event: start of the statement"` and how
    /// many times it was seen.
    pub lock_waits_by_statement: Vec<(String, u64)>,
}

/// `--scenario scaleout`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScaleoutReport {
    /// Always `postgres`.
    pub backend: String,
    /// Executions per run.
    pub executions: u64,
    /// No-op steps per execution.
    pub steps_per_execution: u32,
    /// Worker slots per process, and concurrent starts.
    pub concurrency: u32,
    /// PostgreSQL pool size per process.
    pub pool_size: u32,
    /// One worker process.
    pub single: ScaleoutRun,
    /// `--processes` worker processes.
    pub multi: ScaleoutRun,
    /// `multi.executions_per_sec / single.executions_per_sec`.
    pub scaleout_ratio: f64,
    /// `claim_lock_wait_samples` of both runs.
    pub claim_lock_wait_samples: u64,
}

/// The JSON keys of the flow scenario fixed by the issue (besides `backend`).
pub const FLOW_KEYS: &[&str] = &[
    "flow_executions_per_sec",
    "plain_executions_per_sec",
    "flow_cost_ratio",
];

/// `--scenario flow`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowReport {
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Executions run each way (plain and flow).
    pub executions: u64,
    /// No-op steps per execution.
    pub steps_per_execution: u32,
    /// Worker slots, and the flow queue's global limit.
    pub concurrency: u32,
    /// Concurrency keys the flow executions spread over (one running per key).
    pub flow_keys: u64,
    /// Executions per second on the default queue.
    pub plain_executions_per_sec: f64,
    /// Executions per second through the limited, keyed queue.
    pub flow_executions_per_sec: f64,
    /// `1 - flow_executions_per_sec / plain_executions_per_sec`: the share of
    /// throughput flow control costs.
    pub flow_cost_ratio: f64,
}

/// `--scenario schedules`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduleReport {
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// A firing's execution started (the store's `startedAt`) − its slot.
    pub schedule_lateness_ms: PercentilesMax,
    /// A firing's execution first seen by a reader polling every millisecond − its
    /// slot (an upper bound: the polling and the read are included).
    pub creation_lateness_ms: PercentilesMax,
    /// Firings measured (after the warm-up).
    pub firings: u32,
    /// The schedule's interval, in seconds.
    pub interval_secs: u64,
}

/// The result of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Report {
    /// Throughput.
    Throughput(ThroughputReport),
    /// Latency.
    Latency(LatencyReport),
    /// Suspended executions.
    Suspended(SuspendedReport),
    /// HTTP start latency.
    Http(HttpReport),
    /// Lateness of schedule firings.
    Schedules(ScheduleReport),
    /// One worker process against several.
    Scaleout(ScaleoutReport),
    /// Flow control against the default queue.
    Flow(FlowReport),
}

impl Report {
    /// The report as one JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The report as an aligned two-column table.
    pub fn to_table(&self) -> String {
        let rows = match self {
            Report::Throughput(r) => vec![
                ("scenario", "throughput".to_owned()),
                ("backend", r.backend.clone()),
                ("executions", r.executions.to_string()),
                ("steps per execution", r.steps_per_execution.to_string()),
                ("concurrency", r.concurrency.to_string()),
                ("wall time", format!("{:.2} s", r.wall_secs)),
                (
                    "baseline commits/s",
                    format!("{:.0}", r.baseline_commits_per_sec),
                ),
                ("executions/s", format!("{:.0}", r.executions_per_sec)),
                ("steps/s", format!("{:.0}", r.steps_per_sec)),
                (
                    "steps per baseline commit",
                    format!("{:.2}", r.steps_per_baseline_commit),
                ),
                ("peak RSS", format!("{:.1} MiB", r.peak_rss_mb)),
            ],
            Report::Latency(r) => vec![
                ("scenario", "latency".to_owned()),
                ("backend", r.backend.clone()),
                ("samples each", r.samples.to_string()),
                ("start→complete (3 steps)", ms(r.start_to_complete_ms)),
                ("event→resume", ms(r.event_to_resume_ms)),
                ("100 ms timer lateness", ms(r.timer_lateness_ms)),
            ],
            Report::Suspended(r) => vec![
                ("scenario", "suspended".to_owned()),
                ("backend", r.backend.clone()),
                ("suspended executions", r.suspended.to_string()),
                ("park all", format!("{:.2} s", r.park_all_secs)),
                ("wake all", format!("{:.2} s", r.wake_all_secs)),
                ("peak RSS", format!("{:.1} MiB", r.peak_rss_mb)),
            ],
            Report::Http(r) => vec![
                ("scenario", "http".to_owned()),
                ("backend", r.backend.clone()),
                ("clients", r.http_clients.to_string()),
                ("samples per phase", r.samples.to_string()),
                ("POST /executions", ms(r.http_start_ms)),
                ("HTTP starts/s", format!("{:.0}", r.http_starts_per_sec)),
                ("Client::start", ms(r.direct_start_ms)),
                ("direct starts/s", format!("{:.0}", r.direct_starts_per_sec)),
                ("HTTP / direct", format!("{:.2}", r.http_to_direct_ratio)),
            ],
            Report::Schedules(r) => vec![
                ("scenario", "schedules".to_owned()),
                ("backend", r.backend.clone()),
                ("firings", r.firings.to_string()),
                ("interval", format!("{} s", r.interval_secs)),
                ("started − slot", ms_max(r.schedule_lateness_ms)),
                ("created − slot", ms_max(r.creation_lateness_ms)),
            ],
            Report::Flow(r) => vec![
                ("scenario", "flow".to_owned()),
                ("backend", r.backend.clone()),
                ("executions each way", r.executions.to_string()),
                ("steps per execution", r.steps_per_execution.to_string()),
                ("concurrency (queue limit)", r.concurrency.to_string()),
                ("keys (1 running each)", r.flow_keys.to_string()),
                (
                    "plain executions/s",
                    format!("{:.0}", r.plain_executions_per_sec),
                ),
                (
                    "flow executions/s",
                    format!("{:.0}", r.flow_executions_per_sec),
                ),
                ("flow cost", format!("{:.1}%", r.flow_cost_ratio * 100.0)),
            ],
            Report::Scaleout(r) => {
                let mut rows = vec![
                    ("scenario", "scaleout".to_owned()),
                    ("backend", r.backend.clone()),
                    ("executions per run", r.executions.to_string()),
                    ("steps per execution", r.steps_per_execution.to_string()),
                    ("slots per process", r.concurrency.to_string()),
                ];
                for run in [&r.single, &r.multi] {
                    rows.push(("processes", run.processes.to_string()));
                    rows.push(("  executions/s", format!("{:.0}", run.executions_per_sec)));
                    rows.push((
                        "  lock waits (claims)",
                        format!(
                            "{} ({}) in {} polls",
                            run.lock_wait_samples,
                            run.claim_lock_wait_samples,
                            run.activity_samples
                        ),
                    ));
                }
                rows.push(("scale-out ratio", format!("{:.2}", r.scaleout_ratio)));
                rows
            }
        };
        let width = rows
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        rows.iter()
            .map(|(k, v)| format!("{k:<width$}  {v}\n"))
            .collect()
    }
}

fn ms(p: Percentiles) -> String {
    format!("p50 {:.2} ms, p99 {:.2} ms", p.p50, p.p99)
}

fn ms_max(p: PercentilesMax) -> String {
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        p.p50, p.p99, p.max
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(report: &Report) -> Vec<String> {
        let value: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    }

    const P: Percentiles = Percentiles { p50: 1.0, p99: 2.0 };

    #[test]
    fn flow_json_has_the_contract_keys() {
        let report = Report::Flow(FlowReport {
            backend: "sqlite".into(),
            executions: 10,
            steps_per_execution: 3,
            concurrency: 64,
            flow_keys: 1000,
            plain_executions_per_sec: 100.0,
            flow_executions_per_sec: 90.0,
            flow_cost_ratio: 0.1,
        });
        let keys = keys(&report);
        for key in std::iter::once(&"backend").chain(FLOW_KEYS) {
            assert!(keys.iter().any(|k| k == key), "{key} missing from {keys:?}");
        }
        assert!(report.to_table().contains("flow cost"));
    }

    #[test]
    fn throughput_json_has_the_contract_keys() {
        let report = Report::Throughput(ThroughputReport {
            backend: "sqlite".into(),
            executions: 10,
            steps_per_execution: 3,
            concurrency: 64,
            baseline_commits_per_sec: 100.0,
            executions_per_sec: 50.0,
            steps_per_sec: 150.0,
            steps_per_baseline_commit: 1.5,
            peak_rss_mb: 20.0,
            wall_secs: 0.2,
        });
        let keys = keys(&report);
        for key in std::iter::once(&"backend").chain(THROUGHPUT_KEYS) {
            assert!(keys.iter().any(|k| k == key), "{key} missing from {keys:?}");
        }
        assert!(report
            .to_table()
            .contains("steps per baseline commit  1.50"));
    }

    #[test]
    fn latency_json_has_p50_and_p99_under_each_key() {
        let report = Report::Latency(LatencyReport {
            backend: "postgres".into(),
            start_to_complete_ms: P,
            event_to_resume_ms: P,
            timer_lateness_ms: P,
            samples: 200,
        });
        let value: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        for key in [
            "start_to_complete_ms",
            "event_to_resume_ms",
            "timer_lateness_ms",
        ] {
            assert_eq!(value[key]["p50"], 1.0, "{key}");
            assert_eq!(value[key]["p99"], 2.0, "{key}");
        }
    }

    #[test]
    fn suspended_and_http_json_have_the_contract_keys() {
        let suspended = Report::Suspended(SuspendedReport {
            backend: "sqlite".into(),
            suspended: 100,
            peak_rss_mb: 30.0,
            wake_all_secs: 1.0,
            park_all_secs: 2.0,
        });
        for key in ["suspended", "peak_rss_mb", "wake_all_secs"] {
            assert!(keys(&suspended).iter().any(|k| k == key), "{key}");
        }
        let http = Report::Http(HttpReport {
            backend: "sqlite".into(),
            http_clients: 64,
            http_starts_per_sec: 600.0,
            http_start_ms: P,
            direct_starts_per_sec: 1000.0,
            direct_start_ms: P,
            http_to_direct_ratio: 0.6,
            samples: 1000,
        });
        let value: serde_json::Value = serde_json::from_str(&http.to_json()).unwrap();
        assert_eq!(value["http_start_ms"]["p99"], 2.0);
        assert_eq!(value["http_start_ms"]["p50"], 1.0);
        assert_eq!(value["http_starts_per_sec"], 600.0);
        for key in HTTP_KEYS {
            assert!(keys(&http).iter().any(|k| k == key), "{key}");
        }
        assert!(http.to_table().contains("p50 1.00 ms, p99 2.00 ms"));
        assert!(http.to_table().contains("HTTP / direct      0.60"));
    }

    #[test]
    fn scaleout_json_has_both_runs_and_the_lock_waits() {
        let run = |processes, per_sec| ScaleoutRun {
            processes,
            executions_per_sec: per_sec,
            wall_secs: 1.0,
            activity_samples: 100,
            lock_wait_samples: 0,
            claim_lock_wait_samples: 0,
            claim_active_samples: 5,
            lwlock_wait_samples: 2,
            lock_waits_by_statement: Vec::new(),
        };
        let report = Report::Scaleout(ScaleoutReport {
            backend: "postgres".into(),
            executions: 10,
            steps_per_execution: 3,
            concurrency: 64,
            pool_size: 10,
            single: run(1, 100.0),
            multi: run(3, 110.0),
            scaleout_ratio: 1.1,
            claim_lock_wait_samples: 0,
        });
        let value: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(value["single"]["processes"], 1);
        assert_eq!(value["multi"]["executions_per_sec"], 110.0);
        assert_eq!(value["multi"]["claim_lock_wait_samples"], 0);
        assert_eq!(value["scaleout_ratio"], 1.1);
        assert!(report.to_table().contains("scale-out ratio        1.10"));
    }

    #[test]
    fn schedules_json_has_p50_p99_and_max_of_the_lateness_and_the_count() {
        let lateness = PercentilesMax {
            p50: 1.0,
            p99: 2.0,
            max: 3.0,
        };
        let report = Report::Schedules(ScheduleReport {
            backend: "sqlite".into(),
            schedule_lateness_ms: lateness,
            creation_lateness_ms: lateness,
            firings: 60,
            interval_secs: 1,
        });
        let value: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        for key in ["schedule_lateness_ms", "creation_lateness_ms"] {
            assert_eq!(value[key]["p50"], 1.0, "{key}");
            assert_eq!(value[key]["p99"], 2.0, "{key}");
            assert_eq!(value[key]["max"], 3.0, "{key}");
        }
        assert_eq!(value["firings"], 60);
        assert!(report
            .to_table()
            .contains("started − slot  p50 1.00 ms, p99 2.00 ms, max 3.00 ms"));
    }
}
