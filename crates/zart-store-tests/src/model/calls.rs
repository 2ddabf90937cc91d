//! Concrete store calls (an operation with its lease, payload and occurrence
//! resolved) and what the store answered.

use serde_json::{json, Value};
use zart_core::{CancelOutcome, ClaimedExecution, EventTake, OfferOutcome};

use super::ops::{Wait, EVENT_NAMES};

/// A lease a worker was given by a claim: what it writes with, valid or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Lease {
    /// Execution index.
    pub exec: usize,
    /// Worker index.
    pub worker: usize,
    /// The fence the claim returned.
    pub fence: i64,
}

/// One store call, fully determined.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Call {
    /// `execution_insert`.
    Insert {
        /// Execution index.
        exec: usize,
        /// When it becomes runnable.
        run_at: i64,
    },
    /// `execution_claim`.
    Claim {
        /// Worker index.
        worker: usize,
        /// The limit.
        limit: u32,
    },
    /// `lease_renew` of every lease the worker holds.
    Renew {
        /// Worker index.
        worker: usize,
        /// The leases named.
        leases: Vec<Lease>,
    },
    /// `step_save` of a completed step `s{step}`.
    Save {
        /// The guard.
        lease: Lease,
        /// Step name index.
        step: u32,
    },
    /// `execution_suspend`.
    Suspend {
        /// The guard.
        lease: Lease,
        /// What it waits for.
        wait: Wait,
    },
    /// `execution_release`.
    Release {
        /// The guard.
        lease: Lease,
    },
    /// `event_offer` of payload `payload` (unique per case).
    Offer {
        /// Execution index.
        exec: usize,
        /// Index into the event names.
        name: usize,
        /// The payload, a number unique in the case.
        payload: i64,
    },
    /// `event_consume` completing wait step `wait_{name}#{occurrence}`.
    Consume {
        /// The guard.
        lease: Lease,
        /// Index into the event names.
        name: usize,
        /// The wait step's occurrence (unique in the case).
        occurrence: u32,
    },
    /// `execution_cancel`.
    Cancel {
        /// Execution index.
        exec: usize,
    },
    /// `execution_finish` with a completed outcome.
    Finish {
        /// The guard.
        lease: Lease,
    },
}

/// What the store answered to a [`Call`].
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Outcome {
    /// Insert: whether it created the execution.
    Inserted(bool),
    /// Claim.
    Claimed(Vec<ClaimedExecution>),
    /// Renew: the ids renewed.
    Renewed(Vec<String>),
    /// A guarded write: whether it applied.
    Applied(bool),
    /// Offer.
    Offered(OfferOutcome),
    /// Consume.
    Took(EventTake),
    /// Cancel.
    Cancelled(CancelOutcome),
}

/// The id of execution `i`.
pub(super) fn exec_id(i: usize) -> String {
    format!("x{i}")
}

/// The id of worker `w`.
pub(super) fn worker_id(w: usize) -> String {
    format!("w{w}")
}

/// The result a step or a finish writes: who wrote it under which fence, so a write
/// accepted under a stale lease shows in the journal.
pub(super) fn written_by(lease: &Lease, what: &str) -> Value {
    json!({ "what": what, "worker": lease.worker, "fence": lease.fence })
}

/// The wait step's name for event name index `name`.
pub(super) fn wait_step_name(name: usize) -> String {
    format!("wait_{}", EVENT_NAMES[name])
}
