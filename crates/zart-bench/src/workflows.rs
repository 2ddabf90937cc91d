//! The workflow the throughput and HTTP scenarios run: `S` no-op steps.

use zart::{Ctx, TaskResult, ZartBuilder};

/// The name of the no-op workflow.
pub const NOOP_STEPS: &str = "noop-steps";

/// Registers [`NOOP_STEPS`]: its input is the number of steps; each step returns
/// its index at once, so what is measured is the engine's own cost per step.
pub fn register(builder: ZartBuilder) -> ZartBuilder {
    builder.task(NOOP_STEPS, noop_steps)
}

async fn noop_steps(ctx: Ctx, steps: u32) -> TaskResult<u32> {
    let mut last = 0;
    for i in 0..steps {
        last = ctx
            .step(&format!("step-{i}"), move || async move { Ok(i) })
            .await?;
    }
    Ok(last)
}
