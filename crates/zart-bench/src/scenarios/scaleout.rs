//! `--scenario scaleout` (PostgreSQL only): the throughput workload run by one worker
//! process, then by `--processes` worker processes, on one database.
//!
//! The workers are real processes: this binary started again with the hidden
//! `--worker-schema`, each running a worker with `--concurrency` slots and its own
//! pool of `--pool-size` connections on the run's schema, until its stdin closes. This
//! process starts the executions (`--concurrency` at a time, as the throughput
//! scenario does) once every worker has said it is ready, and counts them finished.
//! A separate connection polls `pg_stat_activity` every [`POLL`] for the workers'
//! sessions (found by their `application_name`) waiting on a lock, and on the claim
//! statement in particular.
//!
//! The machine the figures come from has two cores, so more processes cannot be
//! faster; the run shows that they are not slower, and that their claims do not wait
//! on one another.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::Connection;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::watch;
use zart::{WorkerConfig, Zart};
use zart_core::Store;
use zart_postgres::{PgOptions, PgStore};

use crate::args::Args;
use crate::completion;
use crate::database::{BenchDb, Target};
use crate::error::{BenchError, BenchResult};
use crate::progress::Progress;
use crate::report::{ScaleoutReport, ScaleoutRun};
use crate::scenarios::throughput::start_all;
use crate::workflows;

/// How often `pg_stat_activity` is read.
pub const POLL: Duration = Duration::from_millis(5);
/// How long a worker process may take to open its store and start.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a worker process may take to stop once its stdin closed.
const EXIT_TIMEOUT: Duration = Duration::from_secs(15);
/// The line a worker process prints on stdout once its worker runs.
const READY: &str = "ready";

/// The statement the poll runs: the workers' active sessions, what they wait on, and
/// the start of their statement.
const ACTIVITY: &str = "SELECT coalesce(wait_event_type, ''), coalesce(wait_event, ''), \
    left(regexp_replace(query, '\\s+', ' ', 'g'), 200) \
    FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'";

/// What only the claim statement (`zart-postgres`'s `claims.rs`) contains.
const CLAIM_MARKER: &str = "WITH expired AS (";

/// How many of the most frequent lock waits a run reports.
const TOP_WAITS: usize = 5;

/// Runs the scenario.
pub async fn run(db: &BenchDb, args: &Args, progress: &Progress) -> BenchResult<ScaleoutReport> {
    let Target::Postgres { url, schema, .. } = &db.target else {
        return Err(BenchError::Usage(
            "--scenario scaleout needs --backend postgres: its worker processes share one \
             database server"
                .into(),
        ));
    };
    if args.profile {
        return Err(BenchError::Usage(
            "--profile times the store calls of this process, and the scaleout scenario's \
             store calls run in its worker processes"
                .into(),
        ));
    }
    // Each run gets a fresh schema, so the second one does not start with the first
    // one's executions in its tables (the run's own schema, then one made for the
    // second run and dropped after it).
    let single = one_run(&db.store, url, schema, args, 1, progress).await?;
    let second = format!("{schema}_m");
    let options = PgOptions::default()
        .schema(second.clone())
        .max_connections(args.pool_size);
    let store: Arc<dyn Store> = Arc::new(PgStore::connect_with(url, options).await?);
    let multi = one_run(&store, url, &second, args, args.processes, progress).await;
    drop(store);
    let dropped = drop_schema(url, &second).await;
    let multi = multi?;
    dropped?;
    Ok(ScaleoutReport {
        backend: db.backend().as_str().to_owned(),
        executions: args.executions(),
        steps_per_execution: args.steps,
        concurrency: args.concurrency,
        pool_size: args.pool_size,
        scaleout_ratio: multi.executions_per_sec / single.executions_per_sec.max(1e-9),
        claim_lock_wait_samples: single.claim_lock_wait_samples + multi.claim_lock_wait_samples,
        single,
        multi,
    })
}

