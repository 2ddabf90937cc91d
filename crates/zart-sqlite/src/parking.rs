//! Giving up a lease: release (runnable at once) and suspend (parked until a time or
//! a wake-up), and the wake-up of a parent parked on a child.
//!
//! Suspending on an event or a child must not miss an offer or a child's end that
//! races with it. Both sides run on the writer thread, one after the other: a
//! suspension that finds the awaited event pending or the child finished is due at
//! once ([`suspend`]), and an offer (`events.rs`) or a child's end ([`wake_parent`],
//! called by `finish.rs` and `cancel.rs`) makes an already parked execution due.

use rusqlite::{params, Connection};
use zart_core::{
    ExecutionStatus, ExecutionSuspend, LeaseGuard, Signal, StoreError, StoreResult, Timestamp,
    WaitingFor,
};

use crate::error::SqlResultExt;
use crate::events;
use crate::guard::{guard_params, GUARD};
use crate::rows::{self, ms, opt_ms};

/// Drops the lease and makes the execution due at `guard.now`.
pub(crate) fn release(
    conn: &Connection,
    guard: &LeaseGuard,
    signals: &mut Vec<Signal>,
) -> StoreResult<bool> {
    let sql = format!(
        "UPDATE executions SET lease_owner = NULL, leased_at = NULL, lease_expires_at = NULL, \
         due_at = ?4, updated_at = ?4, version = version + 1, wait_kind = NULL, \
         wait_ref = NULL, wait_until = NULL, wait_attempt = NULL WHERE {GUARD}"
    );
    let changed = conn
        .prepare_cached(&sql)
        .db()?
        .execute(guard_params(guard))
        .db()?;
    if changed == 1 {
        signals.push(Signal::Work);
    }
    Ok(changed == 1)
}

/// Drops the lease and parks the execution until `wake_at`, recording what it waits
/// for. If the awaited event is already in the inbox, or the awaited child already
/// finished, it is due at once instead: this closes the race between the worker's
/// last check and the suspension.
pub(crate) fn suspend(
    conn: &Connection,
    params: &ExecutionSuspend,
    signals: &mut Vec<Signal>,
) -> StoreResult<bool> {
    let wait = wait_columns(&params.waiting_for)?;
    let guard = &params.guard;
    let now = ms(guard.now);
    let due_at = if already_satisfied(conn, &guard.execution_id, &params.waiting_for, guard.now)? {
        Some(params.wake_at.map_or(now, |w| ms(w).min(now)))
    } else {
        opt_ms(params.wake_at)
    };
    let sql = format!(
        "UPDATE executions SET lease_owner = NULL, leased_at = NULL, lease_expires_at = NULL, \
         due_at = ?5, wait_kind = ?6, wait_ref = ?7, wait_until = ?8, wait_attempt = ?9, \
         updated_at = ?4, version = version + 1 WHERE {GUARD}"
    );
    let (id, fence, worker, now_ms) = guard_params(guard);
    let changed = conn
        .prepare_cached(&sql)
        .db()?
        .execute(params![
            id,
            fence,
            worker,
            now_ms,
            due_at,
            wait.kind,
            wait.reference,
            wait.until,
            wait.attempt
        ])
        .db()?;
    if changed == 1 && due_at.is_some_and(|d| d <= now) {
        signals.push(Signal::Work);
    }
    Ok(changed == 1)
}

fn already_satisfied(
    conn: &Connection,
    id: &str,
    waiting_for: &WaitingFor,
    now: Timestamp,
) -> StoreResult<bool> {
    match waiting_for {
        WaitingFor::Event { name, .. } => events::pending(conn, id, name),
        WaitingFor::Child { execution_id } => {
            Ok(rows::status_of(conn, execution_id)?.is_some_and(ExecutionStatus::is_terminal))
        }
        WaitingFor::Pause { rule_id, .. } => crate::pauses::released(conn, rule_id, now),
        _ => Ok(false),
    }
}

/// Makes `parent` due now if it is unleased and parked on `child`.
pub(crate) fn wake_parent(
    conn: &Connection,
    parent: &str,
    child: &str,
    now: Timestamp,
    signals: &mut Vec<Signal>,
) -> StoreResult<()> {
    let woken = conn
        .prepare_cached(
            "UPDATE executions SET due_at = ?3 WHERE id = ?1 AND lease_owner IS NULL \
             AND wait_kind = 'child' AND wait_ref = ?2 AND status IN ('scheduled', 'running') \
             AND (due_at IS NULL OR due_at > ?3)",
        )
        .db()?
        .execute(params![parent, child, ms(now)])
        .db()?;
    if woken == 1 {
        signals.push(Signal::Work);
    }
    Ok(())
}

/// The parked-on columns `(wait_kind, wait_ref, wait_until, wait_attempt)`.
pub(crate) struct WaitColumns {
    pub(crate) kind: &'static str,
    pub(crate) reference: String,
    pub(crate) until: Option<i64>,
    pub(crate) attempt: Option<i64>,
}

/// Encodes what a suspended execution waits for; a lease is not something to park on.
pub(crate) fn wait_columns(waiting_for: &WaitingFor) -> StoreResult<WaitColumns> {
    let (kind, reference, until, attempt) = match waiting_for {
        WaitingFor::Timer { step, due_at } => ("timer", step.clone(), Some(ms(*due_at)), None),
        WaitingFor::Event { name, deadline } => ("event", name.clone(), opt_ms(*deadline), None),
        WaitingFor::Child { execution_id } => ("child", execution_id.clone(), None, None),
        WaitingFor::Retry {
            step,
            attempt,
            retry_at,
        } => (
            "retry",
            step.clone(),
            Some(ms(*retry_at)),
            Some(i64::from(*attempt)),
        ),
        WaitingFor::Pause {
            rule_id,
            expires_at,
        } => ("pause", rule_id.clone(), opt_ms(*expires_at), None),
        WaitingFor::Lease { .. } | WaitingFor::Queue { .. } => {
            return Err(StoreError::InvalidInput(
                "an execution cannot be suspended waiting for a lease or a queue".into(),
            ))
        }
    };
    Ok(WaitColumns {
        kind,
        reference,
        until,
        attempt,
    })
}
