//! The journal: saving steps and attempts, loading a run, the detail view.

use serde_json::json;
use zart_core::{
    AttemptRecord, AttemptStatus, AttemptWrite, DetailQuery, StepHeader, StepKind, StepSave,
    StepStatus, StepWrite,
};

use crate::support::*;

/// Entries come back ordered by position, with ids `name#occurrence` and no
/// attempts.
pub async fn journal_load_orders_by_position(store: DynStore) {
    insert(&store, "e1").await;
    let c = claim_one(&store, "w", 0, "e1").await;
    for (name, occurrence, position) in [("c", 0, 2), ("a", 0, 0), ("b", 0, 1), ("a", 1, 3)] {
        let step = completed_step(name, occurrence, position);
        let params = StepSave {
            guard: guard(&c, "w", 1),
            run_index: 1,
            attempt: Some(attempt(1, AttemptStatus::Completed)),
            step,
        };
        assert!(store.step_save(params).await.unwrap());
    }
    let journal = store.journal_load("e1", 1).await.unwrap();
    let ids: Vec<&str> = journal.iter().map(|s| s.step_id.as_str()).collect();
    assert_eq!(ids, ["a#0", "b#0", "c#0", "a#1"]);
    let positions: Vec<u32> = journal.iter().map(|s| s.position).collect();
    assert_eq!(positions, [0, 1, 2, 3]);
    assert!(journal.iter().all(|s| s.attempts.is_empty()));
    assert!(store.journal_load("e1", 2).await.unwrap().is_empty());
}

fn attempt(number: u32, status: AttemptStatus) -> AttemptWrite {
    let done = status != AttemptStatus::Running;
    AttemptWrite {
        attempt_number: number,
        status,
        result: (status == AttemptStatus::Completed).then(|| json!({"attempt": number})),
        error: (status == AttemptStatus::Failed).then(|| format!("attempt {number} failed")),
        started_at: at(100 * number as i64),
        completed_at: done.then(|| at(100 * number as i64 + 50)),
    }
}

/// Every field of a journal entry round-trips, for every kind and status.
pub async fn step_save_round_trips_every_field(store: DynStore) {
    insert(&store, "e1").await;
    let c = claim_one(&store, "w", 0, "e1").await;
    let mut expected = Vec::new();
    for (i, kind) in StepKind::ALL.iter().enumerate() {
        let status = StepStatus::ALL[i % StepStatus::ALL.len()];
        let step = StepWrite {
            name: format!("step {kind} ✓"),
            occurrence: i as u32 % 3,
            position: i as u32,
            kind: *kind,
            status,
            result: (i % 2 == 0).then(|| json!({"i": i, "s": "ünï"})),
            last_error: (i % 2 == 1).then(|| format!("error {i}")),
            retryable: i % 3 == 0,
            retry_attempt: i as u32,
            scheduled_at: at(i as i64),
            completed_at: (i % 2 == 0).then(|| at(1_000 + i as i64)),
            wake_at: (i % 3 == 1).then(|| at(2_000 + i as i64)),
        };
        assert!(save_step(&store, guard(&c, "w", 1), step.clone()).await);
        expected.push(step);
    }
    let journal = store.journal_load("e1", 1).await.unwrap();
    assert_eq!(journal.len(), expected.len());
    for (got, want) in journal.iter().zip(&expected) {
        assert_eq!(got.step_id, zart_core::step_id(&want.name, want.occurrence));
        assert_eq!(got.name, want.name);
        assert_eq!(got.occurrence, want.occurrence);
        assert_eq!(got.position, want.position);
        assert_eq!(got.kind, want.kind);
        assert_eq!(got.status, want.status);
        assert_eq!(got.result, want.result);
        assert_eq!(got.last_error, want.last_error);
        assert_eq!(got.retryable, want.retryable);
        assert_eq!(got.retry_attempt, want.retry_attempt);
        assert_eq!(got.scheduled_at, want.scheduled_at);
        assert_eq!(got.completed_at, want.completed_at);
        assert_eq!(got.wake_at, want.wake_at);
    }
}

