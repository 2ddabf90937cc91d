//! Pause rules: created, listed, deleted; and what a suspension on a rule checks.
//!
//! An execution parks on a rule with `wait_kind = 'pause'` and `wait_ref` = the rule
//! id, due at the rule's expiry. Deleting the rule makes those executions due at once
//! in the same transaction. A delete and a suspension on the same rule serialize on
//! the rule's row: the delete locks it for update before it wakes what is parked on
//! it, the suspension share-locks it ([`share_lock`]) before it parks, due at once if
//! the rule no longer holds ([`RELEASED`]), so a delete racing with a suspension
//! never leaves an execution parked (see `parking.rs`).

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use zart_core::{NewPauseRule, PauseDelete, PauseRule, Signal, Timestamp};

use crate::error::PgError;
use crate::listen::{PAUSES, WORK};
use crate::parking::Wake;
use crate::pool::{work_if, Db, Written};
use crate::rows::{get, ms, opt_ms, opt_ts, ts};

const RULE_COLUMNS: &str = "rule_id, execution_id, task_name, step_pattern, created_at, \
    expires_at, created_by, deleted_at, reason";

/// A [`PauseRule`] from a row selecting [`RULE_COLUMNS`].
fn rule(row: &PgRow) -> Result<PauseRule, PgError> {
    Ok(PauseRule {
        rule_id: get(row, "rule_id")?,
        execution_id: get(row, "execution_id")?,
        task_name: get(row, "task_name")?,
        step_pattern: get(row, "step_pattern")?,
        created_at: ts(get(row, "created_at")?)?,
        expires_at: opt_ts(get(row, "expires_at")?)?,
        created_by: get(row, "created_by")?,
        deleted_at: opt_ts(get(row, "deleted_at")?)?,
        reason: get(row, "reason")?,
    })
}

const CREATE: &str = "
    WITH created AS (
        INSERT INTO {s}.pause_rules (rule_id, execution_id, task_name, step_pattern,
            created_at, expires_at, created_by, reason)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        RETURNING {RULE_COLUMNS}
    ), notify AS (
        SELECT pg_notify($9, $10) FROM created
    )
    SELECT *, (SELECT count(*) FROM notify) AS n FROM created";

/// Stores a new rule (a duplicate id is a conflict).
pub(crate) async fn create(db: &Db, new: &NewPauseRule) -> Result<Written<PauseRule>, PgError> {
    let sql = db.sql(&CREATE.replace("{RULE_COLUMNS}", RULE_COLUMNS));
    let row = sqlx::query(&sql)
        .bind(new.rule_id.as_str())
        .bind(new.execution_id.as_deref())
        .bind(new.task_name.as_deref())
        .bind(new.step_pattern.as_deref())
        .bind(ms(new.now))
        .bind(opt_ms(new.expires_at))
        .bind(new.created_by.as_str())
        .bind(new.reason.as_deref())
        .bind(db.channel())
        .bind(PAUSES)
        .fetch_one(&db.pool)
        .await?;
    Ok((rule(&row)?, vec![Signal::Pauses]))
}

/// The rules active at `now`, oldest first.
pub(crate) async fn list(db: &Db, now: Timestamp) -> Result<Vec<PauseRule>, PgError> {
    let sql = db.sql(&format!(
        "SELECT {RULE_COLUMNS} FROM {{s}}.pause_rules
         WHERE deleted_at IS NULL AND (expires_at IS NULL OR expires_at > $1)
         ORDER BY created_at, rule_id"
    ));
    let found = sqlx::query(&sql).bind(ms(now)).fetch_all(&db.pool).await?;
    found.iter().map(rule).collect()
}

/// Locks the rule for the delete; `None` if there is no such rule.
const LOCK: &str = "SELECT deleted_at FROM {s}.pause_rules WHERE rule_id = $1 FOR UPDATE";

/// Marks rule `$1` deleted at `$2` and wakes every execution parked on it. `parked`
/// locks them in id order (like every multi-row locker) at their latest version; an
/// execution parking on the rule concurrently has committed by now, since it holds
/// a share lock on the rule that [`LOCK`] waited for. One `Pauses` hint, and one
/// `Work` hint when something was woken.
const DELETE: &str = "
    WITH deleted AS (
        UPDATE {s}.pause_rules SET deleted_at = $2 WHERE rule_id = $1
    ), parked AS (
        SELECT id, status, lease_owner, wait_kind, wait_ref FROM {s}.executions
        WHERE wait_kind = 'pause' AND wait_ref = $1
        ORDER BY id
        FOR UPDATE
    ), woken AS ({WAKE} RETURNING x.id
    ), notify AS (
        SELECT pg_notify($3, $4)
        UNION ALL
        SELECT pg_notify($3, $5) WHERE EXISTS (SELECT 1 FROM woken)
    )
    SELECT (SELECT count(*) FROM woken) AS resumed, (SELECT count(*) FROM notify) AS n";

fn delete_sql() -> String {
    let wake = Wake {
        from: "parked p",
        parked: "p",
        kind: "pause",
        reference: "$1",
        now: "$2",
    };
    DELETE.replace("{WAKE}", &wake.sql())
}

/// Deletes a rule and makes every execution parked on it due now.
pub(crate) async fn delete(
    db: &Db,
    rule_id: &str,
    now: Timestamp,
) -> Result<Written<PauseDelete>, PgError> {
    let mut tx = db.pool.begin().await?;
    let found: Option<Option<i64>> = sqlx::query_scalar(&db.sql(LOCK))
        .bind(rule_id)
        .fetch_optional(&mut *tx)
        .await?;
    let refused = match found {
        None => Some(PauseDelete::NotFound),
        Some(Some(_)) => Some(PauseDelete::AlreadyDeleted),
        Some(None) => None,
    };
    if let Some(refused) = refused {
        // At once: a dropped transaction keeps the rule locked until its connection
        // is next used.
        tx.rollback().await?;
        return Ok((refused, Vec::new()));
    }
    let row = sqlx::query(&db.sql(&delete_sql()))
        .bind(rule_id)
        .bind(ms(now))
        .bind(db.channel())
        .bind(PAUSES)
        .bind(WORK)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    let resumed = u64::try_from(row.try_get::<i64, _>("resumed")?).unwrap_or_default();
    let mut signals = vec![Signal::Pauses];
    signals.extend(work_if(resumed > 0));
    Ok((PauseDelete::Deleted { resumed }, signals))
}

/// A condition (for `parking::SUSPEND`'s `{READY}`) that rule `$7` does not hold at
/// `$4`: deleted, expired or unknown.
pub(crate) const RELEASED: &str = "NOT EXISTS (SELECT 1 FROM {s}.pause_rules r
    WHERE r.rule_id = $7 AND r.deleted_at IS NULL
      AND (r.expires_at IS NULL OR r.expires_at > $4))";

/// Share-locks the rule a suspension parks on, until the suspension commits: a
/// delete of the rule waits for it, and the suspension's next statement sees a
/// delete that committed first. Nothing is locked for an unknown rule.
pub(crate) async fn share_lock(
    db: &Db,
    tx: &mut PgConnection,
    rule_id: &str,
) -> Result<(), PgError> {
    sqlx::query(&db.sql("SELECT 1 FROM {s}.pause_rules WHERE rule_id = $1 FOR SHARE"))
        .bind(rule_id)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(())
}
