//! The batched execution finish: many guarded finishes, the wake-ups of parents
//! parked on them and their `Finished` hints, in one statement and one commit (see
//! `batch.rs` for when it is used, `finish.rs` for the single finish).

use std::collections::HashMap;

use sqlx::Row;
use zart_core::{ExecutionFinish, ExecutionOutcome, ExecutionStatus, Signal};

use crate::batch::{column, request_numbers, request_of};
use crate::db::{work_if, Db, Written, LOCK_BATCH};
use crate::errors::{corrupt, PgError};
use crate::finish::{finish_with_children, OPEN_CHILDREN};
use crate::listen::{finished_payload, WORK};
use crate::rows::{json_text, ms, opt_json_text};

/// `locked` takes the execution rows in id order at their latest committed
/// version, `ok` keeps the finishes whose guard holds against them. Parents are
/// locked in id order too; as in `finish.rs`, a parent suspending on a child
/// concurrently is either seen parked here (and woken) or sees the child finished.
/// Each finished id sends its own `Finished` hint (NOTIFY payloads are limited in
/// size), and one `Work` hint covers every woken parent. A finish with children to
/// cancel is left out (`blocked`) and written on its own afterwards.
const FINISH_MANY: &str = "
    WITH input AS (
        SELECT * FROM unnest($1::int[], $2::text[], $3::bigint[], $4::text[],
            $5::bigint[], $6::text[], $7::text[], $8::text[], $9::int[], $10::text[])
        AS i(req, id, fence, owner, now, status, result, error, run_index, hint)
    ), locked AS ({LOCKED}
    ), blocked AS (
        SELECT i.req FROM input i CROSS JOIN LATERAL ({OPEN_CHILDREN} LIMIT 1) c
    ), ok AS (
        SELECT i.* FROM input i JOIN locked l ON l.id = i.id AND l.fence = i.fence
            AND l.lease_owner = i.owner AND l.lease_expires_at > i.now
        WHERE i.req NOT IN (SELECT req FROM blocked)
    ), finished AS (
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
    ), woken AS (
        UPDATE {s}.executions x SET due_at = LEAST(COALESCE(x.due_at, f.now), f.now)
        FROM parent p, finished f
        WHERE x.id = p.id AND p.status IN ('scheduled', 'running')
          AND p.lease_owner IS NULL AND p.wait_kind = 'child' AND p.wait_ref = f.id
        RETURNING f.req
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

/// Writes `finishes` (distinct ids) in one statement; returns each one's outcome,
/// in order.
pub(crate) async fn finish_many(
    db: &Db,
    finishes: &[&ExecutionFinish],
) -> Result<Vec<Written<bool>>, PgError> {
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
    let sql = FINISH_MANY
        .replace("{LOCKED}", LOCK_BATCH)
        .replace("{OPEN_CHILDREN}", &OPEN_CHILDREN.replace("$1", "i.id"));
    let found = sqlx::query(&db.sql(&sql))
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
        .fetch_all(&db.pool)
        .await?;
    let mut applied: HashMap<usize, bool> = HashMap::new();
    let mut blocked = Vec::new();
    for row in &found {
        match row.try_get::<bool, _>("blocked")? {
            true => blocked.push(request_of(row)?),
            false => {
                applied.insert(request_of(row)?, row.try_get::<bool, _>("woke")?);
            }
        }
    }
    let mut written = outcomes(finishes, &applied);
    for i in blocked {
        if let (Some(slot), Some(f)) = (written.get_mut(i), finishes.get(i)) {
            *slot = finish_with_children(db, f).await?;
        }
    }
    Ok(written)
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
