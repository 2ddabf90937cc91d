//! Leasing work: claims with `FOR UPDATE SKIP LOCKED`, the next due time, lease
//! renewal.

use std::collections::{HashMap, HashSet};

use sqlx::Row;
use zart_core::{
    pick_keyed, ClaimedExecution, ExecutionClaim, KeyedCandidate, LeaseRenew, RateLimit, Timestamp,
};

use crate::error::PgError;
use crate::pool::Db;
use crate::rows::{ms, ts};

/// The claim's update of the rows `picked` (a CTE defined before) and its answer.
/// The run rows are left alone: a live run's status and start are its execution's
/// (see `executions::runs`), so a claim writes one row per execution.
const CLAIMED: &str = "
    claimed AS (
        UPDATE {s}.executions e SET
            status = 'running', lease_owner = $1, leased_at = $2, lease_expires_at = $3,
            fence = e.fence + 1, version = e.version + 1, updated_at = $2,
            started_at = COALESCE(e.started_at, $2), due_at = NULL, wait_kind = NULL,
            wait_ref = NULL, wait_until = NULL, wait_attempt = NULL
        FROM picked WHERE e.id = picked.id
        RETURNING e.id, e.task_name, e.run_index, e.fence, e.deadline_at, e.parent_id, e.queue
    )
    SELECT c.id, c.task_name, c.run_index, c.fence, c.deadline_at, c.parent_id, c.queue,
           d.payload, d.trace_context
    FROM claimed c JOIN {s}.execution_data d ON d.execution_id = c.id";

/// The default queue's claim: expired leases first, then due unleased work, each
/// through its partial index. Rows locked by a concurrent claim are skipped, not
/// waited for; the CTEs are read lazily, so `due` locks only the rows the limit
/// still needs.
const CLAIM_DEFAULT: &str = "
    WITH expired AS (
        SELECT id FROM {s}.executions
        WHERE lease_owner IS NOT NULL AND lease_expires_at <= $2 AND queue IS NULL
        ORDER BY lease_expires_at LIMIT $4
        FOR UPDATE SKIP LOCKED
    ), due AS (
        SELECT id FROM {s}.executions
        WHERE lease_owner IS NULL AND status IN ('scheduled', 'running') AND queue IS NULL
          AND due_at <= $2
        ORDER BY due_at LIMIT $4
        FOR UPDATE SKIP LOCKED
    ), picked AS (
        (SELECT id FROM expired) UNION ALL (SELECT id FROM due) LIMIT $4
    ), {CLAIMED}";

/// A named queue's claim, run after its row is locked and its free slots counted
/// (`$6`): its expired leases (already counted as running), then up to `$6` due
/// executions, those due since before `$7` (priority aging; NULL: none) first, then
/// by priority and due time.
const CLAIM_QUEUE: &str = "
    WITH expired AS (
        SELECT id FROM {s}.executions
        WHERE lease_owner IS NOT NULL AND lease_expires_at <= $2 AND queue = $5
        ORDER BY lease_expires_at LIMIT $4
        FOR UPDATE SKIP LOCKED
    ), aged AS (
        SELECT id, due_at FROM {s}.executions
        WHERE lease_owner IS NULL AND status IN ('scheduled', 'running')
          AND queue IS NOT NULL AND due_at <= $7 AND queue = $5
        ORDER BY due_at LIMIT $6
        FOR UPDATE SKIP LOCKED
    ), ranked AS (
        SELECT id, priority, key_seq, due_at FROM {s}.executions
        WHERE lease_owner IS NULL AND status IN ('scheduled', 'running')
          AND queue IS NOT NULL AND queue = $5 AND due_at <= $2
        ORDER BY priority, key_seq, due_at LIMIT $6
        FOR UPDATE SKIP LOCKED
    ), due AS (
        SELECT id FROM (
            SELECT DISTINCT ON (id) id, a, r FROM (
                SELECT id, 0 AS a, row_number() OVER (ORDER BY due_at) AS r FROM aged
                UNION ALL
                SELECT id, 1 AS a, row_number() OVER (ORDER BY priority, key_seq, due_at) AS r
                FROM ranked
            ) u ORDER BY id, a, r
        ) d ORDER BY a, r LIMIT $6
    ), picked AS (
        (SELECT id FROM expired) UNION ALL (SELECT id FROM due) LIMIT $4
    ), {CLAIMED}";

/// Locks a named queue's row, so claims of its work run one at a time across every
/// process, and reads its settings.
const LOCK_QUEUE: &str = "
    SELECT concurrency, priority_aging_ms, rate_limit, rate_period_ms, rate_tokens, rate_at,
        key_concurrency
    FROM {s}.queues WHERE name = $1 FOR UPDATE";

