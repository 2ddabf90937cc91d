//! `zart serve`: the HTTP API, a worker and (unless `--no-demo`) the demo tasks in one
//! process, with a graceful shutdown on SIGINT or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use zart::metrics::Metrics;
use zart::{Retention, TaskRegistry, WorkerConfig, Zart};
use zart_api::ApiConfig;

use crate::args::{ApiOptions, RetentionHours, ServeArgs};
use crate::{database, demo, http_config};

/// How long in-flight HTTP requests (long polls included) may run after a shutdown
/// signal before the server stops waiting for them.
const HTTP_DRAIN_LIMIT: Duration = Duration::from_secs(35);

/// Runs the server until SIGINT or SIGTERM, then shuts down gracefully: stops
/// accepting, lets in-flight requests finish, and stops the worker, which gives the
/// leases of executions still running after the grace period back to the database.
pub(crate) async fn serve(args: ServeArgs, api: &ApiOptions) -> anyhow::Result<()> {
    let config = http_config::api_config(api, &args)?;
    let store = database::open(&args.db).await?;
    let metrics = Metrics::new();
    let mut tasks = TaskRegistry::new();
    if !args.no_demo {
        demo::register(&mut tasks);
    }
    let mut builder = Zart::builder(store)
        .tasks(tasks)
        .metrics(metrics.clone())
        .max_pending_events(Some(args.max_pending_events));
    if !args.no_demo {
        for spec in demo::schedules() {
            builder = builder
                .schedule(spec)
                .context("declaring the demo schedules")?;
        }
    }
    let zart = builder.build();
    let listener = TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let app = zart_api::router(zart.client(), metrics, config.clone())
        .context("invalid HTTP configuration")?;
    let worker = zart.start_worker(worker_config(&args));
    announce(addr, &config, &zart);

    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    let server = async {
        let drained = shutdown.clone().cancelled_owned();
        let result = tokio::select! {
            served = zart_api::serve_with(listener, app, http_config::server_config(&args), drained) => {
                served.context("HTTP server failed")
            }
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
        .retention_policy(retention(args))
}

/// Each status's retention: its own flag, else `--retention-hours`, else the default.
fn retention(args: &ServeArgs) -> Retention {
    let default = Retention::default();
    let pick = |own: Option<RetentionHours>, fallback: Option<Duration>| match own
        .or(args.retention_hours)
    {
        Some(RetentionHours::Off) => None,
        Some(RetentionHours::Hours(h)) => Some(Duration::from_secs(h.saturating_mul(3600))),
        None => fallback,
    };
    Retention {
        completed: pick(args.retention_completed_hours, default.completed),
        failed: pick(args.retention_failed_hours, default.failed),
        cancelled: pick(args.retention_cancelled_hours, default.cancelled),
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
    let dashboard = match config.dashboard_path.as_deref() {
        Some(path) => format!("{base}{path}"),
        None => "off".to_owned(),
    };
    let text = format!(
        "zart {version} listening on {base}\n  \
         dashboard:  {dashboard}\n  \
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::tests::serve_args;

    #[test]
    fn retention_defaults_to_a_week_and_each_status_overrides_the_global_setting() {
        let week = Some(Duration::from_secs(7 * 24 * 3600));
        assert_eq!(retention(&serve_args(&[])), Retention::all(week));
        let mixed = serve_args(&["--retention-hours", "off", "--retention-failed-hours", "2"]);
        let expected = Retention {
            completed: None,
            failed: Some(Duration::from_secs(7200)),
            cancelled: None,
        };
        assert_eq!(retention(&mixed), expected);
        let global = serve_args(&["--retention-hours", "1", "--retention-cancelled-hours", "0"]);
        let expected = Retention {
            completed: Some(Duration::from_secs(3600)),
            failed: Some(Duration::from_secs(3600)),
            cancelled: None,
        };
        assert_eq!(retention(&global), expected);
    }
}
