//! The model of one execution: what the store must hold for it.

use std::collections::{BTreeMap, VecDeque};

use serde_json::Value;
use zart_core::ExecutionStatus;

/// A held lease in the model: owner and expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Held {
    /// Worker index.
    pub worker: usize,
    /// Expiry (virtual ms).
    pub expires: i64,
}

/// What the store must hold for one execution.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ExecModel {
    /// Lifecycle state.
    pub status: ExecutionStatus,
    /// The fencing token.
    pub fence: i64,
    /// The lease, held or expired, until a suspend, release, finish or cancel.
    pub lease: Option<Held>,
    /// When it is runnable without a lease (`None`: only a wake-up makes it so).
    pub due_at: Option<i64>,
    /// The event name it is parked on, if parked on one.
    pub parked_on: Option<usize>,
    /// Unconsumed events, oldest first: (name index, payload).
    pub inbox: VecDeque<(usize, i64)>,
    /// Completed journal entries: (name, occurrence) to result.
    pub journal: BTreeMap<(String, u32), Value>,
}

impl ExecModel {
    /// A new execution, runnable at `run_at`.
    pub(super) fn new(run_at: i64) -> Self {
        Self {
            status: ExecutionStatus::Scheduled,
            fence: 0,
            lease: None,
            due_at: Some(run_at),
            parked_on: None,
            inbox: VecDeque::new(),
            journal: BTreeMap::new(),
        }
    }

    /// Claimable at `now`: unfinished, and due without a lease or its lease expired.
    pub(super) fn claimable(&self, now: i64) -> bool {
        !self.status.is_terminal()
            && match self.lease {
                Some(held) => held.expires <= now,
                None => self.due_at.is_some_and(|due| due <= now),
            }
    }

    /// When it next becomes claimable, as `execution_next_due` counts it.
    pub(super) fn next_due(&self) -> Option<i64> {
        if self.status.is_terminal() {
            return None;
        }
        self.lease.map(|held| held.expires).or(self.due_at)
    }

    /// Drops the lease and what it was parked on, and makes it due never.
    pub(super) fn unpark(&mut self) {
        self.lease = None;
        self.due_at = None;
        self.parked_on = None;
    }
}
