//! Mapping driver errors to portable [`StoreError`] kinds, by SQLSTATE code and sqlx
//! error variant, never by message text. Messages never carry SQL: the driver's own
//! message is logged, the returned error names only the SQLSTATE.

use zart_core::StoreError;

/// An error inside the store: a driver error (classified at the boundary, so that
/// deadlocks can be retried first) or an already-classified store error.
#[derive(Debug)]
pub(crate) enum PgError {
    Sql(sqlx::Error),
    Store(StoreError),
}

impl From<sqlx::Error> for PgError {
    fn from(e: sqlx::Error) -> Self {
        PgError::Sql(e)
    }
}

impl From<StoreError> for PgError {
    fn from(e: StoreError) -> Self {
        PgError::Store(e)
    }
}

impl From<PgError> for StoreError {
    fn from(e: PgError) -> Self {
        match e {
            PgError::Sql(e) => map_sqlx(e),
            PgError::Store(e) => e,
        }
    }
}

/// How often a call rolled back by a deadlock or serialization failure is re-run.
const MAX_RETRIES: u32 = 5;

/// Runs `op`, re-running it when PostgreSQL rolled it back to break a deadlock or a
/// serialization conflict (nothing of it was written), then classifies the error.
pub(crate) async fn retrying<T, F, Fut>(mut op: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, PgError>>,
{
    let mut retries = 0;
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(e) if e.is_retryable() && retries < MAX_RETRIES => {
                retries += 1;
                tracing::debug!(retries, "transaction rolled back by the server; retrying");
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Shorthand for corrupt or unexpected stored data.
pub(crate) fn corrupt(what: impl std::fmt::Display) -> PgError {
    PgError::Store(StoreError::Internal(format!(
        "unexpected stored data: {what}"
    )))
}

/// `deadlock_detected` and `serialization_failure`: the transaction was rolled back
/// and may simply be run again.
const RETRYABLE: &[&str] = &["40P01", "40001"];

impl PgError {
    /// Whether the whole call may be re-run at once.
    pub(crate) fn is_retryable(&self) -> bool {
        sqlstate(self).is_some_and(|code| RETRYABLE.contains(&code.as_str()))
    }
}

/// The SQLSTATE of a database error, if it is one.
pub(crate) fn sqlstate(e: &PgError) -> Option<String> {
    match e {
        PgError::Sql(sqlx::Error::Database(db)) => db.code().map(|c| c.into_owned()),
        _ => None,
    }
}

/// Maps a driver error to its portable kind.
pub(crate) fn map_sqlx(e: sqlx::Error) -> StoreError {
    let mapped = map_driver(e);
    if matches!(mapped, StoreError::Unavailable(_)) {
        crate::health::note_connection_error();
    }
    mapped
}

fn map_driver(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            tracing::debug!(sqlstate = %code, message = %db.message(), "database error");
            map_sqlstate(&code)
        }
        sqlx::Error::Io(e) => StoreError::Unavailable(format!("connection error: {e}")),
        sqlx::Error::Tls(e) => StoreError::Unavailable(format!("TLS error: {e}")),
        sqlx::Error::PoolTimedOut => {
            StoreError::Unavailable("timed out waiting for a database connection".into())
        }
        sqlx::Error::PoolClosed => StoreError::Unavailable("connection pool closed".into()),
        sqlx::Error::WorkerCrashed => {
            StoreError::Unavailable("database connection worker crashed".into())
        }
        sqlx::Error::Configuration(e) => {
            StoreError::InvalidInput(format!("invalid connection options: {e}"))
        }
        sqlx::Error::Protocol(e) => {
            tracing::debug!(error = %e, "protocol error");
            StoreError::Unavailable("unexpected message from the database server".into())
        }
        other => StoreError::Internal(format!("database driver error: {other}")),
    }
}

/// Classifies a SQLSTATE code.
pub(crate) fn map_sqlstate(code: &str) -> StoreError {
    let class = code.get(..2).unwrap_or("");
    match code {
        "23505" => StoreError::Conflict("duplicate key (SQLSTATE 23505)".into()),
        // admin_shutdown, crash_shutdown, cannot_connect_now, query_canceled,
        // read_only_sql_transaction (a failover in progress), deadlocks and
        // serialization failures that survived the retries.
        "57P01" | "57P02" | "57P03" | "57014" | "25006" | "40P01" | "40001" => {
            StoreError::Unavailable(format!("database unavailable (SQLSTATE {code})"))
        }
        // connection_exception, insufficient_resources, operator intervention.
        _ if class == "08" || class == "53" || class == "57" => {
            StoreError::Unavailable(format!("database unavailable (SQLSTATE {code})"))
        }
        _ if class == "22" => {
            StoreError::InvalidInput(format!("value rejected by the database (SQLSTATE {code})"))
        }
        _ => StoreError::Internal(format!("database error (SQLSTATE {code})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_map_to_portable_kinds() {
        assert!(matches!(map_sqlstate("23505"), StoreError::Conflict(_)));
        for code in ["57P01", "08006", "08001", "53300", "40P01"] {
            assert!(map_sqlstate(code).is_transient(), "{code}");
        }
        assert!(matches!(map_sqlstate("22P05"), StoreError::InvalidInput(_)));
        assert!(matches!(map_sqlstate("42P01"), StoreError::Internal(_)));
        assert!(matches!(map_sqlstate(""), StoreError::Internal(_)));
    }

    #[test]
    fn pool_and_io_errors_are_unavailable() {
        assert!(map_sqlx(sqlx::Error::PoolTimedOut).is_transient());
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(map_sqlx(sqlx::Error::Io(io)).is_transient());
        assert!(!map_sqlx(sqlx::Error::RowNotFound).is_transient());
    }
}
