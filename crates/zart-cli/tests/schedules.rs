//! Schedules over the admin HTTP API of real `zart serve` processes: an interval
//! schedule fires, pauses, resumes, is triggered and deleted; bad input is refused
//! with a message naming the problem; missed slots are caught up after downtime as the
//! schedule's policy says; and three servers sharing PostgreSQL, one of them
//! SIGKILLed midway, fire a 1-second schedule exactly once per slot.
//!
//! The PostgreSQL test reads `ZART_TEST_POSTGRES_URL`; without it it prints a notice
//! and passes, unless `ZART_REQUIRE_POSTGRES=1`.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use common::http::{Api, Reply, ADMIN};
use common::{eventually, temp_db, Server, ServerOptions};
use reqwest::StatusCode;
use serde_json::{json, Value};
use zart::core::{firing_id, trigger_id};
use zart_store_tests::postgres::FreshSchema;

const LIMIT: Duration = Duration::from_secs(30);

async fn create(api: &Api, body: &Value) -> Reply {
    api.post(&format!("{ADMIN}/schedules"), body).await
}

async fn get_schedule(api: &Api, id: &str) -> Reply {
    api.get(&format!("{ADMIN}/schedules/{id}")).await
}

/// `POST /schedules/{id}/{action}` (pause, resume, trigger).
async fn act(api: &Api, id: &str, action: &str) -> Reply {
    api.post_empty(&format!("{ADMIN}/schedules/{id}/{action}"))
        .await
}

fn time(value: &Value) -> DateTime<Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"));
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

/// The slot in a firing's execution id `{schedule}@{slot}`, checking the id is
/// exactly the one the slot gives.
fn slot_of(schedule: &str, execution_id: &str) -> DateTime<Utc> {
    let slot = execution_id
        .strip_prefix(&format!("{schedule}@"))
        .unwrap_or_else(|| panic!("{execution_id} is not a firing of {schedule}"));
    let slot = time(&json!(slot));
    assert_eq!(execution_id, firing_id(schedule, slot));
    slot
}

/// The executions the schedule's firings created, by slot.
async fn firings(api: &Api, schedule: &str) -> BTreeMap<DateTime<Utc>, Value> {
    let listed = api
        .executions(&format!("search={schedule}@&limit=1000"))
        .await;
    let mut by_slot = BTreeMap::new();
    for e in listed {
        let id = e["durableExecutionId"].as_str().unwrap_or_default();
        if !id.starts_with(&format!("{schedule}@")) {
            continue;
        }
        let slot = slot_of(schedule, id);
        assert_eq!(time(&e["scheduledAt"]), slot, "{e}");
        let twice = by_slot.insert(slot, e.clone());
        assert!(twice.is_none(), "slot {slot} listed twice: {e}");
    }
    by_slot
}

/// Waits until the schedule has fired more than `at_least` times; its firings.
async fn until_fired(
    api: &Api,
    schedule: &str,
    at_least: usize,
    limit: Duration,
) -> BTreeMap<DateTime<Utc>, Value> {
    let what = format!("{schedule} to fire {at_least} times");
    eventually(&what, limit, || async {
        let fired = firings(api, schedule).await;
        (fired.len() >= at_least).then_some(fired)
    })
    .await
}

/// Waits for every listed firing to complete with `payload` as its result.
async fn assert_all_complete(api: &Api, fired: &BTreeMap<DateTime<Utc>, Value>, payload: &Value) {
    for e in fired.values() {
        let id = e["durableExecutionId"].as_str().unwrap_or_default();
        let done = api.wait(id, 30).await;
        assert_eq!(done["status"], "completed", "{done}");
        assert_eq!(done["name"], "echo", "{done}");
        assert_eq!(&done["result"], payload, "{done}");
    }
}

