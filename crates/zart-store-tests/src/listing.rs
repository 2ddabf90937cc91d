//! Listing, searching and counting executions.

use serde_json::json;
use zart_core::{
    ActivityQuery, ErrorKind, ExecutionError, ExecutionOutcome, ExecutionQuery, ExecutionStatus,
    NewExecution, SortBy, SortOrder, Stats, StoreError,
};

use crate::support::*;

const FAR: i64 = 1_000_000_000;

fn scheduled(id: &str, task: &str, now: i64) -> NewExecution {
    NewExecution {
        task_name: task.into(),
        now: at(now),
        run_at: at(FAR),
        ..new_execution(id)
    }
}

/// a1 alpha@100 scheduled, a2 alpha@200 completed, b1 beta@200 scheduled,
/// b2 beta@300 cancelled, c1 gamma@400 running.
async fn seed(store: &DynStore) {
    let a2 = NewExecution {
        run_at: at(200),
        ..scheduled("a2", "alpha", 200)
    };
    insert_new(store, a2).await;
    run_to_completion(store, "a2", 200, json!("done")).await;
    insert_new(store, scheduled("a1", "alpha", 100)).await;
    insert_new(store, scheduled("b1", "beta", 200)).await;
    insert_new(store, scheduled("b2", "beta", 300)).await;
    store.execution_cancel("b2", at(300)).await.unwrap();
    let c1 = NewExecution {
        run_at: at(400),
        ..scheduled("c1", "gamma", 400)
    };
    insert_new(store, c1).await;
    claim_one(store, "w", 400, "c1").await;
}

async fn ids(store: &DynStore, query: ExecutionQuery) -> Vec<String> {
    let page = store.execution_list(query).await.expect("execution_list");
    page.into_iter().map(|r| r.id).collect()
}

fn asc(sort_by: SortBy) -> ExecutionQuery {
    ExecutionQuery {
        sort_by,
        sort_order: SortOrder::Asc,
        ..ExecutionQuery::default()
    }
}

/// Filters combine, sorts break ties by id in the same direction, and paging is
/// stable.
pub async fn list_filters_sorts_and_pages(store: DynStore) {
    seed(&store).await;
    let all = store
        .execution_list(ExecutionQuery::default())
        .await
        .unwrap();
    assert_eq!(all[0], get(&store, "c1").await, "list returns full records");
    let q = ExecutionQuery::default;
    assert_eq!(ids(&store, q()).await, ["c1", "b2", "b1", "a2", "a1"]);
    assert_eq!(
        ids(&store, asc(SortBy::ScheduledAt)).await,
        ["a1", "a2", "b1", "b2", "c1"]
    );
    assert_eq!(
        ids(&store, asc(SortBy::Status)).await,
        ["b2", "a2", "c1", "a1", "b1"]
    );
    let by_task_desc = ExecutionQuery {
        sort_by: SortBy::TaskName,
        ..q()
    };
    assert_eq!(
        ids(&store, by_task_desc).await,
        ["c1", "b2", "b1", "a2", "a1"]
    );

    let status = |s| ExecutionQuery {
        status: Some(s),
        ..q()
    };
    assert_eq!(
        ids(&store, status(ExecutionStatus::Scheduled)).await,
        ["b1", "a1"]
    );
    assert_eq!(ids(&store, status(ExecutionStatus::Running)).await, ["c1"]);
    assert_eq!(
        ids(&store, status(ExecutionStatus::Failed)).await,
        Vec::<String>::new()
    );
    let beta = ExecutionQuery {
        task_name: Some("beta".into()),
        ..q()
    };
    assert_eq!(ids(&store, beta).await, ["b2", "b1"]);
    let window = ExecutionQuery {
        from: Some(at(200)),
        to: Some(at(300)),
        ..q()
    };
    assert_eq!(ids(&store, window).await, ["b2", "b1", "a2"]);
    let combined = ExecutionQuery {
        task_name: Some("alpha".into()),
        status: Some(ExecutionStatus::Completed),
        ..q()
    };
    assert_eq!(ids(&store, combined).await, ["a2"]);

    let page = |offset| ExecutionQuery {
        limit: 2,
        offset,
        ..asc(SortBy::ScheduledAt)
    };
    assert_eq!(ids(&store, page(0)).await, ["a1", "a2"]);
    assert_eq!(ids(&store, page(2)).await, ["b1", "b2"]);
    assert_eq!(ids(&store, page(4)).await, ["c1"]);
    assert!(ids(&store, page(5)).await.is_empty());
}

