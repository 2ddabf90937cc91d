//! Schedules: put (create, find, conflict, replace), read, list, delete, pause and
//! resume, the due list, and the firing that compares and sets the cursor and
//! inserts its executions in one transaction, once per slot however many callers
//! race for it.

use serde_json::json;
use tokio::task::JoinSet;
use zart_core::{
    firing_id, FireOutcome, InsertOutcome, NewExecution, OverlapPolicy, ScheduleCursor,
    ScheduleFire, SchedulePut, SchedulePutOutcome, ScheduleRecord, ScheduleSpec, Signal,
};

use crate::support::*;

/// A 10-second interval schedule `id` of task `"task"`.
fn spec(id: &str) -> ScheduleSpec {
    ScheduleSpec::every(id, "task", std::time::Duration::from_secs(10)).payload(json!({ "n": 1 }))
}

fn put(spec: ScheduleSpec, next: i64, replace: bool, now: i64) -> SchedulePut {
    SchedulePut {
        spec,
        next_fire_at: Some(at(next)),
        paused: false,
        replace,
        now: at(now),
    }
}

async fn create(store: &DynStore, spec: ScheduleSpec, next: i64) -> ScheduleRecord {
    match store
        .schedule_put(put(spec, next, false, 0))
        .await
        .expect("schedule_put")
    {
        SchedulePutOutcome::Created(r) => r,
        other => panic!("expected Created, got {other:?}"),
    }
}

/// The firing of `id` for slot `slot` (ms), planned from `from`, leaving `to`.
fn firing(
    id: &str,
    from: ScheduleCursor,
    to: ScheduleCursor,
    slots: &[i64],
    now: i64,
) -> ScheduleFire {
    ScheduleFire {
        schedule_id: id.into(),
        cursor: Some((from, to)),
        starts: slots
            .iter()
            .map(|slot| NewExecution {
                id: firing_id(id, at(*slot)),
                task_name: "task".into(),
                payload: json!({ "n": 1 }),
                now: at(*slot),
                run_at: at(now),
                deadline_at: None,
                parent_id: None,
                trace_context: None,
                queue: None,
                priority: 0,
                deduplication_id: None,
                concurrency_key: None,
            })
            .collect(),
        fired_at: slots.last().map(|s| at(*s)),
        now: at(now),
    }
}

fn cursor(next: Option<i64>, buffered: Option<i64>) -> ScheduleCursor {
    ScheduleCursor {
        next_fire_at: next.map(at),
        buffered_at: buffered.map(at),
    }
}

/// A created schedule is stored as given (a cron schedule without a zone is UTC) and
/// `Schedules` is signalled; putting the same spec again changes nothing.
pub async fn schedule_put_creates_then_finds_the_same_spec(store: DynStore) {
    let mut sub = store.subscribe();
    let created = create(&store, spec("s1"), 10_000).await;
    assert_eq!(created.spec, spec("s1"));
    assert!(!created.paused);
    assert_eq!(created.cursor, cursor(Some(10_000), None));
    assert_eq!(created.created_at, at(0));
    assert_eq!(created.last_execution_id, None);
    expect_signal(&mut sub, |s| *s == Signal::Schedules).await;

    let again = store
        .schedule_put(put(spec("s1"), 20_000, false, 5))
        .await
        .unwrap();
    assert_eq!(again, SchedulePutOutcome::Unchanged(created.clone()));
    let cron = create(
        &store,
        ScheduleSpec::cron("c", "task", "@hourly"),
        3_600_000,
    )
    .await;
    assert_eq!(cron.spec.timezone_or_default(), Some("UTC"));
    let got = store.schedule_get("s1").await.unwrap();
    assert_eq!(got, Some(created));
    assert_eq!(store.schedule_get("nope").await.unwrap(), None);
}

