//! The embedded SQLite store for Zart: [`SqliteStore`] implements
//! [`zart_core::Store`].
//!
//! ```
//! use std::sync::Arc;
//! use zart_core::Store;
//!
//! let store: Arc<dyn Store> = Arc::new(zart_sqlite::SqliteStore::open("sqlite::memory:")?);
//! assert_eq!(store.backend_name(), "sqlite");
//! # Ok::<(), zart_core::StoreError>(())
//! ```
//!
//! Key decision: **one writer thread with group commit**. SQLite allows one writer at
//! a time; instead of letting connections fight over the lock (and surface
//! `SQLITE_BUSY`), every write is an op sent to one thread that owns the write
//! connection. The thread runs everything queued in one `BEGIN IMMEDIATE ... COMMIT`
//! (with a savepoint per op once an op fails), and answers each caller once the
//! commit is durable: each caller awaits its own durable write, and concurrent writers
//! share one fsync. Reads run on
//! a few read-only connections (WAL mode lets them proceed during writes).
//!
//! The database runs in WAL mode, and by default every write is on disk before its
//! caller is answered. The fsync does not hold up the writer: the write connection
//! commits with `synchronous = NORMAL` and a syncer thread fsyncs the WAL behind it,
//! answering each batch's callers after the fsync that covers it, while the writer
//! already runs the next batch; reads wait until what they saw is durable (see
//! `durable.rs` for why this is as durable as `synchronous = FULL`). Migrations are
//! embedded and applied on open; their version numbers match the PostgreSQL backend.
//!
//! A database file is owned by one process (an advisory lock on `<db>.lock`, see
//! `owner.rs`): a second process fails at open with an error naming the owner, and a
//! process that becomes the owner takes over the leases left in the file, so the
//! executions of a crashed process resume at once. `ping` reports the writer's
//! health (`health.rs`): it fails while writes fail for lack of space or an I/O
//! error, and for good once the writer thread died (reads then fail at once too).
//!
//! **The lease guard is a read, not a row lock** (`guard.rs`): every guarded write
//! checks the fence, the owner and the lease's expiry in the writer's transaction,
//! either as the `WHERE` of its `UPDATE` or as a read before it writes by key. The
//! writer thread is the only writer, so nothing changes the row in between. For the
//! same reason a write that needs values back reads them first and then writes by
//! key, instead of using `RETURNING`, which costs SQLite a temporary table per
//! statement.
//!
//! The files mirror those of `zart-postgres`, concept for concept, so the two folders
//! diff file by file: `store.rs` (the struct and `impl Store`, each method handing
//! its concept's function to the writer or a reader), `guard.rs`, `executions.rs`
//! (insert, get, list, stats), `claims.rs` (claim, next due, lease renewal, and the
//! takeover of every lease at open), `parking.rs` (release, suspend, and the wake-up
//! of a parent parked on a child), `finish.rs`, `cancel.rs` (with its cascade),
//! `events.rs`, `children.rs`, `journal.rs` (step saves, journal load), `detail.rs`
//! (the detail view, the runs list), `retention.rs`, `rows.rs` (column encodings,
//! column lists, row mapping), `error.rs`, `migrate.rs`, `options.rs`, `health.rs`.
//! SQLite-only machinery: `open.rs` (opening the file and the store), `url.rs`,
//! `owner.rs`, `dispatch.rs` (where a call runs), `writer/` (the writer thread: its
//! handle in `mod.rs`, its loop in `batch.rs`, a queued op in `op.rs`), `durable.rs`
//! (the syncer thread), `readers.rs` and `signals.rs`. `transaction.rs` holds the
//! application's own transactions (a transactional step, transactional enqueue):
//! a synchronous closure run *alone* on the writer thread, in a
//! `rusqlite::Transaction` of its own, so no second connection ever contends for
//! SQLite's write lock (the PostgreSQL file of the same name takes the caller's
//! `sqlx` transaction instead).
//!
//! This crate depends on `zart-core` and never on the runtime or HTTP crates.

mod actions;
mod activity;
mod cancel;
mod children;
mod claims;
mod detail;
mod dispatch;
mod durable;
mod error;
mod events;
mod executions;
mod finish;
mod guard;
mod health;
mod journal;
mod migrate;
mod open;
mod options;
mod owner;
mod parking;
mod pauses;
mod queues;
mod readers;
mod retention;
mod rows;
mod schedules;
mod signals;
mod store;
mod transaction;
mod url;
mod writer;

/// The `rusqlite` this store is built on, for the statements of a
/// [`SqliteTransaction`] (the same version, so its types match).
pub use rusqlite;

pub use migrate::migration_versions;
pub use options::{SqliteOptions, Synchronous};
pub use store::SqliteStore;
pub use transaction::SqliteTransaction;
pub use writer::WriterStats;