/// Saving the same (run, name, occurrence) updates the entry in place, keeping its
/// first `scheduled_at`; attempts are upserted by number.
pub async fn step_save_upserts_and_records_attempts(store: DynStore) {
    insert(&store, "e1").await;
    let c = claim_one(&store, "w", 0, "e1").await;
    let header = |retry_attempt, scheduled_at| StepHeader {
        retry_attempt,
        scheduled_at,
        ..step_header("charge", 0, 0, StepKind::Step)
    };
    let running = StepWrite::running(header(0, at(10)));
    let failed = StepWrite::retrying(header(1, at(999)), "attempt 1 failed".into(), at(400));
    // The completing save still carries the failed attempt's error: the entry keeps
    // what the last save wrote.
    let done = StepWrite {
        last_error: failed.last_error.clone(),
        retryable: true,
        ..StepWrite::completed(header(2, at(999)), Some(json!({"charged": true})), at(250))
    };
    let saves = [
        (running, attempt(1, AttemptStatus::Running)),
        (failed, attempt(1, AttemptStatus::Failed)),
        (done, attempt(2, AttemptStatus::Completed)),
    ];
    for (step, attempt) in saves {
        let params = StepSave {
            guard: guard(&c, "w", 5),
            run_index: 1,
            step,
            attempt: Some(attempt),
        };
        assert!(store.step_save(params).await.unwrap());
    }
    let journal = store.journal_load("e1", 1).await.unwrap();
    assert_eq!(journal.len(), 1);
    let entry = &journal[0];
    assert_eq!(entry.status, StepStatus::Completed);
    assert_eq!(entry.result, Some(json!({"charged": true})));
    assert_eq!(entry.retry_attempt, 2);
    assert_eq!(entry.last_error.as_deref(), Some("attempt 1 failed"));
    assert_eq!(entry.scheduled_at, at(10), "scheduled_at is kept on update");
    assert_eq!(entry.completed_at, Some(at(250)));
    assert_eq!(entry.wake_at, None);

    let detail = detail(&store, "e1", None).await;
    let attempts = &detail.steps[0].attempts;
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0], record(attempt(1, AttemptStatus::Failed)));
    assert_eq!(attempts[1], record(attempt(2, AttemptStatus::Completed)));
}

fn record(a: AttemptWrite) -> AttemptRecord {
    AttemptRecord {
        attempt_number: a.attempt_number,
        status: a.status,
        result: a.result,
        error: a.error,
        started_at: a.started_at,
        completed_at: a.completed_at,
    }
}

/// An attempt as the detail view shows it in `step`: a completed attempt without a
/// result of its own shows the step's (see `StepRecord::fill_attempt_results`).
fn shown(a: AttemptWrite, step: &StepWrite) -> AttemptRecord {
    let result = match (&a.result, a.status) {
        (None, AttemptStatus::Completed) => step.result.clone(),
        _ => a.result.clone(),
    };
    AttemptRecord {
        result,
        ..record(a)
    }
}

async fn detail(store: &DynStore, id: &str, run_index: Option<i32>) -> zart_core::ExecutionDetail {
    let query = DetailQuery {
        execution_id: id.into(),
        run_index,
    };
    store
        .execution_detail(query)
        .await
        .unwrap()
        .expect("detail")
}

/// The detail view has the execution, all runs, and the selected run's steps with
/// their attempts (the current run when none is named).
pub async fn detail_includes_runs_steps_and_attempts(store: DynStore) {
    insert(&store, "e1").await;
    let c = claim_one(&store, "w", 0, "e1").await;
    for (position, name) in ["first", "second"].into_iter().enumerate() {
        let params = StepSave {
            guard: guard(&c, "w", 1),
            run_index: 1,
            step: completed_step(name, 0, position as u32),
            attempt: Some(attempt(1, AttemptStatus::Completed)),
        };
        assert!(store.step_save(params).await.unwrap());
    }
    let current = detail(&store, "e1", None).await;
    assert_eq!(current.execution, get(&store, "e1").await);
    assert_eq!(current.runs, store.run_list("e1").await.unwrap().unwrap());
    assert_eq!(current.runs.len(), 1);
    let names: Vec<&str> = current.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["first", "second"]);
    for step in &current.steps {
        assert_eq!(
            step.attempts,
            vec![record(attempt(1, AttemptStatus::Completed))]
        );
    }
    assert_eq!(detail(&store, "e1", Some(1)).await, current);
    let missing_run = detail(&store, "e1", Some(7)).await;
    assert!(missing_run.steps.is_empty());
    assert_eq!(missing_run.execution, current.execution);
}

