//! One process owns a SQLite database file: an advisory lock on `<db>.lock`.
//!
//! Why: leases exist so that another process can take over the executions of one
//! that died, which costs a lease time (30 s by default) after a crash. A SQLite file
//! is served by one process, so the process that opens it can instead take every
//! lease left in it at once (see [`crate::claims::release_all`]), if it knows no
//! other process is using the file. The lock makes that true: a second process on
//! the same file fails at open, naming the holder (pid and host are written into
//! the lock file). The lock is an OS advisory lock (`flock`), released by the kernel
//! when the owner exits or is killed, so a stale lock file never blocks a restart.
//! SQLite's `locking_mode = EXCLUSIVE` is no option: it would shut out the store's
//! own reader connections.
//!
//! Within one process, opening the same file again shares the lock: the process is
//! the owner, and only its first open takes over leases.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use zart_core::{StoreError, StoreResult};

/// The held lock; released when the last store of this process on the file is dropped.
#[derive(Debug)]
pub(crate) struct OwnerLock {
    _file: File,
}

/// How [`acquire`] got the lock.
pub(crate) enum Acquired {
    /// This process just became the owner: leases left in the file belong to
    /// processes that are gone.
    New(Arc<OwnerLock>),
    /// Another store of this process already owns the file.
    Shared(Arc<OwnerLock>),
}

impl Acquired {
    /// The lock, however it was acquired.
    pub(crate) fn into_lock(self) -> Arc<OwnerLock> {
        match self {
            Acquired::New(lock) | Acquired::Shared(lock) => lock,
        }
    }
}

/// The locks this process holds, by canonical lock-file path.
static HELD: Mutex<Vec<(PathBuf, Weak<OwnerLock>)>> = Mutex::new(Vec::new());

/// Takes ownership of the database at `db` for this process, or fails with
/// [`StoreError::Unavailable`] naming the process that owns it.
pub(crate) fn acquire(db: &Path) -> StoreResult<Acquired> {
    let mut path = db.as_os_str().to_owned();
    path.push(".lock");
    let path = PathBuf::from(path);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| unavailable(format!("cannot open its lock file: {e}")))?;
    let key = path
        .canonicalize()
        .map_err(|e| unavailable(format!("cannot resolve its lock file: {e}")))?;
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    held.retain(|(_, lock)| lock.strong_count() > 0);
    if let Some(lock) = held
        .iter()
        .find(|(k, _)| *k == key)
        .and_then(|(_, l)| l.upgrade())
    {
        return Ok(Acquired::Shared(lock));
    }
    lock_file(&file)?;
    // Best effort: only the error message of a second process reads it.
    let _ = write_holder(&mut file);
    let lock = Arc::new(OwnerLock { _file: file });
    held.push((key, Arc::downgrade(&lock)));
    Ok(Acquired::New(lock))
}

fn unavailable(why: String) -> StoreError {
    StoreError::Unavailable(format!(
        "cannot take ownership of the SQLite database: {why}"
    ))
}

#[cfg(unix)]
fn lock_file(file: &File) -> StoreResult<()> {
    use rustix::fs::{flock, FlockOperation};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::WOULDBLOCK) => Err(StoreError::Unavailable(format!(
            "the SQLite database is in use by {} (it holds the lock file <database>.lock); \
             a SQLite database is served by one process: stop that one first, or use \
             PostgreSQL to run several",
            holder(file)
        ))),
        Err(e) => Err(unavailable(format!("cannot lock its lock file: {e}"))),
    }
}

/// Platforms without `flock`: no ownership check (documented).
#[cfg(not(unix))]
fn lock_file(_file: &File) -> StoreResult<()> {
    Ok(())
}

/// "process PID on host HOST" as the owner wrote it, or "another process".
fn holder(mut file: &File) -> String {
    let mut text = String::new();
    let read = file
        .rewind()
        .and_then(|()| file.take(256).read_to_string(&mut text));
    match read {
        Ok(_) if text.starts_with("process ") => text.trim().to_owned(),
        _ => "another process".to_owned(),
    }
}

fn write_holder(file: &mut File) -> std::io::Result<()> {
    file.set_len(0)?;
    file.rewind()?;
    writeln!(
        file,
        "process {} on host {}",
        std::process::id(),
        host_name()
    )
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}
