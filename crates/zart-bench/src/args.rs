//! Command-line arguments.

use std::time::Duration;

use clap::{Parser, ValueEnum};

/// The PostgreSQL URL used when `--backend postgres` is given without `--db`.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Executions of the throughput scenario when `--executions` is not given.
pub const DEFAULT_THROUGHPUT_EXECUTIONS: u64 = 10_000;
/// Parked executions of the suspended scenario when `--executions` is not given.
pub const DEFAULT_SUSPENDED_EXECUTIONS: u64 = 100_000;
/// Samples of each latency measurement when `--samples` is not given.
pub const DEFAULT_LATENCY_SAMPLES: u32 = 200;
/// Measured HTTP requests when `--samples` is not given.
pub const DEFAULT_HTTP_SAMPLES: u32 = 1000;
/// Measured requests of each phase of the http scenario with `--http-clients` above 1
/// (enough for a throughput figure: at 64 clients, 1000 would be 16 requests each).
pub const DEFAULT_CONCURRENT_HTTP_SAMPLES: u32 = 10_000;
/// The most concurrent HTTP clients: the server's default connection limit.
pub const MAX_HTTP_CLIENTS: u32 = 512;
/// Worker processes of the scaleout scenario's second run when `--processes` is not
/// given.
pub const DEFAULT_SCALEOUT_PROCESSES: u32 = 3;
/// Measured firings of the schedules scenario when `--samples` is not given (one a
/// second).
pub const DEFAULT_SCHEDULE_SAMPLES: u32 = 60;

/// Which database the engine runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// A fresh SQLite file (WAL, `synchronous = FULL`).
    Sqlite,
    /// A fresh schema in a PostgreSQL database, dropped at the end.
    Postgres,
}

impl Backend {
    /// The backend's name as it appears in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// N executions of S no-op steps at concurrency C, against the raw commit rate.
    Throughput,
    /// Start→complete, event→resume and timer lateness at low load.
    Latency,
    /// N executions parked on an event, then all woken.
    Suspended,
    /// Start-execution request latency through the HTTP server over loopback.
    Http,
    /// Lateness of a 1-second schedule's firings on an idle engine.
    Schedules,
    /// The throughput workload run by one worker process, then by several, on one
    /// PostgreSQL database, sampling `pg_stat_activity` for lock waits.
    Scaleout,
    /// The throughput workload through a named queue with a global limit and a
    /// per-key limit over 1,000 keys, next to the same workload on the default queue.
    Flow,
}

impl Scenario {
    /// The scenario's name as it appears in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Throughput => "throughput",
            Scenario::Latency => "latency",
            Scenario::Suspended => "suspended",
            Scenario::Http => "http",
            Scenario::Schedules => "schedules",
            Scenario::Scaleout => "scaleout",
            Scenario::Flow => "flow",
        }
    }
}

/// Benchmark of Zart against the raw durable commit rate of the same database.
///
/// Every run uses a fresh database: a new SQLite file in a temporary directory, or a
/// new uniquely named PostgreSQL schema that is dropped at the end. Progress goes to
/// stderr; the result is a table, or one JSON object on stdout with `--json`.
#[derive(Debug, Clone, Parser)]
#[command(name = "zart-bench", version)]
pub struct Args {
    /// The database backend.
    #[arg(long, value_enum, default_value = "sqlite")]
    pub backend: Backend,
    /// The database: `sqlite://PATH` (must not exist yet; default: a temporary file) or
    /// `postgres://...` (default: postgres://postgres@127.0.0.1:5432/test; a fresh
    /// schema is created in it for the run and dropped at the end).
    #[arg(long)]
    pub db: Option<String>,
    /// What to measure.
    #[arg(long, value_enum, default_value = "throughput")]
    pub scenario: Scenario,
    /// Print exactly one JSON object on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Executions to run (default 10000 for throughput, 100000 for suspended).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub executions: Option<u64>,
    /// No-op steps per execution (throughput).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub steps: u32,
    /// Worker slots, and the number of concurrent baseline writers.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: u32,
    /// PostgreSQL pool size of the store, and of the baseline's pool.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub pool_size: u32,
    /// How long the baseline inserts run, in seconds.
    #[arg(long, default_value_t = 3.0, value_parser = parse_secs)]
    pub baseline_secs: f64,
    /// Time every store call and print a per-call breakdown on stderr at the end.
    #[arg(long)]
    pub profile: bool,
    /// Samples per latency measurement (default 200 for latency, 1000 for http, 60
    /// firings for schedules).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub samples: Option<u32>,
    /// Concurrent keep-alive HTTP clients of the http scenario (1: one request at a
    /// time); the direct `Client::start` phases of the same run use as many tasks.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_HTTP_CLIENTS)))]
    pub http_clients: u32,
    /// Worker processes of the scaleout scenario's second run (its first has one).
    #[arg(long, default_value_t = DEFAULT_SCALEOUT_PROCESSES, value_parser = clap::value_parser!(u32).range(2..=16))]
    pub processes: u32,
    /// Internal: run as a worker process of the scaleout scenario on this schema of
    /// `--db`, until stdin closes.
    #[arg(long, hide = true)]
    pub worker_schema: Option<String>,
}