/// The attempt that completed a step, as the runtime records it (no result or error
/// of its own), reads back like any other, also when the batch writer stores it in
/// the step row; a later save of the step, with another attempt or none, keeps it.
pub async fn completing_attempt_survives_later_saves(store: DynStore) {
    insert(&store, "e1").await;
    let c = claim_one(&store, "w", 0, "e1").await;
    let step = completed_step("s", 0, 0);
    let first = AttemptWrite::completed(1, at(1), step.completed_at.expect("completed"));
    let save = |step: StepWrite, attempt: Option<AttemptWrite>| StepSave {
        guard: guard(&c, "w", 3),
        run_index: 1,
        step,
        attempt,
    };
    assert!(store
        .step_save(save(step.clone(), Some(first.clone())))
        .await
        .unwrap());
    let attempts = |d: zart_core::ExecutionDetail| d.steps[0].attempts.clone();
    assert_eq!(
        attempts(detail(&store, "e1", None).await),
        [shown(first.clone(), &step)]
    );
    let journal = store.journal_load("e1", 1).await.unwrap();
    assert_eq!(journal[0].result, step.result);
    assert_eq!(journal[0].retry_attempt, 1);

    // Saved again with the same attempt: still one attempt.
    assert!(store
        .step_save(save(step.clone(), Some(first.clone())))
        .await
        .unwrap());
    assert_eq!(
        attempts(detail(&store, "e1", None).await),
        [shown(first.clone(), &step)]
    );

    // Saved again without an attempt: the first is kept.
    assert!(store.step_save(save(step.clone(), None)).await.unwrap());
    assert_eq!(
        attempts(detail(&store, "e1", None).await),
        [shown(first.clone(), &step)]
    );

    // Saved again, kept in the row once more, then with attempt 1 as a record of its
    // own (a result of its own): attempts are upserted by number, so that record wins.
    assert!(store
        .step_save(save(step.clone(), Some(first.clone())))
        .await
        .unwrap());
    let own = AttemptWrite {
        result: Some(json!("own")),
        ..first.clone()
    };
    assert!(store
        .step_save(save(step.clone(), Some(own.clone())))
        .await
        .unwrap());
    assert_eq!(attempts(detail(&store, "e1", None).await), [record(own)]);

    // A second step completed on its second attempt after a failed first: both.
    let second = StepWrite {
        retry_attempt: 2,
        ..completed_step("t", 0, 1)
    };
    let failed = attempt(1, AttemptStatus::Failed);
    let scheduled = StepWrite {
        status: StepStatus::Scheduled,
        retry_attempt: 1,
        completed_at: None,
        ..second.clone()
    };
    assert!(store
        .step_save(save(scheduled, Some(failed.clone())))
        .await
        .unwrap());
    let won = AttemptWrite {
        attempt_number: 2,
        started_at: at(2),
        ..first.clone()
    };
    assert!(store
        .step_save(save(second.clone(), Some(won.clone())))
        .await
        .unwrap());
    let d = detail(&store, "e1", None).await;
    assert_eq!(
        d.steps[1].attempts,
        [record(failed), shown(won.clone(), &second)]
    );

    // A completed step saved once more with a new attempt: the earlier completing
    // attempt is kept beside it.
    let third = AttemptWrite::failed(3, "third".into(), at(3), at(3));
    let again = StepWrite {
        retry_attempt: 3,
        ..second
    };
    assert!(store
        .step_save(save(again.clone(), Some(third.clone())))
        .await
        .unwrap());
    let d = detail(&store, "e1", None).await;
    assert_eq!(
        d.steps[1].attempts,
        [
            record(attempt(1, AttemptStatus::Failed)),
            shown(won, &again),
            record(third)
        ]
    );
}
