//! Schedules: put, read, list, delete, pause, and the firing that moves a schedule's
//! cursor and inserts its executions in one transaction.
//!
//! A firing locks the schedule's row (`FOR UPDATE`), compares its cursor with the one
//! it planned from, sets the new one and inserts its executions (through the
//! execution insert's own statement), then commits: of several processes firing the
//! same slot, the first records it and the others find the cursor moved. The
//! executions' ids carry their slot, so even a firing retried after an ambiguous
//! commit creates nothing twice.

use sqlx::postgres::PgRow;
use sqlx::PgConnection;
use zart_core::{
    FireOutcome, ScheduleCursor, ScheduleFire, SchedulePut, SchedulePutOutcome, ScheduleRecord,
    ScheduleSpec, Signal, Timestamp,
};

use crate::error::{corrupt, PgError};
use crate::executions;
use crate::listen::SCHEDULES;
use crate::pool::{Db, Written};
use crate::rows::{get, json_text, ms, opt_ms, opt_ts, parse, ts};

const COLUMNS: &str = "schedule_id, task_name, payload, cron, timezone, interval_secs, \
    overlap, catch_up, paused, created_at, updated_at, next_fire_at, buffered_at, \
    last_fired_at, last_execution_id";

fn record(row: &PgRow) -> Result<ScheduleRecord, PgError> {
    let payload: String = get(row, "payload")?;
    let interval: Option<i64> = get(row, "interval_secs")?;
    Ok(ScheduleRecord {
        spec: ScheduleSpec {
            schedule_id: get(row, "schedule_id")?,
            task_name: get(row, "task_name")?,
            payload: serde_json::from_str(&payload)
                .map_err(|e| corrupt(format!("schedule payload: {e}")))?,
            cron: get(row, "cron")?,
            timezone: get(row, "timezone")?,
            interval_secs: interval
                .map(|i| u64::try_from(i).map_err(|_| corrupt(format!("interval {i}"))))
                .transpose()?,
            overlap: parse(&get::<String>(row, "overlap")?)?,
            catch_up: parse(&get::<String>(row, "catch_up")?)?,
        },
        paused: get(row, "paused")?,
        created_at: ts(get(row, "created_at")?)?,
        updated_at: ts(get(row, "updated_at")?)?,
        cursor: ScheduleCursor {
            next_fire_at: opt_ts(get(row, "next_fire_at")?)?,
            buffered_at: opt_ts(get(row, "buffered_at")?)?,
        },
        last_fired_at: opt_ts(get(row, "last_fired_at")?)?,
        last_execution_id: get(row, "last_execution_id")?,
    })
}

