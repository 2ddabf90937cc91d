//! Activity over a window: executions created and finished per bucket, grouped in
//! SQL over the scheduled-time index (`executions_scheduled`) and the completion
//! index (`executions_completed`), so a window of an hour reads only that hour's rows.

use rusqlite::{params, Connection};
use zart_core::{ActivityBucket, ActivityQuery, ExecutionStatus, StoreResult};

use crate::error::SqlResultExt;
use crate::rows::{self, parse_enum};

/// Every bucket of `query`'s window.
pub(crate) fn activity(
    conn: &Connection,
    query: &ActivityQuery,
) -> StoreResult<Vec<ActivityBucket>> {
    let (from, to, bucket, _) = query.bounds()?;
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    let mut stmt = conn
        .prepare_cached(
            "SELECT (scheduled_at - ?1) / ?3, count(*) FROM executions \
             WHERE scheduled_at >= ?1 AND scheduled_at < ?2 GROUP BY 1",
        )
        .db()?;
    let started = rows::collect(&mut stmt, params![from, to, bucket], |row| {
        Ok((row.get::<_, i64>(0).db()?, count(row.get(1).db()?)))
    })?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT (completed_at - ?1) / ?3, status, count(*) FROM executions \
             WHERE completed_at >= ?1 AND completed_at < ?2 GROUP BY 1, 2",
        )
        .db()?;
    let finished = rows::collect(&mut stmt, params![from, to, bucket], |row| {
        let status: ExecutionStatus = parse_enum(&row.get::<_, String>(1).db()?)?;
        Ok((row.get::<_, i64>(0).db()?, status, count(row.get(2).db()?)))
    })?;
    query.fill(started, finished)
}
