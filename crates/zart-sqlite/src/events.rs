//! The event inbox: offers and guarded consumption, FIFO per name by `seq`.

use rusqlite::{params, Connection, OptionalExtension};
use zart_core::{
    EventConsume, EventListQuery, EventOffer, EventRecord, EventTake, OfferOutcome, Signal,
    StepWrite, StoreResult, MAX_EVENT_PAGE,
};

use crate::error::SqlResultExt;
use crate::rows::{self, json_text, ms, opt_ts, ts, value_of};
use crate::{guard, journal};

/// Stores the event, and makes the execution due now if it is parked (unleased) on
/// that event name. An offer whose key was stored before answers that event; an
/// offer to a full inbox stores nothing.
pub(crate) fn offer(
    conn: &Connection,
    offer: &EventOffer,
    signals: &mut Vec<Signal>,
) -> StoreResult<OfferOutcome> {
    let Some(status) = rows::status_of(conn, &offer.execution_id)? else {
        return Ok(OfferOutcome::NotFound);
    };
    if let Some(key) = &offer.idempotency_key {
        if let Some(sequence) = keyed(conn, &offer.execution_id, key)? {
            let duplicate = true;
            return Ok(OfferOutcome::Accepted {
                sequence,
                duplicate,
            });
        }
    }
    if status.is_terminal() {
        return Ok(OfferOutcome::Terminal(status));
    }
    if let Some(max_pending) = offer.max_pending {
        if pending_at_least(conn, &offer.execution_id, max_pending)? {
            return Ok(OfferOutcome::InboxFull { max_pending });
        }
    }
    let sequence = store(conn, offer)?;
    wake(conn, offer, signals)?;
    Ok(OfferOutcome::Accepted {
        sequence,
        duplicate: false,
    })
}

/// Inserts the event; returns its `seq`. (No RETURNING: see the crate docs.)
fn store(conn: &Connection, offer: &EventOffer) -> StoreResult<i64> {
    conn.prepare_cached(
        "INSERT INTO events (execution_id, name, payload, created_at, idempotency_key) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .db()?
    .execute(params![
        offer.execution_id,
        offer.name,
        json_text(&offer.payload)?,
        ms(offer.now),
        offer.idempotency_key
    ])
    .db()?;
    Ok(conn.last_insert_rowid())
}

/// Makes the execution due now if it is parked (unleased) on the offer's name.
fn wake(conn: &Connection, offer: &EventOffer, signals: &mut Vec<Signal>) -> StoreResult<()> {
    let woken = conn
        .prepare_cached(
            "UPDATE executions SET due_at = ?3 WHERE id = ?1 AND lease_owner IS NULL \
             AND wait_kind = 'event' AND wait_ref = ?2 AND status IN ('scheduled', 'running') \
             AND (due_at IS NULL OR due_at > ?3)",
        )
        .db()?
        .execute(params![offer.execution_id, offer.name, ms(offer.now)])
        .db()?;
    if woken == 1 {
        signals.push(Signal::Work);
    }
    Ok(())
}

/// The `seq` of the event stored with `key` for execution `id`, if any.
fn keyed(conn: &Connection, id: &str, key: &str) -> StoreResult<Option<i64>> {
    conn.prepare_cached("SELECT seq FROM events WHERE execution_id = ?1 AND idempotency_key = ?2")
        .db()?
        .query_row(params![id, key], |r| r.get(0))
        .optional()
        .db()
}

/// Whether execution `id` holds at least `limit` unconsumed events. Reads at most
/// `limit` index entries, never the whole inbox.
fn pending_at_least(conn: &Connection, id: &str, limit: u32) -> StoreResult<bool> {
    let found: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM (SELECT 1 FROM events \
             WHERE execution_id = ?1 AND consumed_at IS NULL LIMIT ?2)",
        )
        .db()?
        .query_row(params![id, limit], |r| r.get(0))
        .db()?;
    Ok(found >= i64::from(limit))
}

/// Whether execution `id` has an unconsumed event called `name`.
pub(crate) fn pending(conn: &Connection, id: &str, name: &str) -> StoreResult<bool> {
    conn.prepare_cached(
        "SELECT 1 FROM events WHERE execution_id = ?1 AND name = ?2 AND consumed_at IS NULL",
    )
    .db()?
    .exists(params![id, name])
    .db()
}

/// Takes the oldest unconsumed event of the name and completes the wait step with
/// its payload, if the guard holds.
pub(crate) fn consume(conn: &Connection, consume: &EventConsume) -> StoreResult<EventTake> {
    let guard = &consume.guard;
    if !guard::check(conn, guard)? {
        return Ok(EventTake::LeaseLost);
    }
    let oldest: Option<(i64, String)> = conn
        .prepare_cached(
            "SELECT seq, payload FROM events WHERE execution_id = ?1 AND name = ?2 \
             AND consumed_at IS NULL ORDER BY seq LIMIT 1",
        )
        .db()?
        .query_row(params![guard.execution_id, consume.name], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .db()?;
    let Some((seq, payload_text)) = oldest else {
        return Ok(EventTake::Empty);
    };
    let step_id = zart_core::step_id(&consume.step.name, consume.step.occurrence);
    conn.prepare_cached("UPDATE events SET consumed_at = ?2, consumed_by = ?3 WHERE seq = ?1")
        .db()?
        .execute(params![seq, ms(guard.now), step_id])
        .db()?;
    let payload = value_of(&payload_text)?;
    let step = StepWrite {
        result: Some(payload.clone()),
        ..consume.step.clone()
    };
    journal::upsert(conn, &guard.execution_id, consume.run_index, &step)?;
    Ok(EventTake::Taken(payload))
}

/// One page of the inbox of `query.execution_id`, newest first; `None` if the
/// execution does not exist. Reads the `events_execution` index.
pub(crate) fn list(
    conn: &Connection,
    query: &EventListQuery,
) -> StoreResult<Option<Vec<EventRecord>>> {
    if rows::status_of(conn, &query.execution_id)?.is_none() {
        return Ok(None);
    }
    let limit = query.limit.clamp(1, MAX_EVENT_PAGE);
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, name, payload, created_at, consumed_at, consumed_by, idempotency_key \
             FROM events WHERE execution_id = ?1 AND (?2 IS NULL OR seq < ?2) \
             ORDER BY seq DESC LIMIT ?3",
        )
        .db()?;
    rows::collect(
        &mut stmt,
        params![query.execution_id, query.before_sequence, limit],
        |row| {
            Ok(EventRecord {
                sequence: row.get(0).db()?,
                name: row.get(1).db()?,
                payload: value_of(&row.get::<_, String>(2).db()?)?,
                received_at: ts(row.get(3).db()?)?,
                consumed_at: opt_ts(row.get(4).db()?)?,
                consumed_by: row.get(5).db()?,
                idempotency_key: row.get(6).db()?,
            })
        },
    )
    .map(Some)
}
