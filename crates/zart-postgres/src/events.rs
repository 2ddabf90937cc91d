//! The event inbox: offers (stored, and waking a parked waiter) and guarded
//! consumption, FIFO per name, exactly once.

use serde_json::Value;
use sqlx::Row;
use zart_core::{EventConsume, EventOffer, EventTake, ExecutionStatus, OfferOutcome};

use crate::db::{bind_guard, work_if, Db, Written, GUARD};
use crate::errors::PgError;
use crate::listen::WORK;
use crate::rows::{self, json_text, ms};
use crate::steps::{bind_step, step_upsert, GUARDED};

/// `target` locks the execution row and reads its latest committed version; that
/// lock orders this offer against a concurrent suspension (see `parking`). The
/// event's `seq` is drawn under the lock, so it follows commit order.
const OFFER: &str = "
    WITH target AS (
        SELECT id, status, lease_owner, wait_kind, wait_ref
        FROM {s}.executions WHERE id = $1 FOR UPDATE
    ), stored AS (
        INSERT INTO {s}.events (execution_id, name, payload, created_at)
        SELECT t.id, $2, $3::json, $4 FROM target t
        WHERE t.status IN ('scheduled', 'running')
        RETURNING seq
    ), woken AS (
        UPDATE {s}.executions x SET due_at = LEAST(COALESCE(x.due_at, $4), $4)
        FROM target t
        WHERE x.id = t.id AND t.status IN ('scheduled', 'running')
          AND t.lease_owner IS NULL AND t.wait_kind = 'event' AND t.wait_ref = $2
        RETURNING x.id
    ), notify AS (
        SELECT pg_notify($5, $6) FROM woken
    )
    SELECT t.status, (SELECT count(*) FROM stored) AS stored,
        (SELECT count(*) FROM notify) AS n
    FROM target t";

pub(crate) async fn offer(db: &Db, p: &EventOffer) -> Result<Written<OfferOutcome>, PgError> {
    let row = sqlx::query(&db.sql(OFFER))
        .bind(p.execution_id.as_str())
        .bind(p.name.as_str())
        .bind(json_text(&p.payload))
        .bind(ms(p.now))
        .bind(db.channel())
        .bind(WORK)
        .fetch_optional(&db.pool)
        .await?;
    let Some(row) = row else {
        return Ok((OfferOutcome::NotFound, Vec::new()));
    };
    let status: ExecutionStatus = rows::parse(row.try_get::<&str, _>("status")?)?;
    if status.is_terminal() {
        return Ok((OfferOutcome::Terminal(status), Vec::new()));
    }
    Ok((
        OfferOutcome::Accepted,
        work_if(row.try_get::<i64, _>("n")? > 0),
    ))
}

/// Whether execution `id` has an unconsumed event called `name`.
pub(crate) async fn pending(db: &Db, (id, name): (&str, &str)) -> Result<bool, PgError> {
    let sql = db.sql(
        "SELECT EXISTS (SELECT 1 FROM {s}.events
         WHERE execution_id = $1 AND name = $2 AND consumed_at IS NULL)",
    );
    Ok(sqlx::query_scalar(&sql)
        .bind(id)
        .bind(name)
        .fetch_one(&db.pool)
        .await?)
}

/// The guard, the oldest unconsumed event of the name, and the wait step completed
/// with its payload, in one statement.
///
/// The event row is locked (`FOR UPDATE`) and so re-read at its latest version: two
/// waits of one handler (`join!` of two `wait_for_event` on a name) consume
/// concurrently under the same lease, and the second, having waited for the
/// first's locks, would otherwise pick the event the first took from its statement
/// snapshot (issue 10). The lock sits below the `LIMIT`, so a row the recheck
/// drops is skipped for the next one. The guard is a one-time filter evaluated
/// first, so the execution row is always locked before an event row.
const CONSUME: &str = "
    WITH {GUARDED}, oldest AS (
        SELECT ev.seq FROM {s}.events ev
        WHERE EXISTS (SELECT 1 FROM guarded)
          AND ev.execution_id = $1 AND ev.name = $18 AND ev.consumed_at IS NULL
        ORDER BY ev.seq LIMIT 1
        FOR UPDATE
    ), taken AS (
        UPDATE {s}.events ev SET consumed_at = $4, consumed_by = $19
        FROM oldest WHERE ev.seq = oldest.seq AND ev.consumed_at IS NULL
        RETURNING ev.payload
    ), step AS ({STEP})
    SELECT (SELECT count(*) FROM guarded) AS applied,
        (SELECT count(*) FROM taken) AS taken,
        (SELECT payload FROM taken) AS payload";

pub(crate) async fn consume(db: &Db, p: &EventConsume) -> Result<EventTake, PgError> {
    let sql = db.sql(
        &CONSUME
            .replace("{GUARDED}", &GUARDED.replace("{GUARD}", GUARD))
            .replace("{STEP}", &step_upsert("taken", "taken.payload")),
    );
    let step_id = zart_core::step_id(&p.step.name, p.step.occurrence);
    let row = bind_step(
        bind_guard(sqlx::query(&sql), &p.guard),
        p.run_index,
        &p.step,
    )?
    .bind(p.name.as_str())
    .bind(step_id)
    .fetch_one(&db.pool)
    .await?;
    if row.try_get::<i64, _>("applied")? == 0 {
        return Ok(EventTake::LeaseLost);
    }
    if row.try_get::<i64, _>("taken")? == 0 {
        return Ok(EventTake::Empty);
    }
    let payload: Option<Value> = row.try_get("payload")?;
    Ok(EventTake::Taken(payload.unwrap_or(Value::Null)))
}
