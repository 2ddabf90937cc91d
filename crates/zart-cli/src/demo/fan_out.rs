//! `fan-out`: one step per item, all running concurrently; each commits on its own,
//! so after a crash only the unfinished ones run again.

use futures::future::try_join_all;
use serde::{Deserialize, Serialize};
use zart::{Ctx, TaskError, TaskResult};

/// The task name.
pub(super) const NAME: &str = "fan-out";

#[derive(Debug, Deserialize)]
pub(super) struct Input {
    items: Vec<i64>,
}

#[derive(Debug, Serialize)]
pub(super) struct Output {
    /// Each item doubled, in input order.
    results: Vec<i64>,
}

/// Doubles every item in a parallel step named `double`.
pub(super) async fn run(ctx: Ctx, input: Input) -> TaskResult<Output> {
    let doubles = input.items.iter().map(|&item| {
        ctx.step("double", move || async move {
            item.checked_mul(2).ok_or_else(|| {
                TaskError::permanent(format!("{item} doubled overflows a 64-bit integer"))
            })
        })
    });
    let results = try_join_all(doubles).await?;
    Ok(Output { results })
}
