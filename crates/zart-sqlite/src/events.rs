//! The event inbox: offers and guarded consumption, FIFO per name by `seq`.

use rusqlite::{params, Connection, OptionalExtension};
use zart_core::{
    EventConsume, EventOffer, EventTake, OfferOutcome, Signal, StepWrite, StoreResult,
};

use crate::codec::*;
use crate::error::SqlResultExt;
use crate::{claims, rows, steps};

/// Stores the event, and makes the execution due now if it is parked (unleased) on
/// that event name.
pub(crate) fn offer(
    conn: &Connection,
    offer: &EventOffer,
    signals: &mut Vec<Signal>,
) -> StoreResult<OfferOutcome> {
    match rows::status_of(conn, &offer.execution_id)? {
        None => return Ok(OfferOutcome::NotFound),
        Some(status) if status.is_terminal() => return Ok(OfferOutcome::Terminal(status)),
        Some(_) => {}
    }
    let now = ms(offer.now);
    conn.prepare_cached(
        "INSERT INTO events (execution_id, name, payload, created_at) VALUES (?1, ?2, ?3, ?4)",
    )
    .db()?
    .execute(params![
        offer.execution_id,
        offer.name,
        json_text(&offer.payload)?,
        now
    ])
    .db()?;
    let woken = conn
        .prepare_cached(
            "UPDATE executions SET due_at = ?3 WHERE id = ?1 AND lease_owner IS NULL \
             AND wait_kind = 'event' AND wait_ref = ?2 AND status IN ('scheduled', 'running') \
             AND (due_at IS NULL OR due_at > ?3)",
        )
        .db()?
        .execute(params![offer.execution_id, offer.name, now])
        .db()?;
    if woken == 1 {
        signals.push(Signal::Work);
    }
    Ok(OfferOutcome::Accepted)
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
    if !claims::check(conn, guard)? {
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
    steps::upsert(conn, &guard.execution_id, consume.run_index, &step)?;
    Ok(EventTake::Taken(payload))
}
