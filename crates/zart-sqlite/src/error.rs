//! Mapping SQLite errors to portable [`StoreError`] kinds, by result code.
//!
//! Messages name the SQLite code, never the SQL text or the file path.

use std::cell::Cell;

use rusqlite::ErrorCode;
use zart_core::StoreError;

thread_local! {
    /// Set when an error mapped on this thread was a full disk or an I/O error; the
    /// writer thread takes it after each transaction to track its health (see
    /// [`crate::health`]). Ops see only the portable [`StoreError`].
    static IO_FAILED: Cell<bool> = const { Cell::new(false) };
}

/// Whether an I/O error or a full disk was mapped on this thread since the last call.
pub(crate) fn take_io_failure() -> bool {
    IO_FAILED.with(|f| f.replace(false))
}

/// Classifies a rusqlite error by its SQLite result code.
pub(crate) fn map(err: rusqlite::Error) -> StoreError {
    match err {
        rusqlite::Error::SqliteFailure(e, _) => by_code(e.code, e.extended_code),
        rusqlite::Error::QueryReturnedNoRows => StoreError::Internal("sqlite: no rows".into()),
        other => StoreError::Internal(format!("sqlite: {}", describe(&other))),
    }
}

fn by_code(code: ErrorCode, extended: i32) -> StoreError {
    let message = format!("sqlite: {code:?} (code {extended})");
    if matches!(code, ErrorCode::DiskFull | ErrorCode::SystemIoFailure) {
        IO_FAILED.with(|f| f.set(true));
    }
    match code {
        ErrorCode::ConstraintViolation => StoreError::Conflict(message),
        ErrorCode::DatabaseBusy
        | ErrorCode::DatabaseLocked
        | ErrorCode::CannotOpen
        | ErrorCode::SystemIoFailure
        | ErrorCode::DiskFull
        | ErrorCode::ReadOnly
        | ErrorCode::PermissionDenied
        | ErrorCode::FileLockingProtocolFailed => StoreError::Unavailable(message),
        _ => StoreError::Internal(message),
    }
}

/// A short description of a non-SQLite rusqlite error (type conversions and the
/// like), which never carries SQL text.
fn describe(err: &rusqlite::Error) -> String {
    match err {
        rusqlite::Error::InvalidColumnType(index, _, ty) => {
            format!("unexpected type {ty} in column {index}")
        }
        rusqlite::Error::FromSqlConversionFailure(index, ty, _) => {
            format!("cannot convert {ty} in column {index}")
        }
        rusqlite::Error::IntegralValueOutOfRange(index, value) => {
            format!("value {value} out of range in column {index}")
        }
        _ => "unexpected driver error".to_owned(),
    }
}

/// Shorthand for `.map_err(map)` on rusqlite results.
pub(crate) trait SqlResultExt<T> {
    /// Maps the error to a [`StoreError`].
    fn db(self) -> Result<T, StoreError>;
}

impl<T> SqlResultExt<T> for Result<T, rusqlite::Error> {
    fn db(self) -> Result<T, StoreError> {
        self.map_err(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraint_maps_to_conflict_and_busy_to_unavailable() {
        let fail = |code| rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None);
        assert!(matches!(
            map(fail(rusqlite::ffi::SQLITE_CONSTRAINT)),
            StoreError::Conflict(_)
        ));
        assert!(matches!(
            map(fail(rusqlite::ffi::SQLITE_BUSY)),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            map(fail(rusqlite::ffi::SQLITE_CORRUPT)),
            StoreError::Internal(_)
        ));
    }

    #[test]
    fn syntax_errors_do_not_leak_sql() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let err = conn.execute("SELEC secret_column FROM t", []).unwrap_err();
        let mapped = map(err).to_string();
        assert!(!mapped.contains("secret_column"), "{mapped}");
    }
}