/// `search` matches a literal, case-sensitive substring of the id: `%`, `_` and `\`
/// are ordinary characters.
pub async fn list_search_is_literal_substring(store: DynStore) {
    for id in ["a%b", "a_b", "axb", "A%B", "c\\d", "x'y"] {
        insert(&store, id).await;
    }
    let search = |s: &str| {
        let store = store.clone();
        let query = ExecutionQuery {
            search: Some(s.to_owned()),
            limit: 100,
            ..ExecutionQuery::default()
        };
        async move {
            let mut found = ids(&store, query).await;
            found.sort();
            found
        }
    };
    assert_eq!(search("%").await, ["A%B", "a%b"]);
    assert_eq!(search("_").await, ["a_b"]);
    assert_eq!(search("a").await, ["a%b", "a_b", "axb"]);
    assert_eq!(search("%b").await, ["a%b"]);
    assert_eq!(search("\\").await, ["c\\d"]);
    assert_eq!(search("'").await, ["x'y"]);
    assert!(search("zz").await.is_empty());
}

/// [`seed`], plus `f1` (task `alpha`, scheduled at 50) failed at 60.
async fn seed_with_failure(store: &DynStore) {
    let failing = NewExecution {
        run_at: at(50),
        ..scheduled("f1", "alpha", 50)
    };
    insert_new(store, failing).await;
    let c = claim_one(store, "w", 50, "f1").await;
    let error = ExecutionError {
        kind: ErrorKind::Handler,
        message: "boom".into(),
        step: None,
        attempts: None,
    };
    assert!(finish(store, guard(&c, "w", 60), ExecutionOutcome::Failed(error)).await);
    seed(store).await;
}

/// Stats count executions by status.
pub async fn stats_counts_by_status(store: DynStore) {
    assert_eq!(store.execution_stats().await.unwrap(), Stats::default());
    seed_with_failure(&store).await;
    let stats = store.execution_stats().await.unwrap();
    let expected = Stats {
        scheduled: 2,
        running: 1,
        completed: 1,
        failed: 1,
        cancelled: 1,
    };
    assert_eq!(stats, expected);
}

fn window(from: i64, to: i64, bucket_ms: i64) -> ActivityQuery {
    ActivityQuery {
        from: at(from),
        to: at(to),
        bucket: chrono::Duration::milliseconds(bucket_ms),
    }
}

/// Activity counts creations by `scheduled_at` and endings by `completed_at` and
/// outcome, per bucket, every bucket present; the window's end is exclusive.
pub async fn activity_counts_created_and_finished_per_bucket(store: DynStore) {
    seed_with_failure(&store).await;

    let buckets = store.execution_activity(window(0, 500, 100)).await.unwrap();
    let starts: Vec<_> = buckets.iter().map(|b| b.start).collect();
    assert_eq!(starts, vec![at(0), at(100), at(200), at(300), at(400)]);
    let started: Vec<u64> = buckets.iter().map(|b| b.started).collect();
    assert_eq!(started, vec![1, 1, 2, 1, 1]);
    let ended: Vec<(u64, u64, u64)> = buckets
        .iter()
        .map(|b| (b.completed, b.failed, b.cancelled))
        .collect();
    assert_eq!(
        ended,
        vec![(0, 1, 0), (0, 0, 0), (1, 0, 0), (0, 0, 1), (0, 0, 0)]
    );

    let narrow = store
        .execution_activity(window(100, 300, 100))
        .await
        .unwrap();
    let counts: Vec<(u64, u64, u64)> = narrow
        .iter()
        .map(|b| (b.started, b.completed, b.cancelled))
        .collect();
    assert_eq!(
        counts,
        vec![(1, 0, 0), (2, 1, 0)],
        "the cancel at 300 is outside"
    );

    let empty = store.execution_activity(window(300, 300, 100)).await;
    assert!(
        matches!(empty, Err(StoreError::InvalidInput(_))),
        "{empty:?}"
    );
}
