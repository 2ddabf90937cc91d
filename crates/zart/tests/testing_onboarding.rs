//! The README's onboarding workflow (a 7-day trial sleep, then a 24-hour wait for
//! the upgrade event) under `zart::testing::TestEnv`: each path runs to its end in
//! milliseconds of real time, and the harness's faults and crash-and-replay act on
//! the real engine and store.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use zart::core::{ExecutionStatus, StepStatus};
use zart::prelude::*;
use zart::testing::{TestEnv, TestEnvError};

const DAY: Duration = Duration::from_secs(24 * 3600);

#[derive(Serialize, Deserialize)]
struct Signup {
    email: String,
}

/// The workflow of the README's "A complete example", declared as a typed task as
/// there.
struct Onboard;

impl Task for Onboard {
    const NAME: &'static str = "onboard";
    type Input = Signup;
    type Output = String;

    async fn run(&self, ctx: Ctx, signup: Signup) -> TaskResult<String> {
        onboard(ctx, signup).await
    }
}

async fn onboard(ctx: Ctx, signup: Signup) -> TaskResult<String> {
    let account_id: String = ctx
        .step("create-account", || async {
            Ok(format!("acct-{}", signup.email))
        })
        .await?;
    let mail = StepOptions::retry(RetryPolicy::exponential(
        Duration::from_millis(200),
        Duration::from_secs(30),
        5,
    ))
    .timeout(Duration::from_secs(10));
    ctx.step_with("send-welcome-mail", mail, || async { Ok(()) })
        .await?;
    ctx.sleep("trial-period", 7 * DAY).await;
    match ctx.wait_for_event::<bool>("upgraded", DAY).await {
        Ok(true) => Ok(format!("{account_id}: paid")),
        Ok(false) => Ok(format!("{account_id}: declined")),
        Err(e) if e.is_timeout() => Ok(format!("{account_id}: still on trial")),
        Err(e) => Err(e),
    }
}

fn env() -> TestEnv {
    TestEnv::builder()
        .add_task(Onboard)
        .build()
        .expect("test env")
}

async fn start(env: &TestEnv) -> String {
    env.start(
        Onboard::NAME,
        Signup {
            email: "a@b.c".into(),
        },
    )
    .await
    .expect("start")
}

/// A generous sanity bound: the point is milliseconds, but timing is not asserted.
const SANE: Duration = Duration::from_secs(5);

async fn path_ends_with(upgrade: Option<bool>) -> (String, zart::core::Timestamp, TestEnv) {
    let env = env();
    let t0 = env.now();
    let began = Instant::now();
    let id = start(&env).await;
    if let Some(upgraded) = upgrade {
        let parked = env.run_until_waiting(&id, "event").await.expect("parks");
        assert_eq!(env.now() - t0, chrono::Duration::days(7), "{parked:?}");
        env.offer_event(&id, "upgraded", upgraded)
            .await
            .expect("offer");
    }
    let done = env.wait(&id).await.expect("finishes");
    let took = began.elapsed();
    println!("onboarding, upgrade {upgrade:?}: {took:?} of real time");
    assert!(took < SANE, "{took:?}");
    assert_eq!(done.status, ExecutionStatus::Completed);
    let result = done.result.and_then(|r| r.as_str().map(str::to_owned));
    (result.unwrap_or_default(), t0, env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgraded_path_finishes_after_a_virtual_week() {
    let (result, t0, env) = path_ends_with(Some(true)).await;
    assert_eq!(result, "acct-a@b.c: paid");
    assert_eq!(env.now() - t0, chrono::Duration::days(7));
    env.shutdown().await;
}

#[tokio::test]
async fn declined_path_finishes_after_a_virtual_week() {
    let (result, _, env) = path_ends_with(Some(false)).await;
    assert_eq!(result, "acct-a@b.c: declined");
    env.shutdown().await;
}

#[tokio::test]
async fn timed_out_path_skips_the_week_and_the_day() {
    let (result, t0, env) = path_ends_with(None).await;
    assert_eq!(result, "acct-a@b.c: still on trial");
    assert_eq!(env.now() - t0, chrono::Duration::days(8));
    env.shutdown().await;
}

#[tokio::test]
async fn advance_fires_the_timer_at_its_due_time_and_the_journal_shows_the_wait() {
    let env = env();
    let t0 = env.now();
    let id = start(&env).await;
    env.advance(6 * DAY).await.expect("advance");
    let waiting = env.waiting_for(&id).await.expect("get").expect("waits");
    assert_eq!(waiting.kind(), "timer");
    env.advance(DAY + Duration::from_secs(3600))
        .await
        .expect("advance");
    assert_eq!(env.now() - t0, chrono::Duration::hours(7 * 24 + 1));
    let steps = env.steps(&id).await.expect("steps");
    let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "create-account",
            "send-welcome-mail",
            "trial-period",
            "upgraded"
        ]
    );
    // The timer fired at its due time, not at the end of the advance.
    let trial = env
        .step(&id, "trial-period")
        .await
        .expect("detail")
        .expect("sleep");
    assert_eq!(trial.completed_at, Some(t0 + chrono::Duration::days(7)));
    let wait = env
        .step(&id, "upgraded")
        .await
        .expect("detail")
        .expect("wait");
    assert_eq!(wait.status, StepStatus::Scheduled);
    assert_eq!(wait.wake_at, Some(t0 + chrono::Duration::days(8)));
    env.shutdown().await;
}

