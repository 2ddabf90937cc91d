//! The README's complete example: an onboarding workflow with a step, a retried step,
//! a durable sleep and a wait for an event. Built by CI so the README stays true.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use zart::prelude::*;

#[derive(Serialize, Deserialize)]
struct Signup {
    email: String,
}

/// The onboarding workflow, declared as a type: its name, input and output are
/// checked wherever it is started, awaited or spawned.
struct Onboard;

impl Task for Onboard {
    const NAME: &'static str = "onboard";
    type Input = Signup;
    type Output = String;

    async fn run(&self, ctx: Ctx, signup: Signup) -> TaskResult<String> {
        // Runs once; on replay the stored value is returned.
        let account_id: String = ctx
            .step("create-account", || async {
                Ok(format!("acct-{}", signup.email))
            })
            .await?;

        // Retried with exponential backoff; a permanent error is not retried.
        let mail = StepOptions::retry(RetryPolicy::exponential(
            Duration::from_millis(200),
            Duration::from_secs(30),
            5,
        ))
        .timeout(Duration::from_secs(10));
        ctx.step_with("send-welcome-mail", mail, || async { Ok(()) })
            .await?;

        // Durable: the execution is parked and resumes after a restart.
        ctx.sleep("trial-period", Duration::from_secs(7 * 24 * 3600))
            .await;

        // An event sent before the workflow gets here is kept; a timeout is a value.
        match ctx
            .wait_for_event::<bool>("upgraded", Duration::from_secs(24 * 3600))
            .await
        {
            Ok(true) => Ok(format!("{account_id}: paid")),
            Ok(false) => Ok(format!("{account_id}: declined")),
            Err(e) if e.is_timeout() => Ok(format!("{account_id}: still on trial")),
            Err(e) => Err(e),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let zart = Zart::builder(zart::connect("sqlite://app.db").await?)
        .add_task(Onboard)
        .build();
    let worker = zart.start_worker(WorkerConfig::default().concurrency(32));

    let client = zart.client();
    let signup = Signup {
        email: "a@b.c".into(),
    };
    let started = client
        .start_task::<Onboard>(signup)
        .id("signup-a@b.c")
        .await?; // idempotent by id
    client
        .offer_event(&started.execution.id, "upgraded", true.into())
        .await?;

    worker.shutdown(Duration::from_secs(10)).await; // finishes or hands back in-flight work
    Ok(())
}
