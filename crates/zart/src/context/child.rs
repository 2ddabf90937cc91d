//! Child executions: spawn, await the outcome durably, cancel with the parent.

use std::future::Future;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::Instrument;
use zart_core::{
    ChildSpawn, ErrorKind, ExecutionError, ExecutionStatus, NewExecution, ParentClosePolicy,
    SpawnOutcome, StepKind, StepStatus, StepWrite, WaitingFor,
};

use super::{decode, in_flight, park, Ctx, Halt, Reservation};
use crate::trace_context::TraceContext;
use crate::{Task, TaskError, TaskResult};

/// A child execution started with [`Ctx::spawn`]; await its outcome with [`Ctx::join`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildHandle<O> {
    id: String,
    name: String,
    _output: PhantomData<fn() -> O>,
}

impl<O> ChildHandle<O> {
    /// The child's execution id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// How a child started with [`Ctx::spawn_with`] relates to its parent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChildOptions {
    /// What happens to the child if it has not finished when the parent completes,
    /// fails or is cancelled: cancelled with it (the default), or left running.
    pub parent_close: ParentClosePolicy,
}

impl ChildOptions {
    /// Options that leave the child running when its parent ends.
    pub fn abandon() -> Self {
        Self {
            parent_close: ParentClosePolicy::Abandon,
        }
    }
}

