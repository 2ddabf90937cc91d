//! `--scenario http`: the latency of `POST /api/v1/executions` through the real
//! server (`zart_api::router` served by `zart_api::serve` on a loopback socket in
//! this process), one request at a time over a keep-alive connection, after a
//! warm-up. A worker runs next to the server, as in `zart serve`, so the started
//! executions run while later requests are measured.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use zart::{WorkerConfig, Zart};

use crate::args::Args;
use crate::database::BenchDb;
use crate::error::{BenchError, BenchResult};
use crate::percentiles::Percentiles;
use crate::progress::Progress;
use crate::report::HttpReport;
use crate::workflows::{self, NOOP_STEPS};

/// Unmeasured requests first (connection set-up, statement caches).
const WARM_UP: u32 = 50;

/// Runs the scenario.
pub async fn run(db: &BenchDb, args: &Args, progress: &Progress) -> BenchResult<HttpReport> {
    let samples = args.samples();
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
        "server on http://{address}: {WARM_UP} warm-up requests, then {samples} measured"
    ));
    let measured = measure(&format!("http://{address}"), samples).await;
    let _ = stop.send(());
    let served = server.await;
    worker.shutdown(Duration::from_secs(5)).await;
    let took = measured?;
    served.map_err(|e| BenchError::Unexpected(format!("the server task failed: {e}")))??;
    Ok(HttpReport {
        backend: db.backend().as_str().to_owned(),
        http_start_ms: Percentiles::of(&took)
            .ok_or_else(|| BenchError::Unexpected("no samples".into()))?,
        samples,
    })
}

async fn measure(base: &str, samples: u32) -> BenchResult<Vec<Duration>> {
    let http = reqwest::Client::builder().no_proxy().build()?;
    let url = format!("{base}/api/v1/executions");
    let mut took = Vec::with_capacity(samples as usize);
    for i in 0..WARM_UP + samples {
        let body = json!({"executionId": format!("h-{i}"), "taskName": NOOP_STEPS, "payload": 3});
        let t0 = Instant::now();
        let response = http.post(&url).json(&body).send().await?;
        let status = response.status();
        let text = response.text().await?;
        let elapsed = t0.elapsed();
        if status != reqwest::StatusCode::CREATED {
            return Err(BenchError::Unexpected(format!(
                "POST /api/v1/executions answered {status}: {text}"
            )));
        }
        if i >= WARM_UP {
            took.push(elapsed);
        }
    }
    Ok(took)
}
