//! In-process wake-up hints: a broadcast channel fed by the writer after commits.

use async_trait::async_trait;
use tokio::sync::broadcast;
use zart_core::{Signal, Subscription};

/// Hints buffered per subscriber before it lags.
const CAPACITY: usize = 1024;

/// The sending side, owned by the writer thread (through clones).
#[derive(Clone)]
pub(crate) struct Signals {
    tx: broadcast::Sender<Signal>,
}

impl Signals {
    /// A channel with no subscribers yet.
    pub(crate) fn new() -> Self {
        Self::with_capacity(CAPACITY)
    }

    /// A channel buffering `capacity` hints per subscriber.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Self { tx }
    }

    /// Sends a hint; having no subscriber is fine.
    pub(crate) fn send(&self, signal: Signal) {
        let _ = self.tx.send(signal);
    }

    /// A new subscription, seeing hints sent from now on.
    pub(crate) fn subscribe(&self) -> Box<dyn Subscription> {
        Box::new(BroadcastSubscription {
            rx: self.tx.subscribe(),
        })
    }
}

struct BroadcastSubscription {
    rx: broadcast::Receiver<Signal>,
}

#[async_trait]
impl Subscription for BroadcastSubscription {
    async fn recv(&mut self) -> Option<Signal> {
        match self.rx.recv().await {
            Ok(signal) => Some(signal),
            Err(broadcast::error::RecvError::Lagged(_)) => Some(Signal::Lagged),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lagging_subscriber_gets_lagged_then_newer_hints() {
        let signals = Signals::with_capacity(2);
        let mut sub = signals.subscribe();
        for _ in 0..5 {
            signals.send(Signal::Work);
        }
        assert_eq!(sub.recv().await, Some(Signal::Lagged));
        assert_eq!(sub.recv().await, Some(Signal::Work));
    }

    #[tokio::test]
    async fn subscription_ends_when_the_sender_is_gone() {
        let signals = Signals::new();
        let mut sub = signals.subscribe();
        drop(signals);
        assert_eq!(sub.recv().await, None);
    }
}