impl Ctx {
    /// Starts a child execution of `task_name` with `input`, once per run: on replay
    /// the same child is returned. The child's id is derived from the parent's id and
    /// the spawn's step id. When the parent ends (completes, fails or is cancelled)
    /// before the child, the child is cancelled; see [`Ctx::spawn_with`] to keep it.
    pub fn spawn<'a, I, O>(
        &'a self,
        name: &str,
        task_name: &str,
        input: I,
    ) -> impl Future<Output = TaskResult<ChildHandle<O>>> + Send + 'a
    where
        I: Serialize + Send + 'a,
        O: 'a,
    {
        self.spawn_with(name, task_name, input, ChildOptions::default())
    }

    /// [`Ctx::spawn`] with options, for example a child that outlives its parent:
    ///
    /// ```no_run
    /// # use zart::prelude::*;
    /// # async fn f(ctx: Ctx) -> TaskResult<()> {
    /// let report: ChildHandle<()> = ctx
    ///     .spawn_with("report", "send-report", (), ChildOptions::abandon())
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// If an execution with the child's id already exists but was not started by
    /// this parent for this task, it is not adopted: the parent fails with a
    /// `child_failed` error.
    pub fn spawn_with<'a, I, O>(
        &'a self,
        name: &str,
        task_name: &str,
        input: I,
        options: ChildOptions,
    ) -> impl Future<Output = TaskResult<ChildHandle<O>>> + Send + 'a
    where
        I: Serialize + Send + 'a,
        O: 'a,
    {
        let reserved = self.reserve(name, StepKind::Spawn);
        let task_name = task_name.to_owned();
        async move {
            let reserved = match reserved {
                Ok(reserved) => reserved,
                Err(halt) => return park(halt).await,
            };
            match self.spawn_child(&reserved, task_name, input, options).await {
                Ok(result) => result.map(|id| ChildHandle {
                    id,
                    name: reserved.id(),
                    _output: PhantomData,
                }),
                Err(halt) => park(halt).await,
            }
        }
    }

    async fn spawn_child<I: Serialize>(
        &self,
        reserved: &Reservation,
        task_name: String,
        input: I,
        options: ChildOptions,
    ) -> Result<TaskResult<String>, Halt> {
        if let Some(rec) = &reserved.recorded {
            return Ok(decode(reserved, rec.result.clone()));
        }
        let payload = match serde_json::to_value(input) {
            Ok(p) => p,
            Err(e) => {
                return Ok(Err(TaskError::permanent(format!(
                    "child input does not serialize: {e}"
                ))))
            }
        };
        let id = format!("{}/{}", self.execution_id(), reserved.id());
        let span = crate::spans::child(reserved, &id, &task_name);
        let outcome = self
            .spawn_new(reserved, id, task_name, payload, options, &span)
            .instrument(span.clone())
            .await;
        crate::spans::record_halt(&span, &outcome);
        outcome
    }

    async fn spawn_new(
        &self,
        reserved: &Reservation,
        id: String,
        task_name: String,
        payload: serde_json::Value,
        options: ChildOptions,
        span: &tracing::Span,
    ) -> Result<TaskResult<String>, Halt> {
        // The child's runs continue this trace, as children of the spawn's span
        // (or, with no spans recorded here, of the context this run continues).
        let trace_context = TraceContext::of(span)
            .map(|cx| cx.to_stored())
            .or_else(|| self.trace_context().map(str::to_owned));
        let now = self.now_wall();
        let result = Some(serde_json::Value::String(id.clone()));
        let step = StepWrite::completed(reserved.header(now), result, now);
        let params = ChildSpawn {
            guard: self.guard(),
            run_index: self.run_index(),
            step,
            child: NewExecution {
                id: id.clone(),
                task_name,
                payload,
                now,
                run_at: now,
                deadline_at: None,
                parent_id: Some(self.execution_id().to_owned()),
                trace_context,
                queue: None,
                priority: 0,
                deduplication_id: None,
                concurrency_key: None,
            },
            parent_close: options.parent_close,
        };
        match in_flight(self, self.store().child_spawn(params)).await {
            Ok(SpawnOutcome::Spawned) => Ok(Ok(id)),
            Ok(SpawnOutcome::LeaseLost) => Err(self.halt(Halt::LeaseLost)),
            Ok(SpawnOutcome::Foreign {
                parent_id,
                task_name,
            }) => Err(self.halt(Halt::Fatal(foreign_child(
                reserved, &id, parent_id, &task_name,
            )))),
            Err(e) => Err(self.halt(Halt::store(&e))),
        }
    }

    /// Waits durably for a child's outcome: the parent is parked (holding no worker
    /// slot) until the child finishes. A failed or cancelled child is an error of kind
    /// `child_failed`.
    pub fn join<'a, O>(
        &'a self,
        child: &ChildHandle<O>,
    ) -> impl Future<Output = TaskResult<O>> + Send + 'a
    where
        O: DeserializeOwned + Send + 'a,
    {
        let reserved = self.reserve(&format!("{}:join", child.name), StepKind::Child);
        let child_id = child.id.clone();
        async move {
            let result = match reserved {
                Ok(reserved) => {
                    let span = crate::spans::child(&reserved, &child_id, "");
                    let result = self
                        .await_child(reserved, child_id)
                        .instrument(span.clone())
                        .await;
                    crate::spans::record_halt(&span, &result);
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

    /// Spawns a child and waits for its outcome: [`Ctx::spawn`] then [`Ctx::join`].
    pub async fn child<I, O>(&self, name: &str, task_name: &str, input: I) -> TaskResult<O>
    where
        I: Serialize + Send,
        O: DeserializeOwned + Send,
    {
        let handle: ChildHandle<O> = self.spawn(name, task_name, input).await?;
        self.join(&handle).await
    }

    /// Starts a child execution of the typed task `T`: [`Ctx::spawn`] with the task
    /// name and the input type checked by the compiler. [`Ctx::join`] on the handle
    /// returns `T::Output`.
    ///
    /// ```no_run
    /// # use zart::prelude::*;
    /// struct Resize;
    ///
    /// impl Task for Resize {
    ///     const NAME: &'static str = "resize";
    ///     type Input = u32;
    ///     type Output = u32;
    ///
    ///     async fn run(&self, _ctx: Ctx, width: u32) -> TaskResult<u32> {
    ///         Ok(width / 2)
    ///     }
    /// }
    ///
    /// async fn thumbnails(ctx: Ctx, widths: Vec<u32>) -> TaskResult<Vec<u32>> {
    ///     let mut children = Vec::new();
    ///     for width in widths {
    ///         children.push(ctx.spawn_task::<Resize>("resize", width).await?);
    ///     }
    ///     let mut sizes = Vec::new();
    ///     for child in &children {
    ///         sizes.push(ctx.join(child).await?);
    ///     }
    ///     Ok(sizes)
    /// }
    /// ```
    pub fn spawn_task<'a, T: Task>(
        &'a self,
        name: &str,
        input: T::Input,
    ) -> impl Future<Output = TaskResult<ChildHandle<T::Output>>> + Send + 'a {
        self.spawn_with(name, T::NAME, input, ChildOptions::default())
    }

    /// [`Ctx::spawn_task`] with options, as [`Ctx::spawn_with`].
    pub fn spawn_task_with<'a, T: Task>(
        &'a self,
        name: &str,
        input: T::Input,
        options: ChildOptions,
    ) -> impl Future<Output = TaskResult<ChildHandle<T::Output>>> + Send + 'a {
        self.spawn_with(name, T::NAME, input, options)
    }

    /// Spawns a child of the typed task `T` and waits for its output:
    /// [`Ctx::spawn_task`] then [`Ctx::join`].
    pub async fn child_task<T: Task>(&self, name: &str, input: T::Input) -> TaskResult<T::Output> {
        let handle = self.spawn_task::<T>(name, input).await?;
        self.join(&handle).await
    }

    async fn await_child<O: DeserializeOwned>(
        &self,
        reserved: Reservation,
        child_id: String,
    ) -> Result<TaskResult<O>, Halt> {
        if let Some(rec) = &reserved.recorded {
            match rec.status {
                StepStatus::Completed => return Ok(decode(&reserved, rec.result.clone())),
                StepStatus::Dead => {
                    return Ok(Err(child_failed(
                        &reserved,
                        &rec.last_error.clone().unwrap_or_default(),
                    )))
                }
                _ => {}
            }
        }
        let child = match in_flight(self, self.store().execution_get(&child_id)).await {
            Ok(Some(child)) => child,
            Ok(None) => {
                return Ok(Err(TaskError::permanent(format!(
                    "child execution {child_id:?} not found"
                ))))
            }
            Err(e) => return Err(self.halt(Halt::store(&e))),
        };
        let now = self.now_wall();
        match child.status {
            ExecutionStatus::Completed => {
                let step = StepWrite::completed(reserved.header(now), child.result.clone(), now);
                in_flight(self, self.save(step, None)).await?;
                Ok(decode(&reserved, child.result))
            }
            ExecutionStatus::Failed | ExecutionStatus::Cancelled => {
                let reason = match &child.error {
                    Some(err) => format!("child {child_id:?} {}: {}", child.status, err.message),
                    None => format!("child {child_id:?} {}", child.status),
                };
                let step = StepWrite::dead(reserved.header(now), reason.clone(), false, now);
                in_flight(self, self.save(step, None)).await?;
                Ok(Err(child_failed(&reserved, &reason)))
            }
            ExecutionStatus::Scheduled | ExecutionStatus::Running => {
                let waiting_for = WaitingFor::Child {
                    execution_id: child_id,
                };
                Err(self.suspend(None, waiting_for))
            }
        }
    }
}

fn child_failed(reserved: &Reservation, reason: &str) -> TaskError {
    TaskError::engine(
        ErrorKind::ChildFailed,
        reason.to_owned(),
        Some(reserved.name.clone()),
    )
}

/// The failure of a parent whose child id is taken by an execution it did not start.
fn foreign_child(
    reserved: &Reservation,
    id: &str,
    parent_id: Option<String>,
    task_name: &str,
) -> ExecutionError {
    let owner = match parent_id {
        Some(parent) => format!("a child of {parent:?}"),
        None => "a top-level execution".to_owned(),
    };
    ExecutionError {
        kind: ErrorKind::ChildFailed,
        message: format!(
            "cannot spawn child {id:?}: that id belongs to {owner} of task {task_name:?}, \
             not started by this execution; it is not adopted"
        ),
        step: Some(reserved.id()),
        attempts: None,
    }
}
