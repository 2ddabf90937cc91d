//! Typed tasks: a task declared as a type, so starting it, waiting for it and
//! joining it as a child are checked by the compiler.
//!
//! A [`Task`] is registered under its [`Task::NAME`] like any `async fn` handler
//! (it *is* one, with JSON in and out on the wire), so the untyped API, the HTTP
//! server and the CLI start it by that name too. The typed calls only add the
//! types: [`Client::start_task`], [`Client::wait_task`], [`Ctx::spawn_task`].

use std::future::{Future, IntoFuture};
use std::time::Duration;

use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;
use zart_core::{ErrorKind, ExecutionError, ExecutionRecord, ExecutionStatus, Timestamp};

use crate::{Client, ClientError, Ctx, StartRequest, Started, TaskResult};

/// A task declared as a type: its name, its input and output types, and its handler.
///
/// Register it with [`ZartBuilder::add_task`](crate::ZartBuilder::add_task) (or
/// [`TaskRegistry::add_task`](crate::TaskRegistry::add_task)); start it with
/// [`Client::start_task`], wait for its typed output with [`Client::wait_task`],
/// and run it as a child with [`Ctx::spawn_task`] / [`Ctx::child_task`]. The task
/// value is shared by every execution the worker runs, so it can hold what the
/// handler needs (a connection pool, an HTTP client). Plain `async fn` handlers
/// registered with [`ZartBuilder::task`](crate::ZartBuilder::task) work as before;
/// both kinds can be mixed, and can spawn each other.
///
/// ```
/// use std::time::Duration;
///
/// use serde::{Deserialize, Serialize};
/// use zart::prelude::*;
///
/// #[derive(Serialize, Deserialize)]
/// struct Signup {
///     email: String,
/// }
///
/// struct Onboard;
///
/// impl Task for Onboard {
///     const NAME: &'static str = "onboard";
///     type Input = Signup;
///     type Output = String;
///
///     async fn run(&self, ctx: Ctx, signup: Signup) -> TaskResult<String> {
///         ctx.step("create-account", || async { Ok(format!("acct-{}", signup.email)) })
///             .await
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let zart = Zart::builder(zart::connect("sqlite::memory:").await?)
///     .add_task(Onboard)
///     .build();
/// let worker = zart.start_worker(WorkerConfig::default());
/// let client = zart.client();
///
/// let signup = Signup { email: "a@b.c".into() };
/// let started = client.start_task::<Onboard>(signup).id("signup-a@b.c").await?;
/// let account: String = client
///     .wait_task::<Onboard>(&started.execution.id, Duration::from_secs(10))
///     .await?;
/// assert_eq!(account, "acct-a@b.c");
/// worker.shutdown(Duration::from_secs(5)).await;
/// # Ok(()) }
/// ```
///
/// An impl may write `run` as an `async fn`; the future it returns must be `Send`,
/// because workers run handlers on a multi-threaded runtime.
pub trait Task: Send + Sync + 'static {
    /// The name the task is registered and started under, in every API.
    const NAME: &'static str;
    /// The input, read from the execution's JSON payload.
    type Input: Serialize + DeserializeOwned + Send + 'static;
    /// The output, stored as the execution's JSON result.
    type Output: Serialize + DeserializeOwned + Send + 'static;

    /// Runs one execution: the handler, as for an `async fn` task.
    fn run(
        &self,
        ctx: Ctx,
        input: Self::Input,
    ) -> impl Future<Output = TaskResult<Self::Output>> + Send;
}

impl StartRequest {
    /// A request to start task `T` with `input` under a generated id, for the calls
    /// that take a [`StartRequest`] (for example [`Client::start_in_sqlite`], or
    /// `Client::start_in` on PostgreSQL, inside your own transaction). An input
    /// that does not serialize to JSON is a [`ClientError::InvalidInput`].
    pub fn task<T: Task>(input: &T::Input) -> Result<Self, ClientError> {
        let payload = serde_json::to_value(input).map_err(|e| {
            ClientError::InvalidInput(format!(
                "the input of task {:?} does not serialize to JSON: {e}",
                T::NAME
            ))
        })?;
        Ok(Self::new(T::NAME, payload))
    }
}

