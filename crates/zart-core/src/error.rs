//! Portable store errors.

/// An error from a [`Store`](crate::Store), classified by kind so that callers (the
/// runtime, the HTTP layer) can react without parsing driver messages.
///
/// Backends map driver error *codes* to these kinds. Messages of `Unavailable` and
/// `Internal` are for logs: the HTTP layer never shows them to clients.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or refused the operation temporarily
    /// (connection lost, pool timeout, server shutting down). Retrying later may succeed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The write conflicts with existing state (for example a duplicate key).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The caller passed a value the store cannot accept.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Anything else: a bug, corrupt data, a failed migration.
    #[error("store error: {0}")]
    Internal(String),
}

impl StoreError {
    /// Whether retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}
