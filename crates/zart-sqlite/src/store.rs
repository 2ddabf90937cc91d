//! [`SqliteStore`]: opening, the read/write dispatch, and introspection.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use rusqlite::Connection;
use zart_core::{Signal, StoreError, StoreResult};

use crate::durable::DurablePoint;
use crate::health::{self, Health};
use crate::options::{SqliteOptions, Synchronous};
use crate::owner::{Acquired, OwnerLock};
use crate::readers::Readers;
use crate::signals::Signals;
use crate::url::{self, Location};
use crate::writer::{Counters, Writer};
use crate::{claims, migrate, open};

/// The embedded SQLite [`Store`](zart_core::Store).
///
/// One writer thread owns the only write connection and commits concurrent writes
/// in groups (one transaction, one fsync per batch); a few read-only connections
/// serve reads concurrently (WAL mode). Dropping the store stops the writer once
/// queued writes are done.
pub struct SqliteStore {
    pub(crate) writer: Writer,
    readers: Option<Readers>,
    /// Set when commits are fsynced by the syncer thread; reads wait on it.
    durable: Option<DurablePoint>,
    pub(crate) signals: Signals,
    counters: Arc<Counters>,
    health: Arc<Health>,
    /// This process's ownership of the database file (none in memory).
    _owner: Option<Arc<OwnerLock>>,
}

/// Counters of the writer thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterStats {
    /// Transactions committed (or attempted), each holding one or more write ops.
    pub batches: u64,
    /// Write ops run in those transactions.
    pub ops: u64,
    /// Fsyncs of the WAL made by the syncer thread behind the writer; each covers one
    /// or more transactions. Zero when there is no syncer: with
    /// [`Synchronous::Normal`](crate::Synchronous::Normal) (no fsync per commit), for an
    /// in-memory database, or when the database is not in WAL mode (commits then
    /// fsync inside `COMMIT`).
    pub syncs: u64,
}

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
            Location::File(path) => Some(open::owner(path)?),
            Location::Memory => None,
        };
        let mut conn = open::writer(&location, &options)?;
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
            Location::File(path) if options.readers > 0 => Some(Readers::new(open::readers(
                path,
                options.readers,
                &options,
            )?)),
            _ => None,
        };
        let signals = Signals::new();
        let counters = Arc::new(Counters::default());
        let sync = match (&location, options.synchronous) {
            (Location::File(_), Synchronous::Full) => open::wal_sync(&conn)?,
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

    /// How many transactions the writer committed and how many ops they held.
    pub fn stats(&self) -> WriterStats {
        WriterStats {
            batches: self.counters.batches.load(Ordering::Relaxed),
            ops: self.counters.ops.load(Ordering::Relaxed),
            syncs: self.counters.syncs.load(Ordering::Relaxed),
        }
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

    /// The migration versions recorded in `schema_migrations`, ascending.
    pub async fn applied_migrations(&self) -> StoreResult<Vec<i64>> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT version FROM schema_migrations ORDER BY version")
                .map_err(crate::error::map)?;
            crate::rows::collect(&mut stmt, [], |r| r.get(0).map_err(crate::error::map))
        })
        .await
    }

    /// Runs a write op in the next group-commit batch.
    pub(crate) async fn write<T, F>(&self, op: F) -> StoreResult<T>
    where
        F: Fn(&Connection, &mut Vec<Signal>) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.writer.run(op).await
    }

    /// Runs a read on a reader connection (or through the writer when there is none).
    pub(crate) async fn read<T, F>(&self, read: F) -> StoreResult<T>
    where
        F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        match &self.readers {
            Some(readers) => {
                self.health.check()?;
                let value = readers.run(read).await?;
                if let Some(durable) = &self.durable {
                    durable.settle().await?;
                }
                Ok(value)
            }
            None => self.writer.run(move |conn, _| read(conn)).await,
        }
    }
}

impl SqliteStore {
    /// Whether the store can serve: the writer thread runs, no fsync failed, a read
    /// succeeds, and writes work: after a write failed for lack of space or an I/O
    /// error, a small real write (see [`health::probe`]) must succeed first.
    pub(crate) async fn check_ready(&self) -> StoreResult<()> {
        self.health.check()?;
        if self.health.failing() {
            self.write(|conn, _| health::probe(conn)).await?;
        }
        self.read(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(crate::error::map)
        })
        .await
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
