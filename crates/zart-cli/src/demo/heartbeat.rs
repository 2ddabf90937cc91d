//! `heartbeat`: what the demo schedule of the same name starts every minute.

use serde_json::{json, Value};
use zart::{Ctx, TaskResult};

/// The task name, and the id of the demo schedule that starts it.
pub(super) const NAME: &str = "heartbeat";

/// The demo schedule's cron expression: every minute, in UTC.
pub(super) const CRON: &str = "* * * * *";

/// Records, in one memoized step, the execution it beat in.
pub(super) async fn run(ctx: Ctx, _payload: Value) -> TaskResult<Value> {
    let id = ctx.execution_id().to_owned();
    ctx.step("beat", || {
        let id = id.clone();
        async move { Ok(json!({ "beat": id })) }
    })
    .await
}