/// A named queue's row as [`LOCK_QUEUE`] reads it.
type QueueRow = (
    Option<i32>,
    Option<i64>,
    Option<i32>,
    Option<i64>,
    Option<f64>,
    Option<i64>,
    Option<i32>,
);

/// Stores a rate-limited queue's bucket after a claim, under the row lock.
const TAKE_TOKENS: &str = "UPDATE {s}.queues SET rate_tokens = $2, rate_at = $3 WHERE name = $1";

/// A named queue's running executions. Run after [`LOCK_QUEUE`], in its own
/// statement: under READ COMMITTED its snapshot is taken after the lock was granted,
/// so it sees every claim committed by the lock's previous holder.
const RUNNING: &str = "
    SELECT count(*) FROM {s}.executions WHERE lease_owner IS NOT NULL AND queue = $1";

pub(crate) async fn claim(db: &Db, p: &ExecutionClaim) -> Result<Vec<ClaimedExecution>, PgError> {
    let mut claimed = Vec::new();
    for queue in &p.queues {
        let room = p
            .limit
            .saturating_sub(claimed.len() as u32)
            .min(queue.limit);
        if room > 0 {
            claimed.extend(claim_queue(db, p, &queue.name, room).await?);
        }
    }
    let room = p.limit.saturating_sub(claimed.len() as u32);
    if p.default_queue && room > 0 {
        let sql = db.sql(&CLAIM_DEFAULT.replace("{CLAIMED}", CLAIMED));
        let found = sqlx::query(&sql)
            .bind(p.worker_id.as_str())
            .bind(ms(p.now))
            .bind(ms(p.lease_expires_at))
            .bind(i64::from(room))
            .fetch_all(&db.pool)
            .await?;
        for row in &found {
            claimed.push(claimed_of(row)?);
        }
    }
    Ok(claimed)
}

