//! SIGKILL around the commit of transactional steps: a worker in a child process
//! runs executions whose steps each insert a row into a user table inside
//! `ctx.sqlite_transaction`, and is killed again and again just before or just
//! after such a commit. After the last kill a worker in this process finishes
//! everything, and the user table holds exactly one row per step of every
//! execution: a killed attempt left neither its row nor its journal entry, a
//! committed one both, and a replay never ran a committed closure again.
//!
//! The same runs on PostgreSQL (`postgres::`), where the dead child's leases expire
//! before the next worker takes its executions over.
//!
//! The child is this test binary re-executed with `ZART_TX_CRASH_CHILD=1`, running
//! `tx_crash_child_worker` (a no-op in a normal run). Its closures print a marker
//! line just before they return, that is just before the commit; the parent kills
//! the child at once while the child lingers in the closure (so the kill lands
//! before the commit), or a while later (after it). A SQLite file is owned by one
//! process at a time, so the parent closes the database while a child runs.

mod common;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::json;
use zart::core::{ExecutionStatus, Store};
use zart::prelude::*;
use zart::sqlite::SqliteStore;

const EXECUTIONS: usize = 4;
const STEPS: i64 = 5;
/// Kills in all; half before a commit, half after one.
const KILLS: usize = 6;
const MARK: &str = "zart-tx-before-commit";
/// How long a child's closure lingers after its marker, so that an immediate kill
/// lands before the commit.
const LINGER: Duration = Duration::from_millis(40);
/// How long the parent waits after a marker before an "after the commit" kill.
const AFTER: Duration = Duration::from_millis(150);

/// `ledger`: `STEPS` transactional steps, each inserting `(execution, n)`.
fn engine(store: Arc<dyn Store>, linger: Duration, runs: Counter) -> Zart {
    Zart::builder(store)
        .task("ledger", move |ctx: Ctx, _: serde_json::Value| {
            let runs = runs.clone();
            async move {
                for n in 0..STEPS {
                    let (id, runs) = (ctx.execution_id().to_owned(), runs.clone());
                    ctx.sqlite_transaction("entry", move |tx| {
                        tx.execute(
                            "INSERT INTO ledger (execution_id, n) VALUES (?1, ?2)",
                            zart::sqlite::rusqlite::params![id, n],
                        )?;
                        runs.bump();
                        println!("{MARK}");
                        std::thread::sleep(linger);
                        Ok(n)
                    })
                    .await?;
                }
                Ok(STEPS)
            }
        })
        .build()
}

fn sqlite(store: &Arc<dyn Store>) -> &SqliteStore {
    store
        .as_any()
        .and_then(|any| any.downcast_ref::<SqliteStore>())
        .expect("a SQLite store")
}

