//! The PostgreSQL store for Zart: many worker processes on many machines share one
//! database.
//!
//! This crate owns [`PgStore`], an implementation of [`zart_core::Store`] on `sqlx`.
//! It depends on `zart-core` only, never on the runtime or the API.
//!
//! Key decisions:
//! - **Claims** use `FOR UPDATE SKIP LOCKED` over two partial indexes (due unleased
//!   work, expired leases), so concurrent workers never wait on each other's rows.
//! - **Guarded writes** are single statements: the lease guard (`guard.rs`) locks the
//!   execution row (`FOR NO KEY UPDATE`, which writes no row version) only while id,
//!   fence and lease owner match and the lease has not expired, and the write reads
//!   the locked row, so it happens only if the guard held. A step commit is one round
//!   trip.
//! - **Group commit** (on by default): concurrent step saves, execution inserts,
//!   execution finishes and event offers are written together, one statement and one
//!   commit per batch (one `NOTIFY` statement per batch too), each caller answered
//!   after the commit holding its write, so writes/s can exceed the single-commit
//!   rate without weaker durability. A batch locks its execution rows in id order and
//!   checks each write's guard against them; see `group/`. Each of these writes has
//!   one statement, for a batch of one or many, owned by its concept's file
//!   (`journal.rs`, `executions.rs`, `finish.rs`, `events.rs`); with group commit off,
//!   every call is a batch of one.
//! - **Races between waits and wake-ups** (an event offered, a child finishing, while
//!   the execution suspends) are closed by serializing both sides on the execution's
//!   row lock; a pause rule's delete and a suspension on that rule serialize on the
//!   rule's row instead. See `parking.rs`, which also holds the one wake-up fragment
//!   (`Wake`) that a finish, an offer, a cancel and a pause rule's delete use. Rare
//!   deadlocks between a cancel cascade and a child finishing are detected by
//!   PostgreSQL and the call is retried.
//! - **Operator actions** (retry a dead step, restart, selective rerun) lock the
//!   execution's row `FOR UPDATE` before they read anything, so two actions, or an
//!   action and a worker's guarded write, on any number of processes, run one after
//!   the other, and the second sees the first's result; see `actions.rs`. What an
//!   action changes is planned in `zart_core::admin_plan`, shared with SQLite.
//! - **Wake-ups** are `pg_notify` calls inside the writing transaction (they fire on
//!   commit) on a channel per schema, fanned out from one LISTEN connection per store.
//!   They are hints; polling is the truth, and `listen: false` works behind a
//!   transaction-mode pooler.
//! - **Time is the database's.** Hosts' clocks disagree, and leases, guards and due
//!   times compare instants written by all of them, so [`Store::clock`] returns the
//!   server's clock: sampled at connect and every 15 s, extrapolated in between with
//!   the host's monotonic clock (no SQL on the hot path; error within half a
//!   sample's round trip), and the runtime reads every `now` it passes from it. See
//!   `clock.rs`.
//! - **Fail fast while the server is down.** A call that found no connection, or
//!   the LISTEN connection dropping, marks the server down; until a connection is
//!   had again, calls and readiness checks wait at most 750 ms for one instead of
//!   the acquire timeout (5 s). See `health.rs`.
//! - **Schema**: every statement names the configured schema (default `zart`), so
//!   several applications can share a database, and nothing relies on `search_path`.
//! - **Migrations** are embedded and applied on connect in one transaction under an
//!   advisory lock, with the SQLite store's version numbers.
//! - **Transactional steps and enqueue** (`transaction.rs`) run the ordinary step
//!   save or execution insert on the application's own `sqlx` transaction; the step
//!   save's row lock and guard come after the application's closure, so a worker
//!   that lost its lease rolls the application's writes back with it.
//!
//! Behind a transaction-mode pooler (pgbouncer), set [`PgOptions::listen`] to false
//! (LISTEN needs a session) and use pgbouncer 1.21+ with `max_prepared_statements`
//! set, since `sqlx` prepares statements per connection. Crash semantics are PostgreSQL's: a
//! call returns `Ok` only after its transaction committed.
//!
//! ```no_run
//! # async fn demo() -> Result<(), zart_core::StoreError> {
//! use zart_postgres::{PgOptions, PgStore};
//!
//! let store = PgStore::connect("postgres://postgres@localhost/app").await?;
//! let other = PgStore::connect_with(
//!     "postgres://postgres@localhost/app",
//!     PgOptions::default().schema("billing").listen(false),
//! )
//! .await?;
//! # let _ = (store, other);
//! # Ok(())
//! # }
//! ```
//!
//! The files mirror the SQLite store's, one concept each: `store.rs` (the struct
//! and `impl Store`), `guard.rs`, `executions.rs`, `claims.rs`, `parking.rs`,
//! `finish.rs`, `cancel.rs`, `events.rs`, `children.rs`, `journal.rs`, `detail.rs`,
//! `actions.rs` (operator actions), `pauses.rs` (pause rules), `retention.rs`,
//! `rows.rs`, `error.rs`, `migrate.rs`, `options.rs`, `health.rs`, `transaction.rs`;
//! PostgreSQL's own machinery is `group/` (group commit), `listen.rs` (wake-up
//! hints), `clock.rs` (the server's clock) and `pool.rs` (the pool and the schema
//! every statement names).
//!
//! [`Store::clock`]: zart_core::Store::clock

mod actions;
mod activity;
mod cancel;
mod children;
mod claims;
mod clock;
mod detail;
mod error;
mod events;
mod executions;
mod finish;
mod group;
mod guard;
mod health;
mod journal;
mod listen;
mod migrate;
mod options;
mod parking;
mod pauses;
mod pool;
mod queues;
mod retention;
mod rows;
mod schedules;
mod store;
mod transaction;

/// The `sqlx` this store is built on, for the statements of a [`PgTransaction`]
/// (the same version, so its types match).
pub use sqlx;

pub use group::GroupCommitStats;
pub use migrate::migration_versions;
pub use options::{PgOptions, DEFAULT_SCHEMA};
pub use store::PgStore;
pub use transaction::{PgTransaction, TxFuture};
