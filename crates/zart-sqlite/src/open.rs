//! Opening connections: pragmas for the writer and the readers, directory creation.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};
use zart_core::{StoreError, StoreResult};

use crate::durable::SyncFn;
use crate::error::SqlResultExt;
use crate::options::SqliteOptions;
use crate::owner::{self, Acquired};
use crate::url::Location;

/// Makes this process the owner of the database file at `path` (creating its
/// directory if absent), before any connection touches the file.
pub(crate) fn owner(path: &Path) -> StoreResult<Acquired> {
    create_parent(path)?;
    owner::acquire(path)
}

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

/// Prepares pipelined durability on the write connection of a file database in WAL
/// mode: opens the WAL file for the syncer, makes its directory entry durable, and
/// switches the connection to `synchronous = NORMAL` (the syncer's fsync replaces the
/// one `FULL` would do inside `COMMIT`). `None` when the database is not in WAL mode
/// or the WAL file cannot be opened; the connection then keeps `FULL`.
pub(crate) fn wal_sync(conn: &Connection) -> StoreResult<Option<SyncFn>> {
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .db()?;
    let Some(db_path) = conn.path().filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    if !mode.eq_ignore_ascii_case("wal") {
        return Ok(None);
    }
    let wal_path = std::path::PathBuf::from(format!("{db_path}-wal"));
    // Read and write access: some platforms refuse to flush a read-only handle. Nothing
    // is ever written through it. SQLite keeps no locks on the WAL file itself, so
    // holding and closing this handle cannot release SQLite's locks.
    let wal = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&wal_path)
    {
        Ok(file) => file,
        Err(e) => {
            tracing::warn!(error = %e, "cannot open the SQLite WAL file; commits fsync inline");
            return Ok(None);
        }
    };
    sync_dir(&wal_path)?;
    conn.execute_batch("PRAGMA synchronous = NORMAL;").db()?;
    Ok(Some(Box::new(move || wal.sync_data())))
}

/// Fsyncs the directory holding `path`, so that the file's creation is durable.
#[cfg(unix)]
fn sync_dir(path: &Path) -> StoreResult<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::Unavailable(format!("cannot sync the database directory: {e}")))
}

/// Directories cannot be opened for syncing here; NTFS journals file creation.
#[cfg(not(unix))]
fn sync_dir(_path: &Path) -> StoreResult<()> {
    Ok(())
}
