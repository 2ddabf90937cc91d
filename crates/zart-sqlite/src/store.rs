//! [`SqliteStore`] and `impl Store`: each method sends its concept's SQL function to
//! the writer thread (writes) or a reader connection (reads); see `dispatch.rs`.

use std::sync::Arc;

use async_trait::async_trait;
use zart_core::*;

use crate::durable::DurablePoint;
use crate::health::Health;
use crate::owner::OwnerLock;
use crate::readers::Readers;
use crate::signals::Signals;
use crate::writer::{Counters, Writer};
use crate::{
    actions, activity, cancel, children, claims, detail, events, executions, finish, journal,
    parking, pauses, queues, retention, schedules,
};

/// The embedded SQLite [`Store`](zart_core::Store).
///
/// One writer thread owns the only write connection and commits concurrent writes
/// in groups (one transaction, one fsync per batch); a few read-only connections
/// serve reads concurrently (WAL mode). Dropping the store stops the writer once
/// queued writes are done.
pub struct SqliteStore {
    pub(crate) writer: Writer,
    pub(crate) readers: Option<Readers>,
    /// Set when commits are fsynced by the syncer thread; reads wait on it.
    pub(crate) durable: Option<DurablePoint>,
    pub(crate) signals: Signals,
    pub(crate) counters: Arc<Counters>,
    pub(crate) health: Arc<Health>,
    /// This process's ownership of the database file (none in memory).
    pub(crate) _owner: Option<Arc<OwnerLock>>,
}

#[async_trait]
impl Store for SqliteStore {
    fn backend_name(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.check_ready().await
    }

