//! The Zart benchmark, measured against the physical limit: the raw durable commit
//! rate of the same database, in the same run, on the same machine.
//!
//! Scenarios (`--scenario`): `throughput` (steps/s as a multiple of the baseline
//! commit rate), `latency` (start→complete, event→resume, timer lateness), `suspended`
//! (many parked executions: memory and wake-up time), `http` (start latency
//! through the real server, one client or many, against direct starts), `schedules`
//! (how late a 1-second schedule's firings are created and started), `scaleout`
//! (one worker process against several on one PostgreSQL database) and `flow` (the
//! throughput workload through a queue with global and per-key limits, against the
//! same on the default queue). Every run gets a fresh database: a new SQLite file, or a
//! new PostgreSQL schema dropped at the end. See `docs/performance.md`.
//!
//! This crate depends on the engine and both stores; nothing depends on it.

pub mod args;
pub mod baseline;
pub mod completion;
pub mod database;
pub mod error;
pub mod percentiles;
pub mod profile;
pub mod progress;
pub mod report;
pub mod rss;
pub mod scenarios;
pub mod workflows;

pub use args::{Args, Backend, Scenario};
pub use error::{BenchError, BenchResult};
pub use report::Report;

use database::BenchDb;
use progress::Progress;

/// Runs the scenario `args` names on a fresh database, and drops that database
/// afterwards, also when the run fails or is interrupted with Ctrl-C.
pub async fn run(args: &Args) -> BenchResult<Report> {
    let progress = Progress::new();
    let db = BenchDb::open(args).await?;
    progress.note(format!(
        "{} scenario on {}",
        args.scenario.as_str(),
        db.describe()
    ));
    let outcome = tokio::select! {
        outcome = scenario(&db, args, &progress) => outcome,
        _ = tokio::signal::ctrl_c() => Err(BenchError::Unexpected("interrupted".into())),
    };
    if let Some(profile) = &db.profile {
        let executions = match args.scenario {
            Scenario::Throughput | Scenario::Suspended | Scenario::Flow => Some(args.executions()),
            Scenario::Latency | Scenario::Http | Scenario::Schedules | Scenario::Scaleout => None,
        };
        eprint!("{}", profile.render(executions));
        eprint!("{}", db.writer_summary().unwrap_or_default());
    }
    let closed = db.close().await;
    let report = outcome?;
    closed?;
    Ok(report)
}

async fn scenario(db: &BenchDb, args: &Args, progress: &Progress) -> BenchResult<Report> {
    Ok(match args.scenario {
        Scenario::Throughput => {
            Report::Throughput(scenarios::throughput::run(db, args, progress).await?)
        }
        Scenario::Latency => Report::Latency(scenarios::latency::run(db, args, progress).await?),
        Scenario::Suspended => {
            Report::Suspended(scenarios::suspended::run(db, args, progress).await?)
        }
        Scenario::Http => Report::Http(scenarios::http::run(db, args, progress).await?),
        Scenario::Schedules => {
            Report::Schedules(scenarios::schedules::run(db, args, progress).await?)
        }
        Scenario::Scaleout => Report::Scaleout(scenarios::scaleout::run(db, args, progress).await?),
        Scenario::Flow => Report::Flow(scenarios::flow::run(db, args, progress).await?),
    })
}
