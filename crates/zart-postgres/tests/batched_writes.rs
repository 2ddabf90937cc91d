//! Group commit of execution inserts, finishes and event offers: concurrent calls
//! share commits. What each caller must get from them (its own answer, and every
//! write's wake-ups, cancels and signals) is the store contract of
//! `zart_store_tests::concurrent_writes`, run here on a store with room for several
//! batch writers and followed by the batching counters.

mod common;

use common::batching_store;
use zart_postgres::{GroupCommitStats, PgStore};
use zart_store_tests::concurrent_writes;

fn group_commit(pg: &PgStore) -> GroupCommitStats {
    pg.group_commit_stats().expect("group commit is on")
}

/// Whether some of `ops` writes were made, in fewer commits than writes.
fn batched(ops: u64, batches: u64) -> bool {
    ops > 0 && batches < ops
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_inserts_share_commits_and_create_each_id_once() {
    let Some((pg, _schema)) = batching_store("gb_insert").await else {
        return;
    };
    concurrent_writes::concurrent_inserts_with_duplicates_create_each_id_once(pg.clone()).await;
    let stats = group_commit(&pg);
    assert!(batched(stats.inserts, stats.insert_batches), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_finishes_share_commits_and_are_guarded_one_by_one() {
    let Some((pg, _schema)) = batching_store("gb_finish").await else {
        return;
    };
    let behaviour =
        concurrent_writes::concurrent_finishes_are_durable_signalled_and_guarded_one_by_one;
    behaviour(pg.clone()).await;
    let stats = group_commit(&pg);
    assert!(batched(stats.finishes, stats.finish_batches), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn children_finished_in_shared_commits_wake_every_parked_parent() {
    let Some((pg, _schema)) = batching_store("gb_parents").await else {
        return;
    };
    concurrent_writes::children_finished_together_wake_every_parked_parent(pg.clone()).await;
    assert_eq!(
        group_commit(&pg).finishes,
        20,
        "every finish went through the batcher"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_offers_share_commits_wake_the_parked_and_keep_order() {
    let Some((pg, _schema)) = batching_store("gb_offers").await else {
        return;
    };
    concurrent_writes::concurrent_offers_wake_the_parked_and_keep_order(pg.clone()).await;
    let stats = group_commit(&pg);
    assert!(batched(stats.offers, stats.offer_batches), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parents_finished_in_shared_commits_cancel_their_unfinished_children() {
    let Some((pg, _schema)) = batching_store("gb_parent_close").await else {
        return;
    };
    let behaviour = concurrent_writes::parents_finished_together_cancel_their_unfinished_children;
    behaviour(pg.clone()).await;
    assert_eq!(
        group_commit(&pg).finishes,
        40,
        "every finish went through the batcher"
    );
}
