//! `approval`: waits for a human decision, with a fallback when nobody answers.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};
use zart::{Ctx, TaskResult};

/// The task name.
pub(super) const NAME: &str = "approval";
/// The event that carries the decision.
const DECISION_EVENT: &str = "decision";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct Input {
    timeout_secs: u64,
}

impl Default for Input {
    fn default() -> Self {
        Self { timeout_secs: 3600 }
    }
}

/// The payload of the `decision` event: `{approved, by}`.
#[derive(Debug, Deserialize)]
struct Decision {
    approved: bool,
    #[serde(default)]
    by: Value,
}

/// Waits up to `timeoutSecs` for `decision`. Nobody answering in time is not a
/// failure: the request is refused, `{approved: false, timedOut: true}`.
pub(super) async fn run(ctx: Ctx, input: Input) -> TaskResult<Value> {
    let timeout = Duration::from_secs(input.timeout_secs);
    match ctx
        .wait_for_event::<Decision>(DECISION_EVENT, timeout)
        .await
    {
        Ok(decision) => Ok(json!({ "approved": decision.approved, "by": decision.by })),
        Err(err) if err.is_timeout() => Ok(json!({ "approved": false, "timedOut": true })),
        Err(err) => Err(err),
    }
}
