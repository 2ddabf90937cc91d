//! Giving up a lease: release (runnable at once) and suspend (parked until a time or a
//! wake-up).
//!
//! Suspending on an event or a child must not miss an offer or a child finish that
//! races with it. Both sides serialize on the execution's row lock: the suspension
//! locks its row in one statement and looks for a pending event (or a finished
//! child) in the next, whose snapshot includes everything committed while it waited
//! for the lock; an offer (or a child's finish) locks the parked row and wakes it if
//! the suspension committed first: that wake-up is [`Wake`], the one statement
//! fragment every waking write (a finish, an offer, a cancel, a pause rule's
//! delete) uses.
//!
//! A suspension on a pause rule serializes on the rule's row instead: it takes a
//! share lock on the rule before it parks, and the rule's delete locks the rule for
//! update before it wakes what is parked on it (`pauses.rs`). Either the delete
//! waits for the suspension's commit and then finds it parked, or the suspension
//! waits for the delete's commit and then sees the rule deleted and is due at once.

use sqlx::postgres::PgRow;
use sqlx::Row;
use zart_core::{ExecutionSuspend, LeaseGuard, StoreError, WaitingFor};

use crate::error::PgError;
use crate::guard::{bind_guard, lock_guarded, GUARD};
use crate::listen::WORK;
use crate::pauses;
use crate::pool::{work_if, Db, Written};
use crate::rows::{int, ms, opt_ms};

const RELEASE: &str = "
    WITH released AS (
        UPDATE {s}.executions SET lease_owner = NULL, leased_at = NULL,
            lease_expires_at = NULL, due_at = $4, version = version + 1, updated_at = $4
        WHERE {GUARD} RETURNING id
    ), notify AS (
        SELECT pg_notify($5, $6) FROM released
    )
    SELECT (SELECT count(*) FROM released) AS applied, (SELECT count(*) FROM notify) AS n";

pub(crate) async fn release(db: &Db, guard: &LeaseGuard) -> Result<Written<bool>, PgError> {
    let sql = db.sql(&RELEASE.replace("{GUARD}", GUARD));
    let row = bind_guard(sqlx::query(&sql), guard)
        .bind(db.channel())
        .bind(WORK)
        .fetch_one(&db.pool)
        .await?;
    let applied = row.try_get::<i64, _>("applied")? > 0;
    Ok((applied, work_if(applied)))
}

/// `{READY}` is a condition that makes the execution due at once.
const SUSPEND: &str = "
    WITH parked AS (
        UPDATE {s}.executions SET lease_owner = NULL, leased_at = NULL,
            lease_expires_at = NULL,
            due_at = CASE WHEN {READY} THEN $4 ELSE $5 END,
            wait_kind = $6, wait_ref = $7, wait_until = $8, wait_attempt = $9,
            version = version + 1, updated_at = $4
        WHERE {GUARD} RETURNING due_at
    ), notify AS (
        SELECT pg_notify($10, $11) FROM parked WHERE due_at <= $4
    )
    SELECT (SELECT count(*) FROM parked) AS applied, (SELECT count(*) FROM notify) AS n";

const EVENT_PENDING: &str = "EXISTS (SELECT 1 FROM {s}.events
    WHERE execution_id = $1 AND name = $7 AND consumed_at IS NULL)";

const CHILD_FINISHED: &str = "EXISTS (SELECT 1 FROM {s}.executions c
    WHERE c.id = $7 AND c.status IN ('completed', 'failed', 'cancelled'))";

/// The parked-on columns: kind, reference, until, attempt.
type Parked<'a> = (&'static str, &'a str, Option<i64>, Option<i32>);

