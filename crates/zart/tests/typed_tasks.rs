//! Typed tasks: a task declared as a type is started, awaited and joined with its
//! own input and output types; a failed, cancelled or undecodable execution and an
//! execution of another task are clear errors; and the typed task is the same task
//! the untyped API starts by name. Each case runs on a SQLite file and on
//! PostgreSQL (skipped with a notice when `ZART_TEST_POSTGRES_URL` is unset).

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::json;
use zart::core::{ErrorKind, ExecutionStatus, Store};
use zart::prelude::*;

/// Squares its input; counts its runs (the task value is shared by executions).
struct Square {
    runs: Counter,
}

impl Task for Square {
    const NAME: &'static str = "square";
    type Input = u32;
    type Output = u32;

    async fn run(&self, ctx: Ctx, n: u32) -> TaskResult<u32> {
        self.runs.bump();
        ctx.step("mul", || async move { Ok(n * n) }).await
    }
}

/// Sums the squares of its inputs, one typed child each, and one more through
/// `child_task`.
struct SumOfSquares;

impl Task for SumOfSquares {
    const NAME: &'static str = "sum-of-squares";
    type Input = Vec<u32>;
    type Output = u32;

    async fn run(&self, ctx: Ctx, items: Vec<u32>) -> TaskResult<u32> {
        let mut children = Vec::new();
        for item in items {
            children.push(ctx.spawn_task::<Square>("square", item).await?);
        }
        let mut sum = 0;
        for child in &children {
            sum += ctx.join(child).await?;
        }
        let one_more = ctx.child_task::<Square>("one-more", 10).await?;
        Ok(sum + one_more)
    }
}

/// Fails permanently in its only step.
struct Broken;

impl Task for Broken {
    const NAME: &'static str = "broken";
    type Input = ();
    type Output = u32;

    async fn run(&self, ctx: Ctx, _: ()) -> TaskResult<u32> {
        ctx.step_with(
            "explode",
            StepOptions::retry(RetryPolicy::none()),
            || async { Err::<u32, _>(TaskError::permanent("boom")) },
        )
        .await
    }
}

/// Waits an hour for an event: long enough to be cancelled.
struct Parked;

impl Task for Parked {
    const NAME: &'static str = "parked";
    type Input = ();
    type Output = ();

    async fn run(&self, ctx: Ctx, _: ()) -> TaskResult<()> {
        ctx.wait_for_event("go", Duration::from_secs(3600)).await
    }
}

/// Spawns a `Parked` child that outlives it, and returns the child's id.
struct Launcher;

impl Task for Launcher {
    const NAME: &'static str = "launcher";
    type Input = ();
    type Output = String;

    async fn run(&self, ctx: Ctx, _: ()) -> TaskResult<String> {
        let child = ctx
            .spawn_task_with::<Parked>("parked", (), ChildOptions::abandon())
            .await?;
        Ok(child.id().to_owned())
    }
}

/// Says its output is a number, but `versioned` (registered as a plain handler
/// under the same name, as an older deploy would) returns text.
struct Versioned;

impl Task for Versioned {
    const NAME: &'static str = "versioned";
    type Input = ();
    type Output = u32;

    async fn run(&self, _ctx: Ctx, _: ()) -> TaskResult<u32> {
        Ok(2)
    }
}

/// An input JSON cannot hold: map keys must be strings.
struct Grid;

impl Task for Grid {
    const NAME: &'static str = "grid";
    type Input = HashMap<Vec<u32>, u32>;
    type Output = ();

    async fn run(&self, _ctx: Ctx, _: Self::Input) -> TaskResult<()> {
        Ok(())
    }
}

/// Never registered.
struct Unregistered;

impl Task for Unregistered {
    const NAME: &'static str = "unregistered";
    type Input = ();
    type Output = ();

    async fn run(&self, _ctx: Ctx, _: ()) -> TaskResult<()> {
        Ok(())
    }
}

fn engine(store: Arc<dyn Store>, runs: Counter) -> Zart {
    Zart::builder(store)
        .add_task(Square { runs })
        .add_task(SumOfSquares)
        .add_task(Broken)
        .add_task(Parked)
        .add_task(Launcher)
        .add_task(Grid)
        .task("versioned", |_: Ctx, _: serde_json::Value| async move {
            Ok("two".to_owned())
        })
        .build()
}

