//! The conformance suite every Zart [`Store`](zart_core::Store) must pass.
//!
//! Each behaviour of the store contract is one public async function taking a fresh,
//! empty store (`Arc<dyn Store>`) and panicking on failure. The functions are grouped
//! by area: [`executions`], [`claims`], [`leases`], [`parking`], [`steps`], [`events`],
//! [`children`], [`listing`], [`retention`], [`signals`], [`concurrency`],
//! [`concurrent_writes`], [`races`], [`cancellation`], [`migrations`], and the
//! operator's: [`actions`] (step retry), [`reruns`] (restart, selective rerun),
//! [`action_races`], [`pauses`] (pause rules), [`schedules`]. The randomized
//! [`model`] test drives the same contract with random interleavings.
//!
//! A backend instantiates all of them as named tests with [`conformance_suite!`]:
//!
//! ```ignore
//! // crates/zart-mystore/tests/conformance.rs
//! zart_store_tests::conformance_suite!(|| async {
//!     let dir = tempfile::tempdir().unwrap();
//!     let store = MyStore::open(dir.path()).await.unwrap();
//!     // The guard (here the temp dir) lives until the test ends.
//!     Some(zart_store_tests::TestStore::with_guard(std::sync::Arc::new(store), dir))
//! });
//! ```
//!
//! which yields tests such as `conformance::claim_skips_executions_leased_by_others`.
//! A factory returning `None` means the backend is not available: each test prints a
//! notice and passes without running.
//!
//! Key decision: tests never read the wall clock. Every timestamp is a fixed base
//! instant plus an offset ([`support::at`]), and lease expiry is tested by passing a
//! later `now`. This crate depends only on `zart-core`, never on a backend.
//!
//! It is also the one home of the test scaffolding every crate's tests share: the
//! skip notice ([`skip_notice`]), a SQLite file per test ([`sqlite::SqliteFile`]), and,
//! with the `postgres` feature, the test database's URL and a fresh schema per test
//! that a failing test keeps for inspection (the `postgres` module).

pub mod action_races;
pub mod actions;
pub mod cancellation;
pub mod children;
pub mod claims;
pub mod concurrency;
pub mod concurrent_writes;
pub mod deduplication;
pub mod events;
pub mod executions;
pub mod inbox;
pub mod leases;
pub mod listing;
mod macros;
pub mod migrations;
pub mod model;
pub mod parent_close;
pub mod parking;
pub mod pauses;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod queues;
pub mod races;
pub mod reruns;
pub mod retention;
pub mod schedules;
pub mod signals;
pub mod sqlite;
pub mod steps;
pub mod support;

mod harness;
mod skip;

pub use harness::{run_conformance_test, TestStore};
pub use skip::{current_test, skip_notice};

/// The same function as [`postgres::database_url`], under the name that
/// `crates/zart/src/worker/tests.rs` still calls.
#[cfg(feature = "postgres")]
pub use postgres::database_url as postgres_url;
