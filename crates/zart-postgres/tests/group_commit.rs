//! Group commit of step saves: concurrent saves share commits. What each caller must
//! get from them (its own answer, every save durable, a stale guard refused alone) is
//! the store contract of `zart_store_tests::concurrency`, run here on a store with
//! room for several batch writers and followed by the batching counters; a value the
//! database refuses failing only its own save is PostgreSQL's own.

mod common;

use common::batching_store;
use tokio::task::JoinSet;
use zart_core::{StepSave, StoreError};
use zart_postgres::GroupCommitStats;
use zart_store_tests::concurrency;
use zart_store_tests::support::{completed_step, guard, insert_and_claim, DynStore};

/// The step-save counters: some saves were made, in fewer commits than saves.
fn saves_batched(stats: Option<GroupCommitStats>) {
    let stats = stats.expect("group commit is on");
    assert!(
        stats.saves > 0 && stats.batches < stats.saves,
        "no batch formed: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_saves_share_commits_and_are_all_durable() {
    let Some((pg, _schema)) = batching_store("gc_many").await else {
        return;
    };
    concurrency::concurrent_saves_with_attempts_are_all_durable(pg.clone()).await;
    saves_batched(pg.group_commit_stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stale_guards_in_a_batch_fail_alone() {
    let Some((pg, _schema)) = batching_store("gc_stale").await else {
        return;
    };
    concurrency::stale_guards_among_concurrent_saves_fail_alone(pg.clone()).await;
    saves_batched(pg.group_commit_stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_saves_of_one_entry_all_apply() {
    let Some((pg, _schema)) = batching_store("gc_same").await else {
        return;
    };
    // Saves of one entry need not share a commit: this pins only that, through the
    // batcher, each still applies.
    concurrency::concurrent_saves_of_one_entry_all_apply(pg.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rejected_value_fails_only_its_own_save() {
    let Some((pg, _schema)) = batching_store("gc_bad").await else {
        return;
    };
    let store: DynStore = pg.clone();
    let claimed = insert_and_claim(&store, "e", 20, "w").await;
    let mut saves = JoinSet::new();
    for (i, c) in claimed.iter().enumerate() {
        let store = store.clone();
        // PostgreSQL text cannot hold NUL: this one save is refused by the database.
        let name = if i == 7 { "bad\0name" } else { "ok" };
        let params = StepSave {
            guard: guard(c, "w", 1),
            run_index: 1,
            step: completed_step(name, 0, 0),
            attempt: None,
        };
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
