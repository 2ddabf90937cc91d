//! A real crash: a worker in a child process is killed with SIGKILL in the middle of
//! a multi-step execution; a new worker on the same database file finishes it, and no
//! step that had completed runs again.
//!
//! The child process is this test binary re-executed with `ZART_CRASH_CHILD=1`, running
//! `crash_child_worker`, which is a no-op in a normal test run. A SQLite file is owned
//! by one process at a time, so the parent closes the database while the child runs
//! and watches its progress in the effects log instead.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::json;
use zart::core::{ExecutionStatus, StepStatus};
use zart::prelude::*;

const STEPS: u32 = 8;

fn engine(store: std::sync::Arc<dyn zart::core::Store>, log: PathBuf) -> Zart {
    Zart::builder(store)
        .task("multi", move |ctx: Ctx, _: serde_json::Value| {
            let log = log.clone();
            async move {
                for i in 0..STEPS {
                    let log = log.clone();
                    ctx.step("effect", || {
                        let log = log.clone();
                        async move {
                            append(&log, &format!("effect#{i}"))?;
                            tokio::time::sleep(Duration::from_millis(150)).await;
                            Ok(i)
                        }
                    })
                    .await?;
                }
                Ok(STEPS)
            }
        })
        .build()
}

/// One side effect outside the engine: a line appended to a file.
fn append(path: &Path, line: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    writeln!(f, "{line}")?;
    f.sync_all()
}

#[test]
fn crash_child_worker() {
    if std::env::var("ZART_CRASH_CHILD").is_err() {
        return;
    }
    let url = std::env::var("ZART_CRASH_DB").unwrap();
    let log = PathBuf::from(std::env::var("ZART_CRASH_LOG").unwrap());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let zart = engine(zart::connect(&url).await.unwrap(), log);
        let _worker = zart.start_worker(fast().lease_duration(Duration::from_secs(2)));
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

#[tokio::test]
async fn sigkill_mid_execution_resumes_and_no_completed_step_runs_twice() {
    let Db { store, file } = db().await;
    let (url, log) = (file.url(), file.dir().join("effects.log"));
    let id = start(&engine(store, log.clone()).client(), "multi", json!(null)).await;

    let mut child = KillOnDrop(
        Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "crash_child_worker",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("ZART_CRASH_CHILD", "1")
            .env("ZART_CRASH_DB", url)
            .env("ZART_CRASH_LOG", &log)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Wait until the child has committed some steps (a step's effect is logged only
    // after the previous step was saved), then kill it mid-step.
    let deadline = tokio::time::Instant::now() + WAIT;
    let effects = |log: &Path| std::fs::read_to_string(log).unwrap_or_default();
    while effects(&log).lines().count() < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "child made no progress"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // SIGKILL: no chance to release the lease or finish the step in flight.
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let store = zart::connect(url).await.expect("reopen after the kill");
    let zart = engine(store.clone(), log.clone());
    let client = zart.client();
    let journal_at_kill = store.journal_load(&id, 1).await.unwrap();
    let completed_at_kill: Vec<String> = journal_at_kill
        .iter()
        .filter(|s| s.status == StepStatus::Completed)
        .map(|s| s.step_id.clone())
        .collect();
    assert!(completed_at_kill.len() >= 3, "{completed_at_kill:?}");
    assert!(
        completed_at_kill.len() < STEPS as usize,
        "killed too late to test anything"
    );

    let worker = zart.start_worker(fast());
    let done = finish(&client, &id).await;
    assert_eq!(done.status, ExecutionStatus::Completed);
    assert_eq!(done.result, Some(json!(STEPS)));

    let lines = std::fs::read_to_string(&log).unwrap();
    for step in &completed_at_kill {
        let occurrences = lines.lines().filter(|l| *l == step).count();
        assert_eq!(
            occurrences, 1,
            "completed step {step} ran {occurrences} times:\n{lines}"
        );
    }
    for i in 0..STEPS {
        assert!(
            lines.lines().any(|l| l == format!("effect#{i}")),
            "step {i} never ran"
        );
    }
    let detail = client.detail(&id, None).await.unwrap();
    for step in &detail.steps {
        if completed_at_kill.contains(&step.step_id) {
            assert_eq!(step.attempts.len(), 1, "{}", step.step_id);
        }
    }
    worker.shutdown(Duration::from_secs(5)).await;
}
