//! The mutable part of a context, and the reasons a run stops early.

use std::collections::HashMap;

use zart_core::{ExecutionError, Timestamp, WaitingFor};

/// Where and until when to park an execution.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Suspension {
    pub(crate) wake_at: Option<Timestamp>,
    pub(crate) waiting_for: WaitingFor,
}

/// Why the handler must stop before returning.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Halt {
    /// Park the execution: a timer, a wait, a child or a long backoff.
    Suspend(Suspension),
    /// Fail the execution whatever the handler does next (non-determinism).
    Fatal(ExecutionError),
    /// Another worker or a cancel took the execution: write nothing more.
    LeaseLost,
    /// A store call failed: stop. After a transient failure (the database unreachable
    /// for a moment) the worker hands the lease back so the execution resumes at once;
    /// after any other failure the lease expires, which spaces out the retries of a
    /// failure that would recur at once.
    Store {
        /// What failed, for the log.
        message: String,
        /// Whether to hand the lease back (the failure was transient).
        release: bool,
    },
}

impl Halt {
    /// The halt for a failed store call.
    pub(crate) fn store(err: &zart_core::StoreError) -> Self {
        Halt::Store {
            message: err.to_string(),
            release: err.is_transient(),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Halt::Suspend(_) => 0,
            Halt::Store { .. } => 1,
            Halt::Fatal(_) => 2,
            Halt::LeaseLost => 3,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct CtxState {
    pub(crate) next_position: u32,
    pub(crate) occurrences: HashMap<String, u32>,
    pub(crate) in_flight: usize,
    pub(crate) halt: Option<Halt>,
}

impl CtxState {
    /// Once halted, no new step may start.
    pub(crate) fn halt_for_new_work(&self) -> Option<Halt> {
        self.halt.clone()
    }

    /// Merges a new halt: the most severe reason wins; of two suspensions, the one that
    /// wakes first wins (no wake time counts as never).
    pub(crate) fn record_halt(&mut self, new: Halt) -> Halt {
        let merged = match self.halt.take() {
            None => new,
            Some(old) => match (old, new) {
                (Halt::Suspend(a), Halt::Suspend(b)) => {
                    let b_first = match (a.wake_at, b.wake_at) {
                        (_, None) => false,
                        (None, Some(_)) => true,
                        (Some(x), Some(y)) => y < x,
                    };
                    Halt::Suspend(if b_first { b } else { a })
                }
                (old, new) => {
                    if new.rank() > old.rank() {
                        new
                    } else {
                        old
                    }
                }
            },
        };
        self.halt = Some(merged.clone());
        merged
    }
}