    async fn migration_list(&self) -> StoreResult<Vec<AppliedMigration>> {
        self.read(crate::migrate::applied).await
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn subscribe(&self) -> Box<dyn Subscription> {
        self.signals.subscribe()
    }

    async fn execution_insert(&self, params: NewExecution) -> StoreResult<InsertOutcome> {
        self.write(move |conn, signals| {
            let outcome = executions::insert(conn, &params)?;
            if matches!(outcome, InsertOutcome::Created(_)) {
                signals.push(Signal::Work);
            }
            Ok(outcome)
        })
        .await
    }

    async fn execution_get(&self, id: &str) -> StoreResult<Option<ExecutionRecord>> {
        let id = id.to_owned();
        self.read(move |conn| executions::get(conn, &id)).await
    }

    async fn execution_list(&self, query: ExecutionQuery) -> StoreResult<Vec<ExecutionRecord>> {
        self.read(move |conn| executions::list(conn, &query)).await
    }

    async fn execution_stats(&self) -> StoreResult<Stats> {
        self.read(executions::stats).await
    }

    async fn execution_activity(&self, query: ActivityQuery) -> StoreResult<Vec<ActivityBucket>> {
        self.read(move |conn| activity::activity(conn, &query))
            .await
    }

    async fn execution_claim(&self, params: ExecutionClaim) -> StoreResult<Vec<ClaimedExecution>> {
        self.write(move |conn, _| claims::claim(conn, &params))
            .await
    }

    async fn execution_next_due(&self) -> StoreResult<Option<Timestamp>> {
        self.read(claims::next_due).await
    }

    async fn lease_renew(&self, params: LeaseRenew) -> StoreResult<Vec<String>> {
        self.write(move |conn, _| claims::renew(conn, &params))
            .await
    }

    async fn execution_release(&self, guard: LeaseGuard) -> StoreResult<bool> {
        self.write(move |conn, signals| parking::release(conn, &guard, signals))
            .await
    }

    async fn execution_suspend(&self, params: ExecutionSuspend) -> StoreResult<bool> {
        self.write(move |conn, signals| parking::suspend(conn, &params, signals))
            .await
    }

    async fn execution_finish(&self, params: ExecutionFinish) -> StoreResult<bool> {
        self.write(move |conn, signals| finish::finish(conn, &params, signals))
            .await
    }

    async fn execution_cancel(&self, id: &str, now: Timestamp) -> StoreResult<CancelOutcome> {
        let id = id.to_owned();
        self.write(move |conn, signals| cancel::cancel(conn, &id, now, signals))
            .await
    }

    async fn journal_load(
        &self,
        execution_id: &str,
        run_index: i32,
    ) -> StoreResult<Vec<StepRecord>> {
        let id = execution_id.to_owned();
        self.read(move |conn| journal::load(conn, &id, run_index))
            .await
    }

    async fn step_save(&self, params: StepSave) -> StoreResult<bool> {
        self.write(move |conn, _| journal::save(conn, &params))
            .await
    }

    async fn event_offer(&self, params: EventOffer) -> StoreResult<OfferOutcome> {
        self.write(move |conn, signals| events::offer(conn, &params, signals))
            .await
    }

    async fn event_consume(&self, params: EventConsume) -> StoreResult<EventTake> {
        // A wait reached for the first time usually finds its inbox empty: a reader
        // answers that without taking a place in the writer's queue.
        let key = (params.guard.execution_id.clone(), params.name.clone());
        if !self
            .read(move |conn| events::pending(conn, &key.0, &key.1))
            .await?
        {
            return Ok(EventTake::Empty);
        }
        self.write(move |conn, _| events::consume(conn, &params))
            .await
    }

    async fn child_spawn(&self, params: ChildSpawn) -> StoreResult<SpawnOutcome> {
        self.write(move |conn, signals| children::spawn(conn, &params, signals))
            .await
    }

    async fn execution_detail(&self, query: DetailQuery) -> StoreResult<Option<ExecutionDetail>> {
        self.read(move |conn| detail::detail(conn, &query)).await
    }

    async fn run_list(&self, execution_id: &str) -> StoreResult<Option<Vec<RunRecord>>> {
        let id = execution_id.to_owned();
        self.read(move |conn| detail::run_list(conn, &id)).await
    }

    async fn event_list(&self, query: EventListQuery) -> StoreResult<Option<Vec<EventRecord>>> {
        self.read(move |conn| events::list(conn, &query)).await
    }

    async fn execution_purge(&self, params: ExecutionPurge) -> StoreResult<u64> {
        self.write(move |conn, _| retention::purge(conn, &params))
            .await
    }

    async fn step_retry(&self, params: StepRetry) -> StoreResult<ActionOutcome> {
        self.write(move |conn, signals| actions::step_retry(conn, &params, signals))
            .await
    }

    async fn execution_restart(&self, params: ExecutionRestart) -> StoreResult<ActionOutcome> {
        self.write(move |conn, signals| actions::restart(conn, &params, signals))
            .await
    }

    async fn execution_rerun(&self, params: ExecutionRerun) -> StoreResult<ActionOutcome> {
        self.write(move |conn, signals| actions::rerun(conn, &params, signals))
            .await
    }

    async fn pause_create(&self, params: NewPauseRule) -> StoreResult<PauseRule> {
        self.write(move |conn, signals| pauses::create(conn, &params, signals))
            .await
    }

    async fn pause_list(&self, now: Timestamp) -> StoreResult<Vec<PauseRule>> {
        self.read(move |conn| pauses::list(conn, now)).await
    }

    async fn pause_delete(&self, rule_id: &str, now: Timestamp) -> StoreResult<PauseDelete> {
        let rule_id = rule_id.to_owned();
        self.write(move |conn, signals| pauses::delete(conn, &rule_id, now, signals))
            .await
    }

    async fn schedule_put(&self, params: SchedulePut) -> StoreResult<SchedulePutOutcome> {
        self.write(move |conn, signals| schedules::put(conn, &params, signals))
            .await
    }

    async fn schedule_get(&self, schedule_id: &str) -> StoreResult<Option<ScheduleRecord>> {
        let schedule_id = schedule_id.to_owned();
        self.read(move |conn| schedules::get(conn, &schedule_id))
            .await
    }

    async fn schedule_list(&self) -> StoreResult<Vec<ScheduleRecord>> {
        self.read(schedules::list).await
    }

    async fn schedule_delete(&self, schedule_id: &str) -> StoreResult<bool> {
        let schedule_id = schedule_id.to_owned();
        self.write(move |conn, signals| schedules::delete(conn, &schedule_id, signals))
            .await
    }

    async fn schedule_set_paused(
        &self,
        schedule_id: &str,
        paused: bool,
        next_fire_at: Option<Timestamp>,
        now: Timestamp,
    ) -> StoreResult<Option<ScheduleRecord>> {
        let schedule_id = schedule_id.to_owned();
        self.write(move |conn, signals| {
            schedules::set_paused(conn, &schedule_id, paused, next_fire_at, now, signals)
        })
        .await
    }

    async fn schedule_due(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<ScheduleRecord>> {
        self.read(move |conn| schedules::due(conn, now, limit))
            .await
    }

    async fn schedule_next_due(&self) -> StoreResult<Option<Timestamp>> {
        self.read(schedules::next_due).await
    }

    async fn schedule_fire(&self, params: ScheduleFire) -> StoreResult<FireOutcome> {
        self.write(move |conn, signals| schedules::fire(conn, &params, signals))
            .await
    }

    async fn queue_put(&self, params: QueuePut) -> StoreResult<QueueRecord> {
        self.write(move |conn, _| queues::put(conn, &params)).await
    }

    async fn queue_get(&self, name: &str) -> StoreResult<Option<QueueRecord>> {
        let name = name.to_owned();
        self.read(move |conn| queues::get(conn, &name)).await
    }

    async fn queue_list(&self, now: Timestamp) -> StoreResult<Vec<QueueLoad>> {
        let now = now.timestamp_millis();
        self.read(move |conn| queues::list(conn, now)).await
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
