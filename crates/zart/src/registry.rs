//! The task registry: handlers by name, type-erased to JSON in and JSON out.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use zart_core::ErrorKind;

use crate::{Ctx, Task, TaskError};

type ErasedHandler =
    Arc<dyn Fn(Ctx, Value) -> BoxFuture<'static, Result<Value, TaskError>> + Send + Sync>;

#[derive(Clone)]
pub(crate) struct RegisteredTask {
    pub(crate) handler: ErasedHandler,
    validate: fn(&str, &Value) -> Result<(), TaskError>,
}

/// Handlers by task name.
///
/// ```
/// use zart::prelude::*;
///
/// let mut tasks = TaskRegistry::new();
/// tasks.register("greet", |ctx: Ctx, name: String| async move {
///     ctx.step("format", || {
///         let name = name.clone();
///         async move { Ok(format!("hello {name}")) }
///     })
///     .await
/// });
/// assert!(tasks.contains("greet"));
/// ```
#[derive(Clone, Default)]
pub struct TaskRegistry {
    tasks: HashMap<String, RegisteredTask>,
}

impl std::fmt::Debug for TaskRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.tasks.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("TaskRegistry")
            .field("tasks", &names)
            .finish()
    }
}

impl TaskRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handler` under `name`, replacing any handler registered before.
    ///
    /// The input is deserialized from the execution's JSON payload; a `null` payload is
    /// read as `{}` when the input type does not accept `null`, so input structs whose
    /// fields all have defaults can be started without a payload.
    pub fn register<I, O, F, Fut>(&mut self, name: impl Into<String>, handler: F) -> &mut Self
    where
        I: DeserializeOwned + Send + 'static,
        O: Serialize + Send + 'static,
        F: Fn(Ctx, I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, TaskError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let erased: ErasedHandler = Arc::new(move |ctx: Ctx, payload: Value| {
            let handler = Arc::clone(&handler);
            Box::pin(async move {
                let input: I = decode_input(ctx.task_name(), &payload)?;
                let output = handler(ctx, input).await?;
                serde_json::to_value(output).map_err(|e| {
                    TaskError::permanent(format!(
                        "the task's output does not serialize to JSON: {e}"
                    ))
                })
            })
        });
        self.tasks.insert(
            name.into(),
            RegisteredTask {
                handler: erased,
                validate: |task, payload| decode_input::<I>(task, payload).map(|_| ()),
            },
        );
        self
    }

    /// Registers the typed task `task` under [`T::NAME`](Task::NAME), replacing any
    /// handler registered before under that name. It is a handler like the ones
    /// [`TaskRegistry::register`] takes, so it is started by that name through every
    /// API; the typed calls ([`Client::start_task`](crate::Client::start_task), ...)
    /// only add the types.
    pub fn add_task<T: Task>(&mut self, task: T) -> &mut Self {
        let task = Arc::new(task);
        self.register(T::NAME, move |ctx: Ctx, input: T::Input| {
            let task = Arc::clone(&task);
            async move { task.run(ctx, input).await }
        })
    }

    /// Whether a handler is registered under `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.tasks.contains_key(name)
    }

    /// The registered task names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tasks.keys().cloned().collect();
        names.sort();
        names
    }

    /// Checks that `payload` deserializes into the input type of task `name`.
    pub fn validate_input(&self, name: &str, payload: &Value) -> Result<(), TaskError> {
        match self.tasks.get(name) {
            Some(task) => (task.validate)(name, payload),
            None => Err(unknown_task(name)),
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&RegisteredTask> {
        self.tasks.get(name)
    }
}

pub(crate) fn unknown_task(name: &str) -> TaskError {
    TaskError::engine(
        ErrorKind::UnknownTask,
        format!("no task named {name:?} is registered"),
        None,
    )
}

fn decode_input<I: DeserializeOwned>(task: &str, payload: &Value) -> Result<I, TaskError> {
    match I::deserialize(payload) {
        Ok(input) => Ok(input),
        Err(_) if payload.is_null() => I::deserialize(&Value::Object(Default::default()))
            .map_err(|e| invalid_input::<I>(task, e)),
        Err(e) => Err(invalid_input::<I>(task, e)),
    }
}

fn invalid_input<I>(task: &str, err: serde_json::Error) -> TaskError {
    TaskError::engine(
        ErrorKind::InvalidInput,
        format!(
            "payload of task {task:?} does not deserialize into {}: {err}",
            std::any::type_name::<I>()
        ),
        None,
    )
}
