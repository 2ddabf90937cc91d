//! Cancellation: the execution and its unfinished descendants, in one transaction.

use std::collections::BTreeSet;

use sqlx::{PgConnection, Row};
use zart_core::{CancelOutcome, ExecutionStatus, Signal, Timestamp};

use crate::error::PgError;
use crate::listen::{finished_payload, WORK};
use crate::parking::Wake;
use crate::pool::{work_if, Db, Written};
use crate::rows::{self, ms};

const READ_ROOT: &str = "SELECT status FROM {s}.executions WHERE id = $1";

const LOCK_ROOT: &str = "SELECT status, parent_id FROM {s}.executions WHERE id = $1 FOR UPDATE";

/// Unfinished descendants reached through children whose parent-close policy is
/// `cancel` (an abandoned child and its subtree end on their own), locked deepest
/// first: the order in which a finishing child locks itself and then its parent, so
/// the two do not deadlock.
///
/// Run until the set stops growing: a descendant spawning a child commits either
/// before the statement's snapshot (found) or while holding its own row, which this
/// statement then waits for (found by the next round). Once every member is locked,
/// none can spawn. The depth cap guards against a cycle of parent ids.
const LOCK_DESCENDANTS: &str = "
    WITH RECURSIVE tree(id, depth) AS (
        SELECT id, 1 FROM {s}.executions WHERE parent_id = $1 AND parent_close = 'cancel'
        UNION ALL
        SELECT e.id, t.depth + 1 FROM {s}.executions e JOIN tree t ON e.parent_id = t.id
        WHERE t.depth < 1000 AND e.parent_close = 'cancel'
    )
    SELECT e.id FROM {s}.executions e JOIN tree t ON t.id = e.id
    WHERE e.status IN ('scheduled', 'running')
    ORDER BY t.depth DESC, e.id
    FOR UPDATE OF e";

/// Bumping the fence invalidates every lease on them.
const CANCEL: &str = "
    WITH cancelled AS (
        UPDATE {s}.executions SET status = 'cancelled', completed_at = $2, updated_at = $2,
            version = version + 1, fence = fence + 1, lease_owner = NULL, leased_at = NULL,
            lease_expires_at = NULL, due_at = NULL, wait_kind = NULL, wait_ref = NULL,
            wait_until = NULL, wait_attempt = NULL
        WHERE id = ANY($1) AND status IN ('scheduled', 'running')
        RETURNING id, run_index, started_at
    ), run AS (
        UPDATE {s}.runs r SET status = 'cancelled', completed_at = $2,
            started_at = COALESCE(r.started_at, c.started_at)
        FROM cancelled c WHERE r.execution_id = c.id AND r.run_index = c.run_index
    ), notify AS (
        SELECT pg_notify($3, payload) FROM unnest($4::text[]) AS payload
    )
    SELECT (SELECT count(*) FROM cancelled), (SELECT count(*) FROM notify)";

/// Wakes the parent `$1` of the cancelled execution `$2` if it is parked on it.
fn wake_parent() -> String {
    let wake = Wake {
        from: "parent p",
        parked: "p",
        kind: "child",
        reference: "$2",
        now: "$3",
    };
    format!(
        "WITH parent AS (
            SELECT id, status, lease_owner, wait_kind, wait_ref
            FROM {{s}}.executions WHERE id = $1 FOR UPDATE
        ), woken AS ({} RETURNING x.id
        ), notify AS (
            SELECT pg_notify($4, $5) FROM woken
        )
        SELECT count(*) FROM notify",
        wake.sql()
    )
}

/// Rounds of [`LOCK_DESCENDANTS`] before giving up on a tree that keeps growing.
const MAX_ROUNDS: usize = 20;

pub(crate) async fn cancel(
    db: &Db,
    id: &str,
    now: Timestamp,
) -> Result<Written<CancelOutcome>, PgError> {
    let mut tx = db.pool.begin().await?;
    let status: Option<String> = sqlx::query_scalar(&db.sql(READ_ROOT))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(done) = terminal(status.as_deref())? {
        return Ok((done, Vec::new()));
    }
    // Children first, then the root, then any child the root spawned meanwhile.
    lock_descendants(db, &mut tx, id).await?;
    let root = sqlx::query(&db.sql(LOCK_ROOT))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let status: Option<String> = root.as_ref().map(|r| r.try_get("status")).transpose()?;
    if let Some(done) = terminal(status.as_deref())? {
        // At once: a dropped transaction keeps the rows it locked until its
        // connection is next used, and claims would skip them meanwhile.
        tx.rollback().await?;
        return Ok((done, Vec::new()));
    }
    let parent: Option<String> = match &root {
        Some(row) => row.try_get("parent_id")?,
        None => None,
    };
    let descendants = lock_descendants(db, &mut tx, id).await?;
    let mut ids = vec![id.to_owned()];
    ids.extend(descendants.into_iter().filter(|d| d != id));
    let mut signals = cancel_ids(db, &mut tx, &ids, now).await?;
    if let Some(parent) = parent {
        let woken: i64 = sqlx::query_scalar(&db.sql(&wake_parent()))
            .bind(parent)
            .bind(id)
            .bind(ms(now))
            .bind(db.channel())
            .bind(WORK)
            .fetch_one(&mut *tx)
            .await?;
        signals.extend(work_if(woken > 0));
    }
    tx.commit().await?;
    Ok((CancelOutcome::Cancelled(ids), signals))
}

/// Cancels the (locked) executions `ids` and their runs, notifying `Finished` for
/// each on commit; returns the same hints for this process.
pub(crate) async fn cancel_ids(
    db: &Db,
    tx: &mut PgConnection,
    ids: &[String],
    now: Timestamp,
) -> Result<Vec<Signal>, PgError> {
    let payloads: Vec<String> = ids
        .iter()
        .map(|id| finished_payload(id, ExecutionStatus::Cancelled))
        .collect();
    sqlx::query(&db.sql(CANCEL))
        .bind(ids)
        .bind(ms(now))
        .bind(db.channel())
        .bind(&payloads)
        .execute(&mut *tx)
        .await?;
    Ok(ids
        .iter()
        .map(|id| Signal::Finished {
            execution_id: id.clone(),
            status: ExecutionStatus::Cancelled,
        })
        .collect())
}

/// The outcome when the root is missing or already finished.
fn terminal(status: Option<&str>) -> Result<Option<CancelOutcome>, PgError> {
    let Some(status) = status else {
        return Ok(Some(CancelOutcome::NotFound));
    };
    let status: ExecutionStatus = rows::parse(status)?;
    Ok(status
        .is_terminal()
        .then_some(CancelOutcome::AlreadyTerminal(status)))
}

/// Locks the unfinished descendants of `id` that end with it (see
/// [`LOCK_DESCENDANTS`]), repeating until no more appear.
pub(crate) async fn lock_descendants(
    db: &Db,
    tx: &mut PgConnection,
    id: &str,
) -> Result<BTreeSet<String>, PgError> {
    let sql = db.sql(LOCK_DESCENDANTS);
    let mut locked = BTreeSet::new();
    for _ in 0..MAX_ROUNDS {
        let found: Vec<String> = sqlx::query_scalar(&sql)
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
        let before = locked.len();
        locked.extend(found);
        if locked.len() == before {
            return Ok(locked);
        }
    }
    tracing::warn!(
        execution_id = id,
        "descendants kept growing while cancelling"
    );
    Ok(locked)
}