fn parked_columns(waiting: &WaitingFor) -> Result<Parked<'_>, PgError> {
    Ok(match waiting {
        WaitingFor::Timer { step, due_at } => ("timer", step, Some(ms(*due_at)), None),
        WaitingFor::Event { name, deadline } => ("event", name, opt_ms(*deadline), None),
        WaitingFor::Child { execution_id } => ("child", execution_id, None, None),
        WaitingFor::Retry {
            step,
            attempt,
            retry_at,
        } => (
            "retry",
            step,
            Some(ms(*retry_at)),
            Some(int(*attempt, "attempt")?),
        ),
        WaitingFor::Pause {
            rule_id,
            expires_at,
        } => ("pause", rule_id, opt_ms(*expires_at), None),
        WaitingFor::Lease { .. } | WaitingFor::Queue { .. } => {
            return Err(PgError::Store(StoreError::InvalidInput(
                "an execution cannot be suspended waiting for a lease or a queue".into(),
            )))
        }
    })
}

pub(crate) async fn suspend(db: &Db, p: &ExecutionSuspend) -> Result<Written<bool>, PgError> {
    let columns = parked_columns(&p.waiting_for)?;
    let ready = match p.waiting_for {
        WaitingFor::Event { .. } => EVENT_PENDING,
        WaitingFor::Child { .. } => CHILD_FINISHED,
        WaitingFor::Pause { .. } => pauses::RELEASED,
        _ => "FALSE",
    };
    let sql = db.sql(&SUSPEND.replace("{READY}", ready).replace("{GUARD}", GUARD));
    let (kind, reference, until, attempt) = columns;
    let query = bind_guard(sqlx::query(&sql), &p.guard)
        .bind(opt_ms(p.wake_at))
        .bind(kind)
        .bind(reference)
        .bind(until)
        .bind(attempt)
        .bind(db.channel())
        .bind(WORK);
    if ready == "FALSE" {
        let row = query.fetch_one(&db.pool).await?;
        return outcome(&row);
    }
    let mut tx = db.pool.begin().await?;
    let lock = db.sql(&lock_guarded());
    let held = bind_guard(sqlx::query(&lock), &p.guard)
        .fetch_optional(&mut *tx)
        .await?;
    if held.is_none() {
        return Ok((false, Vec::new()));
    }
    if let WaitingFor::Pause { rule_id, .. } = &p.waiting_for {
        pauses::share_lock(db, &mut tx, rule_id).await?;
    }
    let row = query.fetch_one(&mut *tx).await?;
    tx.commit().await?;
    outcome(&row)
}

fn outcome(row: &PgRow) -> Result<Written<bool>, PgError> {
    let applied = row.try_get::<i64, _>("applied")? > 0;
    Ok((applied, work_if(row.try_get::<i64, _>("n")? > 0)))
}

/// Waking the execution parked on something that just happened (an event stored,
/// a child finished, a pause rule deleted): it becomes due at `now` at the latest, and is claimed again.
/// `parked` must have been locked by the statement first (its status, lease and
/// wait read at their latest committed version), which orders the wake-up against
/// a concurrent suspension as described above. An execution that holds a lease is
/// running and finds the event or the child itself.
pub(crate) struct Wake<'a> {
    /// The `FROM` list of the update: `parked` and whatever `reference` and `now`
    /// read.
    pub(crate) from: &'a str,
    /// The alias, in `from`, of the locked rows with `id`, `status`, `lease_owner`,
    /// `wait_kind`, `wait_ref`.
    pub(crate) parked: &'a str,
    /// The wait kind that this wakes: `event`, `child` or `pause`.
    pub(crate) kind: &'static str,
    /// What the execution must be waiting for (`wait_ref`): the event name, the
    /// child's id or the pause rule's id.
    pub(crate) reference: &'a str,
    /// The instant it becomes due.
    pub(crate) now: &'a str,
}

impl Wake<'_> {
    /// The `UPDATE` statement (without `RETURNING`), to be placed in a CTE.
    pub(crate) fn sql(&self) -> String {
        let Wake {
            from,
            parked: p,
            kind,
            reference,
            now,
        } = self;
        format!(
            "UPDATE {{s}}.executions x SET due_at = LEAST(COALESCE(x.due_at, {now}), {now})
        FROM {from}
        WHERE x.id = {p}.id AND {p}.status IN ('scheduled', 'running')
          AND {p}.lease_owner IS NULL AND {p}.wait_kind = '{kind}' AND {p}.wait_ref = {reference}"
        )
    }
}