/// A schedule created paused is stored paused and never due; an existing one put
/// again with `paused` keeps its state.
pub async fn schedule_put_paused_creates_it_paused(store: DynStore) {
    let paused = SchedulePut {
        paused: true,
        ..put(spec("p"), 10_000, false, 0)
    };
    let SchedulePutOutcome::Created(created) = store.schedule_put(paused.clone()).await.unwrap()
    else {
        panic!("expected Created");
    };
    assert!(created.paused);
    assert!(store.schedule_due(at(60_000), 10).await.unwrap().is_empty());
    assert_eq!(store.schedule_next_due().await.unwrap(), None);
    create(&store, spec("r"), 10_000).await;
    let again = SchedulePut {
        paused: true,
        ..put(spec("r"), 10_000, false, 1)
    };
    let SchedulePutOutcome::Unchanged(kept) = store.schedule_put(again).await.unwrap() else {
        panic!("expected Unchanged");
    };
    assert!(!kept.paused);
}

/// Another spec under the same id is a conflict for a create and an update (cursor
/// restarted, pause and last firing kept) for a replacing put.
pub async fn schedule_put_conflicts_or_replaces_another_spec(store: DynStore) {
    let created = create(&store, spec("s1"), 10_000).await;
    let fired = store
        .schedule_fire(firing(
            "s1",
            created.cursor,
            cursor(Some(20_000), None),
            &[10_000],
            10_001,
        ))
        .await
        .unwrap();
    assert!(matches!(fired, FireOutcome::Fired(_)), "{fired:?}");
    store
        .schedule_set_paused("s1", true, None, at(10_002))
        .await
        .unwrap();
    let changed = spec("s1").payload(json!({ "n": 2 }));
    let conflict = store
        .schedule_put(put(changed.clone(), 30_000, false, 10_003))
        .await
        .unwrap();
    let SchedulePutOutcome::Conflict(existing) = conflict else {
        panic!("expected Conflict, got {conflict:?}");
    };
    assert_eq!(existing.spec, spec("s1"), "nothing changed");

    let updated = store
        .schedule_put(put(changed.clone(), 30_000, true, 10_004))
        .await
        .unwrap();
    let SchedulePutOutcome::Updated(updated) = updated else {
        panic!("expected Updated, got {updated:?}");
    };
    assert_eq!(updated.spec, changed);
    assert_eq!(updated.cursor, cursor(Some(30_000), None));
    assert!(updated.paused, "the pause is kept");
    assert_eq!(updated.last_fired_at, Some(at(10_000)));
    assert_eq!(updated.last_execution_id, Some(firing_id("s1", at(10_000))));
    assert_eq!(updated.created_at, at(0));
}

/// The list holds every schedule by id; a delete removes one (its executions stay)
/// and reports whether it existed.
pub async fn schedule_list_and_delete(store: DynStore) {
    for id in ["b", "a", "c"] {
        create(&store, spec(id), 10_000).await;
    }
    let ids = |list: Vec<ScheduleRecord>| -> Vec<String> {
        list.into_iter().map(|s| s.spec.schedule_id).collect()
    };
    assert_eq!(ids(store.schedule_list().await.unwrap()), ["a", "b", "c"]);
    let a = store.schedule_get("a").await.unwrap().unwrap();
    store
        .schedule_fire(firing(
            "a",
            a.cursor,
            cursor(Some(20_000), None),
            &[10_000],
            10_000,
        ))
        .await
        .unwrap();
    let mut sub = store.subscribe();
    assert!(store.schedule_delete("a").await.unwrap());
    expect_signal(&mut sub, |s| *s == Signal::Schedules).await;
    assert!(!store.schedule_delete("a").await.unwrap());
    assert_eq!(ids(store.schedule_list().await.unwrap()), ["b", "c"]);
    let fired = firing_id("a", at(10_000));
    assert!(store.execution_get(&fired).await.unwrap().is_some());
}

