//! The batched event offer: many offers in one statement and one commit, with one
//! wake-up for the batch (see `batch.rs` for when it is used, `events.rs` for the
//! single offer).
//!
//! Offers come in bursts (a webhook fan-in, an approval sent to many executions),
//! and each single offer is a commit that notifies, which PostgreSQL cannot flush
//! together with another notifying commit: one at a time, offers ran at a few
//! hundred per second however many callers waited.

use std::collections::HashMap;

use sqlx::Row;
use zart_core::{EventOffer, ExecutionStatus, OfferOutcome};

use crate::batch::{column, request_numbers, request_of};
use crate::db::{work_if, Db, Written};
use crate::errors::PgError;
use crate::listen::WORK;
use crate::rows::{self, json_text, ms};

/// One offer per execution (the queue's key), so `seq` order per execution is the
/// callers' order across batches. `target` locks the execution rows in id order
/// (byte order, like every multi-row locker, by one index probe each) and reads
/// their latest committed version, which orders each offer against a concurrent
/// suspension as in `events.rs`.
const OFFER_MANY: &str = "
    WITH input AS (
        SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::bigint[])
        AS i(req, id, name, payload, now)
    ), target AS (
        SELECT x.id, x.status, x.lease_owner, x.wait_kind, x.wait_ref
        FROM (SELECT DISTINCT k.id COLLATE \"C\" AS id FROM input k ORDER BY 1) k
        CROSS JOIN LATERAL (
            SELECT e.id, e.status, e.lease_owner, e.wait_kind, e.wait_ref
            FROM {s}.executions e WHERE e.id = k.id
            FOR UPDATE
        ) x
    ), stored AS (
        INSERT INTO {s}.events (execution_id, name, payload, created_at)
        SELECT i.id, i.name, i.payload::json, i.now
        FROM input i JOIN target t ON t.id = i.id
        WHERE t.status IN ('scheduled', 'running')
        ORDER BY i.req
        RETURNING seq
    ), woken AS (
        UPDATE {s}.executions x SET due_at = LEAST(COALESCE(x.due_at, i.now), i.now)
        FROM target t JOIN input i ON i.id = t.id
        WHERE x.id = t.id AND t.status IN ('scheduled', 'running')
          AND t.lease_owner IS NULL AND t.wait_kind = 'event' AND t.wait_ref = i.name
        RETURNING x.id
    ), notify AS (
        SELECT pg_notify($6, $7) WHERE EXISTS (SELECT 1 FROM woken)
    )
    SELECT i.req, t.status, EXISTS (SELECT 1 FROM woken w WHERE w.id = i.id) AS woke,
        (SELECT count(*) FROM stored) AS stored, (SELECT count(*) FROM notify) AS n
    FROM input i JOIN target t ON t.id = i.id";

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
        .fetch_all(&db.pool)
        .await?;
    let mut by_req: HashMap<usize, (ExecutionStatus, bool)> = HashMap::new();
    for row in &found {
        let status: ExecutionStatus = rows::parse(row.try_get::<&str, _>("status")?)?;
        by_req.insert(request_of(row)?, (status, row.try_get::<bool, _>("woke")?));
    }
    Ok((0..offers.len())
        .map(|i| match by_req.get(&i) {
            None => (OfferOutcome::NotFound, Vec::new()),
            Some((status, _)) if status.is_terminal() => {
                (OfferOutcome::Terminal(*status), Vec::new())
            }
            Some((_, woke)) => (OfferOutcome::Accepted, work_if(*woke)),
        })
        .collect())
}