/// One run: `processes` worker processes on `schema`, the executions started and
/// counted through `store` (on the same schema).
async fn one_run(
    store: &Arc<dyn Store>,
    url: &str,
    schema: &str,
    args: &Args,
    processes: u32,
    progress: &Progress,
) -> BenchResult<ScaleoutRun> {
    progress.note(format!(
        "{processes} worker process(es) of {} slots: {} executions of {} no-op steps",
        args.concurrency,
        args.executions(),
        args.steps
    ));
    // The workers' sessions carry this name, so the poll sees theirs alone (other
    // runs and other databases may share the server).
    let tag = format!("zb_{schema}");
    let zart = workflows::register(Zart::builder(Arc::clone(store))).build();
    let client = zart.client();
    let workers = Workers::spawn(args, url, schema, &tag, processes).await?;
    let sampler = Sampler::start(url, &tag).await?;
    let signals = store.subscribe();
    let timeout =
        Duration::from_secs(120).max(Duration::from_secs_f64(args.executions() as f64 * 0.1));
    let started = Instant::now();
    let outcome = tokio::try_join!(
        start_all(
            &client,
            "s",
            args.executions(),
            args.steps,
            args.concurrency as usize
        ),
        completion::wait_terminal(store, signals, args.executions(), timeout, progress),
    );
    let wall = started.elapsed();
    let polled = sampler.stop().await;
    let stopped = workers.stop().await;
    outcome?;
    let polled = polled?;
    stopped?;
    let run = ScaleoutRun {
        processes,
        executions_per_sec: args.executions() as f64 / wall.as_secs_f64().max(1e-9),
        wall_secs: wall.as_secs_f64(),
        activity_samples: polled.polls,
        lock_wait_samples: polled.lock_waits,
        claim_lock_wait_samples: polled.claim_lock_waits,
        claim_active_samples: polled.claims_active,
        lwlock_wait_samples: polled.lwlock_waits,
        lock_waits_by_statement: polled.top_waits(),
    };
    progress.note(format!(
        "{processes} process(es): {:.0} executions/s, {} lock waits ({} on claims) in {} polls; \
         most frequent: {:?}",
        run.executions_per_sec,
        run.lock_wait_samples,
        run.claim_lock_wait_samples,
        run.activity_samples,
        run.lock_waits_by_statement
    ));
    Ok(run)
}

async fn drop_schema(url: &str, schema: &str) -> BenchResult<()> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}

/// The worker processes of one run.
struct Workers {
    children: Vec<(Child, ChildStdin)>,
}

impl Workers {
    /// Starts `processes` worker processes and waits until each one runs its worker.
    async fn spawn(
        args: &Args,
        url: &str,
        schema: &str,
        tag: &str,
        processes: u32,
    ) -> BenchResult<Workers> {
        let exe = std::env::current_exe()?;
        let separator = if url.contains('?') { '&' } else { '?' };
        let tagged = format!("{url}{separator}application_name={tag}");
        let mut workers = Workers {
            children: Vec::new(),
        };
        for _ in 0..processes {
            let mut child = Command::new(&exe)
                .args([
                    "--backend",
                    "postgres",
                    "--db",
                    &tagged,
                    "--worker-schema",
                    schema,
                ])
                .args(["--concurrency", &args.concurrency.to_string()])
                .args(["--pool-size", &args.pool_size.to_string()])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .kill_on_drop(true)
                .spawn()?;
            let stdin = child.stdin.take().expect("piped stdin");
            let stdout = child.stdout.take().expect("piped stdout");
            workers.children.push((child, stdin));
            let mut first = String::new();
            let mut stdout = BufReader::new(stdout);
            let read = stdout.read_line(&mut first);
            match tokio::time::timeout(READY_TIMEOUT, read).await {
                Ok(Ok(_)) if first.trim() == READY => {}
                Ok(Ok(_)) => {
                    return Err(BenchError::Unexpected(format!(
                        "a worker process did not start (it printed {first:?}; its error is above)"
                    )))
                }
                Ok(Err(e)) => return Err(e.into()),
                Err(_) => {
                    return Err(BenchError::Unexpected(format!(
                        "a worker process was not ready within {} s",
                        READY_TIMEOUT.as_secs()
                    )))
                }
            }
        }
        Ok(workers)
    }

