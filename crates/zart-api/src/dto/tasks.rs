//! The registered tasks.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The body of `GET /tasks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskList {
    /// The registered tasks, by name; `null` when the server does not know them (its
    /// client was built over a bare store, so it accepts any task name).
    #[schema(required = true)]
    pub tasks: Option<Vec<Task>>,
}

/// One registered task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// The name `POST /executions` takes as `taskName`.
    pub name: String,
}

impl TaskList {
    /// The list for `names` (sorted), or the unknown list.
    pub fn new(names: Option<Vec<String>>) -> Self {
        let tasks = names.map(|mut names| {
            names.sort();
            names.into_iter().map(|name| Task { name }).collect()
        });
        Self { tasks }
    }
}