/// The due list holds unpaused schedules whose cursor has come, or that buffer a
/// slot; the next due time is the earliest unpaused cursor.
pub async fn schedule_due_lists_what_is_due_and_unpaused(store: DynStore) {
    create(&store, spec("soon"), 10_000).await;
    create(&store, spec("later"), 50_000).await;
    create(&store, spec("paused"), 5_000).await;
    store
        .schedule_set_paused("paused", true, None, at(1))
        .await
        .unwrap();
    let due = |now| {
        let store = store.clone();
        async move {
            let list = store.schedule_due(at(now), 100).await.unwrap();
            list.into_iter()
                .map(|s| s.spec.schedule_id)
                .collect::<Vec<_>>()
        }
    };
    assert!(due(9_999).await.is_empty());
    assert_eq!(due(10_000).await, ["soon"]);
    assert_eq!(due(60_000).await, ["soon", "later"]);
    assert_eq!(store.schedule_next_due().await.unwrap(), Some(at(10_000)));
    // A buffered slot is due whatever the cursor.
    let later = store.schedule_get("later").await.unwrap().unwrap();
    store
        .schedule_fire(firing(
            "later",
            later.cursor,
            cursor(Some(50_000), Some(40_000)),
            &[],
            40_000,
        ))
        .await
        .unwrap();
    assert_eq!(due(10_000).await, ["soon", "later"]);
    assert_eq!(store.schedule_due(at(60_000), 1).await.unwrap().len(), 1);
}

