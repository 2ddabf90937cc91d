//! Group commit of step saves: concurrent saves share commits, each caller still
//! gets its own answer, and one bad save fails alone.

mod common;

use common::{batching_store, insert_and_claim};
use serde_json::json;
use tokio::task::JoinSet;
use zart_core::{AttemptStatus, AttemptWrite, StepSave, StepWrite, StoreError};
use zart_store_tests::support::{at, claim, completed_step, guard, insert_due, DynStore};

fn save(guard: zart_core::LeaseGuard, step: StepWrite, attempt: bool) -> StepSave {
    let attempt = attempt.then(|| AttemptWrite {
        attempt_number: 1,
        status: AttemptStatus::Completed,
        result: step.result.clone(),
        error: None,
        started_at: at(1),
        completed_at: Some(at(2)),
    });
    StepSave {
        guard,
        run_index: 1,
        step,
        attempt,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_saves_share_commits_and_are_all_durable() {
    let Some((pg, _drop)) = batching_store("gc_many").await else {
        return;
    };
    let store: DynStore = pg.clone();
    let claimed = insert_and_claim(&store, "e", 64, "w").await;
    assert_eq!(claimed.len(), 64);
    let mut saves = JoinSet::new();
    for (i, c) in claimed.iter().enumerate() {
        for position in 0..10 {
            let store = store.clone();
            let step = completed_step(&format!("s{position}"), 0, position);
            let params = save(guard(c, "w", 5), step, i % 2 == 0);
            saves.spawn(async move { store.step_save(params).await });
        }
    }
    while let Some(joined) = saves.join_next().await {
        assert!(joined.expect("save task").expect("save"));
    }
    for (i, c) in claimed.iter().enumerate() {
        assert_eq!(
            store.journal_load(&c.id, 1).await.unwrap().len(),
            10,
            "{}",
            c.id
        );
        let detail = store
            .execution_detail(zart_core::DetailQuery {
                execution_id: c.id.clone(),
                run_index: None,
            })
            .await
            .unwrap()
            .expect("detail");
        let attempts: usize = detail.steps.iter().map(|s| s.attempts.len()).sum();
        assert_eq!(attempts, if i % 2 == 0 { 10 } else { 0 }, "{}", c.id);
    }
    let stats = pg.group_commit_stats().expect("group commit is on");
    assert_eq!(stats.saves, 640);
    assert!(stats.batches < stats.saves, "no batch formed: {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stale_guards_in_a_batch_fail_alone() {
    let Some((pg, _drop)) = batching_store("gc_stale").await else {
        return;
    };
    let store: DynStore = pg.clone();
    let old = insert_and_claim(&store, "e", 40, "w1").await;
    // The even-numbered leases run out and the same worker id claims them again (a
    // restarted process): only the fence tells the old guards apart.
    let mut stolen = Vec::new();
    for c in old
        .iter()
        .filter(|c| c.id[1..].parse::<u32>().unwrap_or(1) % 2 == 0)
    {
        let renew = zart_core::LeaseRenew {
            worker_id: "w1".into(),
            now: at(1),
            expires_at: at(1),
            leases: vec![(c.id.clone(), c.fence)],
        };
        store.lease_renew(renew).await.unwrap();
        stolen.push(c.id.clone());
    }
    let taken = claim(&store, "w1", 2, 40).await;
    assert_eq!(taken.len(), stolen.len());
    let mut saves = JoinSet::new();
    for c in &old {
        let store = store.clone();
        let params = save(guard(c, "w1", 3), completed_step("s", 0, 0), true);
        let id = c.id.clone();
        saves.spawn(async move { (id, store.step_save(params).await) });
    }
    while let Some(joined) = saves.join_next().await {
        let (id, applied) = joined.expect("save task");
        let applied = applied.expect("save");
        assert_eq!(applied, !stolen.contains(&id), "{id}");
        let journal = store.journal_load(&id, 1).await.unwrap();
        assert_eq!(journal.len(), usize::from(applied), "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_saves_of_one_entry_all_apply() {
    let Some((pg, _drop)) = batching_store("gc_same").await else {
        return;
    };
    let store: DynStore = pg.clone();
    insert_due(&store, "e1", 0).await;
    let c = claim(&store, "w", 0, 1).await.remove(0);
    let mut saves = JoinSet::new();
    for n in 0..30 {
        let store = store.clone();
        let step = StepWrite {
            result: Some(json!(n)),
            ..completed_step("same", 0, 0)
        };
        let params = save(guard(&c, "w", 1), step, true);
        saves.spawn(async move { store.step_save(params).await });
    }
    while let Some(joined) = saves.join_next().await {
        assert!(joined.expect("save task").expect("save"));
    }
    let journal = store.journal_load("e1", 1).await.unwrap();
    assert_eq!(journal.len(), 1);
    let n = journal[0].result.as_ref().and_then(|v| v.as_i64());
    assert!(
        n.is_some_and(|n| (0..30).contains(&n)),
        "{:?}",
        journal[0].result
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rejected_value_fails_only_its_own_save() {
    let Some((pg, _drop)) = batching_store("gc_bad").await else {
        return;
    };
    let store: DynStore = pg.clone();
    let claimed = insert_and_claim(&store, "e", 20, "w").await;
    let mut saves = JoinSet::new();
    for (i, c) in claimed.iter().enumerate() {
        let store = store.clone();
        // PostgreSQL text cannot hold NUL: this one save is refused by the database.
        let name = if i == 7 {
            "bad\0name".to_owned()
        } else {
            "ok".to_owned()
        };
        let params = save(guard(c, "w", 1), completed_step(&name, 0, 0), false);
        saves.spawn(async move { (i, store.step_save(params).await) });
    }
    while let Some(joined) = saves.join_next().await {
        match joined.expect("save task") {
            (7, outcome) => assert!(
                matches!(outcome, Err(StoreError::InvalidInput(_))),
                "{outcome:?}"
            ),
            (i, outcome) => assert!(outcome.expect("good save"), "save {i}"),
        }
    }
}
