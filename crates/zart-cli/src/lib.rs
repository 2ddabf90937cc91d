//! The `zart` binary as a library: `zart serve` (HTTP API + worker + demo tasks in one
//! process), `zart migrate`, and client subcommands that drive a server over its HTTP
//! API (`start`, `get`, `list`, `cancel`, `wait`, `event`, `stats`, `detail`).
//!
//! `main.rs` only parses the command line, calls [`run`] and turns an error into one
//! `error: ...` line on stderr and exit code 1 (clap exits with 2 on usage errors).
//!
//! This crate owns the command line and the demo tasks ([`demo`]). The HTTP routes live
//! in `zart-api` and the engine in `zart`; the client subcommands speak only HTTP, so
//! they work against any Zart server, including one embedded in a user's service.
//!
//! ```no_run
//! use clap::Parser;
//!
//! # async fn demo() -> anyhow::Result<()> {
//! let cli = zart_cli::Cli::parse_from(["zart", "start", "echo", "--payload", r#"{"hi":1}"#]);
//! zart_cli::run(cli).await?;
//! # Ok(()) }
//! ```

mod args;
mod client;
mod database;
pub mod demo;
mod http_config;
mod migrate;
mod output;
mod serve;

pub use args::{ApiOptions, Cli, Command, MigrateArgs, RetentionHours, ServeArgs};
pub use client::HttpError;

use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Runs one `zart` command to completion.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let telemetry = zart::telemetry::TelemetryConfig::from_env().build()?;
            init_tracing(telemetry.as_ref());
            let served = serve::serve(args, &cli.api).await;
            // Flushes the spans still queued (bounded by the shutdown timeout).
            drop(telemetry);
            served
        }
        Command::Migrate(args) => {
            init_tracing(None);
            migrate::migrate(args).await
        }
        command => {
            let client = client::ApiClient::new(&cli.api)?;
            client::run_command(&client, command).await
        }
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`), and, with `telemetry`,
/// exports spans over OTLP (by the exporter's own filter, whatever `RUST_LOG` says).
/// A log line inside a run names the run's span fields: its `execution_id` and,
/// when the run is traced, its `trace_id`.
fn init_tracing(telemetry: Option<&zart::telemetry::Telemetry>) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .with_filter(filter);
    // Fails only if a subscriber is already installed (an embedding program's): keep it.
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(telemetry.map(|t| t.layer()))
        .try_init();
}
