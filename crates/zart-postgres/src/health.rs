//! Failing fast while the server is down.
//!
//! When PostgreSQL is unreachable, every pool acquire retries a refused connection
//! until the acquire timeout (5 s by default), so readiness checks and every call
//! took that long to fail. The store remembers that the server is down (a call
//! failed for want of a connection, or the LISTEN connection dropped) and, while it
//! is, first probes with a short acquire ([`PROBE_TIMEOUT`]): a dead server fails
//! the call within it, a live one clears the mark and the call runs as usual.
//! Readiness checks always use the short acquire.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use zart_core::{StoreError, StoreResult};

/// How long a readiness check or a probe waits for a connection: short enough that
/// `/readyz` and every call answer within a second while the server is down.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_millis(750);

/// Whether the server was last seen down.
#[derive(Debug, Default)]
pub(crate) struct Health {
    down: AtomicBool,
}

impl Health {
    /// Notes that the server could not be reached.
    pub(crate) fn mark_down(&self) {
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::warn!("database unreachable: calls fail fast until it answers");
        }
    }

    fn mark_up(&self) {
        if self.down.swap(false, Ordering::Relaxed) {
            tracing::info!("database reachable again");
        }
    }

    /// Fails at once (within [`PROBE_TIMEOUT`]) if the server was seen down and
    /// still gives no connection. Free while the server is up: one relaxed load.
    pub(crate) async fn check(&self, pool: &PgPool) -> StoreResult<()> {
        if !self.down.load(Ordering::Relaxed) {
            return Ok(());
        }
        match tokio::time::timeout(PROBE_TIMEOUT, pool.acquire()).await {
            Ok(Ok(_connection)) => {
                self.mark_up();
                Ok(())
            }
            // Every connection busy means the server answers: it is up, only busy.
            Err(_) if saturated(pool) => {
                self.mark_up();
                Ok(())
            }
            Ok(Err(_)) | Err(_) => Err(unreachable()),
        }
    }

    /// Marks the server down when `result` failed for want of a connection. A pool
    /// whose every connection is open and busy is not down, only saturated.
    pub(crate) fn observe<T>(&self, result: &StoreResult<T>, pool: &PgPool) {
        if matches!(result, Err(StoreError::Unavailable(_))) && !saturated(pool) {
            self.mark_down();
        }
    }

    /// Runs a readiness query with the short acquire, noting the outcome.
    pub(crate) async fn ping(&self, pool: &PgPool) -> StoreResult<()> {
        let query = async {
            let mut connection = pool.acquire().await?;
            sqlx::query("SELECT 1").execute(&mut *connection).await?;
            Ok::<(), sqlx::Error>(())
        };
        let result = match tokio::time::timeout(PROBE_TIMEOUT, query).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(crate::error::map_sqlx(e)),
            Err(_) => Err(unreachable()),
        };
        match &result {
            Ok(()) => self.mark_up(),
            Err(_) => self.observe(&result, pool),
        }
        result
    }

    /// Runs `call` after [`Health::check`], and observes its result.
    pub(crate) async fn guard<T>(
        &self,
        pool: &PgPool,
        call: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        self.check(pool).await?;
        let result = call.await;
        self.observe(&result, pool);
        result
    }
}

fn saturated(pool: &PgPool) -> bool {
    pool.size() >= pool.options().get_max_connections() && pool.num_idle() == 0
}

fn unreachable() -> StoreError {
    StoreError::Unavailable(format!(
        "database unreachable: no connection within {PROBE_TIMEOUT:?}"
    ))
}

/// How long a connection may sit idle in the pool and still be handed out without a
/// ping first. sqlx pings every connection when it is released, so one idle for less
/// than this was alive a moment ago; one idle for longer (say, across a server
/// restart) is pinged on acquire and replaced when dead. Pinging on every acquire
/// cost a round trip per statement: about 0.4 ms of a 3-step execution's
/// start-to-complete time on loopback (docs/performance.md).
pub(crate) const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// For how long after a connection error every acquire pings again: the server
/// restarted or killed its backends, so connections that were alive when released
/// may be dead now, and each is tested before a statement is sent on it.
pub(crate) const PING_ALL_AFTER_ERROR: Duration = Duration::from_secs(10);

/// When a connection error was last seen, in milliseconds after [`epoch`] plus one
/// (0: never). Process-wide, since `map_sqlx` has no store at hand; a store that
/// pings because another store in the process saw an error only pays the old cost.
static LAST_CONNECTION_ERROR: AtomicU64 = AtomicU64::new(0);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Notes that a connection failed (an I/O, TLS or protocol error, or the server
/// ending the session), so acquires ping for the next [`PING_ALL_AFTER_ERROR`].
pub(crate) fn note_connection_error() {
    let at = epoch().elapsed().as_millis() as u64 + 1;
    LAST_CONNECTION_ERROR.fetch_max(at, Ordering::Relaxed);
}

/// Whether a connection idle for `idle_for` is pinged before it is handed out.
pub(crate) fn ping_before_use(idle_for: Duration) -> bool {
    if idle_for >= PING_IF_IDLE_FOR {
        return true;
    }
    let last = LAST_CONNECTION_ERROR.load(Ordering::Relaxed);
    last != 0
        && epoch().elapsed().as_millis() as u64 + 1 - last < PING_ALL_AFTER_ERROR.as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recently_released_connections_skip_the_ping_until_a_connection_error() {
        // Other tests in this binary may note errors; this one only moves forward.
        assert!(ping_before_use(PING_IF_IDLE_FOR));
        note_connection_error();
        assert!(ping_before_use(Duration::ZERO));
    }
}
