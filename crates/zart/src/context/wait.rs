//! Durable timers and waits for events.

use std::future::Future;
use std::time::Duration;

use serde::de::DeserializeOwned;
use zart_core::{
    ErrorKind, EventConsume, EventTake, ExecutionError, StepKind, StepStatus, Timestamp, WaitingFor,
};

use super::{decode, in_flight, park, Ctx, Halt, Slot};
use crate::time::TooLate;
use crate::{TaskError, TaskResult};

impl Ctx {
    /// Sleeps durably for `duration`: the execution is parked (holding no worker slot)
    /// and resumes when the timer is due, even after a restart. The due time is fixed
    /// the first time the code reaches this call. A sleep that would end after the year
    /// 9999 fails the execution with an error naming it.
    pub fn sleep<'a>(
        &'a self,
        name: &str,
        duration: Duration,
    ) -> impl Future<Output = ()> + Send + 'a {
        let due = crate::time::after(self.now_wall(), duration);
        self.sleep_at(name, due)
    }

    /// Sleeps durably until `at` (see [`Ctx::sleep`]).
    pub fn sleep_until<'a>(
        &'a self,
        name: &str,
        at: Timestamp,
    ) -> impl Future<Output = ()> + Send + 'a {
        self.sleep_at(name, crate::time::within_range(at))
    }

    fn sleep_at<'a>(
        &'a self,
        name: &str,
        at: Result<Timestamp, TooLate>,
    ) -> impl Future<Output = ()> + Send + 'a {
        let slot = self.reserve(name, StepKind::Sleep);
        async move {
            let result = match slot {
                Ok(slot) => self.timer(slot, at).await,
                Err(halt) => Err(halt),
            };
            if let Err(halt) = result {
                park::<()>(halt).await;
            }
        }
    }

    async fn timer(&self, slot: Slot, at: Result<Timestamp, TooLate>) -> Result<(), Halt> {
        let recorded = match &slot.recorded {
            Some(rec) if rec.status == StepStatus::Completed => return Ok(()),
            Some(rec) => rec.wake_at,
            None => None,
        };
        // The due time recorded the first time wins over this run's computation.
        let due = match recorded.map_or(at, Ok) {
            Ok(due) => due,
            Err(too_late) => return Err(self.too_late(&slot, too_late)),
        };
        let now = self.now_wall();
        if due <= now {
            let mut done = slot.write(StepStatus::Completed, now);
            done.completed_at = Some(now);
            done.wake_at = Some(due);
            return in_flight(self, self.save(done, None)).await;
        }
        if slot.recorded.is_none() {
            let mut pending = slot.write(StepStatus::Scheduled, now);
            pending.wake_at = Some(due);
            in_flight(self, self.save(pending, None)).await?;
        }
        let waiting_for = WaitingFor::Timer {
            step: slot.id(),
            due_at: due,
        };
        Err(self.suspend(Some(due), waiting_for))
    }

    /// Fails the execution: a timer that cannot be stored has no sensible fallback.
    fn too_late(&self, slot: &Slot, too_late: TooLate) -> Halt {
        self.halt(Halt::Fatal(ExecutionError {
            kind: ErrorKind::Handler,
            message: format!("sleep {:?}: {too_late}", slot.id()),
            step: Some(slot.name.clone()),
            attempts: None,
        }))
    }

    /// Waits for the event `name` and returns its payload.
    ///
    /// An event offered before the code reaches this call is kept in the execution's
    /// inbox and consumed here; events of one name are consumed in the order offered,
    /// each exactly once. While no event is there the execution is parked. If none
    /// arrives within `timeout` (counted from the first time the code reached this
    /// call) the result is an error for which [`TaskError::is_timeout`] holds: handle
    /// it to take a fallback path, or return it to fail the execution. A timeout that
    /// would end after the year 9999 is an error naming the wait (not a timeout).
    pub fn wait_for_event<'a, T>(
        &'a self,
        name: &str,
        timeout: Duration,
    ) -> impl Future<Output = TaskResult<T>> + Send + 'a
    where
        T: DeserializeOwned + Send + 'a,
    {
        let deadline = crate::time::after(self.now_wall(), timeout);
        let slot = self.reserve(name, StepKind::WaitForEvent);
        async move {
            let result = match slot {
                Ok(slot) => self.await_event(slot, deadline).await,
                Err(halt) => Err(halt),
            };
            match result {
                Ok(value) => value,
                Err(halt) => park(halt).await,
            }
        }
    }

    async fn await_event<T: DeserializeOwned>(
        &self,
        slot: Slot,
        deadline: Result<Timestamp, TooLate>,
    ) -> Result<TaskResult<T>, Halt> {
        let recorded = match &slot.recorded {
            Some(rec) if rec.status == StepStatus::Completed => {
                return Ok(decode(&slot, rec.result.clone()))
            }
            Some(rec) if rec.status == StepStatus::Dead => {
                return Ok(Err(event_timeout(&slot.name)))
            }
            Some(rec) => rec.wake_at,
            None => None,
        };
        let deadline = match recorded.map_or(deadline, Ok) {
            Ok(deadline) => deadline,
            Err(too_late) => return Ok(Err(timeout_too_long(&slot, too_late))),
        };
        let now = self.now_wall();
        let mut done = slot.write(StepStatus::Completed, now);
        done.completed_at = Some(now);
        done.wake_at = Some(deadline);
        let consume = EventConsume {
            guard: self.guard(),
            run_index: self.run_index(),
            name: slot.name.clone(),
            step: done,
        };
        let taken = in_flight(self, self.store().event_consume(consume)).await;
        match taken {
            Ok(EventTake::Taken(value)) => return Ok(decode(&slot, Some(value))),
            Ok(EventTake::LeaseLost) => return Err(self.halt(Halt::LeaseLost)),
            Err(e) => return Err(self.halt(Halt::store(&e))),
            Ok(EventTake::Empty) => {}
        }
        if deadline <= now {
            let mut timed_out = slot.write(StepStatus::Dead, now);
            timed_out.completed_at = Some(now);
            timed_out.wake_at = Some(deadline);
            timed_out.last_error = Some("timed out".to_owned());
            in_flight(self, self.save(timed_out, None)).await?;
            return Ok(Err(event_timeout(&slot.name)));
        }
        if slot.recorded.is_none() {
            let mut pending = slot.write(StepStatus::Scheduled, now);
            pending.wake_at = Some(deadline);
            in_flight(self, self.save(pending, None)).await?;
        }
        let waiting_for = WaitingFor::Event {
            name: slot.name.clone(),
            deadline: Some(deadline),
        };
        Err(self.suspend(Some(deadline), waiting_for))
    }
}

fn event_timeout(name: &str) -> TaskError {
    TaskError::engine(
        ErrorKind::EventTimeout,
        format!("timed out waiting for event {name:?}"),
        Some(name.to_owned()),
    )
}

/// A timeout too long to store: an error the handler sees (and may handle), naming the
/// wait.
fn timeout_too_long(slot: &Slot, too_late: TooLate) -> TaskError {
    TaskError::engine(
        ErrorKind::Handler,
        format!(
            "wait_for_event {:?}: the timeout is out of range: {too_late}",
            slot.name
        ),
        Some(slot.name.clone()),
    )
}
