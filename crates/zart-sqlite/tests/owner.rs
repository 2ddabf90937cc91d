//! One process owns a database file: a second process cannot open it and is told who
//! has it; the next owner takes over the leases left behind at once, so a restart
//! after a crash resumes work without waiting out the leases.
//!
//! The second process is this test binary re-executed with `ZART_OWNER_CHILD_DB` set,
//! running `owner_child`, which is a no-op in a normal test run.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use zart_core::{
    ClaimedExecution, ExecutionClaim, LeaseGuard, NewExecution, StepSave, Store, StoreError,
    WaitingFor,
};
use zart_sqlite::SqliteStore;
use zart_store_tests::sqlite::SqliteFile;
use zart_store_tests::support::completed_step;

/// The lease the first owner takes: far longer than any test.
const HOUR_MS: i64 = 3_600_000;

/// Inserts `id` due now and claims it for `worker` with an hour-long lease.
async fn insert_and_lease(store: &dyn Store, id: &str, worker: &str) -> ClaimedExecution {
    let now = Utc::now();
    store
        .execution_insert(NewExecution {
            id: id.into(),
            task_name: "task".into(),
            payload: json!(null),
            now,
            run_at: now,
            deadline_at: None,
            parent_id: None,
            trace_context: None,
            queue: None,
            priority: 0,
            deduplication_id: None,
            concurrency_key: None,
        })
        .await
        .expect("insert");
    claim_now(store, worker, HOUR_MS)
        .await
        .into_iter()
        .next()
        .expect("the new execution is claimed")
}

async fn claim_now(store: &dyn Store, worker: &str, lease_ms: i64) -> Vec<ClaimedExecution> {
    let now = Utc::now();
    store
        .execution_claim(ExecutionClaim {
            worker_id: worker.into(),
            now,
            lease_expires_at: now + chrono::Duration::milliseconds(lease_ms),
            limit: 10,
            default_queue: true,
            queues: Vec::new(),
        })
        .await
        .expect("claim")
}

async fn save_under(store: &dyn Store, claimed: &ClaimedExecution, worker: &str) -> bool {
    let guard = LeaseGuard {
        execution_id: claimed.id.clone(),
        worker_id: worker.into(),
        fence: claimed.fence,
        now: Utc::now(),
    };
    store
        .step_save(StepSave {
            guard,
            run_index: claimed.run_index,
            step: completed_step("s", 0, 0),
            attempt: None,
        })
        .await
        .expect("step save")
}

/// The child: opens the database, leases an execution, says so, and waits to be killed.
#[test]
fn owner_child() {
    let Ok(url) = std::env::var("ZART_OWNER_CHILD_DB") else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = SqliteStore::open(&url).expect("the child opens the database");
        let claimed = insert_and_lease(&store, "held", "child-worker").await;
        println!("OWNER-CHILD-READY fence={}", claimed.fence);
        std::future::pending::<()>().await;
    });
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the child on `url` and returns once it holds the database and a lease.
fn start_child(url: &str) -> KillOnDrop {
    let mut child = KillOnDrop(
        Command::new(std::env::current_exe().expect("test binary"))
            .args(["--exact", "owner_child", "--nocapture", "--test-threads=1"])
            .env("ZART_OWNER_CHILD_DB", url)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the child"),
    );
    let stdout = child.0.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    // The pipe is read on a thread so that a silent child cannot hang the test; the
    // thread keeps draining it so the child never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("OWNER-CHILD-READY") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the child holds the database and a lease");
    child
}

#[tokio::test]
async fn a_second_process_is_refused_and_told_who_owns_the_database() {
    let file = SqliteFile::new();
    let child = start_child(file.url());
    let err = SqliteStore::open(file.url()).expect_err("the child owns the database");
    let StoreError::Unavailable(message) = &err else {
        panic!("expected Unavailable, got {err:?}");
    };
    let pid = format!("process {} on host", child.0.id());
    assert!(message.contains(&pid), "{message}");
    assert!(message.contains("in use"), "{message}");
}

#[tokio::test]
async fn after_the_owner_is_killed_the_next_owner_resumes_its_leases_at_once() {
    let file = SqliteFile::new();
    let mut child = start_child(file.url());
    child.0.kill().expect("SIGKILL the child");
    child.0.wait().expect("reap the child");

    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(file.url()).expect("open after kill"));
    let record = store.execution_get("held").await.unwrap().expect("held");
    assert_eq!(record.waiting_for, None, "no lease is left: {record:?}");
    let claimed = claim_now(store.as_ref(), "new-worker", 30_000).await;
    assert_eq!(claimed.len(), 1, "the execution is due now, not in an hour");
    assert_eq!(claimed[0].id, "held");
    assert!(save_under(store.as_ref(), &claimed[0], "new-worker").await);
}

#[tokio::test]
async fn a_reopen_takes_over_leases_and_fences_out_the_old_holder() {
    let file = SqliteFile::new();
    let first = SqliteStore::open(file.url()).unwrap();
    let old = insert_and_lease(&first, "e1", "old-worker").await;
    drop(first);

    let store = SqliteStore::open(file.url()).unwrap();
    let claimed = claim_now(&store, "new-worker", 30_000).await;
    assert_eq!(claimed.len(), 1);
    assert!(
        claimed[0].fence > old.fence + 1,
        "the takeover bumped the fence"
    );
    assert!(
        !save_under(&store, &old, "old-worker").await,
        "a write under the old lease is refused"
    );
    assert!(save_under(&store, &claimed[0], "new-worker").await);
}

#[tokio::test]
async fn a_second_open_in_the_same_process_shares_ownership_and_keeps_leases() {
    let file = SqliteFile::new();
    let first = SqliteStore::open(file.url()).unwrap();
    let held = insert_and_lease(&first, "e1", "w1").await;
    let second = SqliteStore::open(file.url()).expect("same process: shared");
    let record = second.execution_get("e1").await.unwrap().expect("e1");
    assert!(
        matches!(record.waiting_for, Some(WaitingFor::Lease { .. })),
        "the lease of a store still open is kept: {record:?}"
    );
    assert!(save_under(&second, &held, "w1").await);
    assert!(claim_now(&second, "w2", 30_000).await.is_empty());
}
