//! The event inbox: offers (stored, and waking a parked waiter) and guarded
//! consumption, FIFO per name, exactly once.

use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::Row;
use zart_core::{EventConsume, EventOffer, EventTake, ExecutionStatus, OfferOutcome};

use crate::db::{bind_guard, work_if, Db, Written, GUARD};
use crate::errors::{corrupt, PgError};
use crate::listen::WORK;
use crate::rows::{self, json_text, ms};
use crate::steps::{bind_step, step_upsert, GUARDED};

/// `target` locks the execution row and reads its latest committed version; that
/// lock orders this offer against a concurrent suspension (see `parking`). The
/// event's `seq` is drawn under the lock, so it follows commit order.
///
/// `prior` is the event stored before with the offer's key (`$7`), `pending` the
/// unconsumed events counted up to the limit `$8` (never past it; nothing is read
/// without a limit). An event is stored only if neither stops it; a key committed
/// by a concurrent offer after this statement's snapshot is caught by the unique
/// index (`ON CONFLICT`): nothing stored and no `prior`, see [`outcome`].
const OFFER: &str = "
    WITH target AS (
        SELECT id, status, lease_owner, wait_kind, wait_ref
        FROM {s}.executions WHERE id = $1 FOR UPDATE
    ), prior AS (
        SELECT seq FROM {s}.events
        WHERE $7::text IS NOT NULL AND execution_id = $1 AND idempotency_key = $7
    ), pending AS (
        SELECT count(*) AS n FROM (SELECT 1 FROM {s}.events
            WHERE $8::bigint IS NOT NULL AND execution_id = $1 AND consumed_at IS NULL
            LIMIT $8) p
    ), stored AS (
        INSERT INTO {s}.events (execution_id, name, payload, created_at, idempotency_key)
        SELECT t.id, $2, $3::json, $4, $7 FROM target t, pending p
        WHERE t.status IN ('scheduled', 'running') AND NOT EXISTS (SELECT 1 FROM prior)
            AND ($8::bigint IS NULL OR p.n < $8)
        ON CONFLICT (execution_id, idempotency_key) WHERE idempotency_key IS NOT NULL
        DO NOTHING
        RETURNING seq
    ), woken AS (
        UPDATE {s}.executions x SET due_at = LEAST(COALESCE(x.due_at, $4), $4)
        FROM target t
        WHERE x.id = t.id AND EXISTS (SELECT 1 FROM stored)
          AND t.lease_owner IS NULL AND t.wait_kind = 'event' AND t.wait_ref = $2
        RETURNING x.id
    ), notify AS (
        SELECT pg_notify($5, $6) FROM woken
    )
    SELECT t.status, (SELECT seq FROM stored) AS stored, (SELECT seq FROM prior) AS prior,
        (SELECT n FROM pending) AS pending, (SELECT count(*) FROM notify) AS n
    FROM target t";

pub(crate) async fn offer(db: &Db, p: &EventOffer) -> Result<Written<OfferOutcome>, PgError> {
    let row = sqlx::query(&db.sql(OFFER))
        .bind(p.execution_id.as_str())
        .bind(p.name.as_str())
        .bind(json_text(&p.payload))
        .bind(ms(p.now))
        .bind(db.channel())
        .bind(WORK)
        .bind(p.idempotency_key.as_deref())
        .bind(p.max_pending.map(i64::from))
        .fetch_optional(&db.pool)
        .await?;
    let Some(row) = row else {
        return Ok((OfferOutcome::NotFound, Vec::new()));
    };
    let woke = row.try_get::<i64, _>("n")? > 0;
    Ok((outcome(db, p, &row).await?, work_if(woke)))
}

/// The outcome of an offer from its statement's row (`status`, `stored`, `prior`,
/// `pending`), in [`OfferOutcome`]'s order.
pub(crate) async fn outcome(db: &Db, p: &EventOffer, row: &PgRow) -> Result<OfferOutcome, PgError> {
    if let Some(sequence) = row.try_get::<Option<i64>, _>("prior")? {
        let duplicate = true;
        return Ok(OfferOutcome::Accepted {
            sequence,
            duplicate,
        });
    }
    let status: ExecutionStatus = rows::parse(row.try_get::<&str, _>("status")?)?;
    if status.is_terminal() {
        return Ok(OfferOutcome::Terminal(status));
    }
    if let Some(sequence) = row.try_get::<Option<i64>, _>("stored")? {
        let duplicate = false;
        return Ok(OfferOutcome::Accepted {
            sequence,
            duplicate,
        });
    }
    if let Some(max_pending) = p.max_pending {
        if row.try_get::<Option<i64>, _>("pending")?.unwrap_or(0) >= i64::from(max_pending) {
            return Ok(OfferOutcome::InboxFull { max_pending });
        }
    }
    // Only the unique index stops an offer otherwise: a concurrent offer with the same
    // key committed after this statement's snapshot, and is visible now.
    let sequence: Option<i64> = sqlx::query_scalar(
        &db.sql("SELECT seq FROM {s}.events WHERE execution_id = $1 AND idempotency_key = $2"),
    )
    .bind(p.execution_id.as_str())
    .bind(p.idempotency_key.as_deref())
    .fetch_optional(&db.pool)
    .await?;
    match sequence {
        Some(sequence) => Ok(OfferOutcome::Accepted {
            sequence,
            duplicate: true,
        }),
        None => Err(corrupt(format!(
            "event offer to {} neither stored nor refused",
            p.execution_id
        ))),
    }
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
