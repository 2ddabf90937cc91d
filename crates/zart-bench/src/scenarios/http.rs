//! `--scenario http`: `POST /api/v1/executions` through the real server
//! (`zart_api::router` served by `zart_api::serve` on a loopback socket in this
//! process), from `--http-clients` concurrent clients over keep-alive connections (one
//! shared `reqwest` client whose pool keeps a connection per client), after a warm-up.
//! A worker runs next to the server, as in `zart serve`, so the started executions run
//! while later requests are measured.
//!
//! The same run measures `Client::start` called directly by as many tasks, with the
//! same workload, once before the HTTP phase and once after it (the average of the two
//! is the direct figure, so a machine that gets busier or quieter during the run moves
//! both sides alike). Every phase starts after the executions of the phase before it
//! have finished, so each one meets the same worker load.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use zart::{Client, StartRequest, WorkerConfig, Zart};

use crate::args::Args;
use crate::completion;
use crate::database::BenchDb;
use crate::error::{BenchError, BenchResult};
use crate::percentiles::Percentiles;
use crate::progress::Progress;
use crate::report::HttpReport;
use crate::rss::cpu_secs;
use crate::workflows::{self, NOOP_STEPS};

/// Unmeasured requests first (connection set-up, statement caches), at least one per
/// client so every keep-alive connection is open before the measurement.
const WARM_UP: u64 = 50;
/// Steps of each started execution.
const STEPS: u32 = 3;

/// One measured phase: how long its requests took in all, and each one.
struct Phase {
    wall: Duration,
    took: Vec<Duration>,
    /// CPU time of the whole process (server, clients, worker, store) per request, µs.
    cpu_us_per_request: f64,
    /// Writes per commit of the store during the phase (see
    /// [`BenchDb::commit_counters`]).
    writes_per_commit: f64,
    /// Commits of the store during the phase.
    commits: u64,
}

impl Phase {
    fn per_sec(&self) -> f64 {
        self.took.len() as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    fn describe(&self) -> String {
        format!(
            "{:.0} starts/s, {:.0} µs of CPU per start, {:.1} writes and {:.1} starts per commit",
            self.per_sec(),
            self.cpu_us_per_request,
            self.writes_per_commit,
            self.took.len() as f64 / self.commits.max(1) as f64,
        )
    }
}

/// Runs the scenario.
pub async fn run(db: &BenchDb, args: &Args, progress: &Progress) -> BenchResult<HttpReport> {
    let samples = u64::from(args.samples());
    let clients = args.http_clients as usize;
    let zart = workflows::register(Zart::builder(db.store.clone())).build();
    let worker = zart.start_worker(WorkerConfig::default().concurrency(args.concurrency as usize));
    let app = zart_api::router(
        zart.client(),
        zart.metrics().clone(),
        zart_api::ApiConfig::default(),
    )
    .map_err(|e| BenchError::Unexpected(format!("the default HTTP configuration: {e}")))?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(zart_api::serve(listener, app, async move {
        let _ = stopped.await;
    }));
    progress.note(format!(
        "server on http://{address}: {clients} client(s), {samples} measured requests \
         after a warm-up, and as many direct starts before and after"
    ));
    let measured = measure(
        db,
        &zart.client(),
        &format!("http://{address}"),
        clients,
        samples,
        progress,
    )
    .await;
    let _ = stop.send(());
    let served = server.await;
    worker.shutdown(Duration::from_secs(5)).await;
    let (over_http, direct_before, direct_after) = measured?;
    served.map_err(|e| BenchError::Unexpected(format!("the server task failed: {e}")))??;

    let direct_starts_per_sec = (direct_before.per_sec() + direct_after.per_sec()) / 2.0;
    let http_starts_per_sec = over_http.per_sec();
    let mut direct_took = direct_before.took;
    direct_took.extend(direct_after.took);
    let none = || BenchError::Unexpected("no samples".into());
    Ok(HttpReport {
        backend: db.backend().as_str().to_owned(),
        http_clients: args.http_clients,
        http_starts_per_sec,
        http_start_ms: Percentiles::of(&over_http.took).ok_or_else(none)?,
        direct_starts_per_sec,
        direct_start_ms: Percentiles::of(&direct_took).ok_or_else(none)?,
        http_to_direct_ratio: http_starts_per_sec / direct_starts_per_sec.max(1e-9),
        samples: args.samples(),
    })
}

/// The warm-up, then direct, HTTP and direct phases, each waiting for the executions
/// of the one before to finish.
async fn measure(
    db: &BenchDb,
    client: &Client,
    base: &str,
    clients: usize,
    samples: u64,
    progress: &Progress,
) -> BenchResult<(Phase, Phase, Phase)> {
    // One client whose pool keeps a keep-alive connection per task (a client per task
    // measured the same).
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(clients)
        .build()?;
    let url = Arc::new(format!("{base}/api/v1/executions"));
    let post = |prefix: &'static str| {
        let (http, url) = (http.clone(), Arc::clone(&url));
        move |_: usize, i: u64| post_start(http.clone(), Arc::clone(&url), format!("{prefix}-{i}"))
    };
    let direct = |prefix: &'static str| {
        let client = client.clone();
        move |_: usize, i: u64| {
            let client = client.clone();
            async move {
                let request =
                    StartRequest::new(NOOP_STEPS, json!(STEPS)).id(format!("{prefix}-{i}"));
                client.start(request).await?;
                Ok(())
            }
        }
    };
    let mut started = 0;
    let warm_up = WARM_UP.max(clients as u64);
    phase(db, clients, warm_up, post("w")).await?;
    phase(db, clients, WARM_UP, direct("wd")).await?;
    started += warm_up + WARM_UP;
    drain(db, started, progress).await?;

    let direct_before = phase(db, clients, samples, direct("d1")).await?;
    started += samples;
    progress.note(format!("direct: {}", direct_before.describe()));
    drain(db, started, progress).await?;

    let over_http = phase(db, clients, samples, post("h")).await?;
    started += samples;
    progress.note(format!("HTTP: {}", over_http.describe()));
    drain(db, started, progress).await?;

    let direct_after = phase(db, clients, samples, direct("d2")).await?;
    started += samples;
    progress.note(format!("direct (after): {}", direct_after.describe()));
    drain(db, started, progress).await?;
    Ok((over_http, direct_before, direct_after))
}

