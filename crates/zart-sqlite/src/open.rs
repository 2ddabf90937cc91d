//! Opening connections: pragmas for the writer and the readers, directory creation.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};
use zart_core::{StoreError, StoreResult};

use crate::error::SqlResultExt;
use crate::options::SqliteOptions;
use crate::url::Location;

/// Opens the write connection (creating the file and its directory if absent) and
/// sets WAL mode and `synchronous`.
pub(crate) fn writer(location: &Location, options: &SqliteOptions) -> StoreResult<Connection> {
    let conn = match location {
        Location::Memory => Connection::open_in_memory().db()?,
        Location::File(path) => {
            create_parent(path)?;
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            Connection::open_with_flags(path, flags).db()?
        }
    };
    conn.busy_timeout(options.busy_timeout).db()?;
    conn.set_prepared_statement_cache_capacity(128);
    if let Location::File(_) = location {
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .db()?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(%mode, "SQLite refused WAL mode; readers will wait for the writer");
        }
    }
    let sync = options.synchronous.pragma_value();
    // temp_store = MEMORY keeps the per-op savepoints' statement journals in memory:
    // with files, a large batch made SQLite create and delete temporary files.
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {sync}; PRAGMA foreign_keys = OFF; PRAGMA temp_store = MEMORY;"
    ))
    .db()?;
    Ok(conn)
}

/// Opens `count` read-only connections to the file.
pub(crate) fn readers(
    path: &Path,
    count: usize,
    options: &SqliteOptions,
) -> StoreResult<Vec<Connection>> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    (0..count)
        .map(|_| {
            let conn = Connection::open_with_flags(path, flags).db()?;
            conn.busy_timeout(options.busy_timeout).db()?;
            conn.set_prepared_statement_cache_capacity(128);
            Ok(conn)
        })
        .collect()
}

fn create_parent(path: &Path) -> StoreResult<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.exists() => std::fs::create_dir_all(dir)
            .map_err(|e| {
                StoreError::Unavailable(format!("cannot create the database directory: {e}"))
            }),
        _ => Ok(()),
    }
}
