//! Schedules run by the worker: declared in code (and updated when the declaration
//! changes), fired once per slot, with the overlap policies acting on a real
//! previous execution.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use zart::core::{firing_id, ExecutionStatus, OverlapPolicy, ScheduleSpec};
use zart::prelude::*;
use zart::testing::TestEnv;
use zart::ClientError;

fn every_second(id: &str, task: &str) -> ScheduleSpec {
    ScheduleSpec::every(id, task, Duration::from_secs(1))
}

/// Polls (bounded) until the schedule's latest firing is not `previous`; returns it.
async fn next_firing(client: &Client, id: &str, previous: Option<&str>) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        // A declared schedule is stored by the worker's first pass.
        let last = match client.schedule(id).await {
            Ok(s) => s.record.last_execution_id,
            Err(ClientError::NotFound(_)) => None,
            Err(e) => panic!("reading {id}: {e}"),
        };
        if let Some(last) = last.filter(|l| Some(l.as_str()) != previous) {
            return last;
        }
        assert!(tokio::time::Instant::now() < deadline, "{id} never fired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_declared_schedule_fires_and_a_changed_declaration_updates_it() {
    let db = db().await;
    let build = |payload: serde_json::Value| {
        Zart::builder(db.store.clone())
            .task("echo", |_ctx: Ctx, input: serde_json::Value| async move {
                Ok(input)
            })
            .schedule(every_second("tick", "echo").payload(payload))
            .expect("a valid schedule")
            .build()
    };
    let zart = build(json!({"v": 1}));
    let worker = zart.start_worker(fast());
    let client = zart.client();
    let first = next_firing(&client, "tick", None).await;
    let slot = first.strip_prefix("tick@").expect("a firing id");
    let slot = chrono::DateTime::parse_from_rfc3339(slot).expect("an RFC 3339 slot");
    assert_eq!(first, firing_id("tick", slot.with_timezone(&chrono::Utc)));
    let done = finish(&client, &first).await;
    assert_eq!(done.status, ExecutionStatus::Completed);
    assert_eq!(done.result, Some(json!({"v": 1})));
    assert_eq!(done.scheduled_at, slot.with_timezone(&chrono::Utc));
    worker.shutdown(Duration::from_secs(5)).await;

    // A new build declares another payload: the stored schedule follows it.
    let zart = build(json!({"v": 2}));
    let worker = zart.start_worker(fast());
    let client = zart.client();
    let deadline = tokio::time::Instant::now() + WAIT;
    while client.schedule("tick").await.unwrap().record.spec.payload != json!({"v": 2}) {
        assert!(tokio::time::Instant::now() < deadline, "never updated");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut last = next_firing(&client, "tick", None).await;
    loop {
        let e = finish(&client, &last).await;
        if e.result == Some(json!({"v": 2})) {
            break;
        }
        last = next_firing(&client, "tick", Some(&last)).await;
    }
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn the_builder_refuses_a_schedule_that_could_never_fire() {
    let db = db().await;
    let builder = || {
        Zart::builder(db.store.clone())
            .task("echo", |_ctx: Ctx, input: serde_json::Value| async move {
                Ok(input)
            })
    };
    let unknown = builder()
        .schedule(every_second("s", "missing"))
        .unwrap_err();
    assert!(matches!(unknown, ClientError::UnknownTask(_)), "{unknown}");
    let bad_cron = builder()
        .schedule(ScheduleSpec::cron("s", "echo", "61 * * * *"))
        .unwrap_err();
    assert!(bad_cron.to_string().contains("invalid"), "{bad_cron}");
    let bad_zone = builder()
        .schedule(ScheduleSpec::cron("s", "echo", "@daily").timezone("Mars/Olympus"))
        .unwrap_err();
    assert!(bad_zone.to_string().contains("IANA"), "{bad_zone}");
    let twice = builder()
        .schedule(every_second("s", "echo"))
        .unwrap()
        .schedule(every_second("s", "echo"))
        .unwrap_err();
    assert!(twice.to_string().contains("twice"), "{twice}");
}

/// A task that waits for an event `go` (up to a minute): a firing that stays
/// unfinished until the test lets it go.
async fn waits(ctx: Ctx, _input: serde_json::Value) -> TaskResult<serde_json::Value> {
    let got: serde_json::Value = ctx.wait_for_event("go", Duration::from_secs(60)).await?;
    Ok(json!({ "released": got }))
}

#[tokio::test]
async fn cancel_previous_cancels_the_unfinished_firing() {
    // Virtual time: each one-second slot comes when the test advances the clock.
    let env = TestEnv::builder().task("waits", waits).build().unwrap();
    let client = env.client();
    client
        .create_schedule(every_second("c", "waits").overlap(OverlapPolicy::CancelPrevious))
        .await
        .expect("create");
    let last = |client: Client| async move {
        client.schedule("c").await.unwrap().record.last_execution_id
    };
    env.advance(Duration::from_secs(1)).await.unwrap();
    let first = last(client.clone()).await.expect("a first firing");
    assert_eq!(
        env.waiting_for(&first).await.unwrap().map(|w| w.kind()),
        Some("event")
    );
    env.advance(Duration::from_secs(1)).await.unwrap();
    let second = last(client.clone()).await.expect("a second firing");
    assert_ne!(first, second);
    let cancelled = client.get(&first).await.unwrap();
    assert_eq!(cancelled.status, ExecutionStatus::Cancelled);
    assert_eq!(
        client.get(&second).await.unwrap().status,
        ExecutionStatus::Running
    );
    env.shutdown().await;
}

#[tokio::test]
async fn buffer_one_fires_the_latest_waiting_slot_after_the_previous_firing() {
    // Virtual time: slots pass when the test advances the clock.
    let env = TestEnv::builder().task("waits", waits).build().unwrap();
    let client = env.client();
    client
        .create_schedule(every_second("b", "waits").overlap(OverlapPolicy::BufferOne))
        .await
        .expect("create");
    let schedule = || async { client.schedule("b").await.unwrap().record };
    env.advance(Duration::from_secs(1)).await.unwrap();
    let first = schedule().await.last_execution_id.expect("a first firing");
    // Slots pass while the first firing waits: one of them is buffered.
    env.advance(Duration::from_secs(2)).await.unwrap();
    let s = schedule().await;
    assert_eq!(s.last_execution_id.as_deref(), Some(first.as_str()));
    let buffered = s.cursor.buffered_at.expect("a buffered slot");
    client.pause_schedule("b").await.unwrap();
    client.resume_schedule("b").await.unwrap();
    // Resuming drops the buffered slot; buffer another one, then release the first.
    assert_eq!(schedule().await.cursor.buffered_at, None);
    env.advance(Duration::from_secs(2)).await.unwrap();
    assert!(schedule().await.cursor.buffered_at.is_some());
    env.offer_event(&first, "go", true).await.expect("offer");
    let done = env.wait(&first).await.unwrap();
    assert_eq!(done.result, Some(json!({"released": true})));
    // The buffered slot fires once the first firing has finished, at the same instant.
    env.settle().await.unwrap();
    let next = schedule().await.last_execution_id.expect("a later firing");
    assert_ne!(next, first);
    let fired = client.get(&next).await.unwrap();
    // The slot buffered before the pause was dropped by the resume; a later one fired.
    assert!(fired.scheduled_at > buffered, "{fired:?}");
    assert_ne!(next, firing_id("b", buffered));
    env.shutdown().await;
}
