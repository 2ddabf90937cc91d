//! The core of Zart: domain types, the [`Store`] trait, errors and the clock.
//!
//! This crate owns the vocabulary every other Zart crate speaks. It depends on no
//! database, HTTP or async-runtime crate: backends (`zart-sqlite`, `zart-postgres`)
//! implement [`Store`], and the runtime (`zart`) and the API (`zart-api`) receive an
//! `Arc<dyn Store>`.
//!
//! Key decision: every state change is a *guarded write*. A worker's writes carry a
//! [`LeaseGuard`] (execution id, worker id and fencing token); the store applies the
//! write only while that lease is still the current one, and reports whether it did.

#[macro_use]
mod types;
mod activity;
mod admin;
pub mod admin_plan;
mod clock;
mod error;
mod journal;
mod migrations;
#[cfg(feature = "openapi")]
mod openapi;
mod queue;
mod schedule;
mod store;
mod transaction;

pub use activity::{ActivityBucket, ActivityQuery, MAX_ACTIVITY_BUCKETS};
pub use admin::*;
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::StoreError;
pub use journal::{AttemptWrite, StepHeader, StepSave, StepWrite};
pub use migrations::{AppliedMigration, SchemaMigration, SCHEMA_MIGRATIONS};
pub use queue::*;
pub use schedule::*;
pub use store::*;
pub use transaction::TransactionOutcome;
pub use types::*;

/// Wall-clock instant used throughout Zart (UTC, millisecond precision when stored).
pub type Timestamp = chrono::DateTime<chrono::Utc>;
