//! Several store instances (separate pools, as in separate processes) on one
//! database: schema isolation, claims that never double-lease, fencing.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::{another_instance, fresh_store};
use serde_json::json;
use zart_core::{ExecutionOutcome, ExecutionStatus};
use zart_postgres::PgOptions;
use zart_store_tests::postgres::FreshSchema;
use zart_store_tests::support::{
    claim, claim_ids, claim_one, completed_step, finish, get, guard, insert, insert_due, save_step,
    DynStore, LEASE_MS,
};

/// A second instance on the same schema, with its own pool.
async fn second_instance(schema: &FreshSchema) -> DynStore {
    let options = PgOptions::default().max_connections(3).listen(false);
    Arc::new(another_instance(schema, options).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_on_different_schemas_do_not_see_each_other() {
    let Some((a, _schema_a)) = fresh_store("iso_a", PgOptions::default()).await else {
        return;
    };
    let Some((b, _schema_b)) = fresh_store("iso_b", PgOptions::default()).await else {
        return;
    };
    let a: DynStore = Arc::new(a);
    let b: DynStore = Arc::new(b);
    insert(&a, "only-in-a").await;
    insert(&b, "only-in-b").await;
    assert_eq!(b.execution_get("only-in-a").await.unwrap(), None);
    assert_eq!(a.execution_get("only-in-b").await.unwrap(), None);
    assert_eq!(a.execution_stats().await.unwrap().scheduled, 1);
    assert_eq!(claim_ids(&b, "w", 0).await, vec!["only-in-b"]);
    assert_eq!(claim_ids(&a, "w", 0).await, vec!["only-in-a"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_from_separate_pools_never_double_lease() {
    let Some((first, schema)) = fresh_store("multi", PgOptions::default().listen(false)).await
    else {
        return;
    };
    let mut instances: Vec<DynStore> = vec![Arc::new(first.clone())];
    for _ in 0..3 {
        instances.push(second_instance(&schema).await);
    }
    for i in 0..300 {
        insert_due(&instances[0], &format!("e{i:03}"), i % 11).await;
    }
    let mut workers = tokio::task::JoinSet::new();
    for (n, store) in instances.iter().enumerate() {
        for k in 0..2 {
            let store = store.clone();
            let worker = format!("w{n}-{k}");
            workers.spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = claim(&store, &worker, 20, 5).await;
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got.into_iter().map(|c| c.id));
                }
            });
        }
    }
    let mut all = Vec::new();
    while let Some(joined) = workers.join_next().await {
        all.extend(joined.expect("claiming task"));
    }
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "an execution was claimed twice");
    assert_eq!(all.len(), 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_guard_is_rejected_after_another_instance_reclaims() {
    let Some((first, schema)) = fresh_store("fence", PgOptions::default()).await else {
        return;
    };
    let a: DynStore = Arc::new(first.clone());
    let b = second_instance(&schema).await;
    insert(&a, "e1").await;
    let old = claim_one(&a, "wa", 0, "e1").await;
    assert!(save_step(&a, guard(&old, "wa", 1), completed_step("first", 0, 0)).await);
    // Worker A stalls past its lease; worker B (another process) takes over.
    let new = claim_one(&b, "wb", LEASE_MS, "e1").await;
    assert!(new.fence > old.fence);
    // A still believes its lease is valid (its clock says so): only the fence saves us.
    let stale = guard(&old, "wa", 2);
    assert!(!save_step(&a, stale.clone(), completed_step("second", 0, 1)).await);
    assert!(!finish(&a, stale, ExecutionOutcome::Completed(json!("from A"))).await);
    assert!(
        save_step(
            &b,
            guard(&new, "wb", LEASE_MS + 1),
            completed_step("second", 0, 1)
        )
        .await
    );
    let names: Vec<String> = b
        .journal_load("e1", 1)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["first", "second"]);
    let record = get(&b, "e1").await;
    assert_eq!(record.status, ExecutionStatus::Running);
    assert_eq!(record.result, None);
    assert!(
        finish(
            &b,
            guard(&new, "wb", LEASE_MS + 2),
            ExecutionOutcome::Completed(json!("B"))
        )
        .await
    );
    assert_eq!(get(&a, "e1").await.result, Some(json!("B")));
}
