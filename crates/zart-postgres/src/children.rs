//! Spawning child executions: the parent's guard, its `spawn` entry and the child,
//! in one statement.

use sqlx::postgres::PgRow;
use sqlx::Row;
use zart_core::{ChildSpawn, SpawnOutcome};

use crate::error::{corrupt, PgError};
use crate::executions::{bind_new, parent_close_sql, INSERT_CTES, NEW_COLUMNS};
use crate::guard::{bind_guard, guarded};
use crate::journal::{bind_step, step_upsert};
use crate::pool::{renumber, work_if, Db, Written};

/// `existing` is an execution already holding the child's id (`#1`), `clash` the same
/// when another parent (`#3`) or task (`#2`) owns it: then nothing is written. The
/// `spawn` entry is written only with the child in place, created now or existing
/// as this parent's: an id inserted concurrently after the statement's snapshot
/// (caught by `ON CONFLICT`) writes nothing either, and the statement is run again.
const CHECK_CTES: &str = "
    existing AS (
        SELECT parent_id, task_name FROM {s}.executions WHERE id = #1
    ), clash AS (
        SELECT 1 FROM existing WHERE parent_id IS DISTINCT FROM #3 OR task_name <> #2
    ), source AS (
        SELECT {NEW_COLUMNS} FROM guarded WHERE NOT EXISTS (SELECT 1 FROM clash)
    )";

/// The `spawn` entry's source: the guard, with the child in place.
const STEP_SOURCE: &str = "guarded WHERE EXISTS (SELECT 1 FROM new_execution)
    OR (EXISTS (SELECT 1 FROM existing) AND NOT EXISTS (SELECT 1 FROM clash))";

/// Statement runs before a spawn that keeps racing an insert of its id gives up.
const ATTEMPTS: usize = 2;

pub(crate) async fn spawn(db: &Db, p: &ChildSpawn) -> Result<Written<SpawnOutcome>, PgError> {
    for _ in 0..ATTEMPTS {
        let row = statement(db, p).await?;
        if row.try_get::<i64, _>("applied")? == 0 {
            return Ok((SpawnOutcome::LeaseLost, Vec::new()));
        }
        if row.try_get::<bool, _>("clash")? {
            let outcome = SpawnOutcome::Foreign {
                parent_id: row.try_get("parent_id")?,
                task_name: row
                    .try_get::<Option<String>, _>("task_name")?
                    .unwrap_or_default(),
            };
            return Ok((outcome, Vec::new()));
        }
        if row.try_get::<bool, _>("stepped")? {
            let notified = row.try_get::<i64, _>("notified")? > 0;
            return Ok((SpawnOutcome::Spawned, work_if(notified)));
        }
    }
    Err(corrupt(format!(
        "spawn of {} kept racing an insert of its id",
        p.child.id
    )))
}

async fn statement(db: &Db, p: &ChildSpawn) -> Result<PgRow, PgError> {
    let inserts = INSERT_CTES
        .replace("{PARENT_CLOSE}", &parent_close_sql(p.parent_close))
        .replace("{CHANNEL}", "#8");
    let checks = CHECK_CTES.replace("{NEW_COLUMNS}", NEW_COLUMNS);
    let sql = db.sql(&format!(
        "WITH {}, {}, {}, step AS ({})
         SELECT (SELECT count(*) FROM guarded) AS applied,
            (SELECT count(*) FROM new_notify) AS notified,
            EXISTS (SELECT 1 FROM clash) AS clash,
            (SELECT parent_id FROM existing) AS parent_id,
            (SELECT task_name FROM existing) AS task_name,
            EXISTS (SELECT 1 FROM {STEP_SOURCE}) AS stepped",
        guarded(),
        renumber(&checks, 17),
        renumber(&inserts, 17),
        step_upsert(STEP_SOURCE, "#7::json"),
    ));
    let query = bind_step(
        bind_guard(sqlx::query(&sql), &p.guard),
        p.run_index,
        &p.step,
    )?;
    Ok(bind_new(query, &p.child, db.channel())
        .fetch_one(&db.pool)
        .await?)
}
