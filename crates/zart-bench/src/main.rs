//! `zart-bench`: parses the arguments, runs the scenario, prints the table (or one
//! JSON object with `--json`) on stdout and any error chain on stderr.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let args = zart_bench::Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    if let Some(schema) = &args.worker_schema {
        return match zart_bench::scenarios::scaleout::worker_process(&args, schema).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("zart-bench worker: {err}");
                ExitCode::FAILURE
            }
        };
    }
    match zart_bench::run(&args).await {
        Ok(report) if args.json => {
            println!("{}", report.to_json());
            ExitCode::SUCCESS
        }
        Ok(report) => {
            print!("{}", report.to_table());
            ExitCode::SUCCESS
        }
        Err(err) => {
            let mut message = format!("zart-bench: {err}");
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}
