//! Scale-out on PostgreSQL with real processes: three worker processes share one
//! database and run 500 multi-step executions; one is killed with SIGKILL midway.
//! Every execution completes, every completed step is committed exactly once (an
//! audit trigger counts the commits), and no execution ever runs on two workers at
//! once (each step logs its start and end, and the intervals never overlap).
//!
//! The worker processes are this test binary re-executed with `ZART_SCALE_CHILD=1`.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Row};
use zart::core::Store;
use zart::prelude::*;
use zart_postgres::{PgOptions, PgStore};

const EXECUTIONS: usize = 500;
const STEPS: u32 = 4;

use zart_store_tests::postgres::FreshSchema;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn engine(store: Arc<dyn Store>, log: PgPool, schema: String, worker: String) -> Zart {
    Zart::builder(store)
        .task("scale", move |ctx: Ctx, _: serde_json::Value| {
            let (log, schema, worker) = (log.clone(), schema.clone(), worker.clone());
            async move {
                for _ in 0..STEPS {
                    let (log, schema, worker) = (log.clone(), schema.clone(), worker.clone());
                    let id = ctx.execution_id().to_owned();
                    ctx.step("work", || {
                        let (log, schema, worker, id) = (log.clone(), schema.clone(), worker.clone(), id.clone());
                        async move {
                            let sql = format!("INSERT INTO \"{schema}\".effects (execution_id, worker, phase, at) VALUES ($1, $2, $3, $4)");
                            sqlx::query(&sql).bind(&id).bind(&worker).bind("start").bind(now_ms()).execute(&log).await?;
                            tokio::time::sleep(Duration::from_millis(5)).await;
                            sqlx::query(&sql).bind(&id).bind(&worker).bind("end").bind(now_ms()).execute(&log).await?;
                            Ok(())
                        }
                    })
                    .await?;
                }
                Ok(STEPS)
            }
        })
        .build()
}

async fn open(url: &str, schema: &str) -> (Arc<dyn Store>, PgPool) {
    let store = PgStore::connect_with(url, PgOptions::default().schema(schema))
        .await
        .expect("connect store");
    let log = PgPoolOptions::new()
        .max_connections(8)
        .connect(url)
        .await
        .expect("connect log pool");
    (Arc::new(store), log)
}

#[test]
fn scale_child_worker() {
    if std::env::var("ZART_SCALE_CHILD").is_err() {
        return;
    }
    let url = std::env::var("ZART_SCALE_URL").unwrap();
    let schema = std::env::var("ZART_SCALE_SCHEMA").unwrap();
    let worker = std::env::var("ZART_SCALE_WORKER").unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let (store, log) = open(&url, &schema).await;
        let zart = engine(store, log, schema, worker.clone());
        let config = WorkerConfig::default()
            .concurrency(16)
            .lease_duration(Duration::from_secs(2))
            .poll_interval(Duration::from_millis(200))
            .worker_id(worker);
        let _worker = zart.start_worker(config);
        std::future::pending::<()>().await;
    });
}

struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_worker_processes_one_killed_every_step_committed_once_never_concurrent() {
    let Some(fresh) = FreshSchema::new("scale") else {
        return;
    };
    let (url, schema) = (fresh.database_url().to_owned(), fresh.name().to_owned());
    let (store, log) = open(&url, &schema).await;
    let setup = format!(
        r#"CREATE TABLE "{s}".effects (execution_id TEXT NOT NULL, worker TEXT NOT NULL, phase TEXT NOT NULL, at BIGINT NOT NULL, seq BIGSERIAL);
           CREATE TABLE "{s}".step_commits (execution_id TEXT NOT NULL, run_index INT NOT NULL, name TEXT NOT NULL, occurrence INT NOT NULL);
           CREATE FUNCTION "{s}".audit_step_commit() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             IF NEW.status = 'completed' AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM 'completed' OR OLD IS DISTINCT FROM NEW) THEN
               INSERT INTO "{s}".step_commits VALUES (NEW.execution_id, NEW.run_index, NEW.name, NEW.occurrence);
             END IF;
             RETURN NEW;
           END $$;
           CREATE TRIGGER audit AFTER INSERT OR UPDATE ON "{s}".steps FOR EACH ROW EXECUTE FUNCTION "{s}".audit_step_commit();"#,
        s = schema
    );
    sqlx::raw_sql(&setup)
        .execute(&log)
        .await
        .expect("create audit tables");

    let zart = engine(store.clone(), log.clone(), schema.clone(), "test".into());
    let client = zart.client();
    let mut ids = Vec::new();
    for i in 0..EXECUTIONS {
        let id = format!("scale-{i}");
        client
            .start(StartRequest::new("scale", json!(null)).id(&id))
            .await
            .expect("start");
        ids.push(id);
    }

    let spawn = |n: usize| {
        Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "scale_child_worker",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("ZART_SCALE_CHILD", "1")
            .env("ZART_SCALE_URL", &url)
            .env("ZART_SCALE_SCHEMA", &schema)
            .env("ZART_SCALE_WORKER", format!("worker-{n}"))
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn worker")
    };
    let mut workers = Workers((0..3).map(spawn).collect());

    // Kill worker-0 midway, once it has surely run some steps.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let done = client.stats().await.unwrap().completed as usize;
        let by_victim: i64 = sqlx::query(&format!(
            "SELECT count(*) FROM \"{schema}\".effects WHERE worker = 'worker-0' AND phase = 'end'"
        ))
        .fetch_one(&log)
        .await
        .unwrap()
        .get(0);
        if done >= EXECUTIONS / 4 && by_victim > 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no progress: {done} done"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    workers.0[0].kill().unwrap();
    workers.0[0].wait().unwrap();
    let killed_at = now_ms();
    let done_at_kill = client.stats().await.unwrap().completed as usize;
    assert!(
        done_at_kill < EXECUTIONS,
        "killed too late to test anything"
    );

    for id in &ids {
        let e = client
            .wait(id, Duration::from_secs(120))
            .await
            .expect("execution finishes");
        assert_eq!(
            e.status,
            zart::core::ExecutionStatus::Completed,
            "{id}: {:?}",
            e.error
        );
    }

    // Every completed step was committed exactly once.
    let commits: Vec<(String, i64)> = sqlx::query(&format!(
        "SELECT execution_id || '/' || name || '#' || occurrence, count(*) FROM \"{schema}\".step_commits GROUP BY 1"
    ))
    .fetch_all(&log)
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    assert_eq!(commits.len(), EXECUTIONS * STEPS as usize);
    let twice: Vec<_> = commits.iter().filter(|(_, n)| *n != 1).collect();
    assert!(
        twice.is_empty(),
        "steps committed more than once: {twice:?}"
    );

    // No execution ever ran on two workers at once.
    let rows = sqlx::query(&format!("SELECT execution_id, worker, phase, at FROM \"{schema}\".effects ORDER BY execution_id, seq"))
        .fetch_all(&log)
        .await
        .unwrap();
    let mut intervals: std::collections::HashMap<String, Vec<(i64, i64, String)>> =
        Default::default();
    let mut open: std::collections::HashMap<(String, String), i64> = Default::default();
    for row in rows {
        let (id, worker, phase, at): (String, String, String, i64) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        if phase == "start" {
            open.insert((id, worker), at);
        } else if let Some(start) = open.remove(&(id.clone(), worker.clone())) {
            intervals.entry(id).or_default().push((start, at, worker));
        }
    }
    for ((id, worker), start) in open {
        assert_eq!(
            worker, "worker-0",
            "{id}: a step of a live worker never ended"
        );
        intervals
            .entry(id)
            .or_default()
            .push((start, killed_at, worker));
    }
    let mut moved = 0;
    for (id, mut list) in intervals {
        list.sort();
        for pair in list.windows(2) {
            let ((_, end, w1), (start, _, w2)) = (&pair[0], &pair[1]);
            if w1 != w2 {
                moved += 1;
                assert!(start >= end, "{id} ran on {w1} and {w2} at once: {list:?}");
            }
        }
    }
    assert!(
        moved > 0 || done_at_kill > 0,
        "nothing moved between workers"
    );
    drop(workers);
}