async fn typed_start_and_wait_return_the_typed_output(store: Arc<dyn Store>) {
    let runs = Counter::default();
    let zart = engine(store, runs.clone());
    let worker = zart.start_worker(fast());
    let client = zart.client();

    let started = client.start_task::<Square>(7).id("sq-7").await.unwrap();
    assert!(started.created);
    assert_eq!(started.execution.task_name, "square");
    assert_eq!(started.execution.payload, json!(7));
    let out: u32 = client.wait_task::<Square>("sq-7", WAIT).await.unwrap();
    assert_eq!(out, 49);
    assert_eq!(runs.get(), 1, "the registered task value ran it");

    let replay = client.start_task::<Square>(7).id("sq-7").await.unwrap();
    assert!(!replay.created, "idempotent by id");
    let conflict = client.start_task::<Square>(8).id("sq-7").await.unwrap_err();
    assert!(matches!(conflict, ClientError::Conflict(_)), "{conflict:?}");

    let deadline = chrono::Utc::now() + chrono::Duration::hours(1);
    let started = client
        .start_task::<Square>(3)
        .deadline_at(deadline)
        .await
        .unwrap();
    let stored = started.execution.deadline_at.expect("a deadline");
    assert_eq!(stored.timestamp_millis(), deadline.timestamp_millis());
    let out = client
        .wait_task::<Square>(&started.execution.id, WAIT)
        .await
        .unwrap();
    assert_eq!(out, 9);
    worker.shutdown(Duration::from_secs(5)).await;
}

async fn typed_children_join_with_their_typed_output(store: Arc<dyn Store>) {
    let runs = Counter::default();
    let zart = engine(store, runs.clone());
    let worker = zart.start_worker(fast());
    let client = zart.client();

    let started = client
        .start_task::<SumOfSquares>(vec![1, 2, 3])
        .await
        .unwrap();
    let id = started.execution.id;
    let sum = client.wait_task::<SumOfSquares>(&id, WAIT).await.unwrap();
    assert_eq!(sum, 1 + 4 + 9 + 100);
    assert_eq!(runs.get(), 4, "one run per child");

    let children = client
        .list(zart::core::ExecutionQuery {
            task_name: Some(Square::NAME.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(children.len(), 4);
    for child in &children {
        assert_eq!(child.parent_id.as_deref(), Some(id.as_str()));
        let out = client.wait_task::<Square>(&child.id, WAIT).await.unwrap();
        let input: u32 = serde_json::from_value(child.payload.clone()).unwrap();
        assert_eq!(out, input * input);
    }
    worker.shutdown(Duration::from_secs(5)).await;
}

async fn an_abandoned_typed_child_outlives_its_parent(store: Arc<dyn Store>) {
    let zart = engine(store, Counter::default());
    let worker = zart.start_worker(fast());
    let client = zart.client();

    let parent = client
        .start_task::<Launcher>(())
        .await
        .unwrap()
        .execution
        .id;
    let child = client.wait_task::<Launcher>(&parent, WAIT).await.unwrap();
    let record = until(&client, &child, parked_on("event")).await;
    assert_eq!(record.parent_id.as_deref(), Some(parent.as_str()));
    client.offer_event(&child, "go", json!(null)).await.unwrap();
    client.wait_task::<Parked>(&child, WAIT).await.unwrap();
    worker.shutdown(Duration::from_secs(5)).await;
}

async fn typed_wait_reports_failure_cancellation_and_undecodable_results(store: Arc<dyn Store>) {
    let zart = engine(store, Counter::default());
    let worker = zart.start_worker(fast());
    let client = zart.client();

    let broken = client.start_task::<Broken>(()).await.unwrap().execution.id;
    match client.wait_task::<Broken>(&broken, WAIT).await {
        Err(ClientError::Failed { id, error }) => {
            assert_eq!(id, broken);
            assert_eq!(error.kind, ErrorKind::StepFailed);
            assert_eq!(error.step.as_deref(), Some("explode"));
            assert!(error.message.contains("boom"), "{error:?}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }

    let parked = client.start_task::<Parked>(()).await.unwrap().execution.id;
    until(&client, &parked, parked_on("event")).await;
    client.cancel(&parked).await.unwrap();
    let err = client.wait_task::<Parked>(&parked, WAIT).await.unwrap_err();
    assert_eq!(err, ClientError::Cancelled { id: parked.clone() });
    assert!(err.to_string().contains("cancelled"), "{err}");

    let versioned = client
        .start_task::<Versioned>(())
        .await
        .unwrap()
        .execution
        .id;
    let err = client
        .wait_task::<Versioned>(&versioned, WAIT)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::TypeMismatch(m) if m.contains("u32") && m.contains(&versioned)),
        "{err:?}"
    );
    let done = client.get(&versioned).await.unwrap();
    assert_eq!(
        done.status,
        ExecutionStatus::Completed,
        "the execution is fine"
    );
    assert_eq!(done.result, Some(json!("two")));
    worker.shutdown(Duration::from_secs(5)).await;
}

async fn typed_calls_refuse_another_task_and_bad_input(store: Arc<dyn Store>) {
    let zart = engine(store, Counter::default());
    let worker = zart.start_worker(fast());
    let client = zart.client();

    // An execution of another task is refused at once, while it still runs: the
    // call does not wait out its timeout first.
    let parked = client.start_task::<Parked>(()).await.unwrap().execution.id;
    let err = client
        .wait_task::<Square>(&parked, Duration::from_secs(600))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::TypeMismatch(m) if m.contains("parked") && m.contains("square")),
        "{err:?}"
    );
    assert!(!client.get(&parked).await.unwrap().status.is_terminal());

    let err = client.start_task::<Unregistered>(()).await.unwrap_err();
    assert!(
        matches!(&err, ClientError::UnknownTask(m) if m.contains("unregistered")),
        "{err:?}"
    );

    let grid = HashMap::from([(vec![1, 2], 3)]);
    let err = client
        .start_task::<Grid>(grid)
        .id("grid-1")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::InvalidInput(m) if m.contains("grid") && m.contains("serialize")),
        "{err:?}"
    );
    let missing = client.get("grid-1").await.unwrap_err();
    assert!(
        matches!(missing, ClientError::NotFound(_)),
        "nothing stored"
    );

    let err = client
        .wait_task::<Square>("no-such-execution", WAIT)
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::NotFound(_)), "{err:?}");
    client.cancel(&parked).await.unwrap();
    worker.shutdown(Duration::from_secs(5)).await;
}

