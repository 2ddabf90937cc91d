//! Finishing executions, and waking the parents parked on them, in one statement
//! for a batch of finishes (one or many; see `group/` for how batches form); a
//! finish with unfinished children to cancel, in one transaction with their
//! cancellation.

use std::collections::HashMap;

use sqlx::{PgExecutor, Row};
use zart_core::{ExecutionFinish, ExecutionOutcome, ExecutionStatus, Signal};

use crate::cancel::{cancel_ids, lock_descendants};
use crate::error::{corrupt, PgError};
use crate::guard::BATCH_GUARD;
use crate::listen::{finished_payload, WORK};
use crate::parking::Wake;
use crate::pool::{work_if, Db, Written};
use crate::rows::{column, json_text, ms, opt_json_text, request_numbers, request_of};

/// The guard (`locked`, `ok`: see [`BATCH_GUARD`]) keeps the finishes whose lease
/// holds. The `parent` CTE locks the parent rows whatever their state, in id order,
/// and reads their latest committed version. A parent suspending on a child
/// concurrently either committed before the lock was granted (and is seen parked
/// here, so it is woken), or takes its own lock after this commit and then sees the
/// child finished. Each finished id sends its own `Finished` hint (NOTIFY payloads
/// are limited in size), and one `Work` hint covers every woken parent.
///
/// A finish with children to cancel ([`OPEN_CHILDREN`], one probe of the parent
/// index) is left out and reported `blocked`: the cancellation then goes first
/// (see [`finish_with_children`]).
const FINISH: &str = "
    WITH input AS (
        SELECT * FROM unnest($1::int[], $2::text[], $3::bigint[], $4::text[],
            $5::bigint[], $6::text[], $7::text[], $8::text[], $9::int[], $10::text[])
        AS i(req, id, fence, owner, now, status, result, error, run_index, hint)
    ), blocked AS (
        SELECT i.req FROM input i CROSS JOIN LATERAL ({OPEN_CHILDREN} LIMIT 1) c
    ), {BATCH_GUARD}, finished AS (
        UPDATE {s}.executions e SET status = ok.status, completed_at = ok.now,
            updated_at = ok.now, version = e.version + 1, lease_owner = NULL,
            leased_at = NULL, lease_expires_at = NULL, due_at = NULL, wait_kind = NULL,
            wait_ref = NULL, wait_until = NULL, wait_attempt = NULL
        FROM ok WHERE e.id = ok.id
        RETURNING e.id, e.parent_id, e.started_at, ok.req, ok.now, ok.status, ok.result, ok.error,
            ok.run_index, ok.hint
    ), data AS (
        UPDATE {s}.execution_data d SET result = f.result::json, error = f.error::json
        FROM finished f WHERE d.execution_id = f.id
    ), run AS (
        UPDATE {s}.runs r SET status = f.status, result = f.result::json,
            completed_at = f.now, started_at = COALESCE(r.started_at, f.started_at)
        FROM finished f WHERE r.execution_id = f.id AND r.run_index = f.run_index
    ), parent AS (
        SELECT p.id, p.status, p.lease_owner, p.wait_kind, p.wait_ref
        FROM {s}.executions p WHERE p.id IN (SELECT parent_id FROM finished)
        ORDER BY p.id
        FOR UPDATE OF p
    ), woken AS ({WAKE} RETURNING f.req
    ), notify AS (
        SELECT pg_notify($11, hint) FROM finished
        UNION ALL
        SELECT pg_notify($11, $12) WHERE EXISTS (SELECT 1 FROM woken)
    )
    SELECT f.req, EXISTS (SELECT 1 FROM woken w WHERE w.req = f.req) AS woke,
        (SELECT count(*) FROM notify) AS n, FALSE AS blocked
    FROM finished f
    UNION ALL
    SELECT b.req, FALSE, 0, TRUE FROM blocked b";

/// The unfinished children of execution `i.id` that its end cancels.
const OPEN_CHILDREN: &str = "SELECT 1 FROM {s}.executions c
    WHERE c.parent_id = i.id AND c.parent_close = 'cancel'
        AND c.status IN ('scheduled', 'running')";

/// The text of [`FINISH`].
fn finish_sql() -> String {
    let wake = Wake {
        from: "parent p, finished f",
        parked: "p",
        kind: "child",
        reference: "f.id",
        now: "f.now",
    };
    FINISH
        .replace("{OPEN_CHILDREN}", OPEN_CHILDREN)
        .replace(
            "{BATCH_GUARD}",
            &BATCH_GUARD.replace("{EXCEPT}", "i.req NOT IN (SELECT req FROM blocked)"),
        )
        .replace("{WAKE}", &wake.sql())
}

