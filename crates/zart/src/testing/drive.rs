//! The harness loop: run what can run, and move the virtual clock only when the
//! engine is idle.
//!
//! Idle means: the worker has no claim in flight and no run holding a lease, and
//! the store has nothing due at the virtual now. The worker's claim counter is read
//! before and after the store, so a claim that slipped in between (taking a due
//! execution out of the store's answer before it shows as running) makes the round
//! count as busy. Every transition out of busy pulses `Hooks::activity` (a claim
//! pass ends, a run ends, a schedule pass ends), and the loop registers for that
//! pulse before it looks, so no wake-up is lost and no real-time wait is needed.

use zart_core::{ExecutionRecord, Timestamp};

use super::{TestEnv, TestEnvError};

/// The most rounds one call goes without reaching its goal or going idle.
const MAX_ROUNDS: u32 = 100_000;

/// Stop once `holds` is true of execution `id`.
pub(super) struct Goal<'a> {
    pub(super) id: &'a str,
    pub(super) holds: &'a dyn Fn(&ExecutionRecord) -> bool,
}

/// What the engine is doing, as one round sees it.
enum Round {
    /// A claim or a run is in flight: wait for the worker's pulse.
    Busy,
    /// Something is due at the virtual now: wake the worker and the schedule loop.
    DueNow,
    /// Nothing can run before this instant.
    DueAt(Timestamp),
    /// Nothing is due, ever, without outside help (an event, a child).
    Idle,
}

impl TestEnv {
    /// Runs until `goal` holds (returning the execution), or, without a goal, until
    /// the engine is idle with the clock at `limit`. The clock never passes `limit`.
    pub(super) async fn drive(
        &self,
        goal: Option<Goal<'_>>,
        limit: Option<Timestamp>,
    ) -> Result<Option<ExecutionRecord>, TestEnvError> {
        for _ in 0..MAX_ROUNDS {
            let pulse = self.hooks.activity.notified();
            let mut pulse = std::pin::pin!(pulse);
            pulse.as_mut().enable();
            if self.hooks.take_crash() {
                self.replace_worker();
            }
            // The goal is read after the round: when the round found the engine
            // idle, nothing changes before the clock moves, so a state the goal
            // waits for (an execution parked on an event) cannot be skipped past.
            let round = self.round().await?;
            if let Some(goal) = &goal {
                let record = self.client().get(goal.id).await?;
                if (goal.holds)(&record) {
                    return Ok(Some(record));
                }
                if record.status.is_terminal() {
                    return Err(TestEnvError::Finished {
                        execution_id: goal.id.to_owned(),
                        status: record.status,
                    });
                }
            }
            let next = match round {
                Round::Busy => {
                    pulse.await;
                    continue;
                }
                Round::DueNow => {
                    self.wake();
                    pulse.await;
                    continue;
                }
                Round::DueAt(at) => Some(at),
                Round::Idle => None,
            };
            let now = self.now();
            let to = match (next, limit) {
                (Some(at), Some(limit)) if at > limit => limit,
                (Some(at), _) => at,
                (None, Some(limit)) => limit,
                (None, None) => return Err(self.stuck(goal).await),
            };
            if to <= now {
                // Idle at the limit: done (a goal always has no limit).
                return Ok(None);
            }
            self.clock.set(to);
            self.wake();
        }
        Err(TestEnvError::NoProgress(MAX_ROUNDS))
    }

    async fn round(&self) -> Result<Round, TestEnvError> {
        let Some((claims, in_flight)) = self.worker_state() else {
            return Ok(Round::Idle);
        };
        if in_flight > 0 {
            return Ok(Round::Busy);
        }
        let store = self.zart.store();
        let executions = store.execution_next_due().await?;
        let schedules = store.schedule_next_due().await?;
        let buffered = self.buffered_slot_ready().await?;
        if self.worker_state() != Some((claims, 0)) {
            return Ok(Round::Busy);
        }
        let next = match (executions, schedules) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(match next {
            _ if buffered => Round::DueNow,
            None => Round::Idle,
            Some(at) if at <= self.now() => Round::DueNow,
            Some(at) => Round::DueAt(at),
        })
    }

    /// Whether a `buffer_one` schedule holds a slot whose previous firing has
    /// finished: the schedule loop fires it on that execution's `Finished` signal, not
    /// at a due time, so the round must not call the engine idle before it has.
    async fn buffered_slot_ready(&self) -> Result<bool, TestEnvError> {
        let store = self.zart.store();
        for schedule in store.schedule_due(self.now(), 100).await? {
            if schedule.cursor.buffered_at.is_none() {
                continue;
            }
            let previous = match &schedule.last_execution_id {
                Some(id) => store.execution_get(id).await?,
                None => None,
            };
            if previous.is_none_or(|e| e.status.is_terminal()) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn worker_state(&self) -> Option<(u64, usize)> {
        self.worker_slot()
            .as_ref()
            .map(|w| (w.claims_started(), w.in_flight()))
    }

    fn wake(&self) {
        if let Some(worker) = self.worker_slot().as_ref() {
            worker.wake();
        }
        self.hooks.wake_schedules.notify_one();
    }

    /// The worker died at an armed crash: kill what is left of it and start another.
    fn replace_worker(&self) {
        if let Some(dead) = self.take_worker() {
            dead.kill();
        }
        self.start_worker();
    }

    async fn stuck(&self, goal: Option<Goal<'_>>) -> TestEnvError {
        let Some(goal) = goal else {
            return TestEnvError::NoProgress(0);
        };
        let waiting_for = match self.client().get(goal.id).await {
            Ok(record) => record.waiting_for,
            Err(e) => return e.into(),
        };
        TestEnvError::Stuck {
            execution_id: goal.id.to_owned(),
            waiting_for,
        }
    }
}
