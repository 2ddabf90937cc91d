//! Spawning child executions.

use rusqlite::Connection;
use zart_core::{ChildSpawn, Signal, StoreResult};

use crate::{claims, executions, steps};

/// Records the parent's `spawn` entry and creates the child unless it exists, if the
/// parent's guard holds.
pub(crate) fn spawn(
    conn: &Connection,
    spawn: &ChildSpawn,
    signals: &mut Vec<Signal>,
) -> StoreResult<bool> {
    if !claims::check(conn, &spawn.guard)? {
        return Ok(false);
    }
    steps::upsert(
        conn,
        &spawn.guard.execution_id,
        spawn.run_index,
        &spawn.step,
    )?;
    executions::insert(conn, &spawn.child)?;
    signals.push(Signal::Work);
    Ok(true)
}
