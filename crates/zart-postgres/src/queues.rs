//! Named queues: their settings and their load.

use sqlx::postgres::PgRow;
use sqlx::Row;
use zart_core::{QueueLoad, QueuePut, QueueRecord, QueueSpec, Timestamp};

use crate::error::{corrupt, PgError};
use crate::pool::Db;
use crate::rows::{ms, ts};

const COLUMNS: &str =
    "name, concurrency, per_worker, priority_aging_ms, updated_at, rate_limit, rate_period_ms,
     key_concurrency";

/// Creates or replaces a queue's settings. A new rate limit starts with a full
/// bucket; a re-declaration (every worker's start) keeps the tokens left, capped at
/// the new limit, so a restart grants no fresh burst.
const PUT: &str = "
    INSERT INTO {s}.queues (name, concurrency, per_worker, priority_aging_ms, updated_at,
        rate_limit, rate_period_ms, rate_tokens, rate_at, key_concurrency)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $6::double precision, CASE WHEN $6 IS NOT NULL THEN $5 END,
        $8)
    ON CONFLICT (name) DO UPDATE SET concurrency = excluded.concurrency,
        per_worker = excluded.per_worker, priority_aging_ms = excluded.priority_aging_ms,
        updated_at = excluded.updated_at, rate_limit = excluded.rate_limit,
        rate_period_ms = excluded.rate_period_ms, key_concurrency = excluded.key_concurrency,
        rate_tokens = CASE WHEN excluded.rate_limit IS NULL THEN NULL
            WHEN queues.rate_tokens IS NULL THEN excluded.rate_tokens
            ELSE least(queues.rate_tokens, excluded.rate_tokens) END,
        rate_at = CASE WHEN excluded.rate_limit IS NULL THEN NULL
            WHEN queues.rate_tokens IS NULL THEN excluded.rate_at
            ELSE queues.rate_at END";

/// Creates or replaces a queue's settings.
pub(crate) async fn put(db: &Db, put: &QueuePut) -> Result<QueueRecord, PgError> {
    let spec = &put.spec;
    sqlx::query(&db.sql(PUT))
        .bind(spec.name.as_str())
        .bind(limit(spec.concurrency)?)
        .bind(limit(spec.per_worker)?)
        .bind(
            spec.priority_aging_ms
                .map(|a| i64::try_from(a).unwrap_or(i64::MAX)),
        )
        .bind(ms(put.now))
        .bind(limit(spec.rate_limit.map(|r| r.limit))?)
        .bind(
            spec.rate_limit
                .map(|r| i64::try_from(r.period_ms).unwrap_or(i64::MAX)),
        )
        .bind(limit(spec.key_concurrency)?)
        .execute(&db.pool)
        .await?;
    Ok(QueueRecord {
        spec: spec.clone(),
        updated_at: ts(ms(put.now))?,
    })
}

/// One queue by name.
pub(crate) async fn get(db: &Db, name: &str) -> Result<Option<QueueRecord>, PgError> {
    let sql = db.sql(&format!(
        "SELECT {COLUMNS} FROM {{s}}.queues WHERE name = $1"
    ));
    let row = sqlx::query(&sql)
        .bind(name)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(record).transpose()
}

/// Every queue by name, with its depth and running count.
pub(crate) async fn list(db: &Db, now: Timestamp) -> Result<Vec<QueueLoad>, PgError> {
    let sql = db.sql(&format!(
        "SELECT {COLUMNS},
           (SELECT count(*) FROM {{s}}.executions e WHERE e.lease_owner IS NULL
              AND e.status IN ('scheduled', 'running') AND e.queue IS NOT NULL
              AND e.queue = q.name AND e.due_at <= $1 AND e.wait_kind IS NULL) AS depth,
           (SELECT count(*) FROM {{s}}.executions e WHERE e.lease_owner IS NOT NULL
              AND e.queue = q.name) AS running
         FROM {{s}}.queues q ORDER BY name"
    ));
    let rows = sqlx::query(&sql).bind(ms(now)).fetch_all(&db.pool).await?;
    rows.iter()
        .map(|r| {
            Ok(QueueLoad {
                queue: record(r)?,
                depth: r.try_get::<i64, _>("depth")?.max(0) as u64,
                running: r.try_get::<i64, _>("running")?.max(0) as u64,
            })
        })
        .collect()
}

fn limit(value: Option<u32>) -> Result<Option<i32>, PgError> {
    value
        .map(|v| i32::try_from(v).map_err(|_| corrupt(format!("queue limit {v} is too large"))))
        .transpose()
}

fn record(r: &PgRow) -> Result<QueueRecord, PgError> {
    let count = |c: &str| -> Result<Option<u32>, PgError> {
        Ok(r.try_get::<Option<i32>, _>(c)?.map(|v| v.max(0) as u32))
    };
    Ok(QueueRecord {
        spec: QueueSpec {
            name: r.try_get("name")?,
            concurrency: count("concurrency")?,
            per_worker: count("per_worker")?,
            priority_aging_ms: r
                .try_get::<Option<i64>, _>("priority_aging_ms")?
                .map(|a| a.max(0) as u64),
            rate_limit: match (
                count("rate_limit")?,
                r.try_get::<Option<i64>, _>("rate_period_ms")?,
            ) {
                (Some(limit), Some(period)) => Some(zart_core::RateLimit {
                    limit,
                    period_ms: period.max(0) as u64,
                }),
                _ => None,
            },
            key_concurrency: count("key_concurrency")?,
        },
        updated_at: ts(r.try_get("updated_at")?)?,
    })
}
