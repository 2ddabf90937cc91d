//! Pause rules: created, listed while active, deleted; and executions parked on a
//! rule, which its delete (or its expiry) resumes.

use tokio::task::JoinSet;
use zart_core::{NewPauseRule, PauseDelete, PauseRule, Signal, WaitingFor};

use crate::support::*;

/// A rule `rule_id` on task `"task"`'s `charge*` steps, created at `at(now)`.
fn new_rule(rule_id: &str, now: i64) -> NewPauseRule {
    NewPauseRule {
        rule_id: rule_id.into(),
        execution_id: None,
        task_name: Some("task".into()),
        step_pattern: Some("charge*".into()),
        expires_at: None,
        created_by: "tester".into(),
        reason: Some("card processor outage".into()),
        now: at(now),
    }
}

async fn create(store: &DynStore, new: NewPauseRule) -> PauseRule {
    store.pause_create(new).await.expect("pause_create")
}

async fn delete(store: &DynStore, rule_id: &str, now: i64) -> PauseDelete {
    store
        .pause_delete(rule_id, at(now))
        .await
        .expect("pause_delete")
}

async fn listed(store: &DynStore, now: i64) -> Vec<String> {
    let rules = store.pause_list(at(now)).await.expect("pause_list");
    rules.into_iter().map(|r| r.rule_id).collect()
}

/// What an execution parked on `rule` waits for.
fn on_rule(rule: &PauseRule) -> WaitingFor {
    WaitingFor::Pause {
        rule_id: rule.rule_id.clone(),
        expires_at: rule.expires_at,
    }
}

/// Claims `id` (inserted now) and parks it on `rule` until the rule expires, as the
/// runtime does.
async fn park_on(store: &DynStore, id: &str, rule: &PauseRule, now: i64) {
    insert_due(store, id, now).await;
    let c = claim_one(store, "w", now, id).await;
    assert!(suspend(store, guard(&c, "w", now), rule.expires_at, on_rule(rule)).await);
}

/// A created rule is stored as given, and `Pauses` is signalled.
pub async fn pause_create_stores_the_rule_and_signals_pauses(store: DynStore) {
    let mut sub = store.subscribe();
    let new = NewPauseRule {
        execution_id: Some("e1".into()),
        expires_at: Some(at(5_000)),
        ..new_rule("r1", 10)
    };
    let rule = create(&store, new).await;
    let expected = PauseRule {
        rule_id: "r1".into(),
        execution_id: Some("e1".into()),
        task_name: Some("task".into()),
        step_pattern: Some("charge*".into()),
        created_at: at(10),
        expires_at: Some(at(5_000)),
        created_by: "tester".into(),
        deleted_at: None,
        reason: Some("card processor outage".into()),
    };
    assert_eq!(rule, expected);
    expect_signal(&mut sub, |s| matches!(s, Signal::Pauses)).await;
    assert_eq!(store.pause_list(at(20)).await.unwrap(), vec![expected]);
}

/// The list holds the rules neither deleted nor expired, oldest first.
pub async fn pause_list_shows_active_rules_oldest_first(store: DynStore) {
    create(&store, new_rule("newer", 20)).await;
    create(&store, new_rule("older", 10)).await;
    let expiring = NewPauseRule {
        expires_at: Some(at(50)),
        ..new_rule("expiring", 30)
    };
    create(&store, expiring).await;
    create(&store, new_rule("deleted", 5)).await;
    assert_eq!(
        delete(&store, "deleted", 40).await,
        PauseDelete::Deleted { resumed: 0 }
    );
    assert_eq!(listed(&store, 40).await, ["older", "newer", "expiring"]);
    assert_eq!(
        listed(&store, 50).await,
        ["older", "newer"],
        "expiry is exclusive"
    );
}

/// A delete resumes every execution parked on the rule, and only those, and
/// signals `Pauses` and `Work`; a second delete or an unknown rule changes nothing.
pub async fn pause_delete_resumes_parked_executions_and_signals(store: DynStore) {
    let rule = create(&store, new_rule("r1", 0)).await;
    let other = create(&store, new_rule("r2", 0)).await;
    park_on(&store, "e1", &rule, 1).await;
    park_on(&store, "e2", &rule, 2).await;
    park_on(&store, "held", &other, 3).await;
    let parked = get(&store, "e1").await.waiting_for;
    assert_eq!(parked, Some(on_rule(&rule)));
    assert!(claim_ids(&store, "w", 1_000 * LEASE_MS).await.is_empty());
    assert_eq!(store.execution_next_due().await.unwrap(), None);

    let mut pauses = store.subscribe();
    let mut work = store.subscribe();
    assert_eq!(
        delete(&store, "r1", 100).await,
        PauseDelete::Deleted { resumed: 2 }
    );
    expect_signal(&mut pauses, |s| matches!(s, Signal::Pauses)).await;
    expect_signal(&mut work, |s| matches!(s, Signal::Work)).await;
    assert_eq!(claim_ids(&store, "w", 100).await, ["e1", "e2"]);
    assert_eq!(listed(&store, 100).await, ["r2"]);

    assert_eq!(delete(&store, "r1", 200).await, PauseDelete::AlreadyDeleted);
    assert_eq!(delete(&store, "nope", 200).await, PauseDelete::NotFound);
    assert!(
        claim_ids(&store, "w", 200).await.is_empty(),
        "held stays parked"
    );
}

