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

use tracing_subscriber::EnvFilter;

/// Runs one `zart` command to completion.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            init_tracing();
            serve::serve(args, &cli.api).await
        }
        Command::Migrate(args) => {
            init_tracing();
            migrate::migrate(args).await
        }
        command => {
            let client = client::ApiClient::new(&cli.api)?;
            client::run_command(&client, command).await
        }
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Fails only if a subscriber is already installed (an embedding program's): keep it.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}
