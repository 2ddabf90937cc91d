//! SQLite test support: a database file of one test's own.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

/// A `sqlite://` URL for a file `zart.db` in a new temporary directory, removed (file,
/// WAL and all) when this is dropped. The file itself is created by whoever opens the
/// URL first. Keep it alive as long as a store uses the file: as the guard of a
/// [`TestStore`](crate::TestStore), or beside the store.
#[derive(Debug)]
pub struct SqliteFile {
    dir: TempDir,
    path: PathBuf,
    url: String,
}

impl SqliteFile {
    /// A fresh file name in a fresh directory.
    ///
    /// # Panics
    ///
    /// When no temporary directory can be made.
    pub fn new() -> SqliteFile {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("cannot make a temp dir: {e}"));
        let path = dir.path().join("zart.db");
        let url = format!("sqlite://{}", path.display());
        SqliteFile { dir, path, url }
    }

    /// The URL to open, `sqlite:///tmp/.../zart.db`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The temporary directory holding the file.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Default for SqliteFile {
    fn default() -> Self {
        Self::new()
    }
}
