//! The `zart` command: see the `zart_cli` library.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// How long, once the command is done, threads still running (a database writer
/// finishing its batch, say) may delay the exit.
const EXIT_GRACE: Duration = Duration::from_secs(2);

fn main() -> ExitCode {
    let cli = zart_cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(zart_cli::run(cli));
    runtime.shutdown_timeout(EXIT_GRACE);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
