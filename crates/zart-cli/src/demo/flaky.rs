//! `flaky`: a step that fails a chosen number of times before it succeeds, to watch
//! retries (and, with `failTimes >= maxAttempts`, a dead step and a failed execution).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use zart::{Ctx, RetryPolicy, StepOptions, TaskError, TaskResult};

/// The task name.
pub(super) const NAME: &str = "flaky";
/// The fixed delay between attempts.
const BACKOFF: Duration = Duration::from_millis(50);

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Input {
    fail_times: u32,
    #[serde(default = "default_max_attempts")]
    max_attempts: u32,
}

fn default_max_attempts() -> u32 {
    5
}

#[derive(Debug, Serialize)]
pub(super) struct Output {
    /// The attempt that succeeded (1-based).
    attempts: u32,
}

/// Runs `flaky-call`, which fails with a retryable error on its first `failTimes`
/// attempts. The attempt number comes from the engine ([`zart::current_attempt`]),
/// which counts attempts durably, so the count survives a crash between attempts.
pub(super) async fn run(ctx: Ctx, input: Input) -> TaskResult<Output> {
    let retry = RetryPolicy::fixed(BACKOFF, input.max_attempts);
    let fail_times = input.fail_times;
    let attempts = ctx
        .step_with("flaky-call", StepOptions::retry(retry), || async move {
            let attempt = zart::current_attempt().unwrap_or(1);
            if attempt <= fail_times {
                return Err(TaskError::retryable(format!(
                    "simulated failure on attempt {attempt} (fails {fail_times} time(s))"
                )));
            }
            Ok(attempt)
        })
        .await?;
    Ok(Output { attempts })
}
