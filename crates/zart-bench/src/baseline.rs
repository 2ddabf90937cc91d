//! The physical limit: single-row insert transactions of a small JSON row, each its
//! own durable commit, with the same driver, durability settings and concurrency as
//! the engine.
//!
//! - **SQLite**: one connection opened like the store's writer (WAL,
//!   `synchronous = FULL`, same busy timeout), owned by one thread, because SQLite has
//!   one writer. `concurrency` tasks each send an insert to that thread and await its
//!   answer; the thread runs each insert as its own autocommit transaction (one WAL
//!   fsync per insert). This is the best a one-transaction-per-write design can do on
//!   SQLite: the writer is never idle while a task waits.
//! - **PostgreSQL**: a sqlx pool of the store's size; `concurrency` tasks each run
//!   `INSERT` in autocommit (`synchronous_commit` as the server has it), so the server
//!   may flush several commits with one WAL write, as it does for the engine.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use tokio::sync::{mpsc, oneshot};
use zart_sqlite::SqliteOptions;

use crate::database::{BenchDb, Target};
use crate::error::{BenchError, BenchResult};

/// Commits counted over a wall time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CommitRate {
    /// Committed inserts.
    pub commits: u64,
    /// The time they took.
    pub elapsed: Duration,
}

impl CommitRate {
    /// Commits per second.
    pub fn per_sec(&self) -> f64 {
        self.commits as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Both measurements together.
    pub fn merge(self, other: CommitRate) -> CommitRate {
        CommitRate {
            commits: self.commits + other.commits,
            elapsed: self.elapsed + other.elapsed,
        }
    }
}

/// Creates the scratch table the baseline inserts into (once per run).
pub async fn prepare(db: &BenchDb) -> BenchResult<()> {
    match &db.target {
        Target::Sqlite { path, .. } => {
            let conn = open_sqlite(path)?;
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS bench_baseline \
                 (id INTEGER PRIMARY KEY, body TEXT NOT NULL)",
            )?;
            Ok(())
        }
        Target::Postgres { url, schema, .. } => {
            let pool = PgPoolOptions::new().max_connections(1).connect(url).await?;
            sqlx::query(&format!(
                "CREATE TABLE IF NOT EXISTS {schema}.bench_baseline \
                 (id BIGSERIAL PRIMARY KEY, body JSONB NOT NULL)"
            ))
            .execute(&pool)
            .await?;
            pool.close().await;
            Ok(())
        }
    }
}

/// Runs single-row insert transactions from `concurrency` tasks for `duration`.
pub async fn measure(
    db: &BenchDb,
    concurrency: u32,
    duration: Duration,
) -> BenchResult<CommitRate> {
    match &db.target {
        Target::Sqlite { path, .. } => sqlite(path, concurrency, duration).await,
        Target::Postgres {
            url,
            schema,
            pool_size,
            ..
        } => postgres(url, schema, *pool_size, concurrency, duration).await,
    }
}

fn open_sqlite(path: &Path) -> BenchResult<rusqlite::Connection> {
    let options = SqliteOptions::default();
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(options.busy_timeout)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(BenchError::Unexpected(format!(
            "SQLite refused WAL mode (journal_mode = {mode})"
        )));
    }
    conn.execute_batch("PRAGMA synchronous = FULL;")?;
    Ok(conn)
}

type Insert = oneshot::Sender<rusqlite::Result<()>>;

async fn sqlite(path: &Path, concurrency: u32, duration: Duration) -> BenchResult<CommitRate> {
    let conn = open_sqlite(path)?;
    let (tx, mut rx) = mpsc::channel::<Insert>(concurrency as usize);
    let writer = std::thread::spawn(move || {
        let body = json!({"kind": "baseline", "value": 42}).to_string();
        while let Some(reply) = rx.blocking_recv() {
            let done = conn
                .prepare_cached("INSERT INTO bench_baseline (body) VALUES (?1)")
                .and_then(|mut stmt| stmt.execute([&body]))
                .map(|_| ());
            let _ = reply.send(done);
        }
    });
    let rate = drive(concurrency, duration, move || {
        let tx = tx.clone();
        async move {
            let (reply, answer) = oneshot::channel();
            tx.send(reply)
                .await
                .map_err(|_| BenchError::Unexpected("the baseline writer stopped".into()))?;
            answer
                .await
                .map_err(|_| BenchError::Unexpected("the baseline writer stopped".into()))??;
            Ok(())
        }
    })
    .await;
    // All senders are gone once `drive` returns, so the writer thread ends.
    writer
        .join()
        .map_err(|_| BenchError::Unexpected("the baseline writer panicked".into()))?;
    rate
}

async fn postgres(
    url: &str,
    schema: &str,
    pool_size: u32,
    concurrency: u32,
    duration: Duration,
) -> BenchResult<CommitRate> {
    let pool = PgPoolOptions::new()
        .max_connections(pool_size)
        .connect(url)
        .await?;
    let sql: Arc<str> = format!("INSERT INTO {schema}.bench_baseline (body) VALUES ($1)").into();
    let body = json!({"kind": "baseline", "value": 42});
    let pool_for_tasks = pool.clone();
    let rate = drive(concurrency, duration, move || {
        let (pool, sql, body) = (pool_for_tasks.clone(), Arc::clone(&sql), body.clone());
        async move {
            sqlx::query(&sql).bind(body).execute(&pool).await?;
            Ok(())
        }
    })
    .await;
    pool.close().await;
    rate
}

/// Runs `insert` in a loop from `concurrency` tasks until `duration` has passed, and
/// counts the inserts that committed.
async fn drive<F, Fut>(concurrency: u32, duration: Duration, insert: F) -> BenchResult<CommitRate>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = BenchResult<()>> + Send,
{
    let commits = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (insert, commits) = (insert.clone(), Arc::clone(&commits));
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    insert().await?;
                    commits.fetch_add(1, Ordering::Relaxed);
                }
                Ok::<(), BenchError>(())
            })
        })
        .collect();
    drop(insert);
    for task in tasks {
        task.await
            .map_err(|e| BenchError::Unexpected(format!("a baseline task failed: {e}")))??;
    }
    Ok(CommitRate {
        commits: commits.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
    })
}
