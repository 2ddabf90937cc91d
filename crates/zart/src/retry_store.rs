//! Retrying the write that ends a run (finish, suspend, or lease hand-back: see
//! `worker/run.rs`) through a short outage (a database restart, a dropped connection:
//! any error [`StoreError::is_transient`] reports), so the outcome of a run that is
//! already over is not thrown away for a blip.
//!
//! Nothing else is retried here. A step save (or any other store call made while the
//! handler runs) that fails halts the run instead; when the failure is transient the
//! lease is handed back, and the step runs again when the execution resumes.

use std::future::Future;
use std::time::{Duration, Instant};

use zart_core::StoreError;

const FIRST_DELAY: Duration = Duration::from_millis(50);
const MAX_DELAY: Duration = Duration::from_secs(2);

/// Calls `op` until it succeeds, fails with a non-transient error, or `patience` runs
/// out, backing off exponentially between tries. `op` must be idempotent.
pub(crate) async fn retry_store<T, F, Fut>(patience: Duration, mut op: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let started = Instant::now();
    let mut delay = FIRST_DELAY;
    loop {
        match op().await {
            Err(e) if e.is_transient() && started.elapsed() + delay < patience => {
                tracing::debug!(error = %e, "store unavailable; retrying in {delay:?}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_DELAY);
            }
            result => return result,
        }
    }
}
