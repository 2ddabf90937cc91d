//! Injectable time source.

use std::sync::Mutex;

use crate::Timestamp;

/// A source of the current time. The runtime reads time only through this trait, so
/// tests can drive time explicitly with [`ManualClock`].
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        chrono::Utc::now()
    }
}

/// A clock that only moves when told to. For tests: given to `ZartBuilder::clock`
/// it decides claims, leases and due times, so a test of a long durable sleep
/// advances it instead of waiting (the runtime's `tests/manual_clock.rs`). A store
/// with a clock of its own ([`Store::clock`](crate::Store::clock), PostgreSQL)
/// ignores it.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Timestamp>,
}

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// Moves the clock forward by `by`, stopping at the end of chrono's calendar
    /// instead of panicking.
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now = now
            .checked_add_signed(by)
            .unwrap_or(if by < chrono::Duration::zero() {
                Timestamp::MIN_UTC
            } else {
                Timestamp::MAX_UTC
            });
    }

    /// Sets the clock to `to`.
    pub fn set(&self, to: Timestamp) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}
