//! Retrying store calls through short outages (a database restart, a dropped
//! connection), so a finished step or execution is not thrown away for a blip.

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