/// What the finish statement reported, by request number.
struct Finished {
    /// The finishes applied, each with whether it woke its parent.
    applied: HashMap<usize, bool>,
    /// The finishes left out because of children to cancel.
    blocked: Vec<usize>,
}

/// Writes `finishes` (distinct ids) in one statement, then each one left out for
/// its children on its own; returns each one's outcome, in order.
pub(crate) async fn finish(
    db: &Db,
    finishes: &[&ExecutionFinish],
) -> Result<Vec<Written<bool>>, PgError> {
    let done = statement(db, db.writes(), finishes).await?;
    let mut written = outcomes(finishes, &done.applied);
    for i in done.blocked {
        if let (Some(slot), Some(f)) = (written.get_mut(i), finishes.get(i)) {
            *slot = finish_with_children(db, f).await?;
        }
    }
    Ok(written)
}

/// Cancels the children (and their subtrees) that end with the execution, then
/// finishes it, in one transaction: descendants are locked before the execution, the
/// order a finishing child takes (itself, then its parent), so the two cannot
/// deadlock. Nothing is kept if the guard no longer holds.
async fn finish_with_children(db: &Db, p: &ExecutionFinish) -> Result<Written<bool>, PgError> {
    let mut tx = db.pool.begin().await?;
    let ids: Vec<String> = lock_descendants(db, &mut tx, &p.guard.execution_id)
        .await?
        .into_iter()
        .collect();
    let mut signals = cancel_ids(db, &mut tx, &ids, p.guard.now).await?;
    let done = statement(db, &mut *tx, &[p]).await?;
    let Some((true, finished)) = outcomes(&[p], &done.applied).pop() else {
        tx.rollback().await?;
        return Ok((false, Vec::new()));
    };
    tx.commit().await?;
    signals.extend(finished);
    Ok((true, signals))
}

async fn statement<'c>(
    db: &Db,
    conn: impl PgExecutor<'c>,
    finishes: &[&ExecutionFinish],
) -> Result<Finished, PgError> {
    let (mut status, mut result, mut error, mut hint) = (vec![], vec![], vec![], vec![]);
    for f in finishes {
        let s = outcome_status(&f.outcome);
        match &f.outcome {
            ExecutionOutcome::Completed(value) => {
                result.push(opt_json_text(Some(value)));
                error.push(None);
            }
            ExecutionOutcome::Failed(e) => {
                let e = serde_json::to_value(e).map_err(corrupt)?;
                result.push(None);
                error.push(Some(json_text(&e)));
            }
        }
        status.push(s.as_str());
        hint.push(finished_payload(&f.guard.execution_id, s));
    }
    let found = sqlx::query(&db.sql(&finish_sql()))
        .bind(request_numbers(finishes.len())?)
        .bind(column(finishes, |f| f.guard.execution_id.as_str()))
        .bind(column(finishes, |f| f.guard.fence))
        .bind(column(finishes, |f| f.guard.worker_id.as_str()))
        .bind(column(finishes, |f| ms(f.guard.now)))
        .bind(status)
        .bind(result)
        .bind(error)
        .bind(column(finishes, |f| f.run_index))
        .bind(hint)
        .bind(db.channel())
        .bind(WORK)
        .fetch_all(conn)
        .await?;
    let mut done = Finished {
        applied: HashMap::new(),
        blocked: Vec::new(),
    };
    for row in &found {
        match row.try_get::<bool, _>("blocked")? {
            true => done.blocked.push(request_of(row)?),
            false => {
                done.applied
                    .insert(request_of(row)?, row.try_get::<bool, _>("woke")?);
            }
        }
    }
    Ok(done)
}

/// Each finish's outcome, from whether it applied and woke its parent.
fn outcomes(finishes: &[&ExecutionFinish], applied: &HashMap<usize, bool>) -> Vec<Written<bool>> {
    finishes
        .iter()
        .enumerate()
        .map(|(i, f)| match applied.get(&i) {
            None => (false, Vec::new()),
            Some(&woke) => {
                let mut signals = vec![Signal::Finished {
                    execution_id: f.guard.execution_id.clone(),
                    status: outcome_status(&f.outcome),
                }];
                signals.extend(work_if(woke));
                (true, signals)
            }
        })
        .collect()
}

fn outcome_status(outcome: &ExecutionOutcome) -> ExecutionStatus {
    match outcome {
        ExecutionOutcome::Completed(_) => ExecutionStatus::Completed,
        ExecutionOutcome::Failed(_) => ExecutionStatus::Failed,
    }
}