#[tokio::test]
async fn a_step_failing_twice_is_retried_through_its_backoff_in_virtual_time() {
    let env = env();
    env.fail_step("send-welcome-mail", 2);
    let id = start(&env).await;
    let done = env.wait(&id).await.expect("finishes");
    assert_eq!(done.status, ExecutionStatus::Completed);
    let mail = env
        .step(&id, "send-welcome-mail")
        .await
        .expect("detail")
        .expect("step");
    assert_eq!(mail.attempts.len(), 3);
    assert_eq!(
        mail.attempts[0].error.as_deref(),
        Some("injected failure of step \"send-welcome-mail\"")
    );
    // The closure ran once: the two injected failures did not run it.
    assert_eq!(env.step_runs(&id, "send-welcome-mail"), 1);
    env.shutdown().await;
}

#[tokio::test]
async fn a_permanent_failure_kills_the_step_and_fails_the_execution() {
    let env = env();
    env.fail_step_permanently("send-welcome-mail");
    let id = start(&env).await;
    let done = env.wait(&id).await.expect("finishes");
    assert_eq!(done.status, ExecutionStatus::Failed);
    let error = done.error.expect("an error");
    assert_eq!(error.step.as_deref(), Some("send-welcome-mail"));
    let mail = env.step(&id, "send-welcome-mail").await.unwrap().unwrap();
    assert_eq!(mail.status, StepStatus::Dead);
    assert_eq!(mail.attempts.len(), 1);
    assert_eq!(env.step_runs(&id, "send-welcome-mail"), 0);
    env.shutdown().await;
}

// On a multi-threaded runtime, where the harness and the worker truly race.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_first_step_replays_on_a_new_worker_without_running_it_again() {
    let env = env();
    // Armed before the start: on this runtime the worker may run the steps at once.
    let id = "signup-a@b.c";
    env.crash_after_steps(id, 1);
    let input = serde_json::json!({"email": "a@b.c"});
    env.start_request(StartRequest::new("onboard", input).id(id))
        .await
        .expect("start");
    let id = id.to_owned();
    let done = env.wait(&id).await.expect("finishes");
    assert_eq!(done.status, ExecutionStatus::Completed);
    assert_eq!(env.crashes(), 1);
    assert_eq!(env.step_runs(&id, "create-account"), 1);
    assert_eq!(env.step_runs(&id, "send-welcome-mail"), 1);
    env.shutdown().await;
}

#[tokio::test]
async fn an_execution_held_by_a_rule_that_never_expires_is_reported_stuck_not_waited_on() {
    let env = env();
    env.client()
        .pause(zart::PauseRequest {
            task_name: Some("onboard".into()),
            step_pattern: Some("send-welcome-mail".into()),
            ..Default::default()
        })
        .await
        .expect("pause");
    let id = start(&env).await;
    match env.wait(&id).await {
        Err(TestEnvError::Stuck {
            execution_id,
            waiting_for: Some(waiting),
        }) => {
            assert_eq!(execution_id, id);
            assert_eq!(waiting.kind(), "pause");
        }
        other => panic!("expected a stuck execution: {other:?}"),
    }
    assert_eq!(env.step_runs(&id, "create-account"), 1);
    assert_eq!(env.step_runs(&id, "send-welcome-mail"), 0);
    env.shutdown().await;
}