#[tokio::test]
async fn an_interval_schedule_fires_pauses_resumes_triggers_and_is_deleted_over_http() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    let api = server.api();
    let payload = json!({"greeting": "tick", "n": 7});
    let body =
        json!({"scheduleId": "tick", "taskName": "echo", "payload": payload, "intervalSecs": 1});
    let created = create(&api, &body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let s = &created.body;
    assert_eq!(
        (&s["scheduleId"], &s["taskName"], &s["payload"]),
        (&json!("tick"), &json!("echo"), &payload)
    );
    assert_eq!((&s["intervalSecs"], &s["cron"]), (&json!(1), &Value::Null));
    assert_eq!(
        (&s["overlap"], &s["catchUp"]),
        (&json!("skip"), &json!("skip_missed"))
    );
    assert_eq!(
        (&s["paused"], &s["lastFiredAt"]),
        (&json!(false), &Value::Null)
    );
    let next: Vec<_> = s["nextFireTimes"]
        .as_array()
        .expect("nextFireTimes")
        .iter()
        .map(time)
        .collect();
    assert_eq!(next.len(), 5, "{s}");
    assert!(next[0] > time(&s["createdAt"]), "{s}");
    for pair in next.windows(2) {
        assert_eq!(pair[1] - pair[0], chrono::Duration::seconds(1), "{s}");
    }
    assert_eq!(
        next[0].timestamp_subsec_millis(),
        0,
        "slots are whole seconds: {s}"
    );

    // It fires: `tick@{slot}` executions complete with the payload.
    let fired = until_fired(&api, "tick", 2, LIMIT).await;
    // Under `skip_missed` a firing stalled past the next slot drops it, so the first
    // listed slot is only bounded (the PostgreSQL test, under `catchUp: all`, pins it).
    let first_fired = fired.keys().next().copied();
    assert!(
        first_fired >= Some(next[0]),
        "{first_fired:?} precedes {next:?}"
    );
    assert_all_complete(&api, &fired, &payload).await;
    let s = get_schedule(&api, "tick").await;
    assert_eq!(s.status, StatusCode::OK, "{s:?}");
    let last_id = s.body["lastExecutionId"].as_str().expect("lastExecutionId");
    assert_eq!(
        slot_of("tick", last_id),
        time(&s.body["lastFiredAt"]),
        "{s:?}"
    );

    // Paused, it fires nothing. Absence can only be seen by waiting: 2.2 s, over two
    // slots.
    let paused = act(&api, "tick", "pause").await;
    assert_eq!(paused.status, StatusCode::OK, "{paused:?}");
    assert_eq!(paused.body["paused"], true, "{paused:?}");
    assert_eq!(paused.body["nextFireTimes"], json!([]), "{paused:?}");
    let before_pause = firings(&api, "tick").await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let during_pause = firings(&api, "tick").await;
    assert_eq!(
        before_pause.keys().collect::<Vec<_>>(),
        during_pause.keys().collect::<Vec<_>>(),
        "a paused schedule fired"
    );

    // Resumed, it fires again, from the next slot: the paused slots stay unfired.
    let resumed_at = Utc::now();
    let resumed = act(&api, "tick", "resume").await;
    assert_eq!(resumed.status, StatusCode::OK, "{resumed:?}");
    assert_eq!(resumed.body["paused"], false, "{resumed:?}");
    assert_eq!(
        resumed.body["nextFireTimes"].as_array().map(Vec::len),
        Some(5)
    );
    let after = until_fired(&api, "tick", during_pause.len() + 1, LIMIT).await;
    let new: BTreeMap<_, _> = after
        .into_iter()
        .filter(|(slot, _)| !during_pause.contains_key(slot))
        .collect();
    assert!(
        new.keys().all(|slot| *slot > resumed_at),
        "a slot of the pause fired after the resume: {:?}",
        new.keys().collect::<Vec<_>>()
    );
    assert_all_complete(&api, &new, &payload).await;

    // A trigger fires once now, whatever the timing.
    let triggered = act(&api, "tick", "trigger").await;
    assert_eq!(triggered.status, StatusCode::CREATED, "{triggered:?}");
    let id = triggered.body["durableExecutionId"]
        .as_str()
        .expect("an execution id")
        .to_owned();
    // A trigger's id always carries milliseconds: never a slot's firing.
    let at = time(&json!(id.strip_prefix("tick@").expect("a trigger of tick")));
    assert_eq!(id, trigger_id("tick", at));
    let done = api.wait(&id, 30).await;
    assert_eq!(
        (&done["status"], &done["result"]),
        (&json!("completed"), &payload)
    );

    // Created paused (in one step), it lists no fire times and fires nothing.
    let held = create(
        &api,
        &json!({"scheduleId": "held", "taskName": "echo", "intervalSecs": 1, "paused": true}),
    )
    .await;
    assert_eq!(held.status, StatusCode::CREATED, "{held:?}");
    assert_eq!(held.body["paused"], true, "{held:?}");
    assert_eq!(held.body["nextFireTimes"], json!([]), "{held:?}");

    // Listed beside the demo schedule; deleted, it is gone and its executions stay.
    let list = api.get(&format!("{ADMIN}/schedules")).await;
    assert_eq!(list.status, StatusCode::OK, "{list:?}");
    let ids: Vec<_> = list
        .body
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| &s["scheduleId"])
        .collect();
    assert!(ids.contains(&&json!("tick")), "{ids:?}");
    let deleted = api.delete(&format!("{ADMIN}/schedules/tick")).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{deleted:?}");
    let gone = get_schedule(&api, "tick").await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{gone:?}");
    assert_eq!(api.execution(&id).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_demo_heartbeat_schedule_exists_unless_no_demo() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    let api = server.api();
    // Declared schedules are stored by the worker's first pass.
    let heartbeat = eventually("the heartbeat schedule", LIMIT, || async {
        let reply = get_schedule(&api, "heartbeat").await;
        (reply.status == StatusCode::OK).then_some(reply.body)
    })
    .await;
    assert_eq!(heartbeat["taskName"], "heartbeat", "{heartbeat}");
    assert_eq!(heartbeat["cron"], "* * * * *", "{heartbeat}");
    assert_eq!(heartbeat["timezone"], "UTC", "{heartbeat}");
    assert_eq!(heartbeat["paused"], false, "{heartbeat}");
    let list = api.get(&format!("{ADMIN}/schedules")).await;
    assert_eq!(list.body.as_array().map(Vec::len), Some(1), "{list:?}");
    drop(server);

    let (_dir, db) = temp_db();
    let bare = Server::start(&db, ServerOptions::default().args(&["--no-demo"])).await;
    let api = bare.api();
    // Nothing declares it: without the demo there is no schedule at all.
    let none = get_schedule(&api, "heartbeat").await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "{none:?}");
    let list = api.get(&format!("{ADMIN}/schedules")).await;
    assert_eq!(list.status, StatusCode::OK, "{list:?}");
    assert_eq!(list.body, json!([]), "{list:?}");
    // `--no-demo` also drops the demo tasks, `heartbeat` included.
    let refused = create(
        &api,
        &json!({"scheduleId": "hb", "taskName": "heartbeat", "cron": "* * * * *"}),
    )
    .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{refused:?}"
    );
}

