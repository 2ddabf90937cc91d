//! Zart: durable execution for Rust.
//!
//! A workflow is an ordinary `async fn(ctx, input) -> Result<output, TaskError>`.
//! Every `ctx.step(...)` result is checkpointed in a database, so a crash, deploy or
//! restart resumes the workflow where it stopped and no completed step runs twice.
//! Sleeps, waits for events and waits for child executions are durable and hold no
//! worker slot. A transactional step (`ctx.sqlite_transaction`, or `ctx.transaction`
//! on PostgreSQL) commits its database writes with its checkpoint, and
//! `Client::start_in` / `start_in_sqlite` start an execution inside the caller's own
//! transaction.
//!
//! A task can also be declared as a type ([`Task`]: a name, input and output types
//! and a handler), so starting it ([`Client::start_task`]), waiting for its output
//! ([`Client::wait_task`]) and running it as a child ([`Ctx::spawn_task`]) are
//! checked by the compiler. It is the same task by name for the untyped API.
//!
//! This crate owns the runtime: the task registry, the worker, the handler context
//! ([`Ctx`]) and the [`Client`]. Storage is behind `zart_core::Store` (SQLite built in;
//! PostgreSQL with the `postgres` feature). [`testing::TestEnv`] runs workflows on
//! virtual time, for tests.
//!
//! Tracing: the runtime opens `tracing` spans for each start, run, step attempt,
//! sleep, wait and child; with an OpenTelemetry layer they form one trace per
//! execution, continued by every run on any process, because the W3C context is
//! stored with the execution ([`TraceContext`], [`StartRequest::trace_context`]). The
//! `otlp` feature adds `telemetry`, an OTLP exporter configured by the standard
//! `OTEL_*` variables.
//!
//! ```no_run
//! use std::time::Duration;
//! use zart::prelude::*;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let store = zart::connect("sqlite://orders.db").await?;
//!     let zart = Zart::builder(store)
//!         .task("charge", |ctx: Ctx, amount: u64| async move {
//!             let receipt: String = ctx
//!                 .step("charge-card", || async move { Ok(format!("paid {amount}")) })
//!                 .await?;
//!             ctx.sleep("cool-off", Duration::from_millis(100)).await;
//!             Ok(receipt)
//!         })
//!         .build();
//!     let worker = zart.start_worker(WorkerConfig::default());
//!     let client = zart.client();
//!     let started = client.start(StartRequest::new("charge", 42.into())).await?;
//!     let done = client
//!         .wait(&started.execution.id, Duration::from_secs(10))
//!         .await?;
//!     println!("{:?}", done.result);
//!     worker.shutdown(Duration::from_secs(5)).await;
//!     Ok(())
//! }
//! ```

mod client;
mod context;
mod engine;
mod error;
pub mod metrics;
mod offer;
mod operator;
mod outbox;
mod pauses;
mod queue;
mod registry;
mod retry;
mod retry_store;
mod schedules;
mod spans;
mod task;
#[cfg(feature = "otlp")]
pub mod telemetry;
pub mod testing;
mod time;
mod trace_context;
mod worker;

pub use client::{
    validate_name, Client, StartRequest, Started, DEFAULT_MAX_PENDING_EVENTS, MAX_LIST_LIMIT,
    MAX_NAME_CHARS,
};
pub use context::{current_attempt, ChildHandle, ChildOptions, Ctx};
pub use engine::{connect, Zart, ZartBuilder};
pub use error::{ClientError, TaskError, TaskResult};
pub use offer::{OfferOptions, Offered};
pub use operator::{
    ActionOptions, PauseRequest, DEFAULT_TRIGGERED_BY, MAX_REASON_CHARS, MAX_RERUN_NAMES,
};
pub use queue::{Queue, DEFAULT_PRIORITY_AGING};
pub use registry::TaskRegistry;
pub use retry::{RetryPolicy, StepOptions};
pub use schedules::{Schedule, NEXT_FIRE_TIMES, POLL_EVERY};
pub use task::{StartTask, Task};
pub use trace_context::TraceContext;
pub use worker::{Retention, WorkerConfig, WorkerHandle, DEFAULT_RETENTION};

/// The store-level types, re-exported so users need only this crate.
pub use zart_core as core;

/// The SQLite store, for its own API: [`SqliteTransaction`](zart_sqlite::SqliteTransaction)
/// (the transaction of [`Ctx::sqlite_transaction`] and [`Client::start_in_sqlite`]),
/// [`SqliteStore::transaction`](zart_sqlite::SqliteStore::transaction), and the
/// `rusqlite` it is built on.
pub use zart_sqlite as sqlite;

/// The PostgreSQL store (the `postgres` feature), for its own API:
/// [`PgTransaction`](zart_postgres::PgTransaction) (the transaction of
/// [`Ctx::transaction`] and [`Client::start_in`]) and the `sqlx` it is built on.
#[cfg(feature = "postgres")]
pub use zart_postgres as postgres;

/// Everything a workflow author needs.
pub mod prelude {
    pub use crate::{
        ChildHandle, ChildOptions, Client, ClientError, Ctx, Queue, RetryPolicy, StartRequest,
        StepOptions, Task, TaskError, TaskRegistry, TaskResult, WorkerConfig, WorkerHandle, Zart,
    };
    pub use zart_core::{
        CatchUpPolicy, ExecutionRecord, ExecutionStatus, OverlapPolicy, ParentClosePolicy,
        ScheduleSpec,
    };
}
