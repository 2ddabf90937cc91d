//! Leasing work: claims, the next due time, lease renewal, and the takeover of
//! every lease at open.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use zart_core::{
    pick_keyed, ClaimedExecution, ExecutionClaim, KeyedCandidate, LeaseRenew, RateLimit,
    StoreResult, Timestamp,
};

use crate::error::SqlResultExt;
use crate::guard::GUARD;
use crate::rows::{self, ms, opt_ts, value_of};

/// Leases up to `limit` claimable executions: first from each named queue served
/// (see [`queue_ids`]), then from the default queue, earliest due first.
///
/// The writer thread is the only writer, so a named queue's running count read here
/// cannot change before its claims are written: the count and the claim are atomic.
pub(crate) fn claim(
    conn: &Connection,
    claim: &ExecutionClaim,
) -> StoreResult<Vec<ClaimedExecution>> {
    let mut picked: Vec<String> = Vec::new();
    for queue in &claim.queues {
        let room = (claim.limit as usize).saturating_sub(picked.len());
        if room == 0 {
            break;
        }
        let limit = room.min(queue.limit as usize);
        picked.extend(queue_ids(conn, &queue.name, ms(claim.now), limit)?);
    }
    let room = (claim.limit as usize).saturating_sub(picked.len());
    if claim.default_queue && room > 0 {
        picked.extend(default_ids(conn, ms(claim.now), room)?);
    }
    picked.iter().map(|id| lease(conn, id, claim)).collect()
}

/// Due unleased default-queue work and expired default-queue leases, earliest first.
///
/// Each arm walks its partial index in order with its own limit, so a large backlog
/// costs no sort; `+status` keeps the planner off the status index (terminal rows
/// have neither a due time nor a lease, so the check is only a safety net).
fn default_ids(conn: &Connection, now: i64, limit: usize) -> StoreResult<Vec<String>> {
    let mut select = conn
        .prepare_cached(
            "SELECT id FROM ( \
               SELECT * FROM (SELECT id, due_at AS t FROM executions \
                 WHERE lease_owner IS NULL AND due_at IS NOT NULL AND queue IS NULL \
                   AND due_at <= ?1 \
                   AND +status IN ('scheduled', 'running') ORDER BY due_at, id LIMIT ?2) \
               UNION ALL \
               SELECT * FROM (SELECT id, lease_expires_at AS t FROM executions \
                 WHERE lease_owner IS NOT NULL AND lease_expires_at <= ?1 AND queue IS NULL \
                   AND +status IN ('scheduled', 'running') ORDER BY lease_expires_at, id LIMIT ?2) \
             ) ORDER BY t, id LIMIT ?2",
        )
        .db()?;
    rows::collect(&mut select, params![now, limit as i64], |r| {
        r.get::<_, String>(0).db()
    })
}

/// A named queue's row as a claim reads it: concurrency, priority aging, the rate
/// limit with its bucket (tokens left at a time), and the per-key limit.
type QueueRow = (
    Option<i64>,
    Option<i64>,
    Option<u32>,
    Option<i64>,
    Option<f64>,
    Option<i64>,
    Option<u32>,
);

