//! The benchmark's error type.

use zart::ClientError;
use zart_core::StoreError;

/// Why a benchmark run failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The arguments cannot be used together, or name an unusable database.
    #[error("{0}")]
    Usage(String),
    /// The store failed.
    #[error("store error: {0}")]
    Store(#[from] StoreError),
    /// A client call failed.
    #[error("client error: {0}")]
    Client(#[from] ClientError),
    /// The SQLite baseline failed.
    #[error("SQLite baseline: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The PostgreSQL baseline or setup failed.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] sqlx::Error),
    /// The HTTP scenario failed.
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    /// A file or socket failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The engine did something the benchmark did not expect (an execution failed,
    /// or did not finish in time).
    #[error("{0}")]
    Unexpected(String),
}

/// The benchmark's result type.
pub type BenchResult<T> = Result<T, BenchError>;