#[test]
fn tx_crash_child_worker() {
    if std::env::var("ZART_TX_CRASH_CHILD").is_err() {
        return;
    }
    let url = std::env::var("ZART_TX_CRASH_DB").expect("ZART_TX_CRASH_DB");
    let schema = std::env::var("ZART_TX_CRASH_SCHEMA").ok();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async move {
        let store = zart::connect(&url).await.expect("open the store");
        let (zart, config) = match schema {
            #[cfg(feature = "postgres")]
            Some(schema) => (
                postgres::engine(store, schema, LINGER, Counter::default()),
                // The killed child's leases expire quickly for the next one.
                fast().concurrency(2).lease_duration(postgres::LEASE),
            ),
            _ => (
                engine(store, LINGER, Counter::default()),
                fast().concurrency(2),
            ),
        };
        let _worker = zart.start_worker(config);
        std::future::pending::<()>().await;
    });
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs a child worker on `url` and kills it at its `marks`-th marker, at once or
/// `AFTER` later; returns how many markers it printed in all (attempts that
/// reached their commit), or `None` if it printed fewer than `marks` in time.
/// `schema`: the PostgreSQL schema holding the ledger (`None` on SQLite).
fn run_and_kill(
    url: &str,
    schema: Option<&str>,
    marks: usize,
    delay: Option<Duration>,
) -> Option<usize> {
    let mut command = Command::new(std::env::current_exe().expect("test binary"));
    command
        .args([
            "--exact",
            "tx_crash_child_worker",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ZART_TX_CRASH_CHILD", "1")
        .env("ZART_TX_CRASH_DB", url)
        .stdout(Stdio::piped());
    if let Some(schema) = schema {
        command.env("ZART_TX_CRASH_SCHEMA", schema);
    }
    let child = command.spawn().expect("spawn the child worker");
    let mut child = KillOnDrop(child);
    let stdout = child.0.stdout.take().expect("the child's stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            match line {
                // The harness's `test ... ` may precede the first marker on its line.
                Ok(line) if line.ends_with(MARK) => {
                    if tx.send(()).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    let mut seen = 0;
    while seen < marks {
        match rx.recv_timeout(WAIT) {
            Ok(()) => seen += 1,
            Err(_) => break,
        }
    }
    let reached = seen == marks;
    if reached {
        if let Some(delay) = delay {
            std::thread::sleep(delay);
        }
    }
    // SIGKILL: no chance to roll back, release a lease or finish a commit.
    child.0.kill().expect("kill the child");
    child.0.wait().expect("reap the child");
    reader.join().expect("the reader thread");
    reached.then(|| seen + rx.try_iter().count())
}

#[tokio::test]
async fn sigkill_around_transactional_commits_leaves_one_user_row_per_step() {
    let Db { store, file } = db().await;
    let url = file.url().to_owned();
    sqlite(&store)
        .transaction(|tx| {
            // No unique key: a duplicate row would show, not be refused.
            let sql = "CREATE TABLE ledger (execution_id TEXT NOT NULL, n INTEGER NOT NULL)";
            Ok::<_, TaskError>(tx.execute_batch(sql)?)
        })
        .await
        .unwrap();
    let mut ids = Vec::new();
    {
        let client = engine(store, Duration::ZERO, Counter::default()).client();
        for _ in 0..EXECUTIONS {
            ids.push(start(&client, "ledger", json!(null)).await);
        }
    }
    // Every store handle is gone: the child may own the file.

    let (attempts, before) = kill_repeatedly(&url, None).await;

    let store = zart::connect(&url).await.expect("reopen after the kills");
    let runs = Counter::default();
    let zart = engine(store.clone(), Duration::ZERO, runs.clone());
    let client = zart.client();
    let worker = zart.start_worker(fast());
    for id in &ids {
        let done = finish(&client, id).await;
        assert_eq!(done.status, ExecutionStatus::Completed, "{id}: {done:?}");
        assert_eq!(done.result, Some(json!(STEPS)));
    }
    worker.shutdown(Duration::from_secs(5)).await;

    let rows: Vec<(String, i64, i64)> = sqlite(&store)
        .transaction(|tx| {
            let mut stmt = tx.prepare(
                "SELECT execution_id, n, count(*) FROM ledger GROUP BY execution_id, n \
                 ORDER BY execution_id, n",
            )?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, TaskError>(rows)
        })
        .await
        .unwrap();
    assert_eq!(
        rows,
        one_row_per_step(&ids),
        "not exactly one ledger row per step"
    );
    check_attempts(attempts + runs.get() as usize, before);
    check_journals(&store, &ids).await;
}

/// Runs `KILLS` child workers on `url` one after the other, killing each at a
/// marker: at once (before the commit) in even rounds, `AFTER` later (after it) in
/// odd ones. Returns the markers printed and the kills made before a commit.
async fn kill_repeatedly(url: &str, schema: Option<&str>) -> (usize, usize) {
    let (mut attempts, mut before) = (0, 0);
    for round in 0..KILLS {
        let kill_before = round % 2 == 0;
        let delay = (!kill_before).then_some(AFTER);
        let marks = 1 + round % 3;
        let (url, schema) = (url.to_owned(), schema.map(str::to_owned));
        let printed = tokio::task::spawn_blocking(move || {
            run_and_kill(&url, schema.as_deref(), marks, delay)
        })
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("round {round}: the child made no progress"));
        attempts += printed;
        before += usize::from(kill_before);
    }
    (attempts, before)
}

/// Each kill before a commit threw away an attempt that had written its row (and
/// the rows are one per step all the same): `total` attempts cover every step and
/// every such kill.
fn check_attempts(total: usize, before: usize) {
    let steps = EXECUTIONS * STEPS as usize;
    assert!(
        total >= steps + before,
        "{total} attempts for {steps} steps and {before} kills before a commit"
    );
}

/// Every execution journaled each of its steps once.
async fn check_journals(store: &Arc<dyn Store>, ids: &[String]) {
    for id in ids {
        let journal = store.journal_load(id, 1).await.unwrap();
        assert_eq!(journal.len(), STEPS as usize, "{id}");
    }
}

/// The ledger rows expected: one per step of every execution, sorted.
fn one_row_per_step(ids: &[String]) -> Vec<(String, i64, i64)> {
    let mut expected: Vec<(String, i64, i64)> = ids
        .iter()
        .flat_map(|id| (0..STEPS).map(move |n| (id.clone(), n, 1)))
        .collect();
    expected.sort();
    expected
}

#[cfg(feature = "postgres")]
mod postgres {
    //! The same on PostgreSQL: the ledger is a table of the test schema, and each
    //! killed child's leases expire (after [`LEASE`]) before the next child, or the
    //! final worker, takes its executions over.

    use super::*;
    use zart::postgres::{sqlx, PgStore};

    /// The child workers' lease.
    pub(super) const LEASE: Duration = Duration::from_secs(1);

    /// `ledger` on PostgreSQL: `STEPS` transactional steps, each inserting
    /// `(execution, n)` into `schema.ledger`.
    pub(super) fn engine(
        store: Arc<dyn Store>,
        schema: String,
        linger: Duration,
        runs: Counter,
    ) -> Zart {
        let insert = format!("INSERT INTO \"{schema}\".ledger (execution_id, n) VALUES ($1, $2)");
        Zart::builder(store)
            .task("ledger", move |ctx: Ctx, _: serde_json::Value| {
                let (runs, insert) = (runs.clone(), insert.clone());
                async move {
                    for n in 0..STEPS {
                        let id = ctx.execution_id().to_owned();
                        ctx.transaction("entry", |tx| {
                            let (id, runs, insert) = (id.clone(), runs.clone(), insert.clone());
                            Box::pin(async move {
                                sqlx::query(&insert)
                                    .bind(id)
                                    .bind(n)
                                    .execute(&mut **tx)
                                    .await?;
                                runs.bump();
                                println!("{MARK}");
                                tokio::time::sleep(linger).await;
                                Ok(n)
                            })
                        })
                        .await?;
                    }
                    Ok(STEPS)
                }
            })
            .build()
    }

    #[tokio::test]
    async fn pg_sigkill_around_transactional_commits_leaves_one_user_row_per_step() {
        let Some(db) = pg("tx_crash").await else {
            return;
        };
        let schema = db.schema.name().to_owned();
        let pool = db
            .store
            .as_any()
            .and_then(|any| any.downcast_ref::<PgStore>())
            .expect("a PostgreSQL store")
            .pool()
            .clone();
        // No unique key: a duplicate row would show, not be refused.
        let create = format!(
            "CREATE TABLE \"{schema}\".ledger (execution_id TEXT NOT NULL, n BIGINT NOT NULL)"
        );
        sqlx::query(&create).execute(&pool).await.unwrap();
        let client = engine(
            db.store.clone(),
            schema.clone(),
            Duration::ZERO,
            Counter::default(),
        )
        .client();
        let mut ids = Vec::new();
        for _ in 0..EXECUTIONS {
            ids.push(start(&client, "ledger", json!(null)).await);
        }

        let (attempts, before) = kill_repeatedly(&db.schema.schema_url(), Some(&schema)).await;

        let runs = Counter::default();
        let zart = engine(
            db.store.clone(),
            schema.clone(),
            Duration::ZERO,
            runs.clone(),
        );
        let worker = zart.start_worker(fast());
        for id in &ids {
            let done = finish(&client, id).await;
            assert_eq!(done.status, ExecutionStatus::Completed, "{id}: {done:?}");
        }
        worker.shutdown(Duration::from_secs(5)).await;
        let select = format!(
            "SELECT execution_id, n, count(*) FROM \"{schema}\".ledger \
             GROUP BY execution_id, n ORDER BY execution_id, n"
        );
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(&select).fetch_all(&pool).await.unwrap();
        assert_eq!(
            rows,
            one_row_per_step(&ids),
            "not exactly one ledger row per step"
        );
        check_attempts(attempts + runs.get() as usize, before);
        check_journals(&db.store, &ids).await;
    }
}