impl Args {
    /// `--executions`, or the scenario's default.
    pub fn executions(&self) -> u64 {
        self.executions.unwrap_or(match self.scenario {
            Scenario::Suspended => DEFAULT_SUSPENDED_EXECUTIONS,
            _ => DEFAULT_THROUGHPUT_EXECUTIONS,
        })
    }

    /// `--samples`, or the scenario's default.
    pub fn samples(&self) -> u32 {
        self.samples.unwrap_or(match self.scenario {
            Scenario::Http if self.http_clients > 1 => DEFAULT_CONCURRENT_HTTP_SAMPLES,
            Scenario::Http => DEFAULT_HTTP_SAMPLES,
            Scenario::Schedules => DEFAULT_SCHEDULE_SAMPLES,
            _ => DEFAULT_LATENCY_SAMPLES,
        })
    }

    /// `--baseline-secs` as a duration.
    pub fn baseline_duration(&self) -> Duration {
        Duration::from_secs_f64(self.baseline_secs)
    }
}

fn parse_secs(text: &str) -> Result<f64, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if secs.is_finite() && secs > 0.0 && secs <= 3600.0 {
        Ok(secs)
    } else {
        Err(format!("{text} must be more than 0 and at most 3600"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("zart-bench").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_match_the_issue() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.backend, Backend::Sqlite);
        assert_eq!(args.scenario, Scenario::Throughput);
        assert_eq!(args.executions(), 10_000);
        assert_eq!(args.steps, 3);
        assert_eq!(args.concurrency, 64);
        assert!(!args.json);
        assert_eq!(args.db, None);
        assert_eq!(args.samples(), 200);
        assert_eq!(parse(&["--scenario", "http"]).unwrap().samples(), 1000);
        assert_eq!(parse(&["--scenario", "schedules"]).unwrap().samples(), 60);
        let args = parse(&["--scenario", "schedules", "--samples", "5"]).unwrap();
        assert_eq!(args.samples(), 5);
        assert_eq!(args.http_clients, 1);
        assert_eq!(args.processes, 3);
    }

    #[test]
    fn concurrent_http_measures_ten_thousand_requests_by_default() {
        let args = parse(&["--scenario", "http", "--http-clients", "64"]).unwrap();
        assert_eq!((args.http_clients, args.samples()), (64, 10_000));
        let args = parse(&[
            "--scenario",
            "http",
            "--http-clients",
            "64",
            "--samples",
            "9",
        ]);
        assert_eq!(args.unwrap().samples(), 9);
    }

    #[test]
    fn suspended_defaults_to_one_hundred_thousand_executions() {
        let args = parse(&["--scenario", "suspended"]).unwrap();
        assert_eq!(args.executions(), 100_000);
        let args = parse(&["--scenario", "suspended", "--executions", "500"]).unwrap();
        assert_eq!(args.executions(), 500);
    }

    #[test]
    fn every_flag_of_the_contract_parses() {
        let args = parse(&[
            "--backend",
            "postgres",
            "--db",
            "postgres://u@h/db",
            "--json",
            "--scenario",
            "http",
            "--executions",
            "7",
            "--steps",
            "5",
            "--concurrency",
            "8",
        ])
        .unwrap();
        assert_eq!(args.backend, Backend::Postgres);
        assert_eq!(args.db.as_deref(), Some("postgres://u@h/db"));
        assert!(args.json);
        assert_eq!(args.scenario, Scenario::Http);
        assert_eq!((args.executions(), args.steps, args.concurrency), (7, 5, 8));
        for scenario in [
            "throughput",
            "latency",
            "suspended",
            "http",
            "schedules",
            "scaleout",
        ] {
            assert_eq!(
                parse(&["--scenario", scenario]).unwrap().scenario.as_str(),
                scenario
            );
        }
    }

    #[test]
    fn nonsense_values_are_rejected() {
        for bad in [
            &["--backend", "mysql"][..],
            &["--scenario", "fast"],
            &["--concurrency", "0"],
            &["--steps", "0"],
            &["--baseline-secs", "-1"],
            &["--baseline-secs", "soon"],
            &["--executions", "many"],
            &["--executions", "0"],
            &["--scenario", "schedules", "--samples", "0"],
            &["--scenario", "http", "--http-clients", "0"],
            &["--scenario", "http", "--http-clients", "513"],
            &["--scenario", "scaleout", "--processes", "1"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
