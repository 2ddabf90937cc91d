//! `zart serve`: the HTTP API, a worker and (unless `--no-demo`) the demo tasks in one
//! process, with a graceful shutdown on SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use zart::metrics::Metrics;
use zart::{TaskRegistry, WorkerConfig, Zart};
use zart_api::ApiConfig;

use crate::args::ServeArgs;
use crate::{database, demo};

/// How long in-flight HTTP requests (long polls included) may run after a shutdown
/// signal before the server stops waiting for them.
const HTTP_DRAIN_LIMIT: Duration = Duration::from_secs(35);

/// Runs the server until SIGINT or SIGTERM, then shuts down gracefully: stops
/// accepting, lets in-flight requests finish, and stops the worker, which gives the
/// leases of executions still running after the grace period back to the database.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = ApiConfig::from_env().context("invalid HTTP configuration")?;
    let store = database::open(&args.db).await?;
    let metrics = Metrics::new();
    let mut tasks = TaskRegistry::new();
    if !args.no_demo {
        demo::register(&mut tasks);
    }
    let zart = Zart::builder(store)
        .tasks(tasks)
        .metrics(metrics.clone())
        .build();
    let listener = TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let app = zart_api::router(zart.client(), metrics, config.clone());
    let worker = zart.start_worker(worker_config(&args));
    announce(addr, &config, &zart);

    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    let server = async {
        let drained = shutdown.clone().cancelled_owned();
        let result = tokio::select! {
            served = zart_api::serve(listener, app, drained) => served.context("HTTP server failed"),
            () = drain_deadline(&shutdown) => {
                tracing::warn!("in-flight requests did not finish within {HTTP_DRAIN_LIMIT:?}; closing them");
                Ok(())
            }
        };
        shutdown.cancel();
        result
    };
    let grace = Duration::from_secs(args.shutdown_grace_secs);
    let worker_stopped = async {
        shutdown.cancelled().await;
        tracing::info!("shutting down: stopping the worker (grace {grace:?})");
        worker.shutdown(grace).await;
    };
    let (served, ()) = tokio::join!(server, worker_stopped);
    served?;
    tracing::info!("stopped");
    Ok(())
}

fn worker_config(args: &ServeArgs) -> WorkerConfig {
    let slots = usize::try_from(args.concurrency).unwrap_or(usize::MAX);
    WorkerConfig::default()
        .concurrency(slots)
        .lease_duration(Duration::from_secs(args.lease_secs))
}

/// Prints where everything is. The `listening on` line is machine-readable: scripts
/// and tests parse the bound address (the real port when `--bind` used port 0).
fn announce(addr: SocketAddr, config: &ApiConfig, zart: &Zart) {
    let base = format!("http://{addr}");
    println!("zart {} listening on {base}", env!("CARGO_PKG_VERSION"));
    println!("  API:        {base}{}", config.api_prefix);
    println!("  admin API:  {base}{}", config.admin_prefix);
    println!("  Swagger UI: {base}/swagger-ui");
    println!("  metrics:    {base}/metrics");
    let names = zart.tasks().names();
    if names.is_empty() {
        println!("  tasks:      none registered (--no-demo)");
    } else {
        println!("  tasks:      {}", names.join(", "));
    }
    tracing::info!(%addr, backend = zart.store().backend_name(), "server started");
}

async fn cancel_on_signal(shutdown: CancellationToken) {
    zart_api::shutdown_signal().await;
    shutdown.cancel();
}

async fn drain_deadline(shutdown: &CancellationToken) {
    shutdown.cancelled().await;
    tokio::time::sleep(HTTP_DRAIN_LIMIT).await;
}
