//! Spawning child executions.

use rusqlite::{params, Connection, OptionalExtension};
use zart_core::{ChildSpawn, Signal, SpawnOutcome, StoreResult};

use crate::error::SqlResultExt;
use crate::{executions, guard, journal};

/// Records the parent's `spawn` entry and creates the child unless it exists, if the
/// parent's guard holds. An existing execution with the child's id but another
/// parent or task is not adopted: nothing is written.
pub(crate) fn spawn(
    conn: &Connection,
    spawn: &ChildSpawn,
    signals: &mut Vec<Signal>,
) -> StoreResult<SpawnOutcome> {
    if !guard::check(conn, &spawn.guard)? {
        return Ok(SpawnOutcome::LeaseLost);
    }
    let child = &spawn.child;
    if let Some((parent_id, task_name)) = existing(conn, &child.id)? {
        if parent_id != child.parent_id || task_name != child.task_name {
            return Ok(SpawnOutcome::Foreign {
                parent_id,
                task_name,
            });
        }
    } else {
        executions::insert(conn, child)?;
        set_parent_close(conn, spawn)?;
    }
    journal::upsert(
        conn,
        &spawn.guard.execution_id,
        spawn.run_index,
        &spawn.step,
    )?;
    signals.push(Signal::Work);
    Ok(SpawnOutcome::Spawned)
}

/// The parent and task of execution `id`, if it exists.
fn existing(conn: &Connection, id: &str) -> StoreResult<Option<(Option<String>, String)>> {
    conn.prepare_cached("SELECT parent_id, task_name FROM executions WHERE id = ?1")
        .db()?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .db()
}

/// Records the child's parent-close policy; the column's default is `cancel`, so
/// only an abandoned child costs this write.
fn set_parent_close(conn: &Connection, spawn: &ChildSpawn) -> StoreResult<()> {
    if spawn.parent_close == zart_core::ParentClosePolicy::Cancel {
        return Ok(());
    }
    conn.prepare_cached("UPDATE executions SET parent_close = ?2 WHERE id = ?1")
        .db()?
        .execute(params![spawn.child.id, spawn.parent_close.as_str()])
        .db()?;
    Ok(())
}
