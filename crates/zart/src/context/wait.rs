//! Durable timers and waits for events.

use std::future::Future;
use std::time::Duration;

use serde::de::DeserializeOwned;
use zart_core::{
    ErrorKind, EventConsume, EventTake, ExecutionError, StepKind, StepStatus, StepWrite, Timestamp,
    WaitingFor,
};

use tracing::Instrument;

use super::{decode, in_flight, park, Ctx, Halt, Reservation};
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
        let reserved = self.reserve(name, StepKind::Sleep);
        async move {
            let result = match reserved {
                Ok(reserved) => {
                    let span = crate::spans::sleep(&reserved);
                    let result = self.timer(reserved, at).instrument(span.clone()).await;
                    crate::spans::record_halt(&span, &result);
                    result
                }
                Err(halt) => Err(halt),
            };
            if let Err(halt) = result {
                park::<()>(halt).await;
            }
        }
    }

    async fn timer(
        &self,
        reserved: Reservation,
        at: Result<Timestamp, TooLate>,
    ) -> Result<(), Halt> {
        let recorded = match &reserved.recorded {
            Some(rec) if rec.status == StepStatus::Completed => return Ok(()),
            Some(rec) => rec.wake_at,
            None => None,
        };
        // The due time recorded the first time wins over this run's computation.
        let due = match recorded.map_or(at, Ok) {
            Ok(due) => due,
            Err(too_late) => return Err(self.too_late(&reserved, too_late)),
        };
        let now = self.now_wall();
        if due <= now {
            let done = StepWrite::fired(reserved.header(now), due, now);
            return in_flight(self, self.save(done, None)).await;
        }
        if reserved.recorded.is_none() {
            let pending = StepWrite::scheduled(reserved.header(now), due);
            in_flight(self, self.save(pending, None)).await?;
        }
        let waiting_for = WaitingFor::Timer {
            step: reserved.id(),
            due_at: due,
        };
        Err(self.suspend(Some(due), waiting_for))
    }

    /// Fails the execution: a timer that cannot be stored has no sensible fallback.
    fn too_late(&self, reserved: &Reservation, too_late: TooLate) -> Halt {
        self.halt(Halt::Fatal(ExecutionError {
            kind: ErrorKind::Handler,
            message: format!("sleep {:?}: {too_late}", reserved.id()),
            step: Some(reserved.name.clone()),
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
        let reserved = self.reserve(name, StepKind::WaitForEvent);
        async move {
            let result = match reserved {
                Ok(reserved) => {
                    let span = crate::spans::wait(&reserved);
                    let result = self
                        .await_event(reserved, deadline)
                        .instrument(span.clone())
                        .await;
                    crate::spans::record_halt(&span, &result);
                    if let Ok(Err(e)) = &result {
                        crate::spans::record_error(&span, e.message());
                    }
                    result
                }
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
        reserved: Reservation,
        deadline: Result<Timestamp, TooLate>,
    ) -> Result<TaskResult<T>, Halt> {
        let recorded = match &reserved.recorded {
            Some(rec) if rec.status == StepStatus::Completed => {
                return Ok(decode(&reserved, rec.result.clone()))
            }
            Some(rec) if rec.status == StepStatus::Dead => {
                return Ok(Err(event_timeout(&reserved.name)))
            }
            Some(rec) => rec.wake_at,
            None => None,
        };
        let deadline = match recorded.map_or(deadline, Ok) {
            Ok(deadline) => deadline,
            Err(too_late) => return Ok(Err(timeout_too_long(&reserved, too_late))),
        };
        let now = self.now_wall();
        let done = StepWrite::fired(reserved.header(now), deadline, now);
        let consume = EventConsume {
            guard: self.guard(),
            run_index: self.run_index(),
            name: reserved.name.clone(),
            step: done,
        };
        let taken = in_flight(self, self.store().event_consume(consume)).await;
        match taken {
            Ok(EventTake::Taken(value)) => return Ok(decode(&reserved, Some(value))),
            Ok(EventTake::LeaseLost) => return Err(self.halt(Halt::LeaseLost)),
            Err(e) => return Err(self.halt(Halt::store(&e))),
            Ok(EventTake::Empty) => {}
        }
        if deadline <= now {
            let timed_out = StepWrite::timed_out(reserved.header(now), deadline, now);
            in_flight(self, self.save(timed_out, None)).await?;
            return Ok(Err(event_timeout(&reserved.name)));
        }
        if reserved.recorded.is_none() {
            let pending = StepWrite::scheduled(reserved.header(now), deadline);
            in_flight(self, self.save(pending, None)).await?;
        }
        let waiting_for = WaitingFor::Event {
            name: reserved.name.clone(),
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
fn timeout_too_long(reserved: &Reservation, too_late: TooLate) -> TaskError {
    TaskError::engine(
        ErrorKind::Handler,
        format!(
            "wait_for_event {:?}: the timeout is out of range: {too_late}",
            reserved.name
        ),
        Some(reserved.name.clone()),
    )
}
