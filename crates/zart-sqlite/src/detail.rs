//! The admin detail view (an execution, its runs, and one run's steps with their
//! attempts) and the runs list.

use std::collections::HashMap;

use rusqlite::{params, Connection};
use zart_core::{DetailQuery, ExecutionDetail, RunRecord, StoreResult};

use crate::error::SqlResultExt;
use crate::rows::{self, SELECT_ATTEMPT, SELECT_INLINE_ATTEMPT, SELECT_RUN};
use crate::{executions, journal};

/// All runs, oldest first; `None` if the execution does not exist.
pub(crate) fn run_list(
    conn: &Connection,
    execution_id: &str,
) -> StoreResult<Option<Vec<RunRecord>>> {
    if rows::status_of(conn, execution_id)?.is_none() {
        return Ok(None);
    }
    let sql = format!("{SELECT_RUN} WHERE r.execution_id = ?1 ORDER BY r.run_index");
    let mut stmt = conn.prepare_cached(&sql).db()?;
    rows::collect(&mut stmt, [execution_id], rows::run).map(Some)
}

/// The execution, its runs, and one run's steps with their attempts.
pub(crate) fn detail(
    conn: &Connection,
    query: &DetailQuery,
) -> StoreResult<Option<ExecutionDetail>> {
    let Some(execution) = executions::get(conn, &query.execution_id)? else {
        return Ok(None);
    };
    let run_index = query.run_index.unwrap_or(execution.run_index);
    let runs = run_list(conn, &query.execution_id)?.unwrap_or_default();
    let mut steps = journal::load(conn, &query.execution_id, run_index)?;
    let sql = format!(
        "{SELECT_ATTEMPT} WHERE execution_id = ?1 AND run_index = ?2 \
         UNION ALL {SELECT_INLINE_ATTEMPT} \
         ORDER BY 1, 2, 3"
    );
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let attempts = rows::collect(
        &mut stmt,
        params![query.execution_id, run_index],
        rows::attempt,
    )?;
    let mut by_step: HashMap<(String, u32), Vec<_>> = HashMap::new();
    for (key, attempt) in attempts {
        by_step.entry(key).or_default().push(attempt);
    }
    for step in &mut steps {
        if let Some(list) = by_step.remove(&(step.name.clone(), step.occurrence)) {
            step.attempts = list;
        }
        step.fill_attempt_results();
    }
    let actions = crate::actions::list(conn, &query.execution_id)?;
    Ok(Some(ExecutionDetail {
        execution,
        runs,
        steps,
        actions,
    }))
}