/// Up to `limit` executions of the named queue `name`: its expired leases (already
/// counted as running), then due work while the queue's running count is under its
/// concurrency: executions due for longer than the priority aging first, then by
/// priority, fair-queuing sequence and due time. A rate limit caps the whole claim at
/// the bucket's whole tokens, and the claim takes one token per execution. A per-key
/// limit skips executions whose key is at it (see [`zart_core::pick_keyed`]).
fn queue_ids(conn: &Connection, name: &str, now: i64, limit: usize) -> StoreResult<Vec<String>> {
    let settings: Option<QueueRow> = conn
        .prepare_cached(
            "SELECT concurrency, priority_aging_ms, rate_limit, rate_period_ms, rate_tokens, \
               rate_at, key_concurrency FROM queues WHERE name = ?1",
        )
        .db()?
        .query_row([name], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .optional()
        .db()?;
    let Some((concurrency, aging, rate_limit, rate_period, tokens, rate_at, key_limit)) = settings
    else {
        return Ok(Vec::new());
    };
    let bucket = match (rate_limit, rate_period) {
        (Some(limit), Some(period)) => {
            let rate = RateLimit {
                limit,
                period_ms: period.max(1) as u64,
            };
            let stored = tokens.unwrap_or(f64::from(limit));
            Some((stored, rate.refill(stored, rate_at.unwrap_or(now), now)))
        }
        _ => None,
    };
    let limits = Limits {
        concurrency,
        aging,
        bucket,
        key_limit,
    };
    let ids = queue_picks(conn, name, now, limit, &limits)?;
    if let Some((stored, available)) = bucket {
        let left = available - ids.len() as f64;
        // Written when tokens were taken, or when the bucket has refilled from empty
        // (what `waitingFor` reads); otherwise the refill is recomputed next time
        // from the same base.
        if !ids.is_empty() || (stored < 1.0 && left >= 1.0) {
            conn.prepare_cached("UPDATE queues SET rate_tokens = ?2, rate_at = ?3 WHERE name = ?1")
                .db()?
                .execute(params![name, left, now])
                .db()?;
        }
    }
    Ok(ids)
}

/// A named queue's limits as [`queue_picks`] applies them.
struct Limits {
    concurrency: Option<i64>,
    aging: Option<i64>,
    /// The rate limit's (stored, available) tokens.
    bucket: Option<(f64, f64)>,
    key_limit: Option<u32>,
}

/// The picks of [`queue_ids`].
fn queue_picks(
    conn: &Connection,
    name: &str,
    now: i64,
    limit: usize,
    limits: &Limits,
) -> StoreResult<Vec<String>> {
    let limit = match limits.bucket {
        Some((_, available)) => limit.min(RateLimit::allowed(available) as usize),
        None => limit,
    };
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut ids = rows::collect(
        &mut conn
            .prepare_cached(
                "SELECT id FROM executions WHERE lease_owner IS NOT NULL \
                   AND lease_expires_at <= ?1 AND queue = ?2 \
                   AND +status IN ('scheduled', 'running') \
                 ORDER BY lease_expires_at, id LIMIT ?3",
            )
            .db()?,
        params![now, name, limit as i64],
        |r| r.get::<_, String>(0).db(),
    )?;
    let mut room = limit - ids.len();
    if let Some(concurrency) = limits.concurrency {
        let running: i64 = conn
            .prepare_cached(
                "SELECT count(*) FROM executions WHERE lease_owner IS NOT NULL AND queue = ?1",
            )
            .db()?
            .query_row([name], |r| r.get(0))
            .db()?;
        room = room.min(usize::try_from(concurrency - running).unwrap_or(0));
    }
    if room == 0 {
        return Ok(ids);
    }
    let due = match limits.key_limit {
        None => {
            let candidates = due_candidates(conn, name, now, limits.aging, room, 0)?;
            candidates.into_iter().take(room).collect()
        }
        Some(key_limit) => keyed_picks(conn, name, now, limits.aging, key_limit, room)?,
    };
    if limits.key_limit.is_some() {
        if let Some(clock) = due.iter().map(|c| c.seq).max() {
            conn.prepare_cached("UPDATE queues SET key_clock = max(key_clock, ?2) WHERE name = ?1")
                .db()?
                .execute(params![name, clock])
                .db()?;
        }
    }
    ids.extend(due.into_iter().map(|c| c.id));
    Ok(ids)
}

/// Rounds of candidates a claim of a queue with a per-key limit reads before it
/// settles for fewer than its room (every candidate's key being at its limit).
const KEYED_ROUNDS: usize = 8;

/// Up to `room` due executions of queue `name` under a per-key limit: candidates in
/// claim order, a window at a time, picked by [`zart_core::pick_keyed`].
fn keyed_picks(
    conn: &Connection,
    name: &str,
    now: i64,
    aging: Option<i64>,
    key_limit: u32,
    room: usize,
) -> StoreResult<Vec<KeyedCandidate>> {
    let window = room * 4 + 32;
    let mut candidates: Vec<KeyedCandidate> = Vec::new();
    let mut running: HashMap<String, u64> = HashMap::new();
    for round in 0..KEYED_ROUNDS {
        let aged = aging.filter(|_| round == 0);
        let read = due_candidates(conn, name, now, aged, window, round * window)?;
        let exhausted = read.len() < window;
        for candidate in read {
            if candidates.iter().any(|c| c.id == candidate.id) {
                continue;
            }
            if let Some(key) = &candidate.key {
                if !running.contains_key(key) {
                    let count: i64 = conn
                        .prepare_cached(
                            "SELECT count(*) FROM executions WHERE lease_owner IS NOT NULL \
                               AND concurrency_key IS NOT NULL AND queue = ?1 \
                               AND concurrency_key = ?2",
                        )
                        .db()?
                        .query_row(params![name, key], |r| r.get(0))
                        .db()?;
                    running.insert(key.clone(), count.max(0) as u64);
                }
            }
            candidates.push(candidate);
        }
        let picked = pick_keyed(&candidates, &running, key_limit, room);
        if picked.len() == room || exhausted || round + 1 == KEYED_ROUNDS {
            return Ok(picked.into_iter().cloned().collect());
        }
    }
    Ok(Vec::new())
}

/// Due, unleased executions of queue `name` in claim order: those due for longer
/// than `aging` first (oldest first), then by priority, fair-queuing sequence and due
/// time, `limit` of the latter from `offset`; each once.
fn due_candidates(
    conn: &Connection,
    name: &str,
    now: i64,
    aging: Option<i64>,
    limit: usize,
    offset: usize,
) -> StoreResult<Vec<KeyedCandidate>> {
    let candidate = |r: &rusqlite::Row<'_>| {
        Ok(KeyedCandidate {
            id: r.get(0).db()?,
            key: r.get(1).db()?,
            seq: r.get(2).db()?,
        })
    };
    let mut due = Vec::new();
    if let Some(aging) = aging {
        due = rows::collect(
            &mut conn
                .prepare_cached(
                    "SELECT id, concurrency_key, key_seq FROM executions \
                     WHERE lease_owner IS NULL AND due_at IS NOT NULL \
                       AND queue IS NOT NULL AND due_at <= ?1 AND queue = ?2 \
                       AND +status IN ('scheduled', 'running') \
                     ORDER BY due_at, id LIMIT ?3",
                )
                .db()?,
            params![now.saturating_sub(aging), name, limit as i64],
            candidate,
        )?;
    }
    let ranked = rows::collect(
        &mut conn
            .prepare_cached(
                "SELECT id, concurrency_key, key_seq FROM executions \
                 WHERE lease_owner IS NULL AND due_at IS NOT NULL \
                   AND queue IS NOT NULL AND queue = ?1 AND due_at <= ?2 \
                   AND +status IN ('scheduled', 'running') \
                 ORDER BY priority, key_seq, due_at, id LIMIT ?3 OFFSET ?4",
            )
            .db()?,
        params![name, now, limit as i64, offset as i64],
        candidate,
    )?;
    for c in ranked {
        if !due.iter().any(|d: &KeyedCandidate| d.id == c.id) {
            due.push(c);
        }
    }
    Ok(due)
}

