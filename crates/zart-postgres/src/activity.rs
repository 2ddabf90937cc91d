//! Activity over a window: executions created and finished per bucket, grouped in
//! SQL over the scheduled-time index (`executions_scheduled_at`) and the completion
//! index (`executions_finished`), so a window of an hour reads only that hour's rows.

use sqlx::Row;
use zart_core::{ActivityBucket, ActivityQuery, ExecutionStatus};

use crate::error::PgError;
use crate::pool::Db;
use crate::rows;

/// Every bucket of `query`'s window.
pub(crate) async fn activity(
    db: &Db,
    query: &ActivityQuery,
) -> Result<Vec<ActivityBucket>, PgError> {
    let (from, to, bucket, _) = query.bounds()?;
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    let sql = db.sql(
        "SELECT (scheduled_at - $1) / $3 AS b, count(*) AS n FROM {s}.executions \
         WHERE scheduled_at >= $1 AND scheduled_at < $2 GROUP BY 1",
    );
    let mut started = Vec::new();
    for row in sqlx::query(&sql)
        .bind(from)
        .bind(to)
        .bind(bucket)
        .fetch_all(&db.pool)
        .await?
    {
        started.push((row.try_get::<i64, _>("b")?, count(row.try_get("n")?)));
    }
    let sql = db.sql(
        "SELECT (completed_at - $1) / $3 AS b, status, count(*) AS n FROM {s}.executions \
         WHERE completed_at >= $1 AND completed_at < $2 GROUP BY 1, 2",
    );
    let mut finished = Vec::new();
    for row in sqlx::query(&sql)
        .bind(from)
        .bind(to)
        .bind(bucket)
        .fetch_all(&db.pool)
        .await?
    {
        let status: ExecutionStatus = rows::parse(row.try_get::<&str, _>("status")?)?;
        finished.push((
            row.try_get::<i64, _>("b")?,
            status,
            count(row.try_get("n")?),
        ));
    }
    Ok(query.fill(started, finished)?)
}
