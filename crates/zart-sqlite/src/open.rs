//! Opening the store: the owner lock, migrations and the takeover of leases, the
//! connections (pragmas for the writer and the readers, directory creation), the
//! writer thread, and reading a pragma back.

use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, OpenFlags};
use zart_core::{StoreError, StoreResult};

use crate::durable::SyncFn;
use crate::error::SqlResultExt;
use crate::health::Health;
use crate::options::{SqliteOptions, Synchronous};
use crate::owner::{self, Acquired};
use crate::readers::Readers;
use crate::signals::Signals;
use crate::url::{self, Location};
use crate::writer::{Counters, Writer};
use crate::{claims, migrate, SqliteStore};

impl SqliteStore {
    /// Opens (creating if absent) the database at `url` with default options:
    /// `sqlite://relative/path.db`, `sqlite:///absolute/path.db` or
    /// `sqlite::memory:`. Applies pending migrations.
    ///
    /// ```
    /// let store = zart_sqlite::SqliteStore::open("sqlite::memory:")?;
    /// # Ok::<(), zart_core::StoreError>(())
    /// ```
    pub fn open(url: &str) -> StoreResult<SqliteStore> {
        Self::open_with(url, SqliteOptions::default())
    }

    /// Opens the database at `url` with `options`.
    ///
    /// A database file is owned by one process: opening it fails with
    /// [`StoreError::Unavailable`], naming the owner, while another process has it
    /// open. A process that becomes the owner takes over every lease left in the
    /// file (their holders are gone), so their executions resume at once. Opening the
    /// same file again in the same process shares the ownership and leaves leases
    /// alone.
    pub fn open_with(url: &str, options: SqliteOptions) -> StoreResult<SqliteStore> {
        let location = url::parse(url)?;
        let owner = match &location {
            Location::File(path) => Some(owner(path)?),
            Location::Memory => None,
        };
        let mut conn = writer(&location, &options)?;
        let now = chrono::Utc::now().timestamp_millis();
        migrate::apply(&mut conn, now)?;
        if let Some(Acquired::New(_)) = &owner {
            let taken = claims::release_all(&conn, now)?;
            if taken > 0 {
                tracing::info!(
                    leases = taken,
                    "took over the leases left by earlier processes; their executions are due now"
                );
            }
        }
        let readers = match &location {
            Location::File(path) if options.readers > 0 => {
                Some(Readers::new(readers(path, options.readers, &options)?))
            }
            _ => None,
        };
        let signals = Signals::new();
        let counters = Arc::new(Counters::default());
        let sync = match (&location, options.synchronous) {
            (Location::File(_), Synchronous::Full) => wal_sync(&conn)?,
            _ => None,
        };
        let health = Arc::new(Health::default());
        let (writer, durable) = Writer::spawn(
            conn,
            options.max_batch,
            signals.clone(),
            counters.clone(),
            sync,
            health.clone(),
        )?;
        Ok(SqliteStore {
            writer,
            readers,
            durable,
            signals,
            counters,
            health,
            _owner: owner.map(Acquired::into_lock),
        })
    }

    /// The value of a pragma on the write connection (e.g. `journal_mode`,
    /// `synchronous`), as text. For diagnostics and tests.
    pub async fn pragma(&self, name: &str) -> StoreResult<String> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            return Err(StoreError::InvalidInput(format!(
                "invalid pragma name {name:?}"
            )));
        }
        let sql = format!("PRAGMA {name}");
        self.write(move |conn, _| {
            let value: rusqlite::types::Value = conn
                .query_row(&sql, [], |r| r.get(0))
                .map_err(crate::error::map)?;
            Ok(match value {
                rusqlite::types::Value::Integer(i) => i.to_string(),
                rusqlite::types::Value::Text(t) => t,
                other => format!("{other:?}"),
            })
        })
        .await
    }
}

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
