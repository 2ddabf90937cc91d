//! The event inbox: offers (stored, and waking a parked waiter; one statement for a
//! batch of one or many, see `group/` for how batches form) and guarded
//! consumption, FIFO per name, exactly once.
//!
//! Offers come in bursts (a webhook fan-in, an approval sent to many executions),
//! and each offer on its own is a commit that notifies, which PostgreSQL cannot
//! flush together with another notifying commit: one at a time, offers ran at a few
//! hundred per second however many callers waited.

use std::collections::HashMap;

use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::Row;
use zart_core::{EventConsume, EventOffer, EventTake, ExecutionStatus, OfferOutcome};

use crate::error::{corrupt, PgError};
use crate::guard::{bind_guard, guarded};
use crate::journal::{bind_step, step_upsert};
use crate::listen::WORK;
use crate::parking::Wake;
use crate::pool::{work_if, Db, Written};
use crate::rows::{self, column, json_text, ms, request_numbers, request_of};

/// The event offer, for a batch of offers at most one per execution (the queue's
/// key), so `seq` order per execution is the callers' order across batches.
/// `target` locks the execution rows in id order (byte order, like every multi-row
/// locker, by one index probe each) and reads their latest committed version; that
/// lock orders each offer against a concurrent suspension (see `parking`). The
/// event's `seq` is drawn under the lock, so it follows commit order.
///
/// `prior` is the event stored before with the offer's key, `pending` the
/// unconsumed events counted up to the offer's limit (never past it; nothing is
/// read without a limit). An event is stored only if neither stops it; a key
/// committed by a concurrent offer after this statement's snapshot is caught by the
/// unique index (`ON CONFLICT`): nothing stored and no `prior`, see [`outcome`].
/// One `Work` hint covers every woken waiter.
const OFFER: &str = "
    WITH input AS (
        SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::bigint[],
            $8::text[], $9::bigint[])
        AS i(req, id, name, payload, now, key, cap)
    ), target AS (
        SELECT x.id, x.status, x.lease_owner, x.wait_kind, x.wait_ref
        FROM (SELECT DISTINCT k.id COLLATE \"C\" AS id FROM input k ORDER BY 1) k
        CROSS JOIN LATERAL (
            SELECT e.id, e.status, e.lease_owner, e.wait_kind, e.wait_ref
            FROM {s}.executions e WHERE e.id = k.id
            FOR UPDATE
        ) x
    ), prior AS (
        SELECT i.req, ev.seq FROM input i
        JOIN {s}.events ev ON ev.execution_id = i.id AND ev.idempotency_key = i.key
    ), pending AS (
        SELECT i.req, c.n FROM input i CROSS JOIN LATERAL (
            SELECT count(*) AS n FROM (SELECT 1 FROM {s}.events ev
                WHERE i.cap IS NOT NULL AND ev.execution_id = i.id
                    AND ev.consumed_at IS NULL
                LIMIT i.cap) p
        ) c
    ), stored AS (
        INSERT INTO {s}.events (execution_id, name, payload, created_at, idempotency_key)
        SELECT i.id, i.name, i.payload::json, i.now, i.key
        FROM input i JOIN target t ON t.id = i.id JOIN pending p ON p.req = i.req
        WHERE t.status IN ('scheduled', 'running')
            AND NOT EXISTS (SELECT 1 FROM prior WHERE prior.req = i.req)
            AND (i.cap IS NULL OR p.n < i.cap)
        ORDER BY i.req
        ON CONFLICT (execution_id, idempotency_key) WHERE idempotency_key IS NOT NULL
        DO NOTHING
        RETURNING seq, execution_id
    ), woken AS ({WAKE} RETURNING x.id
    ), notify AS (
        SELECT pg_notify($6, $7) WHERE EXISTS (SELECT 1 FROM woken)
    )
    SELECT i.req, t.status, EXISTS (SELECT 1 FROM woken w WHERE w.id = i.id) AS woke,
        (SELECT s.seq FROM stored s WHERE s.execution_id = i.id) AS stored,
        (SELECT pr.seq FROM prior pr WHERE pr.req = i.req) AS prior, p.n AS pending,
        (SELECT count(*) FROM notify) AS n
    FROM input i JOIN target t ON t.id = i.id JOIN pending p ON p.req = i.req";

/// The text of [`OFFER`].
fn offer_sql() -> String {
    let wake = Wake {
        from: "target t JOIN input i ON i.id = t.id JOIN stored s ON s.execution_id = i.id",
        parked: "t",
        kind: "event",
        reference: "i.name",
        now: "i.now",
    };
    OFFER.replace("{WAKE}", &wake.sql())
}

/// Writes `offers` (distinct executions) in one statement; returns each one's
/// outcome, in order.
pub(crate) async fn offer(
    db: &Db,
    offers: &[&EventOffer],
) -> Result<Vec<Written<OfferOutcome>>, PgError> {
    let found = sqlx::query(&db.sql(&offer_sql()))
        .bind(request_numbers(offers.len())?)
        .bind(column(offers, |o| o.execution_id.as_str()))
        .bind(column(offers, |o| o.name.as_str()))
        .bind(column(offers, |o| json_text(&o.payload)))
        .bind(column(offers, |o| ms(o.now)))
        .bind(db.channel())
        .bind(WORK)
        .bind(column(offers, |o| o.idempotency_key.as_deref()))
        .bind(column(offers, |o| o.max_pending.map(i64::from)))
        .fetch_all(db.writes())
        .await?;
    let mut by_req: HashMap<usize, &PgRow> = HashMap::new();
    for row in &found {
        by_req.insert(request_of(row)?, row);
    }
    let mut written = Vec::with_capacity(offers.len());
    for (i, offer) in offers.iter().enumerate() {
        written.push(match by_req.get(&i) {
            None => (OfferOutcome::NotFound, Vec::new()),
            Some(row) => (
                outcome(db, offer, row).await?,
                work_if(row.try_get::<bool, _>("woke")?),
            ),
        });
    }
    Ok(written)
}

/// The outcome of an offer from its statement's row (`status`, `stored`, `prior`,
/// `pending`), in [`OfferOutcome`]'s order.
async fn outcome(db: &Db, p: &EventOffer, row: &PgRow) -> Result<OfferOutcome, PgError> {
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
            .replace("{GUARDED}", &guarded())
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