#[tokio::test]
async fn invalid_schedules_are_refused_naming_the_problem_and_nothing_is_created() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    let api = server.api();
    let base = |extra: Value| {
        let mut body = json!({"scheduleId": "bad", "taskName": "echo"});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        body
    };
    let cases = [
        (
            json!({"cron": "61 * * * *"}),
            &["61 * * * *", "invalid"][..],
        ),
        (
            json!({"cron": "* * * * *", "timezone": "Mars/Olympus"}),
            &["Mars/Olympus", "IANA"],
        ),
        (
            json!({"cron": "* * * * *", "intervalSecs": 5}),
            &["not both"],
        ),
        (json!({}), &["cron or intervalSecs"]),
        (json!({"intervalSecs": 0}), &["intervalSecs", "got 0"]),
        (
            json!({"intervalSecs": 60, "timezone": "UTC"}),
            &["timezone", "cron schedules only"],
        ),
    ];
    for (extra, words) in cases {
        let body = base(extra);
        let reply = create(&api, &body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}: {reply:?}");
        for word in words {
            assert!(
                reply.error().contains(word),
                "{body}: {:?} lacks {word:?}",
                reply.error()
            );
        }
        let gone = get_schedule(&api, "bad").await;
        assert_eq!(
            gone.status,
            StatusCode::NOT_FOUND,
            "{body} created it: {gone:?}"
        );
    }

    let unknown = create(
        &api,
        &json!({"scheduleId": "bad", "taskName": "no-such-task", "intervalSecs": 60}),
    )
    .await;
    assert_eq!(
        unknown.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{unknown:?}"
    );
    assert!(unknown.error().contains("no-such-task"), "{unknown:?}");
    assert_eq!(
        get_schedule(&api, "bad").await.status,
        StatusCode::NOT_FOUND
    );

    // The same id: with the same settings it is answered again, with others it is 409.
    let body =
        json!({"scheduleId": "dup", "taskName": "echo", "payload": {"a": 1}, "intervalSecs": 3600});
    let first = create(&api, &body).await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    let again = create(&api, &body).await;
    assert_eq!(again.status, StatusCode::CREATED, "{again:?}");
    assert_eq!(
        again.body["createdAt"], first.body["createdAt"],
        "{again:?}"
    );
    for other in [
        json!({"scheduleId": "dup", "taskName": "echo", "payload": {"a": 2}, "intervalSecs": 3600}),
        json!({"scheduleId": "dup", "taskName": "echo", "payload": {"a": 1}, "intervalSecs": 60}),
        json!({"scheduleId": "dup", "taskName": "echo", "payload": {"a": 1}, "cron": "@hourly"}),
    ] {
        let reply = create(&api, &other).await;
        assert_eq!(reply.status, StatusCode::CONFLICT, "{other}: {reply:?}");
        assert!(reply.error().contains("dup"), "{reply:?}");
    }
    let kept = get_schedule(&api, "dup").await;
    assert_eq!(
        (&kept.body["payload"], &kept.body["intervalSecs"]),
        (&json!({"a": 1}), &json!(3600)),
        "{kept:?}"
    );

    // An unknown schedule is 404 on every route that names one.
    let missing = "no-such-schedule";
    let replies = [
        get_schedule(&api, missing).await,
        api.delete(&format!("{ADMIN}/schedules/{missing}")).await,
        act(&api, missing, "pause").await,
        act(&api, missing, "resume").await,
        act(&api, missing, "trigger").await,
    ];
    for reply in replies {
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{reply:?}");
        assert!(reply.error().contains(missing), "{reply:?}");
    }
}

