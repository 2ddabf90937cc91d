//! Durable time on an injected clock: a [`ManualClock`] given to the builder decides
//! when a timer is due, so a day-long sleep is tested without waiting a day (SQLite:
//! PostgreSQL takes time from the database's clock instead).

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use common::*;
use zart::core::{ManualClock, Timestamp};
use zart::prelude::*;

const DAY: Duration = Duration::from_secs(24 * 3600);

#[tokio::test]
async fn a_day_long_sleep_wakes_once_the_injected_clock_passes_its_due_time() {
    let db = db().await;
    let t0: Timestamp = chrono::Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(t0));
    let zart = Zart::builder(db.store.clone())
        .clock(clock.clone())
        .task("day-sleeper", |ctx: Ctx, _: serde_json::Value| async move {
            let before = ctx.now().await;
            ctx.sleep("nap", DAY).await;
            let after = ctx.now().await;
            Ok(vec![before, after])
        })
        .build();
    let client = zart.client();
    let worker = zart.start_worker(fast());
    let id = start(&client, "day-sleeper", serde_json::Value::Null).await;
    until(&client, &id, parked_on("timer")).await;
    // The timer was set on the injected clock's time line, a day after its start.
    let due = db.store.execution_next_due().await.expect("next due");
    assert_eq!(due, Some(t0 + chrono::Duration::days(1)));

    clock.advance(chrono::Duration::days(1));
    let done = finish(&client, &id).await;
    let times: Vec<Timestamp> =
        serde_json::from_value(done.result.expect("a result")).expect("two instants");
    assert_eq!(times, [t0, t0 + chrono::Duration::days(1)]);
    worker.shutdown(Duration::from_secs(5)).await;
}
