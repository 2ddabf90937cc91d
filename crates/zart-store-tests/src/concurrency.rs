//! Many callers at once: no double leases, no lost step saves, and (where a store
//! writes concurrent saves in one commit) every caller still gets its own answer.

use std::collections::HashSet;

use serde_json::json;
use tokio::task::JoinSet;
use zart_core::{
    AttemptStatus, AttemptWrite, DetailQuery, ExecutionStatus, LeaseGuard, LeaseRenew, StepSave,
    StepWrite,
};

use crate::support::*;

/// A save of `step` in run 1, with a completed first attempt when `attempt`.
fn save(guard: LeaseGuard, step: StepWrite, attempt: bool) -> StepSave {
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

/// Eight workers claiming 200 executions concurrently: each is claimed exactly once.
pub async fn concurrent_claims_never_double_lease(store: DynStore) {
    for i in 0..200 {
        insert_due(&store, &format!("e{i:03}"), i % 7).await;
    }
    let mut workers = JoinSet::new();
    for w in 0..8 {
        let store = store.clone();
        workers.spawn(async move {
            let worker = format!("w{w}");
            let mut mine = Vec::new();
            loop {
                let got = claim(&store, &worker, 10, 7).await;
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|c| c.id));
            }
        });
    }
    let mut all = Vec::new();
    while let Some(joined) = workers.join_next().await {
        all.extend(joined.expect("claiming task"));
    }
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "an execution was claimed twice");
    assert_eq!(all.len(), 200, "every execution is claimed");
    assert_eq!(store.execution_stats().await.unwrap().running, 200);
}

/// Two hundred concurrent step saves over twenty executions: all are durable.
pub async fn concurrent_step_saves_all_commit(store: DynStore) {
    for i in 0..20 {
        insert_due(&store, &format!("e{i:02}"), i).await;
    }
    let claimed = claim(&store, "w", 100, 20).await;
    assert_eq!(claimed.len(), 20);
    let mut saves = JoinSet::new();
    for c in &claimed {
        for position in 0..10 {
            let store = store.clone();
            let guard = guard(c, "w", 200);
            saves.spawn(async move {
                let step = completed_step(&format!("s{position}"), 0, position);
                save_step(&store, guard, step).await
            });
        }
    }
    let mut applied = 0;
    while let Some(joined) = saves.join_next().await {
        assert!(joined.expect("save task"), "every guarded save applies");
        applied += 1;
    }
    assert_eq!(applied, 200);
    for c in &claimed {
        let journal = store.journal_load(&c.id, 1).await.unwrap();
        assert_eq!(journal.len(), 10, "journal of {}", c.id);
        assert_eq!(get(&store, &c.id).await.status, ExecutionStatus::Running);
    }
}

/// 640 concurrent saves over 64 executions, half of them with an attempt: every entry
/// and every attempt is durable.
pub async fn concurrent_saves_with_attempts_are_all_durable(store: DynStore) {
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
        let journal = store.journal_load(&c.id, 1).await.unwrap();
        assert_eq!(journal.len(), 10, "{}", c.id);
        let query = DetailQuery {
            execution_id: c.id.clone(),
            run_index: None,
        };
        let detail = store
            .execution_detail(query)
            .await
            .unwrap()
            .expect("detail");
        let attempts: usize = detail.steps.iter().map(|s| s.attempts.len()).sum();
        assert_eq!(attempts, if i % 2 == 0 { 10 } else { 0 }, "{}", c.id);
    }
}

/// Concurrent saves where half the guards are stale (the lease ran out and the same
/// worker id claimed again, as a restarted process does): only the fence tells them
/// apart, and each stale save is refused alone while the others apply.
pub async fn stale_guards_among_concurrent_saves_fail_alone(store: DynStore) {
    let old = insert_and_claim(&store, "e", 40, "w1").await;
    let mut stolen = Vec::new();
    for c in old.iter().step_by(2) {
        let renew = LeaseRenew {
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

/// Thirty concurrent saves of one journal entry all apply; one of their results is
/// the entry's, and it stays one entry.
pub async fn concurrent_saves_of_one_entry_all_apply(store: DynStore) {
    insert_due(&store, "e1", 0).await;
    let c = claim_one(&store, "w", 0, "e1").await;
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