/// Claims up to `limit` executions of the named queue `name` under its row lock. A
/// rate limit caps the claim at the bucket's whole tokens, and the claim takes one
/// token per execution, in the same transaction.
async fn claim_queue(
    db: &Db,
    p: &ExecutionClaim,
    name: &str,
    limit: u32,
) -> Result<Vec<ClaimedExecution>, PgError> {
    let mut tx = db.pool.begin().await?;
    let settings: Option<QueueRow> = sqlx::query_as(&db.sql(LOCK_QUEUE))
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
    let Some((concurrency, aging, rate_limit, rate_period, tokens, rate_at, key_limit)) = settings
    else {
        return Ok(Vec::new());
    };
    let now = ms(p.now);
    let bucket = match (rate_limit, rate_period) {
        (Some(limit), Some(period)) => {
            let rate = RateLimit {
                limit: limit.max(1) as u32,
                period_ms: period.max(1) as u64,
            };
            let stored = tokens.unwrap_or(f64::from(rate.limit));
            Some((stored, rate.refill(stored, rate_at.unwrap_or(now), now)))
        }
        _ => None,
    };
    let limit = match bucket {
        Some((_, available)) => limit.min(RateLimit::allowed(available)),
        None => limit,
    };
    if limit == 0 {
        // Nothing to write: the refill is recomputed from the same base next time.
        return Ok(Vec::new());
    }
    let mut free = i64::from(limit);
    if let Some(concurrency) = concurrency {
        let running: i64 = sqlx::query_scalar(&db.sql(RUNNING))
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
        free = free.min(i64::from(concurrency) - running).max(0);
    }
    let aged_before = aging.map(|a| ms(p.now).saturating_sub(a));
    let found = match key_limit {
        None => {
            let sql = db.sql(&CLAIM_QUEUE.replace("{CLAIMED}", CLAIMED));
            sqlx::query(&sql)
                .bind(p.worker_id.as_str())
                .bind(ms(p.now))
                .bind(ms(p.lease_expires_at))
                .bind(i64::from(limit))
                .bind(name)
                .bind(free)
                .bind(aged_before)
                .fetch_all(&mut *tx)
                .await?
        }
        Some(key_limit) => {
            let keyed = Keyed {
                name,
                limit,
                free,
                aged_before,
                key_limit: key_limit.max(1) as u32,
            };
            claim_keyed(db, &mut tx, p, &keyed).await?
        }
    };
    if let Some((stored, available)) = bucket {
        let left = available - found.len() as f64;
        // As in the SQLite store: written when tokens were taken or the bucket has
        // refilled from empty (what `waitingFor` reads).
        if !found.is_empty() || (stored < 1.0 && left >= 1.0) {
            sqlx::query(&db.sql(TAKE_TOKENS))
                .bind(name)
                .bind(left)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    found.iter().map(claimed_of).collect()
}

/// A claim of a queue with a per-key limit: how many in all (`limit`, expired leases
/// included) and of due work (`free`).
struct Keyed<'a> {
    name: &'a str,
    limit: u32,
    free: i64,
    aged_before: Option<i64>,
    key_limit: u32,
}

/// The expired leases of queue `$1` at `$2`, oldest first, at most `$3`.
const KEYED_EXPIRED: &str = "
    SELECT id FROM {s}.executions
    WHERE lease_owner IS NOT NULL AND lease_expires_at <= $2 AND queue = $1
    ORDER BY lease_expires_at LIMIT $3
    FOR UPDATE SKIP LOCKED";

/// Due executions of queue `$1` due since before `$2` (priority aging), oldest
/// first, at most `$3`.
const KEYED_AGED: &str = "
    SELECT id, concurrency_key, key_seq FROM {s}.executions
    WHERE lease_owner IS NULL AND status IN ('scheduled', 'running')
      AND queue IS NOT NULL AND due_at <= $2 AND queue = $1
    ORDER BY due_at LIMIT $3";

/// Due executions of queue `$1` at `$2` in claim order, `$3` from `$4`.
const KEYED_RANKED: &str = "
    SELECT id, concurrency_key, key_seq FROM {s}.executions
    WHERE lease_owner IS NULL AND status IN ('scheduled', 'running')
      AND queue IS NOT NULL AND queue = $1 AND due_at <= $2
    ORDER BY priority, key_seq, due_at LIMIT $3 OFFSET $4";

/// The running executions of queue `$1` for each of the keys `$2`.
const KEYS_RUNNING: &str = "
    SELECT concurrency_key, count(*) FROM {s}.executions
    WHERE lease_owner IS NOT NULL AND concurrency_key IS NOT NULL AND queue = $1
      AND concurrency_key = ANY($2)
    GROUP BY concurrency_key";

/// Leases the executions `$4` (expired leases and picked due work), each still in
/// the state it was picked in.
const CLAIM_PICKED: &str = "
    WITH picked AS (
        SELECT id FROM {s}.executions WHERE id = ANY($4::text[])
          AND ((lease_owner IS NULL AND status IN ('scheduled', 'running') AND due_at <= $2)
            OR (lease_owner IS NOT NULL AND lease_expires_at <= $2))
        FOR UPDATE
    ), {CLAIMED}";

/// Advances queue `$1`'s fair-queuing clock to `$2`.
const KEY_CLOCK: &str = "UPDATE {s}.queues SET key_clock = greatest(key_clock, $2) WHERE name = $1";

/// Rounds of candidates a keyed claim reads before it settles for fewer than its
/// room (every candidate's key being at its limit).
const KEYED_ROUNDS: usize = 8;

/// Claims, under the queue's row lock, its expired leases and then due work picked
/// by [`pick_keyed`] (round-robin between keys by fair-queuing sequence, none over
/// its key's limit), and advances the queue's clock.
async fn claim_keyed(
    db: &Db,
    tx: &mut sqlx::PgConnection,
    p: &ExecutionClaim,
    k: &Keyed<'_>,
) -> Result<Vec<sqlx::postgres::PgRow>, PgError> {
    let now = ms(p.now);
    let mut ids: Vec<String> = sqlx::query_scalar(&db.sql(KEYED_EXPIRED))
        .bind(k.name)
        .bind(now)
        .bind(i64::from(k.limit))
        .fetch_all(&mut *tx)
        .await?;
    let room = (k.limit as usize)
        .saturating_sub(ids.len())
        .min(usize::try_from(k.free).unwrap_or(0));
    let mut clock = None;
    if room > 0 {
        let window = room * 4 + 32;
        let mut candidates: Vec<KeyedCandidate> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut running: HashMap<String, u64> = HashMap::new();
        let mut picked = Vec::new();
        for round in 0..KEYED_ROUNDS {
            let mut read: Vec<(String, Option<String>, i64)> = Vec::new();
            if let (0, Some(before)) = (round, k.aged_before) {
                read = sqlx::query_as(&db.sql(KEYED_AGED))
                    .bind(k.name)
                    .bind(before)
                    .bind(window as i64)
                    .fetch_all(&mut *tx)
                    .await?;
            }
            let ranked: Vec<(String, Option<String>, i64)> = sqlx::query_as(&db.sql(KEYED_RANKED))
                .bind(k.name)
                .bind(now)
                .bind(window as i64)
                .bind((round * window) as i64)
                .fetch_all(&mut *tx)
                .await?;
            let exhausted = ranked.len() < window;
            read.extend(ranked);
            let mut fresh_keys: Vec<String> = Vec::new();
            for (id, key, seq) in read {
                if !seen.insert(id.clone()) {
                    continue;
                }
                if let Some(key) = &key {
                    if !running.contains_key(key) && !fresh_keys.contains(key) {
                        fresh_keys.push(key.clone());
                    }
                }
                candidates.push(KeyedCandidate { id, key, seq });
            }
            if !fresh_keys.is_empty() {
                let counts: Vec<(String, i64)> = sqlx::query_as(&db.sql(KEYS_RUNNING))
                    .bind(k.name)
                    .bind(&fresh_keys)
                    .fetch_all(&mut *tx)
                    .await?;
                for key in fresh_keys {
                    running.insert(key, 0);
                }
                for (key, count) in counts {
                    running.insert(key, count.max(0) as u64);
                }
            }
            picked = pick_keyed(&candidates, &running, k.key_limit, room)
                .into_iter()
                .cloned()
                .collect();
            if picked.len() == room || exhausted {
                break;
            }
        }
        clock = picked.iter().map(|c| c.seq).max();
        ids.extend(picked.into_iter().map(|c| c.id));
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(&db.sql(&CLAIM_PICKED.replace("{CLAIMED}", CLAIMED)))
        .bind(p.worker_id.as_str())
        .bind(now)
        .bind(ms(p.lease_expires_at))
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
    if let Some(clock) = clock {
        sqlx::query(&db.sql(KEY_CLOCK))
            .bind(k.name)
            .bind(clock)
            .execute(&mut *tx)
            .await?;
    }
    Ok(rows)
}

fn claimed_of(row: &sqlx::postgres::PgRow) -> Result<ClaimedExecution, PgError> {
    Ok(ClaimedExecution {
        id: row.try_get("id")?,
        task_name: row.try_get("task_name")?,
        payload: row.try_get("payload")?,
        run_index: row.try_get("run_index")?,
        fence: row.try_get("fence")?,
        deadline_at: row
            .try_get::<Option<i64>, _>("deadline_at")?
            .map(ts)
            .transpose()?,
        parent_id: row.try_get("parent_id")?,
        queue: row.try_get("queue")?,
        trace_context: row.try_get("trace_context")?,
    })
}

/// The earliest due time of unleased work or expiry of a held lease. A named queue's
/// due work counts too, though its queue may be full: the worker does not spin on a
/// due time already past (it waits for a slot's signal or its poll).
const NEXT_DUE: &str = "
    SELECT LEAST(
        (SELECT min(due_at) FROM {s}.executions
         WHERE lease_owner IS NULL AND status IN ('scheduled', 'running') AND queue IS NULL),
        (SELECT min(due_at) FROM {s}.executions
         WHERE lease_owner IS NULL AND status IN ('scheduled', 'running')
           AND queue IS NOT NULL),
        (SELECT min(lease_expires_at) FROM {s}.executions WHERE lease_owner IS NOT NULL)
    )";

pub(crate) async fn next_due(db: &Db) -> Result<Option<Timestamp>, PgError> {
    let sql = db.sql(NEXT_DUE);
    let next: Option<i64> = sqlx::query_scalar(&sql).fetch_one(&db.pool).await?;
    next.map(ts).transpose()
}

/// One statement for all leases; a lease renews only while it is still valid. Rows
/// are locked in id order, like a batch of step saves, so the two never deadlock,
/// each by an index probe (see `guard::BATCH_GUARD`).
const RENEW: &str = "
    WITH held AS (
        SELECT e.id FROM (SELECT * FROM unnest($4::text[], $5::bigint[]) AS l(id, fence)
            ORDER BY id COLLATE \"C\") l
        CROSS JOIN LATERAL (
            SELECT x.id FROM {s}.executions x
            WHERE x.id = l.id AND x.fence = l.fence AND x.lease_owner = $1
              AND x.lease_expires_at > $2
            FOR NO KEY UPDATE
        ) e
    )
    UPDATE {s}.executions e SET lease_expires_at = $3
    FROM held WHERE e.id = held.id
    RETURNING e.id, e.fence";

pub(crate) async fn renew(db: &Db, p: &LeaseRenew) -> Result<Vec<String>, PgError> {
    if p.leases.is_empty() {
        return Ok(Vec::new());
    }
    let (ids, fences): (Vec<&str>, Vec<i64>) =
        p.leases.iter().map(|(id, f)| (id.as_str(), *f)).unzip();
    // Answered by (id, fence): a stale fence listed beside the current one for the
    // same id is not renewed.
    let renewed: HashSet<(String, i64)> = sqlx::query_as(&db.sql(RENEW))
        .bind(p.worker_id.as_str())
        .bind(ms(p.now))
        .bind(ms(p.expires_at))
        .bind(ids)
        .bind(fences)
        .fetch_all(&db.pool)
        .await?
        .into_iter()
        .collect();
    // In the caller's order.
    Ok(p.leases
        .iter()
        .filter(|(id, fence)| renewed.contains(&(id.clone(), *fence)))
        .map(|(id, _)| id.clone())
        .collect())
}