/// A typed start, made by [`Client::start_task`]: set options, then `.await` it.
#[must_use = "a typed start does nothing until it is awaited"]
#[derive(Debug)]
pub struct StartTask<'a> {
    client: &'a Client,
    request: Result<StartRequest, ClientError>,
}

impl StartTask<'_> {
    /// Uses `id` as the execution id (the idempotency key), as [`StartRequest::id`].
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.request = self.request.map(|r| r.id(id));
        self
    }

    /// Fails the execution if it has not finished by `deadline_at`, as
    /// [`StartRequest::deadline_at`].
    pub fn deadline_at(mut self, deadline_at: Timestamp) -> Self {
        self.request = self.request.map(|r| r.deadline_at(deadline_at));
        self
    }
}

impl<'a> IntoFuture for StartTask<'a> {
    type Output = Result<Started, ClientError>;
    type IntoFuture = BoxFuture<'a, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        let client = self.client;
        let request = self.request;
        Box::pin(async move { client.start(request?).await })
    }
}

impl Client {
    /// Starts task `T` with `input`: [`Client::start`] with the name and the input
    /// type checked by the compiler. Await it as it is, or set an id or a deadline
    /// first (`client.start_task::<T>(input).id("order-7").await`); it is idempotent
    /// by id as [`Client::start`] is. An input that does not serialize to JSON is a
    /// [`ClientError::InvalidInput`].
    pub fn start_task<T: Task>(&self, input: T::Input) -> StartTask<'_> {
        StartTask {
            client: self,
            request: StartRequest::task::<T>(&input),
        }
    }

    /// Waits until execution `id` of task `T` is terminal ([`Client::wait`]) and
    /// returns its output. The errors, besides those of [`Client::wait`]:
    /// [`ClientError::Failed`] with the execution's error,
    /// [`ClientError::Cancelled`], and [`ClientError::TypeMismatch`] when the
    /// execution is of another task (answered at once, without waiting) or its
    /// result does not deserialize into `T::Output`.
    pub async fn wait_task<T: Task>(
        &self,
        id: &str,
        timeout: Duration,
    ) -> Result<T::Output, ClientError> {
        let execution = self.get(id).await?;
        if execution.task_name != T::NAME {
            return Err(ClientError::TypeMismatch(format!(
                "execution {id:?} is of task {:?}, not {:?}",
                execution.task_name,
                T::NAME
            )));
        }
        let execution = if execution.status.is_terminal() {
            execution
        } else {
            self.wait(id, timeout).await?
        };
        output_of::<T>(execution)
    }
}

/// The typed outcome of a terminal execution of task `T`.
fn output_of<T: Task>(execution: ExecutionRecord) -> Result<T::Output, ClientError> {
    let id = execution.id;
    match execution.status {
        ExecutionStatus::Completed => {
            let result = execution.result.unwrap_or_default();
            serde_json::from_value(result).map_err(|e| {
                ClientError::TypeMismatch(format!(
                    "the result of execution {id:?} does not deserialize into {}: {e}",
                    std::any::type_name::<T::Output>()
                ))
            })
        }
        ExecutionStatus::Failed => {
            let error = execution.error.unwrap_or_else(|| ExecutionError {
                kind: ErrorKind::Handler,
                message: "no error was recorded".to_owned(),
                step: None,
                attempts: None,
            });
            Err(ClientError::Failed {
                id,
                error: Box::new(error),
            })
        }
        ExecutionStatus::Cancelled => Err(ClientError::Cancelled { id }),
        status @ (ExecutionStatus::Scheduled | ExecutionStatus::Running) => Err(
            ClientError::Internal(format!("execution {id:?} is still {status} after its wait")),
        ),
    }
}