async fn select(
    db: &Db,
    conn: &mut PgConnection,
    schedule_id: &str,
    lock: bool,
) -> Result<Option<ScheduleRecord>, PgError> {
    let sql = db.sql(&format!(
        "SELECT {COLUMNS} FROM {{s}}.schedules WHERE schedule_id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    ));
    let row = sqlx::query(&sql)
        .bind(schedule_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(record).transpose()
}

/// One schedule by id.
pub(crate) async fn get_one(db: &Db, schedule_id: &str) -> Result<Option<ScheduleRecord>, PgError> {
    let mut conn = db.pool.acquire().await?;
    select(db, &mut conn, schedule_id, false).await
}

/// Every schedule, by id.
pub(crate) async fn list(db: &Db) -> Result<Vec<ScheduleRecord>, PgError> {
    let sql = db.sql(&format!(
        "SELECT {COLUMNS} FROM {{s}}.schedules ORDER BY schedule_id"
    ));
    let found = sqlx::query(&sql).fetch_all(&db.pool).await?;
    found.iter().map(record).collect()
}

/// Sends the `Schedules` hint at commit.
async fn notify(db: &Db, conn: &mut PgConnection) -> Result<(), PgError> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(db.channel())
        .bind(SCHEDULES)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Creates, finds or (with `replace`) updates a schedule. A concurrent put of the
/// same id waits on the row lock (or on the primary key) and then compares.
pub(crate) async fn put(
    db: &Db,
    put: &SchedulePut,
) -> Result<Written<SchedulePutOutcome>, PgError> {
    let spec = &put.spec;
    let interval = spec
        .interval_secs
        .map(|i| i64::try_from(i).map_err(|_| corrupt(format!("interval {i}"))))
        .transpose()?;
    let mut tx = db.pool.begin().await?;
    let inserted = sqlx::query(&db.sql(
        "INSERT INTO {s}.schedules (schedule_id, task_name, payload, cron, timezone,
            interval_secs, overlap, catch_up, created_at, updated_at, next_fire_at, paused)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11)
         ON CONFLICT (schedule_id) DO NOTHING",
    ))
    .bind(spec.schedule_id.as_str())
    .bind(spec.task_name.as_str())
    .bind(json_text(&spec.payload))
    .bind(spec.cron.as_deref())
    .bind(spec.timezone_or_default())
    .bind(interval)
    .bind(spec.overlap.as_str())
    .bind(spec.catch_up.as_str())
    .bind(ms(put.now))
    .bind(opt_ms(put.next_fire_at))
    .bind(put.paused)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let Some(existing) = select(db, &mut tx, &spec.schedule_id, true).await? else {
        return Err(corrupt(format!("schedule {} vanished", spec.schedule_id)));
    };
    let outcome = if inserted > 0 {
        notify(db, &mut tx).await?;
        SchedulePutOutcome::Created(existing)
    } else if existing.spec.same_schedule(spec) {
        SchedulePutOutcome::Unchanged(existing)
    } else if !put.replace {
        SchedulePutOutcome::Conflict(existing)
    } else {
        sqlx::query(&db.sql(
            "UPDATE {s}.schedules SET task_name = $2, payload = $3, cron = $4, timezone = $5,
                interval_secs = $6, overlap = $7, catch_up = $8, updated_at = $9,
                next_fire_at = $10, buffered_at = NULL
             WHERE schedule_id = $1",
        ))
        .bind(spec.schedule_id.as_str())
        .bind(spec.task_name.as_str())
        .bind(json_text(&spec.payload))
        .bind(spec.cron.as_deref())
        .bind(spec.timezone_or_default())
        .bind(interval)
        .bind(spec.overlap.as_str())
        .bind(spec.catch_up.as_str())
        .bind(ms(put.now))
        .bind(opt_ms(put.next_fire_at))
        .execute(&mut *tx)
        .await?;
        notify(db, &mut tx).await?;
        let updated = select(db, &mut tx, &spec.schedule_id, false).await?;
        SchedulePutOutcome::Updated(
            updated.ok_or_else(|| corrupt(format!("schedule {} vanished", spec.schedule_id)))?,
        )
    };
    tx.commit().await?;
    let signals = match outcome {
        SchedulePutOutcome::Created(_) | SchedulePutOutcome::Updated(_) => {
            vec![Signal::Schedules]
        }
        _ => Vec::new(),
    };
    Ok((outcome, signals))
}

/// Deletes a schedule; whether it existed.
pub(crate) async fn delete(db: &Db, schedule_id: &str) -> Result<Written<bool>, PgError> {
    let mut tx = db.pool.begin().await?;
    let deleted = sqlx::query(&db.sql("DELETE FROM {s}.schedules WHERE schedule_id = $1"))
        .bind(schedule_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        > 0;
    if deleted {
        notify(db, &mut tx).await?;
    }
    tx.commit().await?;
    Ok((
        deleted,
        if deleted {
            vec![Signal::Schedules]
        } else {
            Vec::new()
        },
    ))
}

/// Pauses or resumes a schedule.
pub(crate) async fn set_paused(
    db: &Db,
    schedule_id: &str,
    paused: bool,
    next_fire_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<Written<Option<ScheduleRecord>>, PgError> {
    let mut tx = db.pool.begin().await?;
    let changed = sqlx::query(&db.sql(
        "UPDATE {s}.schedules SET paused = $2, updated_at = $3,
            next_fire_at = CASE WHEN $2 THEN next_fire_at ELSE $4 END,
            buffered_at = CASE WHEN $2 THEN buffered_at ELSE NULL END
         WHERE schedule_id = $1 AND paused <> $2",
    ))
    .bind(schedule_id)
    .bind(paused)
    .bind(ms(now))
    .bind(opt_ms(next_fire_at))
    .execute(&mut *tx)
    .await?
    .rows_affected()
        > 0;
    if changed {
        notify(db, &mut tx).await?;
    }
    let found = select(db, &mut tx, schedule_id, false).await?;
    tx.commit().await?;
    let signals = if changed {
        vec![Signal::Schedules]
    } else {
        Vec::new()
    };
    Ok((found, signals))
}

/// The unpaused schedules with something to do at `now`, soonest first.
pub(crate) async fn due(
    db: &Db,
    now: Timestamp,
    limit: u32,
) -> Result<Vec<ScheduleRecord>, PgError> {
    let sql = db.sql(&format!(
        "SELECT {COLUMNS} FROM {{s}}.schedules
         WHERE NOT paused AND (next_fire_at <= $1 OR buffered_at IS NOT NULL)
         ORDER BY LEAST(next_fire_at, buffered_at), schedule_id LIMIT $2"
    ));
    let found = sqlx::query(&sql)
        .bind(ms(now))
        .bind(i64::from(limit))
        .fetch_all(&db.pool)
        .await?;
    found.iter().map(record).collect()
}

/// The earliest cursor of an unpaused schedule.
pub(crate) async fn next_due(db: &Db) -> Result<Option<Timestamp>, PgError> {
    let at: Option<i64> =
        sqlx::query_scalar(&db.sql("SELECT min(next_fire_at) FROM {s}.schedules WHERE NOT paused"))
            .fetch_one(&db.pool)
            .await?;
    opt_ts(at)
}

/// Records a firing: the cursor's compare-and-set, the last firing, the inserts.
pub(crate) async fn fire(db: &Db, fire: &ScheduleFire) -> Result<Written<FireOutcome>, PgError> {
    let mut tx = db.pool.begin().await?;
    let Some(current) = select(db, &mut tx, &fire.schedule_id, true).await? else {
        tx.rollback().await?;
        return Ok((FireOutcome::NotFound, Vec::new()));
    };
    let now = ms(fire.now);
    if let Some((from, to)) = &fire.cursor {
        if current.paused || current.cursor != *from {
            // At once: a dropped transaction keeps the row locked until its
            // connection is next used.
            tx.rollback().await?;
            return Ok((FireOutcome::Stale, Vec::new()));
        }
        sqlx::query(&db.sql(
            "UPDATE {s}.schedules SET next_fire_at = $2, buffered_at = $3, updated_at = $4
             WHERE schedule_id = $1",
        ))
        .bind(fire.schedule_id.as_str())
        .bind(opt_ms(to.next_fire_at))
        .bind(opt_ms(to.buffered_at))
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    let news: Vec<_> = fire.starts.iter().collect();
    let inserted = if news.is_empty() {
        Vec::new()
    } else {
        executions::insert_on(db, &mut tx, &news).await?
    };
    if let Some(last) = fire.starts.last() {
        sqlx::query(&db.sql(
            "UPDATE {s}.schedules SET last_fired_at = $2, last_execution_id = $3,
                updated_at = $4
             WHERE schedule_id = $1",
        ))
        .bind(fire.schedule_id.as_str())
        .bind(opt_ms(fire.fired_at))
        .bind(last.id.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    let mut signals = Vec::new();
    let mut outcomes = Vec::with_capacity(inserted.len());
    for (outcome, hints) in inserted {
        signals.extend(hints);
        outcomes.push(outcome);
    }
    Ok((FireOutcome::Fired(outcomes), signals))
}
