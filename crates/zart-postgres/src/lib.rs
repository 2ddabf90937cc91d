//! The PostgreSQL store for Zart: many worker processes on many machines share one
//! database.
//!
//! This crate owns [`PgStore`], an implementation of [`zart_core::Store`] on `sqlx`.
//!
//! [`Store::clock`]: zart_core::Store::clock
//! It depends on `zart-core` only, never on the runtime or the API.
//!
//! Key decisions:
//! - **Claims** use `FOR UPDATE SKIP LOCKED` over two partial indexes (due unleased
//!   work, expired leases), so concurrent workers never wait on each other's rows.
//! - **Guarded writes** are single statements: a CTE `UPDATE executions ... WHERE
//!   id, fence, lease_owner match AND lease_expires_at > now` followed by the write,
//!   which happens only if the guard returned a row. A step commit is one round trip.
//! - **Group commit** (on by default): concurrent step saves, execution inserts and
//!   execution finishes are written together, one statement and one commit per
//!   batch (one `NOTIFY` statement per batch too), each caller answered after the
//!   commit holding its write, so writes/s can exceed the single-commit rate without
//!   weaker durability. A batch locks its execution rows in id order and checks each save's
//!   guard against them; see `batch.rs`.
//! - **Races between waits and wake-ups** (an event offered, a child finishing, while
//!   the execution suspends) are closed by serializing both sides on the execution's
//!   row lock; see `parking.rs`. Rare deadlocks between a cancel cascade and a child
//!   finishing are detected by PostgreSQL and the call is retried.
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

mod batch;
mod cancel;
mod children;
mod claims;
mod clock;
mod db;
mod detail;
mod errors;
mod events;
mod executions;
mod finish;
mod finish_many;
mod group;
mod health;
mod insert_many;
mod listen;
mod migrate;
mod offers_many;
mod options;
mod parking;
mod retention;
mod rows;
mod steps;
mod steps_many;
mod store;

use std::future::Future;
use std::sync::Arc;

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use zart_core::{Signal, StoreError, StoreResult};

use crate::clock::DbClock;
use crate::db::Db;
use crate::errors::PgError;
use crate::health::Health;

pub use batch::GroupCommitStats;
pub use migrate::migration_versions;
pub use options::{PgOptions, DEFAULT_SCHEMA};

/// A [`Store`](zart_core::Store) on PostgreSQL. Cheap to clone: clones share the
/// pool and the listener.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: Arc<Db>,
    batcher: Option<batch::Batcher>,
    signals: broadcast::Sender<Signal>,
    listener: Option<JoinHandle<()>>,
    health: Arc<Health>,
    clock: Arc<DbClock>,
    resampler: JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(listener) = &self.listener {
            listener.abort();
        }
        self.resampler.abort();
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.inner.db.schema())
            .field("listen", &self.inner.listener.is_some())
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects with [`PgOptions::from_url`]: default options, except that the URL's
    /// `schema`, `listen` and `max_connections` query parameters
    /// (`postgres://host/db?schema=billing&listen=false&max_connections=4`) apply.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        Self::connect_with(url, PgOptions::from_url(url)?).await
    }

    /// Connects, creates the schema if absent, applies pending migrations and, with
    /// [`PgOptions::listen`], starts listening for wake-ups.
    pub async fn connect_with(url: &str, options: PgOptions) -> Result<PgStore, StoreError> {
        let (connect, schema) = options::resolve(url, &options)?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .test_before_acquire(true)
            .connect_with(connect.clone())
            .await
            .map_err(errors::map_sqlx)?;
        let db = Arc::new(Db::new(pool, schema));
        migrate::run(&db).await?;
        let clock = DbClock::connect(&db.pool).await?;
        let resampler = clock::resample(&clock, db.pool.clone());
        let health = Arc::new(Health::default());
        let batcher = options
            .group_commit
            .then(|| batch::Batcher::start(db.clone(), group_commit_writers(&options)));
        let (signals, _) = broadcast::channel(listen::CAPACITY);
        let listener = if options.listen {
            let channel = db.channel().to_owned();
            let hints = listen::Hints {
                tx: signals.clone(),
                health: health.clone(),
            };
            Some(listen::start(connect, options.acquire_timeout, channel, hints).await?)
        } else {
            None
        };
        Ok(PgStore {
            inner: Arc::new(Inner {
                db,
                batcher,
                signals,
                listener,
                health,
                clock,
                resampler,
            }),
        })
    }

    /// The connection pool, for applications that want to run their own statements
    /// on the same database.
    pub fn pool(&self) -> &PgPool {
        &self.inner.db.pool
    }

    /// How many step saves, execution inserts and execution finishes the group
    /// commit wrote in how many commits, or `None` when [`PgOptions::group_commit`]
    /// is off.
    pub fn group_commit_stats(&self) -> Option<GroupCommitStats> {
        self.inner.batcher.as_ref().map(batch::Batcher::stats)
    }

    /// The schema holding this store's tables.
    pub fn schema(&self) -> &str {
        self.inner.db.schema()
    }

    fn db(&self) -> &Db {
        &self.inner.db
    }

    /// Runs `op`, retrying deadlocks and serialization failures; fails fast while
    /// the server is down (see `health`).
    async fn run<T, F, Fut>(&self, op: F) -> StoreResult<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, PgError>>,
    {
        self.checked(errors::retrying(op)).await
    }

    /// Runs `call` (a store call already classified), failing fast while the server
    /// is down.
    async fn checked<T>(&self, call: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        self.inner.health.guard(&self.db().pool, call).await
    }

    /// Without a LISTEN connection, the store's own writes still wake its own
    /// subscribers (the runtime in this process); with one, NOTIFY does it.
    fn signal_locally(&self, signal: Signal) {
        if self.inner.listener.is_none() {
            let _ = self.inner.signals.send(signal);
        }
    }
}

/// Group commit writers: each holds a connection while it writes, so they take a
/// quarter of the pool and leave the rest to claims, reads and other writes. Fewer
/// writers make larger batches: with a pool of 10 on a 2-core server, 2 writers
/// carried more steps per second than 3 (1.53 against 1.38–1.45 steps per baseline
/// commit, alternated), and 1 no more than 2.
fn group_commit_writers(options: &PgOptions) -> usize {
    (options.max_connections / 4).max(1) as usize
}

/// `PgStore::connect_with` must stay spawnable: its future is `Send + 'static`
/// whenever its arguments are.
#[cfg(test)]
fn _connect_future_is_send(url: &'static str) {
    fn assert_send<T: Send + 'static>(_: T) {}
    assert_send(PgStore::connect_with(url, PgOptions::default()));
}
