//! Wake-up hints over LISTEN/NOTIFY.
//!
//! Writes call `pg_notify` inside their own transaction, so a hint fires only on
//! commit. Each store runs one listener task on a dedicated connection and fans
//! hints out to its subscribers through a broadcast channel. When that connection
//! drops, subscribers get [`Signal::Lagged`] (re-read the database) and the task
//! reconnects with backoff, then sends `Lagged` again once it listens anew.
//!
//! Payloads: `w` = [`Signal::Work`], `f:<status>:<id>` = [`Signal::Finished`],
//! `p` = [`Signal::Pauses`], `s` = [`Signal::Schedules`], `l` = [`Signal::Lagged`] (used when a `Finished` payload would exceed NOTIFY's
//! 8000-byte limit).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::PgPool;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use zart_core::{ExecutionStatus, Signal, Subscription};

use crate::error::PgError;
use crate::health::Health;

/// The `Work` payload.
pub(crate) const WORK: &str = "w";

/// The `Pauses` payload.
pub(crate) const PAUSES: &str = "p";

/// The `Schedules` payload.
pub(crate) const SCHEDULES: &str = "s";

/// Hints buffered per subscriber before it sees `Lagged`.
pub(crate) const CAPACITY: usize = 1024;

const MAX_PAYLOAD: usize = 7_900;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The NOTIFY payload announcing that `id` finished with `status`.
pub(crate) fn finished_payload(id: &str, status: ExecutionStatus) -> String {
    let payload = format!("f:{status}:{id}");
    if payload.len() <= MAX_PAYLOAD {
        payload
    } else {
        "l".to_owned()
    }
}

/// The signal a payload stands for; unknown payloads are ignored.
pub(crate) fn decode(payload: &str) -> Option<Signal> {
    match payload {
        WORK => Some(Signal::Work),
        PAUSES => Some(Signal::Pauses),
        SCHEDULES => Some(Signal::Schedules),
        "l" => Some(Signal::Lagged),
        _ => {
            let rest = payload.strip_prefix("f:")?;
            let (status, id) = rest.split_once(':')?;
            Some(Signal::Finished {
                execution_id: id.to_owned(),
                status: status.parse().ok()?,
            })
        }
    }
}

/// A subscriber's end of the broadcast channel.
pub(crate) struct PgSubscription {
    pub(crate) rx: broadcast::Receiver<Signal>,
}

#[async_trait]
impl Subscription for PgSubscription {
    async fn recv(&mut self) -> Option<Signal> {
        match self.rx.recv().await {
            Ok(signal) => Some(signal),
            Err(broadcast::error::RecvError::Lagged(_)) => Some(Signal::Lagged),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

/// Where the listener reports: hints to subscribers, a lost connection to the
/// store's health too (the first sign of an outage, before any call fails).
pub(crate) struct Hints {
    pub(crate) tx: broadcast::Sender<Signal>,
    pub(crate) health: Arc<Health>,
}

impl Hints {
    fn connection_lost(&self) {
        self.health.mark_down();
        let _ = self.tx.send(Signal::Lagged);
    }
}

/// Opens the LISTEN connection (failing if it cannot) and spawns the task that
/// forwards hints until aborted.
pub(crate) async fn start(
    options: PgConnectOptions,
    acquire_timeout: Duration,
    channel: String,
    hints: Hints,
) -> Result<JoinHandle<()>, PgError> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(acquire_timeout)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_lazy_with(options);
    let listener = listen(&pool, &channel).await?;
    Ok(tokio::spawn(forward(listener, pool, channel, hints)))
}

async fn listen(pool: &PgPool, channel: &str) -> Result<PgListener, PgError> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(channel).await?;
    Ok(listener)
}

async fn forward(first: PgListener, pool: PgPool, channel: String, hints: Hints) {
    let mut listener = Some(first);
    let mut backoff = FIRST_BACKOFF;
    loop {
        let current = match listener.as_mut() {
            Some(current) => current,
            None => {
                let fresh = reconnect(&pool, &channel, &mut backoff).await;
                let _ = hints.tx.send(Signal::Lagged);
                listener.insert(fresh)
            }
        };
        match current.try_recv().await {
            Ok(Some(notification)) => {
                backoff = FIRST_BACKOFF;
                if let Some(signal) = decode(notification.payload()) {
                    let _ = hints.tx.send(signal);
                }
            }
            // The connection dropped; the driver listens again on the next call, and
            // hints sent in between are lost.
            Ok(None) => hints.connection_lost(),
            Err(e) => {
                tracing::warn!(error = %crate::error::map_sqlx(e), "LISTEN connection lost");
                hints.connection_lost();
                // Return the connection to the one-connection pool before reconnecting.
                listener = None;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn reconnect(pool: &PgPool, channel: &str, backoff: &mut Duration) -> PgListener {
    loop {
        match listen(pool, channel).await {
            Ok(listener) => {
                tracing::info!(channel, "LISTEN connection re-established");
                return listener;
            }
            Err(e) => {
                let e = zart_core::StoreError::from(e);
                tracing::warn!(error = %e, retry_in = ?*backoff, "cannot re-establish LISTEN");
                tokio::time::sleep(*backoff).await;
                *backoff = (*backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        assert_eq!(decode(WORK), Some(Signal::Work));
        assert_eq!(decode(PAUSES), Some(Signal::Pauses));
        assert_eq!(decode(SCHEDULES), Some(Signal::Schedules));
        let p = finished_payload("a:b", ExecutionStatus::Cancelled);
        assert_eq!(
            decode(&p),
            Some(Signal::Finished {
                execution_id: "a:b".into(),
                status: ExecutionStatus::Cancelled
            })
        );
        assert_eq!(decode("f:bogus:x"), None);
        assert_eq!(decode("zzz"), None);
    }

    #[test]
    fn oversized_finished_payload_becomes_lagged() {
        let p = finished_payload(&"x".repeat(10_000), ExecutionStatus::Completed);
        assert_eq!(decode(&p), Some(Signal::Lagged));
    }
}
