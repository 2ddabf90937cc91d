//! What a transactional step's store call did: the vocabulary both backends' own
//! transaction APIs answer with (the transaction itself is a driver type, so those
//! APIs live in the backend crates, reached through [`Store::as_any`]).
//!
//! [`Store::as_any`]: crate::Store::as_any

/// What running an application's closure and a step save in one database
/// transaction did. Only [`TransactionOutcome::Committed`] wrote anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransactionOutcome<T, E> {
    /// The closure's writes and the step save committed together; the closure's
    /// value.
    Committed(T),
    /// The closure failed with this error: the transaction was rolled back and no
    /// step save was written.
    Failed(E),
    /// The lease guard no longer held when the step save was written: the
    /// transaction, the closure's writes included, was rolled back.
    LeaseLost,
}
