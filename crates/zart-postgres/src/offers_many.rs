//! The batched event offer: many offers in one statement and one commit, with one
//! wake-up for the batch (see `batch.rs` for when it is used, `events.rs` for the
//! single offer).
//!
//! Offers come in bursts (a webhook fan-in, an approval sent to many executions),
//! and each single offer is a commit that notifies, which PostgreSQL cannot flush
//! together with another notifying commit: one at a time, offers ran at a few
//! hundred per second however many callers waited.

use std::collections::HashMap;

use sqlx::postgres::PgRow;
use sqlx::Row;
use zart_core::{EventOffer, OfferOutcome};

use crate::batch::{column, request_numbers, request_of};
use crate::db::{work_if, Db, Written};
use crate::errors::PgError;
use crate::events::outcome;
use crate::listen::WORK;
use crate::rows::{json_text, ms};

/// One offer per execution (the queue's key), so `seq` order per execution is the
/// callers' order across batches. `target` locks the execution rows in id order
/// (byte order, like every multi-row locker, by one index probe each) and reads
/// their latest committed version, which orders each offer against a concurrent
/// suspension as in `events.rs`. `prior` and `pending` are the single offer's
/// (see `events.rs`), per request.
const OFFER_MANY: &str = "
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
    ), woken AS (
        UPDATE {s}.executions x SET due_at = LEAST(COALESCE(x.due_at, i.now), i.now)
        FROM target t JOIN input i ON i.id = t.id JOIN stored s ON s.execution_id = i.id
        WHERE x.id = t.id
          AND t.lease_owner IS NULL AND t.wait_kind = 'event' AND t.wait_ref = i.name
        RETURNING x.id
    ), notify AS (
        SELECT pg_notify($6, $7) WHERE EXISTS (SELECT 1 FROM woken)
    )
    SELECT i.req, t.status, EXISTS (SELECT 1 FROM woken w WHERE w.id = i.id) AS woke,
        (SELECT s.seq FROM stored s WHERE s.execution_id = i.id) AS stored,
        (SELECT pr.seq FROM prior pr WHERE pr.req = i.req) AS prior, p.n AS pending,
        (SELECT count(*) FROM notify) AS n
    FROM input i JOIN target t ON t.id = i.id JOIN pending p ON p.req = i.req";

/// Writes `offers` (distinct executions) in one statement; returns each one's
/// outcome, in order.
pub(crate) async fn offer_many(
    db: &Db,
    offers: &[&EventOffer],
) -> Result<Vec<Written<OfferOutcome>>, PgError> {
    let found = sqlx::query(&db.sql(OFFER_MANY))
        .bind(request_numbers(offers.len())?)
        .bind(column(offers, |o| o.execution_id.as_str()))
        .bind(column(offers, |o| o.name.as_str()))
        .bind(column(offers, |o| json_text(&o.payload)))
        .bind(column(offers, |o| ms(o.now)))
        .bind(db.channel())
        .bind(WORK)
        .bind(column(offers, |o| o.idempotency_key.as_deref()))
        .bind(column(offers, |o| o.max_pending.map(i64::from)))
        .fetch_all(&db.pool)
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
