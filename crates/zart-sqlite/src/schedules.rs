//! Schedules: put, read, list, delete, pause, and the firing that moves a schedule's
//! cursor and inserts its executions in one transaction.
//!
//! Every write runs on the writer thread, so a firing's compare-and-set of the cursor
//! and its inserts are one transaction by construction; a second process sharing the
//! file waits on SQLite's write lock and then finds the cursor moved.

use rusqlite::{params, Connection, OptionalExtension, Row};
use zart_core::{
    FireOutcome, InsertOutcome, ScheduleCursor, ScheduleFire, SchedulePut, SchedulePutOutcome,
    ScheduleRecord, ScheduleSpec, Signal, StoreError, StoreResult, Timestamp,
};

use crate::error::SqlResultExt;
use crate::executions;
use crate::rows::{self, json_text, ms, opt_ms, opt_ts, parse_enum, ts, value_of};

const SELECT: &str = "SELECT schedule_id, task_name, payload, cron, timezone, interval_secs, \
    overlap, catch_up, paused, created_at, updated_at, next_fire_at, buffered_at, \
    last_fired_at, last_execution_id FROM schedules";

fn record(row: &Row<'_>) -> StoreResult<ScheduleRecord> {
    let interval: Option<i64> = row.get(5).db()?;
    Ok(ScheduleRecord {
        spec: ScheduleSpec {
            schedule_id: row.get(0).db()?,
            task_name: row.get(1).db()?,
            payload: value_of(&row.get::<_, String>(2).db()?)?,
            cron: row.get(3).db()?,
            timezone: row.get(4).db()?,
            interval_secs: interval
                .map(|i| {
                    u64::try_from(i).map_err(|_| {
                        StoreError::Internal(format!("stored interval {i} is out of range"))
                    })
                })
                .transpose()?,
            overlap: parse_enum(&row.get::<_, String>(6).db()?)?,
            catch_up: parse_enum(&row.get::<_, String>(7).db()?)?,
        },
        paused: row.get(8).db()?,
        created_at: ts(row.get(9).db()?)?,
        updated_at: ts(row.get(10).db()?)?,
        cursor: ScheduleCursor {
            next_fire_at: opt_ts(row.get(11).db()?)?,
            buffered_at: opt_ts(row.get(12).db()?)?,
        },
        last_fired_at: opt_ts(row.get(13).db()?)?,
        last_execution_id: row.get(14).db()?,
    })
}

/// One schedule by id.
pub(crate) fn get(conn: &Connection, schedule_id: &str) -> StoreResult<Option<ScheduleRecord>> {
    let sql = format!("{SELECT} WHERE schedule_id = ?1");
    let mut stmt = conn.prepare_cached(&sql).db()?;
    Ok(rows::collect(&mut stmt, [schedule_id], record)?
        .into_iter()
        .next())
}

/// Every schedule, by id.
pub(crate) fn list(conn: &Connection) -> StoreResult<Vec<ScheduleRecord>> {
    let sql = format!("{SELECT} ORDER BY schedule_id");
    let mut stmt = conn.prepare_cached(&sql).db()?;
    rows::collect(&mut stmt, [], record)
}

/// Creates, finds or (with `replace`) updates a schedule.
pub(crate) fn put(
    conn: &Connection,
    put: &SchedulePut,
    signals: &mut Vec<Signal>,
) -> StoreResult<SchedulePutOutcome> {
    let spec = &put.spec;
    let interval = spec
        .interval_secs
        .map(|i| {
            i64::try_from(i)
                .map_err(|_| StoreError::InvalidInput(format!("intervalSecs {i} is too large")))
        })
        .transpose()?;
    let values = params![
        spec.schedule_id,
        spec.task_name,
        json_text(&spec.payload)?,
        spec.cron,
        spec.timezone_or_default(),
        interval,
        spec.overlap.as_str(),
        spec.catch_up.as_str(),
        ms(put.now),
        opt_ms(put.next_fire_at),
    ];
    if let Some(existing) = get(conn, &spec.schedule_id)? {
        if existing.spec.same_schedule(spec) {
            return Ok(SchedulePutOutcome::Unchanged(existing));
        }
        if !put.replace {
            return Ok(SchedulePutOutcome::Conflict(existing));
        }
        conn.prepare_cached(
            "UPDATE schedules SET task_name = ?2, payload = ?3, cron = ?4, timezone = ?5, \
             interval_secs = ?6, overlap = ?7, catch_up = ?8, updated_at = ?9, \
             next_fire_at = ?10, buffered_at = NULL WHERE schedule_id = ?1",
        )
        .db()?
        .execute(values)
        .db()?;
        signals.push(Signal::Schedules);
        return Ok(SchedulePutOutcome::Updated(stored(
            conn,
            &spec.schedule_id,
        )?));
    }
    conn.prepare_cached(
        "INSERT INTO schedules (schedule_id, task_name, payload, cron, timezone, \
         interval_secs, overlap, catch_up, created_at, updated_at, next_fire_at, paused) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11)",
    )
    .db()?
    .execute(params![
        spec.schedule_id,
        spec.task_name,
        json_text(&spec.payload)?,
        spec.cron,
        spec.timezone_or_default(),
        interval,
        spec.overlap.as_str(),
        spec.catch_up.as_str(),
        ms(put.now),
        opt_ms(put.next_fire_at),
        put.paused,
    ])
    .db()?;
    signals.push(Signal::Schedules);
    Ok(SchedulePutOutcome::Created(stored(
        conn,
        &spec.schedule_id,
    )?))
}