    /// Closes every worker's stdin and waits for it to exit (killing one that does not
    /// within [`EXIT_TIMEOUT`]); fails if one exited with an error.
    async fn stop(self) -> BenchResult<()> {
        let mut failed = None;
        for (mut child, stdin) in self.children {
            drop(stdin);
            match tokio::time::timeout(EXIT_TIMEOUT, child.wait()).await {
                Ok(Ok(status)) if status.success() => {}
                Ok(Ok(status)) => failed = Some(format!("a worker process exited with {status}")),
                Ok(Err(e)) => failed = Some(format!("waiting for a worker process: {e}")),
                Err(_) => {
                    let _ = child.kill().await;
                    failed = Some("a worker process did not stop; it was killed".to_owned());
                }
            }
        }
        failed.map_or(Ok(()), |e| Err(BenchError::Unexpected(e)))
    }
}

/// What the polls of `pg_stat_activity` saw, summed over the polls.
#[derive(Debug, Default)]
struct Polled {
    polls: u64,
    lock_waits: u64,
    claim_lock_waits: u64,
    claims_active: u64,
    lwlock_waits: u64,
    /// Lock waits by wait event and statement start.
    by_statement: HashMap<String, u64>,
}

impl Polled {
    fn add(&mut self, wait_type: &str, wait_event: &str, statement: &str) {
        let claim = statement.contains(CLAIM_MARKER);
        self.claims_active += u64::from(claim);
        match wait_type {
            "Lock" => {
                self.lock_waits += 1;
                self.claim_lock_waits += u64::from(claim);
                let start: String = statement.trim().chars().take(110).collect();
                *self
                    .by_statement
                    .entry(format!("{wait_event}: {start}"))
                    .or_default() += 1;
            }
            "LWLock" => self.lwlock_waits += 1,
            _ => {}
        }
    }

    fn top_waits(&self) -> Vec<(String, u64)> {
        let mut waits: Vec<_> = self
            .by_statement
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        waits.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        waits.truncate(TOP_WAITS);
        waits
    }
}

/// Polls `pg_stat_activity` on its own connection until stopped.
struct Sampler {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<BenchResult<Polled>>,
}

impl Sampler {
    async fn start(url: &str, tag: &str) -> BenchResult<Sampler> {
        let mut conn = sqlx::PgConnection::connect(url).await?;
        let (stop, mut stopped) = watch::channel(false);
        let tag = Arc::new(tag.to_owned());
        let task = tokio::spawn(async move {
            let mut polled = Polled::default();
            let mut tick = tokio::time::interval(POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.changed() => break,
                }
                let sessions: Vec<(String, String, String)> = sqlx::query_as(ACTIVITY)
                    .bind(tag.as_str())
                    .fetch_all(&mut conn)
                    .await?;
                polled.polls += 1;
                for (wait_type, wait_event, statement) in &sessions {
                    polled.add(wait_type, wait_event, statement);
                }
            }
            conn.close().await?;
            Ok(polled)
        });
        Ok(Sampler { stop, task })
    }

    async fn stop(self) -> BenchResult<Polled> {
        let _ = self.stop.send(true);
        self.task
            .await
            .map_err(|e| BenchError::Unexpected(format!("the activity poll: {e}")))?
    }
}

/// The worker process (`--worker-schema`): a worker with `--concurrency` slots on the
/// schema of `--db`, running until stdin closes. Prints `ready` on stdout once the
/// worker runs.
pub async fn worker_process(args: &Args, schema: &str) -> BenchResult<()> {
    let url = args
        .db
        .as_deref()
        .ok_or_else(|| BenchError::Usage("--worker-schema needs --db".into()))?;
    let options = PgOptions::default()
        .schema(schema.to_owned())
        .max_connections(args.pool_size);
    let store = Arc::new(PgStore::connect_with(url, options).await?);
    let zart = workflows::register(Zart::builder(store)).build();
    let worker = zart.start_worker(WorkerConfig::default().concurrency(args.concurrency as usize));
    println!("{READY}");
    let mut rest = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut rest).await;
    worker.shutdown(Duration::from_secs(10)).await;
    Ok(())
}
