//! Named queues: their settings and their load.

use rusqlite::{params, Connection, OptionalExtension, Row};
use zart_core::{QueueLoad, QueuePut, QueueRecord, QueueSpec, StoreResult};

use crate::error::SqlResultExt;
use crate::rows::{self, ms, ts};

const COLUMNS: &str =
    "name, concurrency, per_worker, priority_aging_ms, updated_at, rate_limit, rate_period_ms, \
     key_concurrency";

/// Creates or replaces a queue's settings. A new rate limit starts with a full
/// bucket; a re-declaration (every worker's start) keeps the tokens left, capped at
/// the new limit, so a restart grants no fresh burst.
pub(crate) fn put(conn: &Connection, put: &QueuePut) -> StoreResult<QueueRecord> {
    let spec = &put.spec;
    conn.prepare_cached(
        "INSERT INTO queues (name, concurrency, per_worker, priority_aging_ms, updated_at, \
           rate_limit, rate_period_ms, rate_tokens, rate_at, key_concurrency) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?6, CASE WHEN ?6 IS NOT NULL THEN ?5 END, ?8) \
         ON CONFLICT (name) DO UPDATE SET \
         concurrency = excluded.concurrency, per_worker = excluded.per_worker, \
         priority_aging_ms = excluded.priority_aging_ms, updated_at = excluded.updated_at, \
         rate_limit = excluded.rate_limit, rate_period_ms = excluded.rate_period_ms, \
         key_concurrency = excluded.key_concurrency, \
         rate_tokens = CASE WHEN excluded.rate_limit IS NULL THEN NULL \
           WHEN queues.rate_tokens IS NULL THEN excluded.rate_tokens \
           ELSE min(queues.rate_tokens, excluded.rate_tokens) END, \
         rate_at = CASE WHEN excluded.rate_limit IS NULL THEN NULL \
           WHEN queues.rate_tokens IS NULL THEN excluded.rate_at ELSE queues.rate_at END",
    )
    .db()?
    .execute(params![
        spec.name,
        spec.concurrency,
        spec.per_worker,
        spec.priority_aging_ms.map(|a| a as i64),
        ms(put.now),
        spec.rate_limit.map(|r| r.limit),
        spec.rate_limit
            .map(|r| r.period_ms.min(i64::MAX as u64) as i64),
        spec.key_concurrency
    ])
    .db()?;
    Ok(QueueRecord {
        spec: spec.clone(),
        updated_at: ts(ms(put.now))?,
    })
}

/// One queue by name.
pub(crate) fn get(conn: &Connection, name: &str) -> StoreResult<Option<QueueRecord>> {
    let sql = format!("SELECT {COLUMNS} FROM queues WHERE name = ?1");
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let row = stmt.query_row([name], |r| Ok(record(r))).optional().db()?;
    row.transpose()
}

/// Every queue by name, with its depth and running count.
pub(crate) fn list(conn: &Connection, now: i64) -> StoreResult<Vec<QueueLoad>> {
    let sql = format!(
        "SELECT {COLUMNS}, \
           (SELECT count(*) FROM executions e WHERE e.lease_owner IS NULL \
              AND e.due_at IS NOT NULL AND e.queue IS NOT NULL AND e.queue = q.name \
              AND e.due_at <= ?1 AND e.wait_kind IS NULL), \
           (SELECT count(*) FROM executions e WHERE e.lease_owner IS NOT NULL \
              AND e.queue = q.name) \
         FROM queues q ORDER BY name"
    );
    rows::collect(&mut conn.prepare_cached(&sql).db()?, [now], |r| {
        Ok(QueueLoad {
            queue: record(r)?,
            depth: r.get::<_, i64>(8).db()?.max(0) as u64,
            running: r.get::<_, i64>(9).db()?.max(0) as u64,
        })
    })
}

fn record(r: &Row<'_>) -> StoreResult<QueueRecord> {
    Ok(QueueRecord {
        spec: QueueSpec {
            name: r.get(0).db()?,
            concurrency: r.get(1).db()?,
            per_worker: r.get(2).db()?,
            priority_aging_ms: r.get::<_, Option<i64>>(3).db()?.map(|a| a.max(0) as u64),
            rate_limit: match (
                r.get::<_, Option<u32>>(5).db()?,
                r.get::<_, Option<i64>>(6).db()?,
            ) {
                (Some(limit), Some(period)) => Some(zart_core::RateLimit {
                    limit,
                    period_ms: period.max(0) as u64,
                }),
                _ => None,
            },
            key_concurrency: r.get(7).db()?,
        },
        updated_at: ts(r.get(4).db()?)?,
    })
}
