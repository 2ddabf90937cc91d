//! What a [`TestEnv`](super::TestEnv) tells the engine: injected step faults, armed
//! crashes, and the accounting the harness reads back (step runs, activity). The
//! engine consults these only when its `Zart` carries hooks, which only a `TestEnv`
//! can give it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use tokio::sync::Notify;

use crate::TaskError;

/// A fault armed for a step name.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// The next `remaining` attempts fail with a retryable error.
    Fail { remaining: u32 },
    /// Every attempt fails with a permanent error.
    Permanent,
}

/// A crash armed for one execution: after `after` more completed steps.
#[derive(Debug)]
struct Crash {
    execution_id: String,
    after: u32,
}

#[derive(Debug, Default)]
pub(crate) struct Hooks {
    faults: Mutex<HashMap<String, Fault>>,
    /// Closure runs per (execution id, step id).
    runs: Mutex<HashMap<(String, String), u32>>,
    crash: Mutex<Option<Crash>>,
    /// Set when an armed crash fired and the harness has not replaced the worker yet.
    crashed: AtomicBool,
    /// Pulsed whenever the worker may have become idle: a claim pass ended, a run
    /// ended, a schedule pass ended.
    pub(crate) activity: Notify,
    /// Wakes the schedule loop after the virtual clock moved.
    pub(crate) wake_schedules: Notify,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Hooks {
    pub(crate) fn fail_step(&self, name: &str, times: u32) {
        lock(&self.faults).insert(name.to_owned(), Fault::Fail { remaining: times });
    }

    pub(crate) fn fail_step_permanently(&self, name: &str) {
        lock(&self.faults).insert(name.to_owned(), Fault::Permanent);
    }

    pub(crate) fn crash_after_steps(&self, execution_id: &str, after: u32) {
        *lock(&self.crash) = Some(Crash {
            execution_id: execution_id.to_owned(),
            after,
        });
    }

    /// Called before an attempt of step `step_id` (named `name`): the injected error
    /// when a fault is armed for `name` (the closure then does not run); otherwise
    /// the run is counted and `None` lets the closure run.
    pub(crate) fn before_attempt(
        &self,
        execution_id: &str,
        name: &str,
        step_id: &str,
    ) -> Option<TaskError> {
        let mut faults = lock(&self.faults);
        match faults.get_mut(name) {
            Some(Fault::Permanent) => {
                return Some(TaskError::permanent(format!(
                    "injected permanent failure of step {name:?}"
                )))
            }
            Some(Fault::Fail { remaining }) if *remaining > 0 => {
                *remaining -= 1;
                return Some(TaskError::retryable(format!(
                    "injected failure of step {name:?}"
                )));
            }
            _ => {}
        }
        drop(faults);
        *lock(&self.runs)
            .entry((execution_id.to_owned(), step_id.to_owned()))
            .or_insert(0) += 1;
        None
    }

    /// Called after a step of `execution_id` completed and was saved: whether an armed
    /// crash fires now (the worker must then die without writing anything more).
    pub(crate) fn step_completed(&self, execution_id: &str) -> bool {
        let mut crash = lock(&self.crash);
        let Some(armed) = crash.as_mut().filter(|c| c.execution_id == execution_id) else {
            return false;
        };
        armed.after = armed.after.saturating_sub(1);
        if armed.after > 0 {
            return false;
        }
        *crash = None;
        self.crashed.store(true, Ordering::SeqCst);
        true
    }

    /// Whether a crash fired since the last call.
    pub(crate) fn take_crash(&self) -> bool {
        self.crashed.swap(false, Ordering::SeqCst)
    }

    pub(crate) fn runs(&self, execution_id: &str, step_id: &str) -> u32 {
        lock(&self.runs)
            .get(&(execution_id.to_owned(), step_id.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn pulse(&self) {
        self.activity.notify_waiters();
    }
}