/// An execution parked on an expiring rule is due when the rule expires.
pub async fn suspend_on_pause_rule_parks_until_it_expires(store: DynStore) {
    let new = NewPauseRule {
        expires_at: Some(at(5_000)),
        ..new_rule("r1", 0)
    };
    let rule = create(&store, new).await;
    park_on(&store, "e1", &rule, 10).await;
    assert_eq!(get(&store, "e1").await.waiting_for, Some(on_rule(&rule)));
    assert!(claim_ids(&store, "w", 4_999).await.is_empty());
    assert_eq!(store.execution_next_due().await.unwrap(), Some(at(5_000)));
    assert_eq!(claim_ids(&store, "w", 5_000).await, ["e1"]);
}

/// A suspension on a rule already deleted, expired or unknown is due at once, even
/// without a wake time.
pub async fn suspend_on_released_pause_rule_is_due_now(store: DynStore) {
    let deleted = create(&store, new_rule("deleted", 0)).await;
    delete(&store, "deleted", 1).await;
    let expired = NewPauseRule {
        expires_at: Some(at(5)),
        ..new_rule("expired", 0)
    };
    let expired = create(&store, expired).await;
    let unknown = WaitingFor::Pause {
        rule_id: "unknown".into(),
        expires_at: None,
    };
    let waits = [
        ("e1", on_rule(&deleted)),
        ("e2", on_rule(&expired)),
        ("e3", unknown),
    ];
    for (id, wait) in waits {
        insert(&store, id).await;
        let c = claim_one(&store, "w", 10, id).await;
        assert!(suspend(&store, guard(&c, "w", 10), None, wait).await);
        assert_eq!(claim_ids(&store, "w", 10).await, [id], "{id}");
    }
}

/// How many times the delete-versus-suspension race is run.
const ROUNDS: usize = 20;

/// A rule deleted while an execution parks on it never leaves the execution parked:
/// whichever commits first, it is due at once afterwards.
pub async fn pause_delete_racing_suspension_never_leaves_it_parked(store: DynStore) {
    for round in 0..ROUNDS {
        let (id, rule_id) = (format!("e{round}"), format!("r{round}"));
        let rule = create(&store, new_rule(&rule_id, 0)).await;
        insert(&store, &id).await;
        let c = claim_one(&store, "w", 0, &id).await;
        let deleting = tokio::spawn({
            let store = store.clone();
            async move { store.pause_delete(&rule_id, at(1)).await }
        });
        assert!(suspend(&store, guard(&c, "w", 1), None, on_rule(&rule)).await);
        let deleted = deleting.await.expect("delete task").expect("pause_delete");
        assert!(
            matches!(deleted, PauseDelete::Deleted { resumed: 0 | 1 }),
            "{deleted:?}"
        );
        assert_eq!(claim_ids(&store, "w", 2).await, [id], "round {round}");
    }
}

/// Executions parking on one rule at once while it is deleted all end up due.
pub async fn pause_delete_racing_many_suspensions_resumes_them_all(store: DynStore) {
    const N: u32 = 8;
    let rule = create(&store, new_rule("r1", 0)).await;
    let claimed = insert_and_claim(&store, "e", N, "w").await;
    assert_eq!(claimed.len(), N as usize);
    let mut tasks = JoinSet::new();
    for c in &claimed {
        let (store, guard, wait) = (store.clone(), guard(c, "w", 1), on_rule(&rule));
        tasks.spawn(async move { suspend(&store, guard, None, wait).await });
    }
    let deleted = delete(&store, "r1", 1).await;
    assert!(matches!(deleted, PauseDelete::Deleted { resumed } if resumed <= u64::from(N)));
    while let Some(joined) = tasks.join_next().await {
        assert!(joined.expect("suspend task"));
    }
    assert_eq!(claim_ids(&store, "w", 2).await.len(), N as usize);
}