/// The proof: three servers on one PostgreSQL database fire a 1-second cron
/// schedule, one is SIGKILLed midway, and every slot from the first to the last
/// firing has exactly one execution, all completed.
#[tokio::test]
async fn three_servers_on_postgres_fire_each_slot_exactly_once_through_a_sigkill() {
    let Some(schema) = FreshSchema::new("zart_cli_sched") else {
        return;
    };
    let url = schema.schema_url();
    let logs = tempfile::tempdir().expect("temp dir");
    // `echo` is a demo task, so the demo schedule runs too; it has its own ids.
    let options = ServerOptions::default().args(&["--lease-secs", "2"]);
    let mut servers = Vec::new();
    for _ in 0..3 {
        servers.push(Server::start_url(&url, logs.path(), options.clone()).await);
    }
    let payload = json!({"pulse": true});
    let body = json!({
        "scheduleId": "pulse", "taskName": "echo", "payload": payload,
        "cron": "* * * * * *", "catchUp": "all", "overlap": "allow_all",
    });
    let created = create(&servers[0].api(), &body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let first_slot = time(&created.body["nextFireTimes"][0]);

    let api = servers[2].api();
    until_fired(&api, "pulse", 20, Duration::from_secs(40)).await;
    let victim = servers.remove(1);
    victim.kill().await;
    let fired = until_fired(&api, "pulse", 55, Duration::from_secs(50)).await;
    // Stop the firing so the set is final, then let every execution finish (those
    // the killed server held come back when its 2 s lease expires).
    let paused = act(&api, "pulse", "pause").await;
    assert_eq!(paused.status, StatusCode::OK, "{paused:?}");
    let fired = {
        let settled = firings(&api, "pulse").await;
        assert!(settled.len() >= fired.len());
        settled
    };
    assert_all_complete(&api, &fired, &payload).await;

    let slots: Vec<_> = fired.keys().copied().collect();
    assert_eq!(
        slots.first(),
        Some(&first_slot),
        "the first slot did not fire"
    );
    let last = *slots.last().expect("firings");
    let expected: Vec<_> = (0..=(last - first_slot).num_seconds())
        .map(|s| first_slot + chrono::Duration::seconds(s))
        .collect();
    assert!(expected.len() >= 50, "only {} slots passed", expected.len());
    let missing: Vec<_> = expected.iter().filter(|s| !fired.contains_key(s)).collect();
    assert!(missing.is_empty(), "slots never fired: {missing:?}");
    assert_eq!(slots, expected, "a firing outside the schedule's slots");
    // Read from the other surviving server too: one database, one answer.
    let other = firings(&servers[0].api(), "pulse").await;
    assert_eq!(
        other.keys().collect::<Vec<_>>(),
        slots.iter().collect::<Vec<_>>()
    );
}

/// Slots of a 1-second schedule that fall strictly between `from` and `to`.
fn slots_between(
    fired: &BTreeMap<DateTime<Utc>, Value>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> usize {
    fired
        .keys()
        .filter(|slot| **slot > from && **slot < to)
        .count()
}

#[tokio::test]
async fn after_downtime_catch_up_all_fires_every_missed_slot_and_skip_missed_only_the_latest() {
    let (_dir, db) = temp_db();
    let options = ServerOptions::default().args(&["--lease-secs", "2"]);
    let first = Server::start(&db, options.clone()).await;
    let api = first.api();
    let payload = json!({"after": "downtime"});
    for (id, catch_up) in [("all", "all"), ("latest", "skip_missed")] {
        let body = json!({
            "scheduleId": id, "taskName": "echo", "payload": payload, "intervalSecs": 1,
            "catchUp": catch_up, "overlap": "allow_all",
        });
        let created = create(&api, &body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    }
    for id in ["all", "latest"] {
        until_fired(&api, id, 1, LIMIT).await;
    }
    first.kill().await;
    let killed_at = Utc::now();
    // The downtime is the point: nothing runs, so there is nothing to poll.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let restarted_at = Utc::now();
    let second = Server::start(&db, options).await;
    let api = second.api();
    let after = restarted_at + chrono::Duration::seconds(2);
    for id in ["all", "latest"] {
        eventually(&format!("{id} firing after the restart"), LIMIT, || async {
            let fired = firings(&api, id).await;
            fired.keys().any(|slot| *slot > after).then_some(())
        })
        .await;
    }

    let all = firings(&api, "all").await;
    let slots: Vec<_> = all.keys().copied().collect();
    let (start, end) = (slots[0], slots[slots.len() - 1]);
    let contiguous: Vec<_> = (0..=(end - start).num_seconds())
        .map(|s| start + chrono::Duration::seconds(s))
        .collect();
    assert_eq!(slots, contiguous, "catchUp all left a gap");
    assert!(
        slots_between(&all, killed_at + chrono::Duration::seconds(1), restarted_at) >= 2,
        "the downtime's slots did not fire: {slots:?}"
    );
    assert_all_complete(&api, &all, &payload).await;

    let latest = firings(&api, "latest").await;
    let missed = slots_between(
        &latest,
        killed_at + chrono::Duration::seconds(1),
        restarted_at,
    );
    assert!(
        missed <= 1,
        "skip_missed fired {missed} slots of the downtime: {:?}",
        latest.keys().collect::<Vec<_>>()
    );
    assert_all_complete(&api, &latest, &payload).await;
}

#[tokio::test]
async fn a_cron_schedule_lists_its_next_fire_times_in_its_time_zone() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, ServerOptions::default()).await;
    let api = server.api();
    let body = json!({
        "scheduleId": "berlin-nine", "taskName": "echo", "cron": "0 9 * * *",
        "timezone": "Europe/Berlin",
    });
    let created = create(&api, &body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    assert_eq!(created.body["timezone"], "Europe/Berlin", "{created:?}");
    assert_eq!(created.body["intervalSecs"], Value::Null, "{created:?}");
    let next: Vec<_> = created.body["nextFireTimes"]
        .as_array()
        .expect("nextFireTimes")
        .iter()
        .map(time)
        .collect();
    assert_eq!(next.len(), 5, "{created:?}");
    // 09:00 in Berlin is 08:00 UTC in winter and 07:00 UTC in summer; a DST change
    // between two of them makes that day 23 or 25 hours long.
    for t in &next {
        assert!(
            [7, 8].contains(&t.hour()) && t.minute() == 0 && t.second() == 0,
            "{t} is not 09:00 in Berlin"
        );
    }
    for pair in next.windows(2) {
        let hours = (pair[1] - pair[0]).num_hours();
        assert!((23..=25).contains(&hours), "{pair:?}");
    }
    assert!(next[0] > Utc::now() - chrono::Duration::seconds(5));
}

/// A schedule row no build of this version can parse (written by hand, or by a build
/// that knows a newer time zone or cron syntax) used to spin the firing loop: it stays
/// due, so the loop woke at once, again and again, logging an error each time.
#[tokio::test]
async fn an_unparsable_stored_schedule_neither_spins_the_loop_nor_stops_the_others() {
    let Some(schema) = FreshSchema::new("zart_cli_sched_bad") else {
        return;
    };
    let url = schema.schema_url();
    let logs = tempfile::tempdir().expect("temp dir");
    let server = Server::start_url(&url, logs.path(), ServerOptions::default()).await;
    let api = server.api();
    let payload = json!({"steady": 1});
    let body = json!({
        "scheduleId": "steady", "taskName": "echo", "payload": payload, "intervalSecs": 1,
        "catchUp": "all", "overlap": "allow_all",
    });
    assert_eq!(create(&api, &body).await.status, StatusCode::CREATED);
    schema
        .execute(
            "INSERT INTO {schema}.schedules (schedule_id, task_name, payload, cron, timezone, \
             overlap, catch_up, created_at, updated_at, next_fire_at) \
             SELECT 'broken', 'echo', 'null', '* * * * *', 'Mars/Olympus', 'skip', \
             'skip_missed', t, t, t - 1000 \
             FROM (SELECT (extract(epoch FROM now()) * 1000)::bigint AS t) AS now",
        )
        .await;
    let invalid = |log: &str| log.matches("a stored schedule is invalid").count();
    eventually("the loop to meet the broken schedule", LIMIT, || async {
        (invalid(&server.log()) > 0).then_some(())
    })
    .await;
    let seen = invalid(&server.log());
    let before = firings(&api, "steady").await.len();
    let fired = until_fired(&api, "steady", before + 4, LIMIT).await;
    let logged = invalid(&server.log()) - seen;
    // One pass a second (the steady schedule's slots, the poll) meets it each time; a
    // spinning loop met it thousands of times in these four seconds.
    assert!(
        logged <= 40,
        "the broken schedule was read {logged} times in 4 slots"
    );
    let slots: Vec<_> = fired.keys().copied().collect();
    let contiguous: Vec<_> = (0..slots.len())
        .map(|i| slots[0] + chrono::Duration::seconds(i as i64))
        .collect();
    assert_eq!(slots, contiguous, "the steady schedule missed a slot");
    assert_all_complete(&api, &fired, &payload).await;
    let broken = get_schedule(&api, "broken").await;
    assert_eq!(broken.status, StatusCode::OK, "{broken:?}");
    assert_eq!(broken.body["nextFireTimes"], json!([]), "{broken:?}");
}
