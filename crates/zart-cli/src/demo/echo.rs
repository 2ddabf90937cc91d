//! `echo`: one step whose result is the payload.

use serde_json::Value;
use zart::{Ctx, TaskResult};

/// The task name.
pub(super) const NAME: &str = "echo";

/// Returns the payload through one memoized step.
pub(super) async fn run(ctx: Ctx, payload: Value) -> TaskResult<Value> {
    ctx.step("echo", || {
        let payload = payload.clone();
        async move { Ok(payload) }
    })
    .await
}