fn stored(conn: &Connection, schedule_id: &str) -> StoreResult<ScheduleRecord> {
    get(conn, schedule_id)?
        .ok_or_else(|| StoreError::Internal(format!("schedule {schedule_id} vanished")))
}

/// Deletes a schedule; whether it existed.
pub(crate) fn delete(
    conn: &Connection,
    schedule_id: &str,
    signals: &mut Vec<Signal>,
) -> StoreResult<bool> {
    let deleted = conn
        .prepare_cached("DELETE FROM schedules WHERE schedule_id = ?1")
        .db()?
        .execute([schedule_id])
        .db()?;
    if deleted > 0 {
        signals.push(Signal::Schedules);
    }
    Ok(deleted > 0)
}

/// Pauses or resumes a schedule.
pub(crate) fn set_paused(
    conn: &Connection,
    schedule_id: &str,
    paused: bool,
    next_fire_at: Option<Timestamp>,
    now: Timestamp,
    signals: &mut Vec<Signal>,
) -> StoreResult<Option<ScheduleRecord>> {
    let changed = conn
        .prepare_cached(
            "UPDATE schedules SET paused = ?2, updated_at = ?3, \
             next_fire_at = CASE WHEN ?2 THEN next_fire_at ELSE ?4 END, \
             buffered_at = CASE WHEN ?2 THEN buffered_at ELSE NULL END \
             WHERE schedule_id = ?1 AND paused <> ?2",
        )
        .db()?
        .execute(params![schedule_id, paused, ms(now), opt_ms(next_fire_at)])
        .db()?;
    if changed > 0 {
        signals.push(Signal::Schedules);
    }
    get(conn, schedule_id)
}

/// The unpaused schedules with something to do at `now`, soonest first.
pub(crate) fn due(
    conn: &Connection,
    now: Timestamp,
    limit: u32,
) -> StoreResult<Vec<ScheduleRecord>> {
    let sql = format!(
        "{SELECT} WHERE paused = 0 AND (next_fire_at <= ?1 OR buffered_at IS NOT NULL) \
         ORDER BY coalesce(min(next_fire_at, buffered_at), next_fire_at, buffered_at), \
         schedule_id LIMIT ?2"
    );
    let mut stmt = conn.prepare_cached(&sql).db()?;
    rows::collect(&mut stmt, params![ms(now), limit], record)
}

/// The earliest cursor of an unpaused schedule.
pub(crate) fn next_due(conn: &Connection) -> StoreResult<Option<Timestamp>> {
    let at: Option<i64> = conn
        .prepare_cached("SELECT min(next_fire_at) FROM schedules WHERE paused = 0")
        .db()?
        .query_row([], |r| r.get(0))
        .db()?;
    opt_ts(at)
}

/// Records a firing: the cursor's compare-and-set, the last firing, the inserts.
pub(crate) fn fire(
    conn: &Connection,
    fire: &ScheduleFire,
    signals: &mut Vec<Signal>,
) -> StoreResult<FireOutcome> {
    let found: Option<(bool, Option<i64>, Option<i64>)> = conn
        .prepare_cached(
            "SELECT paused, next_fire_at, buffered_at FROM schedules WHERE schedule_id = ?1",
        )
        .db()?
        .query_row([&fire.schedule_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()
        .db()?;
    let Some((paused, next_fire_at, buffered_at)) = found else {
        return Ok(FireOutcome::NotFound);
    };
    let now = ms(fire.now);
    if let Some((from, to)) = &fire.cursor {
        let current = (next_fire_at, buffered_at);
        if paused || current != (opt_ms(from.next_fire_at), opt_ms(from.buffered_at)) {
            return Ok(FireOutcome::Stale);
        }
        conn.prepare_cached(
            "UPDATE schedules SET next_fire_at = ?2, buffered_at = ?3, updated_at = ?4 \
             WHERE schedule_id = ?1",
        )
        .db()?
        .execute(params![
            fire.schedule_id,
            opt_ms(to.next_fire_at),
            opt_ms(to.buffered_at),
            now
        ])
        .db()?;
    }
    let mut outcomes = Vec::with_capacity(fire.starts.len());
    for start in &fire.starts {
        let outcome = executions::insert(conn, start)?;
        if matches!(outcome, InsertOutcome::Created(_)) {
            signals.push(Signal::Work);
        }
        outcomes.push(outcome);
    }
    if let Some(last) = fire.starts.last() {
        conn.prepare_cached(
            "UPDATE schedules SET last_fired_at = ?2, last_execution_id = ?3, updated_at = ?4 \
             WHERE schedule_id = ?1",
        )
        .db()?
        .execute(params![
            fire.schedule_id,
            opt_ms(fire.fired_at),
            last.id,
            now
        ])
        .db()?;
    }
    Ok(FireOutcome::Fired(outcomes))
}