/// One `POST /api/v1/executions`; anything but `201 Created` is an error.
async fn post_start(http: reqwest::Client, url: Arc<String>, id: String) -> BenchResult<()> {
    let body = format!(r#"{{"executionId":"{id}","taskName":"{NOOP_STEPS}","payload":{STEPS}}}"#);
    let response = http
        .post(url.as_str())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await?;
    let status = response.status();
    let text = response.text().await?;
    if status != reqwest::StatusCode::CREATED {
        return Err(BenchError::Unexpected(format!(
            "POST /api/v1/executions answered {status}: {text}"
        )));
    }
    Ok(())
}

/// Runs `requests` calls of `call` (numbered from 0) from `clients` tasks, each
/// making one call at a time, and times each call and the whole phase.
async fn phase<F, Fut>(db: &BenchDb, clients: usize, requests: u64, call: F) -> BenchResult<Phase>
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = BenchResult<()>> + Send + 'static,
{
    let next = Arc::new(AtomicU64::new(0));
    let counters = db.commit_counters().unwrap_or_default();
    let cpu = cpu_secs().unwrap_or_default();
    let t0 = Instant::now();
    let mut tasks = JoinSet::new();
    for k in 0..clients {
        let (next, call) = (Arc::clone(&next), call.clone());
        tasks.spawn(async move {
            let mut took = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    return Ok::<_, BenchError>(took);
                }
                let start = Instant::now();
                call(k, i).await?;
                took.push(start.elapsed());
            }
        });
    }
    let mut all = Vec::with_capacity(requests as usize);
    while let Some(joined) = tasks.join_next().await {
        let took = joined.map_err(|e| BenchError::Unexpected(format!("a client task: {e}")))??;
        all.extend(took);
    }
    let wall = t0.elapsed();
    let cpu = cpu_secs().unwrap_or_default() - cpu;
    let (writes, commits) = db.commit_counters().unwrap_or_default();
    Ok(Phase {
        wall,
        took: all,
        cpu_us_per_request: cpu * 1e6 / requests.max(1) as f64,
        writes_per_commit: (writes - counters.0) as f64 / (commits - counters.1).max(1) as f64,
        commits: commits - counters.1,
    })
}

/// Waits until `started` executions (every one so far) have finished.
async fn drain(db: &BenchDb, started: u64, progress: &Progress) -> BenchResult<()> {
    let timeout = Duration::from_secs(120).max(Duration::from_secs_f64(started as f64 * 0.01));
    completion::wait_terminal(&db.store, db.store.subscribe(), started, timeout, progress).await?;
    Ok(())
}