async fn a_typed_task_is_the_task_the_untyped_api_starts_by_name(store: Arc<dyn Store>) {
    let zart = engine(store, Counter::default());
    let worker = zart.start_worker(fast());
    let client = zart.client();
    assert!(zart.tasks().contains(Square::NAME));

    // Started by name with JSON, awaited typed.
    let by_name = start(&client, "square", json!(6)).await;
    assert_eq!(
        client.wait_task::<Square>(&by_name, WAIT).await.unwrap(),
        36
    );

    // Started typed, awaited untyped: the result is the output's JSON.
    let typed = client.start_task::<Square>(5).await.unwrap().execution.id;
    let done = finish(&client, &typed).await;
    assert_eq!(done.status, ExecutionStatus::Completed);
    assert_eq!(done.result, Some(json!(25)));

    // The same request either way, and the registry checks typed input by name.
    let request = StartRequest::task::<Square>(&4).unwrap().id("sq-4");
    assert_eq!(request, StartRequest::new("square", json!(4)).id("sq-4"));
    let started = client.start(request).await.unwrap();
    let replay = client.start_task::<Square>(4).id("sq-4").await.unwrap();
    assert!(!replay.created);
    assert_eq!(replay.execution.id, started.execution.id);
    let err = client
        .start(StartRequest::new("square", json!("four")))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::InvalidInput(_)), "{err:?}");
    worker.shutdown(Duration::from_secs(5)).await;
}

on_both!(
    typed_start_and_wait_return_the_typed_output,
    typed_children_join_with_their_typed_output,
    an_abandoned_typed_child_outlives_its_parent,
    typed_wait_reports_failure_cancellation_and_undecodable_results,
    typed_calls_refuse_another_task_and_bad_input,
    a_typed_task_is_the_task_the_untyped_api_starts_by_name,
);
