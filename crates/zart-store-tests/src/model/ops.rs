//! The operations a model test case is made of, and their generators.
//!
//! Operations name executions, workers and event names by small indexes, so random
//! sequences keep hitting the same few executions (that is where the races are), and
//! a worker's write names one of the leases it was given (a *slot*) rather than an
//! execution: stale leases stay in a worker's hands and keep being tried.

use proptest::prelude::*;

/// How many distinct executions a case works on (`x0`, `x1`, ...).
pub const EXECUTIONS: usize = 3;

/// How many simulated workers a case has (`w0`, `w1`, ...).
pub const WORKERS: usize = 3;

/// The event names used.
pub const EVENT_NAMES: [&str; 2] = ["a", "b"];

/// Lease length of every claim and renewal in the model, in virtual milliseconds.
pub const LEASE_MS: i64 = 1_000;

/// Which of its leases a worker writes with: its `slot`-th most recent claim
/// (modulo how many it holds). A worker with no lease skips the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder {
    /// The worker.
    pub worker: usize,
    /// Which of its leases.
    pub slot: usize,
}

/// What a suspension waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// An event of `EVENT_NAMES[name]`, timing out `wake_in` ms from now if given.
    Event {
        /// Index into [`EVENT_NAMES`].
        name: usize,
        /// Deadline offset.
        wake_in: Option<i64>,
    },
    /// A timer due `wake_in` ms from now.
    Timer {
        /// Due offset.
        wake_in: i64,
    },
}

/// One step of a case: a store call (or a few racing ones) or the passing of time.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Inserts execution `exec`, runnable `delay` ms from now.
    Insert {
        /// Execution index.
        exec: usize,
        /// Due offset.
        delay: i64,
    },
    /// Virtual time moves forward (leases expire, timers come due).
    Advance {
        /// Milliseconds.
        ms: i64,
    },
    /// A worker claims up to `limit` executions.
    Claim {
        /// The worker.
        worker: usize,
        /// The claim limit.
        limit: u32,
    },
    /// A worker renews every lease it was ever given (current and stale).
    Renew {
        /// The worker.
        worker: usize,
    },
    /// A completed step `s{step}` saved under a lease.
    SaveStep {
        /// The lease used.
        by: Holder,
        /// Step name index.
        step: u32,
    },
    /// A suspension under a lease.
    Suspend {
        /// The lease used.
        by: Holder,
        /// What it waits for.
        wait: Wait,
    },
    /// A release (graceful shutdown) under a lease.
    Release {
        /// The lease used.
        by: Holder,
    },
    /// An event offered to execution `exec`.
    Offer {
        /// Execution index.
        exec: usize,
        /// Index into [`EVENT_NAMES`].
        name: usize,
    },
    /// An event consumed under a lease.
    Consume {
        /// The lease used.
        by: Holder,
        /// Index into [`EVENT_NAMES`].
        name: usize,
    },
    /// A cancellation of execution `exec`.
    Cancel {
        /// Execution index.
        exec: usize,
    },
    /// A finish under a lease.
    Finish {
        /// The lease used.
        by: Holder,
    },
    /// Store calls made at the same time.
    Race(Race),
}

/// Two or three store calls in flight at once. Any order of them is a correct
/// outcome; the model accepts the results if some order explains them.
#[derive(Debug, Clone, PartialEq)]
pub enum Race {
    /// Workers `0..limits.len()` claim at once.
    Claims {
        /// Each worker's limit.
        limits: Vec<u32>,
    },
    /// Two events of a name are offered, then two waits of the same execution
    /// consume that name at once.
    Consumes {
        /// The lease used by both.
        by: Holder,
        /// Index into [`EVENT_NAMES`].
        name: usize,
    },
    /// A consume and an offer of the same name to the same execution.
    ConsumeOffer {
        /// The lease used.
        by: Holder,
        /// Index into [`EVENT_NAMES`].
        name: usize,
    },
    /// A suspension on an event and an offer of that event (the lost wake-up race).
    SuspendOffer {
        /// The lease used.
        by: Holder,
        /// Index into [`EVENT_NAMES`].
        name: usize,
    },
    /// A finish and a cancel of the same execution.
    FinishCancel {
        /// The lease used.
        by: Holder,
    },
    /// A step save and a cancel of the same execution.
    SaveCancel {
        /// The lease used.
        by: Holder,
        /// Step name index.
        step: u32,
    },
}

fn holder() -> impl Strategy<Value = Holder> {
    // Mostly the newest lease (likely valid), sometimes an older (likely stale) one.
    let slot = prop_oneof![4 => Just(0usize), 1 => Just(1), 1 => Just(2)];
    (0..WORKERS, slot).prop_map(|(worker, slot)| Holder { worker, slot })
}

fn name() -> impl Strategy<Value = usize> {
    0..EVENT_NAMES.len()
}

fn wait() -> impl Strategy<Value = Wait> {
    prop_oneof![
        (name(), proptest::option::of(0..3_000i64))
            .prop_map(|(name, wake_in)| Wait::Event { name, wake_in }),
        (0..3_000i64).prop_map(|wake_in| Wait::Timer { wake_in }),
    ]
}

fn race() -> impl Strategy<Value = Race> {
    prop_oneof![
        2 => proptest::collection::vec(1..3u32, 2..=WORKERS).prop_map(|limits| Race::Claims { limits }),
        3 => (holder(), name()).prop_map(|(by, name)| Race::Consumes { by, name }),
        2 => (holder(), name()).prop_map(|(by, name)| Race::ConsumeOffer { by, name }),
        2 => (holder(), name()).prop_map(|(by, name)| Race::SuspendOffer { by, name }),
        2 => holder().prop_map(|by| Race::FinishCancel { by }),
        2 => (holder(), 0..3u32).prop_map(|(by, step)| Race::SaveCancel { by, step }),
    ]
}

/// One random operation, weighted so that most cases claim, hold and lose leases.
pub fn op() -> impl Strategy<Value = Op> {
    let exec = 0..EXECUTIONS;
    prop_oneof![
        1 => (exec.clone(), prop_oneof![Just(0i64), Just(500)])
            .prop_map(|(exec, delay)| Op::Insert { exec, delay }),
        3 => prop_oneof![0..200i64, 900..1_600i64].prop_map(|ms| Op::Advance { ms }),
        5 => (0..WORKERS, 1..3u32).prop_map(|(worker, limit)| Op::Claim { worker, limit }),
        1 => (0..WORKERS).prop_map(|worker| Op::Renew { worker }),
        3 => (holder(), 0..3u32).prop_map(|(by, step)| Op::SaveStep { by, step }),
        2 => (holder(), wait()).prop_map(|(by, wait)| Op::Suspend { by, wait }),
        1 => holder().prop_map(|by| Op::Release { by }),
        3 => (exec.clone(), name()).prop_map(|(exec, name)| Op::Offer { exec, name }),
        3 => (holder(), name()).prop_map(|(by, name)| Op::Consume { by, name }),
        1 => exec.prop_map(|exec| Op::Cancel { exec }),
        1 => holder().prop_map(|by| Op::Finish { by }),
        5 => race().prop_map(Op::Race),
    ]
}

/// A case: a short random sequence of operations.
pub fn case(max_len: usize) -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(op(), 1..=max_len)
}
