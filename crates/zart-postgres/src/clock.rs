//! The database's clock, read without a round trip.
//!
//! Leases, guards and due times compare instants written by many hosts, so on
//! PostgreSQL they must all come from one clock: the server's. Asking the server on
//! every claim or step would add SQL to the hot path, so the store samples the
//! server time (at connect, then every [`RESAMPLE`]) and extrapolates between
//! samples with the host's monotonic clock: a jump of the host's wall clock does not
//! move it. The error is at most half the sample's round trip plus the drift of the
//! host's monotonic clock since the sample (tens of parts per million).

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokio::task::JoinHandle;
use zart_core::{Clock, Timestamp};

use crate::error::PgError;

/// How often the server time is sampled again.
pub(crate) const RESAMPLE: Duration = Duration::from_secs(15);

/// A generous bound on how fast the host's monotonic clock drifts from the
/// server's (100 ppm), used to compare a fresh sample with an aging one.
const DRIFT_PER_SEC: Duration = Duration::from_micros(100);

/// The server's time at a host instant, known within `error`.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    server: Timestamp,
    error: Duration,
}

impl Sample {
    /// The error bound of this sample now, drift included.
    fn error_now(&self) -> Duration {
        self.error + DRIFT_PER_SEC.mul_f64(self.at.elapsed().as_secs_f64())
    }
}

/// A [`Clock`] reading the database server's time.
#[derive(Debug)]
pub(crate) struct DbClock {
    sample: Mutex<Sample>,
}

impl Clock for DbClock {
    fn now(&self) -> Timestamp {
        let sample = *self.sample.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed = chrono::Duration::from_std(sample.at.elapsed()).unwrap_or_default();
        sample.server + elapsed
    }
}

impl DbClock {
    /// Samples the server once; fails if it cannot be reached.
    pub(crate) async fn connect(pool: &PgPool) -> Result<Arc<DbClock>, PgError> {
        let first = sample(pool).await?;
        Ok(Arc::new(DbClock {
            sample: Mutex::new(first),
        }))
    }

    /// Keeps `new` if it is at least as precise as the current sample has become.
    fn offer(&self, new: Sample) {
        let mut current = self.sample.lock().unwrap_or_else(|e| e.into_inner());
        if new.error <= current.error_now() {
            *current = new;
        }
    }
}

/// Resamples every [`RESAMPLE`] until the clock is dropped. A failed sample (the
/// server is down) keeps the old one: the monotonic extrapolation stays valid.
pub(crate) fn resample(clock: &Arc<DbClock>, pool: PgPool) -> JoinHandle<()> {
    let clock: Weak<DbClock> = Arc::downgrade(clock);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(RESAMPLE).await;
            let Some(clock) = clock.upgrade() else {
                return;
            };
            match sample(&pool).await {
                Ok(fresh) => clock.offer(fresh),
                Err(e) => {
                    let e = zart_core::StoreError::from(e);
                    tracing::debug!(error = %e, "cannot sample the database clock");
                }
            }
        }
    })
}

/// One reading of the server time, placed at the midpoint of its round trip. The
/// connection is acquired first, so waiting for the pool does not count.
async fn sample(pool: &PgPool) -> Result<Sample, PgError> {
    let mut conn = pool.acquire().await?;
    let sent = Instant::now();
    let micros: i64 =
        sqlx::query_scalar("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint")
            .fetch_one(&mut *conn)
            .await?;
    let round_trip = sent.elapsed();
    let server = chrono::DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| crate::error::corrupt(format_args!("server time {micros} µs")))?;
    Ok(Sample {
        at: sent + round_trip / 2,
        server,
        error: round_trip / 2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_with(error_ms: u64, server_ms: i64) -> Sample {
        Sample {
            at: Instant::now(),
            server: chrono::DateTime::from_timestamp_millis(server_ms).unwrap_or_default(),
            error: Duration::from_millis(error_ms),
        }
    }

    #[test]
    fn a_less_precise_sample_does_not_replace_a_fresh_precise_one() {
        let clock = DbClock {
            sample: Mutex::new(sample_with(1, 1_000_000)),
        };
        clock.offer(sample_with(400, 5_000_000));
        assert!(clock.now().timestamp_millis() < 2_000_000);
        clock.offer(sample_with(1, 5_000_000));
        assert!(clock.now().timestamp_millis() >= 5_000_000);
    }

    #[test]
    fn time_advances_with_the_monotonic_clock() {
        let clock = DbClock {
            sample: Mutex::new(sample_with(0, 1_000_000)),
        };
        let first = clock.now();
        std::thread::sleep(Duration::from_millis(20));
        let later = clock.now() - first;
        assert!(later >= chrono::Duration::milliseconds(20), "{later}");
    }
}