/// Pausing keeps the cursor; resuming a paused schedule moves it to the given slot
/// and drops a buffered one; a call in the state the schedule is in changes nothing.
pub async fn schedule_pause_and_resume(store: DynStore) {
    let created = create(&store, spec("s"), 10_000).await;
    store
        .schedule_fire(firing(
            "s",
            created.cursor,
            cursor(Some(10_000), Some(5_000)),
            &[],
            6_000,
        ))
        .await
        .unwrap();
    let mut sub = store.subscribe();
    let paused = store
        .schedule_set_paused("s", true, Some(at(99_000)), at(7_000))
        .await
        .unwrap()
        .unwrap();
    assert!(paused.paused);
    assert_eq!(paused.cursor, cursor(Some(10_000), Some(5_000)));
    expect_signal(&mut sub, |s| *s == Signal::Schedules).await;
    let again = store
        .schedule_set_paused("s", true, Some(at(99_000)), at(8_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, paused, "pausing a paused schedule changes nothing");
    let resumed = store
        .schedule_set_paused("s", false, Some(at(60_000)), at(55_000))
        .await
        .unwrap()
        .unwrap();
    assert!(!resumed.paused);
    assert_eq!(resumed.cursor, cursor(Some(60_000), None));
    let running = store
        .schedule_set_paused("s", false, Some(at(90_000)), at(56_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(running.cursor, cursor(Some(60_000), None));
    assert_eq!(
        store
            .schedule_set_paused("nope", true, None, at(1))
            .await
            .unwrap(),
        None
    );
}

/// A firing moves the cursor, records the last firing and creates its executions
/// (the slot as `scheduled_at`), signalling `Work`; a second firing planned from the
/// old cursor is stale and changes nothing, as is one on a paused schedule.
pub async fn schedule_fire_moves_the_cursor_once(store: DynStore) {
    let created = create(&store, spec("s"), 10_000).await;
    let mut sub = store.subscribe();
    let next = cursor(Some(30_000), None);
    let fired = store
        .schedule_fire(firing("s", created.cursor, next, &[10_000, 20_000], 20_005))
        .await
        .unwrap();
    let FireOutcome::Fired(outcomes) = fired else {
        panic!("expected Fired, got {fired:?}");
    };
    assert_eq!(outcomes.len(), 2);
    for (outcome, slot) in outcomes.iter().zip([10_000, 20_000]) {
        let InsertOutcome::Created(e) = outcome else {
            panic!("expected Created, got {outcome:?}");
        };
        assert_eq!(e.id, firing_id("s", at(slot)));
        assert_eq!(e.scheduled_at, at(slot));
        assert_eq!(e.payload, json!({ "n": 1 }));
    }
    expect_signal(&mut sub, |s| *s == Signal::Work).await;
    let stored = store.schedule_get("s").await.unwrap().unwrap();
    assert_eq!(stored.cursor, next);
    assert_eq!(stored.last_fired_at, Some(at(20_000)));
    assert_eq!(stored.last_execution_id, Some(firing_id("s", at(20_000))));

    let stale = store
        .schedule_fire(firing("s", created.cursor, next, &[10_000], 20_006))
        .await
        .unwrap();
    assert_eq!(stale, FireOutcome::Stale);
    store
        .schedule_set_paused("s", true, None, at(20_007))
        .await
        .unwrap();
    let on_paused = store
        .schedule_fire(firing(
            "s",
            next,
            cursor(Some(40_000), None),
            &[30_000],
            30_000,
        ))
        .await
        .unwrap();
    assert_eq!(on_paused, FireOutcome::Stale);
    assert!(store
        .execution_get(&firing_id("s", at(30_000)))
        .await
        .unwrap()
        .is_none());
    let missing = store
        .schedule_fire(firing("nope", next, next, &[1], 1))
        .await
        .unwrap();
    assert_eq!(missing, FireOutcome::NotFound);
}

/// A manual trigger (no cursor) fires on a paused schedule too, leaves the cursor
/// alone and records the last firing; an execution id that exists is kept.
pub async fn schedule_trigger_leaves_the_cursor(store: DynStore) {
    let created = create(&store, spec("s"), 10_000).await;
    store
        .schedule_set_paused("s", true, None, at(1))
        .await
        .unwrap();
    let mut trigger = firing("s", created.cursor, created.cursor, &[4_321], 4_321);
    trigger.cursor = None;
    let fired = store.schedule_fire(trigger.clone()).await.unwrap();
    assert!(
        matches!(&fired, FireOutcome::Fired(o) if matches!(o[0], InsertOutcome::Created(_))),
        "{fired:?}"
    );
    let again = store.schedule_fire(trigger).await.unwrap();
    assert!(
        matches!(&again, FireOutcome::Fired(o) if matches!(o[0], InsertOutcome::Existing(_))),
        "{again:?}"
    );
    let stored = store.schedule_get("s").await.unwrap().unwrap();
    assert_eq!(stored.cursor, created.cursor);
    assert_eq!(stored.last_execution_id, Some(firing_id("s", at(4_321))));
}

/// Many callers firing the same slot from the same cursor: one records it, the rest
/// find it stale, and one execution exists for the slot.
pub async fn concurrent_firings_of_one_slot_record_it_once(store: DynStore) {
    let created = create(&store, spec("s").overlap(OverlapPolicy::AllowAll), 10_000).await;
    let mut racers = JoinSet::new();
    for _ in 0..8 {
        let store = store.clone();
        let from = created.cursor;
        racers.spawn(async move {
            store
                .schedule_fire(firing(
                    "s",
                    from,
                    cursor(Some(20_000), None),
                    &[10_000],
                    10_001,
                ))
                .await
                .expect("schedule_fire")
        });
    }
    let mut fired = 0;
    while let Some(outcome) = racers.join_next().await {
        match outcome.expect("racer") {
            FireOutcome::Fired(o) => {
                assert!(matches!(o[0], InsertOutcome::Created(_)), "{o:?}");
                fired += 1;
            }
            FireOutcome::Stale => {}
            FireOutcome::NotFound => panic!("the schedule vanished"),
        }
    }
    assert_eq!(fired, 1);
    let stored = store.schedule_get("s").await.unwrap().unwrap();
    assert_eq!(stored.cursor, cursor(Some(20_000), None));
}
