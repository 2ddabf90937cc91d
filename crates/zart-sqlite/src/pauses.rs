//! Pause rules: created, listed, deleted; and the check a suspension on a rule makes.
//!
//! An execution parks on a rule with `wait_kind = 'pause'` and `wait_ref` = the rule
//! id, due at the rule's expiry. Deleting the rule makes those executions due at once
//! in the same transaction; a suspension on a rule already deleted or expired is due
//! at once (`parking.rs` asks [`released`]), so a delete racing with a suspension
//! never leaves an execution parked.

use rusqlite::{params, Connection, OptionalExtension, Row};
use zart_core::{NewPauseRule, PauseDelete, PauseRule, Signal, StoreResult, Timestamp};

use crate::error::SqlResultExt;
use crate::rows::{self, ms, opt_ms, opt_ts, ts};

const SELECT_RULE: &str = "SELECT rule_id, execution_id, task_name, step_pattern, created_at, \
    expires_at, created_by, deleted_at, reason FROM pause_rules";

fn rule(row: &Row<'_>) -> StoreResult<PauseRule> {
    Ok(PauseRule {
        rule_id: row.get(0).db()?,
        execution_id: row.get(1).db()?,
        task_name: row.get(2).db()?,
        step_pattern: row.get(3).db()?,
        created_at: ts(row.get(4).db()?)?,
        expires_at: opt_ts(row.get(5).db()?)?,
        created_by: row.get(6).db()?,
        deleted_at: opt_ts(row.get(7).db()?)?,
        reason: row.get(8).db()?,
    })
}

/// Stores a new rule.
pub(crate) fn create(
    conn: &Connection,
    new: &NewPauseRule,
    signals: &mut Vec<Signal>,
) -> StoreResult<PauseRule> {
    conn.prepare_cached(
        "INSERT INTO pause_rules (rule_id, execution_id, task_name, step_pattern, created_at, \
         expires_at, created_by, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .db()?
    .execute(params![
        new.rule_id,
        new.execution_id,
        new.task_name,
        new.step_pattern,
        ms(new.now),
        opt_ms(new.expires_at),
        new.created_by,
        new.reason,
    ])
    .db()?;
    signals.push(Signal::Pauses);
    Ok(PauseRule {
        rule_id: new.rule_id.clone(),
        execution_id: new.execution_id.clone(),
        task_name: new.task_name.clone(),
        step_pattern: new.step_pattern.clone(),
        created_at: ts(ms(new.now))?,
        expires_at: opt_ts(opt_ms(new.expires_at))?,
        created_by: new.created_by.clone(),
        deleted_at: None,
        reason: new.reason.clone(),
    })
}

/// The rules active at `now`, oldest first.
pub(crate) fn list(conn: &Connection, now: Timestamp) -> StoreResult<Vec<PauseRule>> {
    let sql = format!(
        "{SELECT_RULE} WHERE deleted_at IS NULL AND (expires_at IS NULL OR expires_at > ?1) \
         ORDER BY created_at, rule_id"
    );
    let mut stmt = conn.prepare_cached(&sql).db()?;
    rows::collect(&mut stmt, [ms(now)], rule)
}

/// Deletes a rule and makes every execution parked on it due now. Like every other
/// wake-up (`parking::wake_parent`, an event offer), it sets the due time only: the
/// claim that follows clears what the execution waited for.
pub(crate) fn delete(
    conn: &Connection,
    rule_id: &str,
    now: Timestamp,
    signals: &mut Vec<Signal>,
) -> StoreResult<PauseDelete> {
    let deleted_at: Option<Option<i64>> = conn
        .prepare_cached("SELECT deleted_at FROM pause_rules WHERE rule_id = ?1")
        .db()?
        .query_row([rule_id], |r| r.get(0))
        .optional()
        .db()?;
    match deleted_at {
        None => return Ok(PauseDelete::NotFound),
        Some(Some(_)) => return Ok(PauseDelete::AlreadyDeleted),
        Some(None) => {}
    }
    let now = ms(now);
    conn.prepare_cached("UPDATE pause_rules SET deleted_at = ?2 WHERE rule_id = ?1")
        .db()?
        .execute(params![rule_id, now])
        .db()?;
    let resumed = conn
        .prepare_cached(
            "UPDATE executions SET due_at = min(coalesce(due_at, ?2), ?2) \
             WHERE wait_kind = 'pause' AND wait_ref = ?1 AND lease_owner IS NULL \
             AND status IN ('scheduled', 'running')",
        )
        .db()?
        .execute(params![rule_id, now])
        .db()?;
    signals.push(Signal::Pauses);
    if resumed > 0 {
        signals.push(Signal::Work);
    }
    Ok(PauseDelete::Deleted {
        resumed: resumed as u64,
    })
}

/// Whether the rule no longer holds at `now` (deleted, expired or unknown).
pub(crate) fn released(conn: &Connection, rule_id: &str, now: Timestamp) -> StoreResult<bool> {
    let sql = format!("{SELECT_RULE} WHERE rule_id = ?1");
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let found = rows::collect(&mut stmt, [rule_id], rule)?;
    Ok(found.first().is_none_or(|r| !r.is_active(now)))
}