/// What a claim reads of the row it leases: fence, task, run, deadline, parent,
/// payload, queue and trace context.
type LeaseRow = (
    i64,
    String,
    i32,
    Option<i64>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
);

fn lease(conn: &Connection, id: &str, claim: &ExecutionClaim) -> StoreResult<ClaimedExecution> {
    let now = ms(claim.now);
    // Read, then update by key (the writer thread is the only writer; RETURNING would
    // cost SQLite a temporary table per row).
    let (fence, task_name, run_index, deadline_at, parent_id, payload, queue, trace_context): LeaseRow = conn
        .prepare_cached(
            "SELECT e.fence, e.task_name, e.run_index, e.deadline_at, e.parent_id, d.payload, \
               e.queue, d.trace_context \
             FROM executions e JOIN execution_data d ON d.execution_id = e.id WHERE e.id = ?1",
        )
        .db()?
        .query_row([id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })
        .db()?;
    let fence = fence + 1;
    conn.prepare_cached(
        "UPDATE executions SET lease_owner = ?2, leased_at = ?3, lease_expires_at = ?4, \
         fence = ?5, status = 'running', started_at = coalesce(started_at, ?3), \
         updated_at = ?3, version = version + 1, due_at = NULL, wait_kind = NULL, \
         wait_ref = NULL, wait_until = NULL, wait_attempt = NULL \
         WHERE id = ?1",
    )
    .db()?
    .execute(params![
        id,
        claim.worker_id,
        now,
        ms(claim.lease_expires_at),
        fence
    ])
    .db()?;
    // The run row is left alone: while its execution is live, a run's status and
    // start are read from the execution (see `rows::SELECT_RUN`).
    Ok(ClaimedExecution {
        id: id.to_owned(),
        task_name,
        payload: value_of(&payload)?,
        run_index,
        fence,
        deadline_at: opt_ts(deadline_at)?,
        parent_id,
        queue,
        trace_context,
    })
}

