//! `zart serve`: the HTTP API, a worker and (unless `--no-demo`) the demo tasks in one
//! process, with a graceful shutdown on SIGINT or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use zart::metrics::Metrics;
use zart::{TaskRegistry, WorkerConfig, Zart};
use zart_api::ApiConfig;

use crate::args::{ApiOptions, ServeArgs};
use crate::{database, demo};

/// How long in-flight HTTP requests (long polls included) may run after a shutdown
/// signal before the server stops waiting for them.
const HTTP_DRAIN_LIMIT: Duration = Duration::from_secs(35);

/// Runs the server until SIGINT or SIGTERM, then shuts down gracefully: stops
/// accepting, lets in-flight requests finish, and stops the worker, which gives the
/// leases of executions still running after the grace period back to the database.
pub async fn serve(args: ServeArgs, api: &ApiOptions) -> anyhow::Result<()> {
    let config = api_config(api)?;
    let store = database::open(&args.db).await?;
    let metrics = Metrics::new();
    let mut tasks = TaskRegistry::new();
    if !args.no_demo {
        demo::register(&mut tasks);
    }
    let zart = Zart::builder(store)
        .tasks(tasks)
        .metrics(metrics.clone())
        .max_pending_events(Some(args.max_pending_events))
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

/// The HTTP settings: the `ZART_*` environment (body limit, CORS) overridden by the
/// flags (tokens and prefixes, which clap already reads from the same variables).
fn api_config(api: &ApiOptions) -> anyhow::Result<ApiConfig> {
    let mut config = ApiConfig::from_env()
        .context("invalid HTTP configuration")?
        .api_prefix(api.api_prefix.as_str())
        .admin_prefix(api.admin_prefix.as_str());
    if let Some(token) = api.token.as_deref().filter(|t| !t.is_empty()) {
        config = config.api_token(token);
    }
    if let Some(token) = api.admin_token.as_deref().filter(|t| !t.is_empty()) {
        config = config.admin_token(token);
    }
    config.validate().context("invalid HTTP configuration")?;
    Ok(config)
}

fn worker_config(args: &ServeArgs) -> WorkerConfig {
    let slots = usize::try_from(args.concurrency).unwrap_or(usize::MAX);
    let config = WorkerConfig::default()
        .concurrency(slots)
        .lease_duration(Duration::from_secs(args.lease_secs));
    match args.retention_hours {
        Some(hours) => config.retention(Duration::from_secs(hours.saturating_mul(3600))),
        None => config,
    }
}

/// Prints where everything is. The `listening on` line is machine-readable: scripts
/// and tests parse the bound address (the real port when `--bind` used port 0).
fn announce(addr: SocketAddr, config: &ApiConfig, zart: &Zart) {
    let base = format!("http://{addr}");
    let names = zart.tasks().names();
    let tasks = if names.is_empty() {
        "none registered (--no-demo)".to_owned()
    } else {
        names.join(", ")
    };
    let text = format!(
        "zart {version} listening on {base}\n  \
         API:        {base}{api}\n  \
         admin API:  {base}{admin}\n  \
         Swagger UI: {base}/swagger-ui\n  \
         metrics:    {base}/metrics\n  \
         tasks:      {tasks}\n",
        version = env!("CARGO_PKG_VERSION"),
        api = config.api_prefix,
        admin = config.admin_prefix,
    );
    // A closed stdout (piped into `head`, say) must not stop the server.
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
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
