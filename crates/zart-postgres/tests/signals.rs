//! LISTEN/NOTIFY across instances, `listen: false`, and the listener's recovery.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{another_instance, fresh_named_store, fresh_store, kill_backends};
use serde_json::json;
use zart_core::{ExecutionStatus, NewPauseRule, PauseDelete, Signal, Store};
use zart_postgres::PgOptions;
use zart_store_tests::postgres::FreshSchema;
use zart_store_tests::support::{
    at, claim_ids, expect_signal, insert, run_to_completion, DynStore, SIGNAL_TIMEOUT,
};

fn is_work(s: &Signal) -> bool {
    matches!(s, Signal::Work)
}

async fn other_instance(schema: &FreshSchema, listen: bool) -> DynStore {
    let options = PgOptions::default().max_connections(2).listen(listen);
    Arc::new(another_instance(schema, options).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_reach_other_instances_on_the_schema() {
    let Some((listening, schema)) = fresh_store("notify", PgOptions::default()).await else {
        return;
    };
    let writer = other_instance(&schema, false).await;
    let mut sub = listening.subscribe();
    insert(&writer, "e1").await;
    expect_signal(&mut sub, is_work).await;
    let mut sub = listening.subscribe();
    run_to_completion(&writer, "e1", 0, json!("done")).await;
    expect_signal(&mut sub, |s| {
        matches!(s, Signal::Finished { execution_id, status: ExecutionStatus::Completed }
            if execution_id == "e1")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_rule_changes_reach_other_instances() {
    let Some((listening, schema)) = fresh_store("pausenotify", PgOptions::default()).await else {
        return;
    };
    let writer = other_instance(&schema, false).await;
    let rule = NewPauseRule {
        rule_id: "r1".into(),
        execution_id: None,
        task_name: Some("task".into()),
        step_pattern: None,
        expires_at: None,
        created_by: "tester".into(),
        reason: None,
        now: at(0),
    };
    let is_pauses = |s: &Signal| matches!(s, Signal::Pauses);
    let mut sub = listening.subscribe();
    writer.pause_create(rule).await.expect("pause_create");
    expect_signal(&mut sub, is_pauses).await;
    let mut sub = listening.subscribe();
    let deleted = writer
        .pause_delete("r1", at(1))
        .await
        .expect("pause_delete");
    assert_eq!(deleted, PauseDelete::Deleted { resumed: 0 });
    expect_signal(&mut sub, is_pauses).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_listen_own_writes_signal_and_polling_finds_the_rest() {
    let options = PgOptions::default().listen(false);
    let Some((store, schema)) = fresh_named_store("nolisten", options).await else {
        return;
    };
    let listens: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE application_name = $1 AND starts_with(query, 'LISTEN')",
    )
    .bind(schema.name())
    .fetch_one(store.pool())
    .await
    .expect("pg_stat_activity");
    assert_eq!(listens, 0, "no LISTEN connection with listen: false");

    let store: DynStore = Arc::new(store);
    let mut sub = store.subscribe();
    insert(&store, "mine").await;
    expect_signal(&mut sub, is_work).await;

    // Another process's insert sends no hint here; a claim (the polling path) finds it.
    let other = other_instance(&schema, false).await;
    insert(&other, "theirs").await;
    assert_eq!(claim_ids(&store, "w", 0).await, vec!["mine", "theirs"]);
    let quiet = tokio::time::timeout(Duration::from_millis(200), sub.recv()).await;
    assert!(quiet.is_err(), "no hint (and no end of stream): {quiet:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_reports_lag_and_resumes_after_its_connection_is_killed() {
    let Some((store, schema)) = fresh_named_store("relisten", PgOptions::default()).await else {
        return;
    };
    let mut sub = store.subscribe();
    let killed = kill_backends(&store, schema.name(), "LISTEN").await;
    assert_eq!(killed, 1, "one LISTEN connection per store");
    expect_signal(&mut sub, |s| matches!(s, Signal::Lagged)).await;

    // Hints flow again once the listener is back: each round inserts and waits
    // briefly for the matching hint, until one arrives.
    let store: DynStore = Arc::new(store);
    let deadline = tokio::time::Instant::now() + SIGNAL_TIMEOUT;
    for round in 0.. {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no hint after reconnect"
        );
        let mut sub = store.subscribe();
        insert(&store, &format!("after-{round}")).await;
        let got = tokio::time::timeout(Duration::from_millis(500), async {
            loop {
                match sub.recv().await {
                    Some(Signal::Work) => return true,
                    Some(_) => continue,
                    None => return false,
                }
            }
        })
        .await;
        if got == Ok(true) {
            break;
        }
    }
}

#[tokio::test]
async fn subscription_ends_when_the_store_is_dropped() {
    let Some((store, _schema)) = fresh_store("dropsub", PgOptions::default()).await else {
        return;
    };
    let mut sub = store.subscribe();
    drop(store);
    let ended = tokio::time::timeout(SIGNAL_TIMEOUT, sub.recv()).await;
    assert_eq!(ended, Ok(None));
}
