//! Tuning knobs of [`SqliteStore`](crate::SqliteStore).

use std::time::Duration;

/// The `synchronous` pragma of the write connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// Every commit is fsynced before it is acknowledged (the default): a committed
    /// write survives power loss. In WAL mode the fsync runs on a syncer thread while
    /// the writer commits the next batch.
    #[default]
    Full,
    /// In WAL mode, commits are fsynced at checkpoints only: a committed write
    /// survives a process crash but may be lost on power loss. Faster.
    Normal,
}

impl Synchronous {
    pub(crate) fn pragma_value(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

/// Options of [`SqliteStore::open_with`](crate::SqliteStore::open_with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Durability of each commit. Default [`Synchronous::Full`].
    pub synchronous: Synchronous,
    /// Read-only connections serving reads next to the writer (default 4). With 0,
    /// or for an in-memory database, reads go through the writer.
    pub readers: usize,
    /// The most write ops committed in one transaction (default 512).
    pub max_batch: usize,
    /// How long a connection waits for a lock held by another process (default 5 s).
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Full,
            readers: 4,
            max_batch: 512,
            busy_timeout: Duration::from_secs(5),
        }
    }
}
