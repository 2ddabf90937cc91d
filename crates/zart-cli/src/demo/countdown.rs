//! `countdown`: a long-running loop of sequential steps, to watch progress, cancel a
//! running execution, or kill the server and see it resume where it stopped.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use zart::{Ctx, TaskResult};

/// The task name.
pub(super) const NAME: &str = "countdown";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct Input {
    steps: u32,
    step_ms: u64,
}

impl Default for Input {
    fn default() -> Self {
        Self {
            steps: 10,
            step_ms: 100,
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct Output {
    /// How many ticks ran.
    completed: u32,
}

/// Runs `steps` steps named `tick`, each spending `stepMs` of in-process work. Each
/// tick returns how many remain, so the journal reads as a countdown.
pub(super) async fn run(ctx: Ctx, input: Input) -> TaskResult<Output> {
    let work = Duration::from_millis(input.step_ms);
    for done in 0..input.steps {
        let remaining = input.steps - done - 1;
        ctx.step("tick", move || async move {
            tokio::time::sleep(work).await;
            Ok(remaining)
        })
        .await?;
    }
    Ok(Output {
        completed: input.steps,
    })
}