/// The earliest due time of unleased work or expiry of a held lease. A named queue's
/// due work counts too, though its queue may be full: the worker does not spin on a
/// due time already past (it waits for a slot's signal or its poll).
pub(crate) fn next_due(conn: &Connection) -> StoreResult<Option<Timestamp>> {
    let earliest: Option<i64> = conn
        .prepare_cached(
            "SELECT min(t) FROM ( \
               SELECT min(due_at) AS t FROM executions \
                 WHERE lease_owner IS NULL AND due_at IS NOT NULL AND queue IS NULL \
                   AND +status IN ('scheduled', 'running') \
               UNION ALL \
               SELECT min(due_at) AS t FROM executions \
                 WHERE lease_owner IS NULL AND due_at IS NOT NULL AND queue IS NOT NULL \
                   AND +status IN ('scheduled', 'running') \
               UNION ALL \
               SELECT min(lease_expires_at) AS t FROM executions \
                 WHERE lease_owner IS NOT NULL AND +status IN ('scheduled', 'running') \
             )",
        )
        .db()?
        .query_row([], |r| r.get(0))
        .optional()
        .db()?
        .flatten();
    opt_ts(earliest)
}

/// Extends each lease still held by the worker; returns the ids renewed, in request
/// order.
pub(crate) fn renew(conn: &Connection, renew: &LeaseRenew) -> StoreResult<Vec<String>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "UPDATE executions SET lease_expires_at = ?5 WHERE {GUARD}"
        ))
        .db()?;
    let mut renewed = Vec::new();
    for (id, fence) in &renew.leases {
        let changed = stmt
            .execute(params![
                id,
                fence,
                renew.worker_id,
                ms(renew.now),
                ms(renew.expires_at)
            ])
            .db()?;
        if changed == 1 {
            renewed.push(id.clone());
        }
    }
    Ok(renewed)
}

/// Takes every lease in the database away from its holder, making the execution due
/// now and bumping its fence (a write under an old lease then fails its guard). Run
/// at open by a process that just became the file's owner (see [`crate::owner`]):
/// the holders are gone, so their executions resume at once instead of after their
/// lease time. Returns how many leases were taken.
pub(crate) fn release_all(conn: &Connection, now: i64) -> StoreResult<usize> {
    conn.execute(
        "UPDATE executions SET lease_owner = NULL, leased_at = NULL, lease_expires_at = NULL, \
         due_at = ?1, updated_at = ?1, fence = fence + 1, version = version + 1, \
         wait_kind = NULL, wait_ref = NULL, wait_until = NULL, wait_attempt = NULL \
         WHERE lease_owner IS NOT NULL",
        [now],
    )
    .db()
}
