//! [`PgStore`]: the store struct, connecting, and `impl Store`, each method
//! delegating to the file owning that concept.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use zart_core::{
    ActionOutcome, ActivityBucket, ActivityQuery, CancelOutcome, ChildSpawn, ClaimedExecution,
    Clock, DetailQuery, EventConsume, EventListQuery, EventOffer, EventRecord, EventTake,
    ExecutionClaim, ExecutionDetail, ExecutionFinish, ExecutionPurge, ExecutionQuery,
    ExecutionRecord, ExecutionRerun, ExecutionRestart, ExecutionSuspend, FireOutcome,
    InsertOutcome, LeaseGuard, LeaseRenew, NewExecution, NewPauseRule, OfferOutcome, PauseDelete,
    PauseRule, QueueLoad, QueuePut, QueueRecord, RunRecord, ScheduleFire, SchedulePut,
    SchedulePutOutcome, ScheduleRecord, Signal, SpawnOutcome, Stats, StepRecord, StepRetry,
    StepSave, Store, StoreError, StoreResult, Subscription, Timestamp,
};

use crate::clock::{self, DbClock};
use crate::error::{self, PgError};
use crate::group::{self, GroupCommitStats, Writes};
use crate::health::Health;
use crate::listen::{self, PgSubscription};
use crate::pool::{Db, Written};
use crate::{
    actions, activity, cancel, children, claims, detail, events, executions, journal, migrate,
    options, parking, pauses, queues, retention, schedules, PgOptions,
};

/// A [`Store`](zart_core::Store) on PostgreSQL. Cheap to clone: clones share the
/// pool and the listener.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: Arc<Db>,
    writes: Writes,
    signals: broadcast::Sender<Signal>,
    listener: Option<JoinHandle<()>>,
    health: Arc<Health>,
    clock: Arc<DbClock>,
    resampler: JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(listener) = &self.listener {
            listener.abort();
        }
        self.resampler.abort();
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.inner.db.schema())
            .field("listen", &self.inner.listener.is_some())
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects with [`PgOptions::from_url`]: default options, except that the URL's
    /// `schema`, `listen` and `max_connections` query parameters
    /// (`postgres://host/db?schema=billing&listen=false&max_connections=4`) apply.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        Self::connect_with(url, PgOptions::from_url(url)?).await
    }

    /// Connects, creates the schema if absent, applies pending migrations and, with
    /// [`PgOptions::listen`], starts listening for wake-ups.
    pub async fn connect_with(url: &str, options: PgOptions) -> Result<PgStore, StoreError> {
        let (connect, schema) = options::resolve(url, &options)?;
        let max = options.max_connections.max(1);
        let writers = options.group_commit.then(|| group::writers(&options));
        // The batched writes' own connections (see `Db::writes`): a session setting,
        // so only when the store holds its connections itself (`listen` on; behind a
        // transaction-mode pooler it would stay on a server connection other clients
        // get), and only when the rest of the pool keeps at least one.
        let split = writers
            .filter(|_| options.listen)
            .and_then(|w| u32::try_from(w).ok())
            .filter(|&w| w < max);
        let pool = pool(&options, max - split.unwrap_or(0), connect.clone()).await?;
        let writes_pool = match split {
            Some(n) => {
                let generic = connect
                    .clone()
                    .options([("plan_cache_mode", "force_generic_plan")]);
                Some(self::pool(&options, n, generic).await?)
            }
            None => None,
        };
        let db = Arc::new(Db::new(pool, writes_pool, schema));
        migrate::apply(&db).await?;
        let clock = DbClock::connect(&db.pool).await?;
        let resampler = clock::resample(&clock, db.pool.clone());
        let health = Arc::new(Health::default());
        let writes = Writes::start(db.clone(), writers);
        let (signals, _) = broadcast::channel(listen::CAPACITY);
        let listener = if options.listen {
            let channel = db.channel().to_owned();
            let hints = listen::Hints {
                tx: signals.clone(),
                health: health.clone(),
            };
            Some(listen::start(connect, options.acquire_timeout, channel, hints).await?)
        } else {
            None
        };
        Ok(PgStore {
            inner: Arc::new(Inner {
                db,
                writes,
                signals,
                listener,
                health,
                clock,
                resampler,
            }),
        })
    }

    /// The connection pool, for applications that want to run their own statements
    /// on the same database.
    pub fn pool(&self) -> &PgPool {
        &self.inner.db.pool
    }

    /// How many step saves, execution inserts and execution finishes the group
    /// commit wrote in how many commits, or `None` when [`PgOptions::group_commit`]
    /// is off.
    pub fn group_commit_stats(&self) -> Option<GroupCommitStats> {
        self.inner.writes.stats()
    }

    /// The schema holding this store's tables.
    pub fn schema(&self) -> &str {
        self.inner.db.schema()
    }

    pub(crate) fn db(&self) -> &Db {
        &self.inner.db
    }

    /// Runs `op`, retrying deadlocks and serialization failures; fails fast while
    /// the server is down (see `health`).
    async fn run<T, F, Fut>(&self, op: F) -> StoreResult<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, PgError>>,
    {
        self.checked(error::retrying(op)).await
    }

    /// Runs `call` (a store call already classified), failing fast while the server
    /// is down.
    pub(crate) async fn checked<T>(
        &self,
        call: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        self.inner.health.guard(&self.db().pool, call).await
    }

    /// Without a LISTEN connection, the store's own writes still wake its own
    /// subscribers (the runtime in this process); with one, NOTIFY does it.
    fn signal_locally(&self, signal: Signal) {
        if self.inner.listener.is_none() {
            let _ = self.inner.signals.send(signal);
        }
    }

    /// Passes a write's result on, after repeating its hints in-process if needed.
    fn signalled<T>(&self, written: Written<T>) -> T {
        let (value, signals) = written;
        for signal in signals {
            self.signal_locally(signal);
        }
        value
    }
}

/// `PgStore::connect_with` must stay spawnable: its future is `Send + 'static`
/// whenever its arguments are.
#[cfg(test)]
fn _connect_future_is_send(url: &'static str) {
    fn assert_send<T: Send + 'static>(_: T) {}
    assert_send(PgStore::connect_with(url, PgOptions::default()));
}

/// A pool of at most `max` connections to `connect`.
async fn pool(
    options: &PgOptions,
    max: u32,
    connect: sqlx::postgres::PgConnectOptions,
) -> Result<PgPool, StoreError> {
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(options.acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if crate::health::ping_before_use(meta.idle_for) {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .connect_with(connect)
        .await
        .map_err(error::map_sqlx)
}

#[async_trait]
impl Store for PgStore {
    fn backend_name(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.inner.health.ping(&self.db().pool).await
    }

    async fn migration_list(&self) -> StoreResult<Vec<zart_core::AppliedMigration>> {
        self.run(|| crate::migrate::applied(self.db())).await
    }

    fn clock(&self) -> Option<Arc<dyn Clock>> {
        Some(self.inner.clock.clone())
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn subscribe(&self) -> Box<dyn Subscription> {
        Box::new(PgSubscription {
            rx: self.inner.signals.subscribe(),
        })
    }

    async fn execution_insert(&self, params: NewExecution) -> StoreResult<InsertOutcome> {
        let written = self.checked(self.inner.writes.insert(params)).await?;
        Ok(self.signalled(written))
    }

    async fn execution_get(&self, id: &str) -> StoreResult<Option<ExecutionRecord>> {
        self.run(|| executions::get(self.db(), id)).await
    }

    async fn execution_list(&self, query: ExecutionQuery) -> StoreResult<Vec<ExecutionRecord>> {
        self.run(|| executions::list(self.db(), &query)).await
    }

    async fn execution_stats(&self) -> StoreResult<Stats> {
        self.run(|| executions::stats(self.db())).await
    }

    async fn execution_activity(&self, query: ActivityQuery) -> StoreResult<Vec<ActivityBucket>> {
        self.run(|| activity::activity(self.db(), &query)).await
    }

    async fn execution_claim(&self, params: ExecutionClaim) -> StoreResult<Vec<ClaimedExecution>> {
        self.run(|| claims::claim(self.db(), &params)).await
    }

    async fn execution_next_due(&self) -> StoreResult<Option<Timestamp>> {
        self.run(|| claims::next_due(self.db())).await
    }

    async fn lease_renew(&self, params: LeaseRenew) -> StoreResult<Vec<String>> {
        self.run(|| claims::renew(self.db(), &params)).await
    }

    async fn execution_release(&self, guard: LeaseGuard) -> StoreResult<bool> {
        let written = self.run(|| parking::release(self.db(), &guard)).await?;
        Ok(self.signalled(written))
    }

    async fn execution_suspend(&self, params: ExecutionSuspend) -> StoreResult<bool> {
        let written = self.run(|| parking::suspend(self.db(), &params)).await?;
        Ok(self.signalled(written))
    }

    async fn execution_finish(&self, params: ExecutionFinish) -> StoreResult<bool> {
        let written = self.checked(self.inner.writes.finish(params)).await?;
        Ok(self.signalled(written))
    }

    async fn execution_cancel(&self, id: &str, now: Timestamp) -> StoreResult<CancelOutcome> {
        let written = self.run(|| cancel::cancel(self.db(), id, now)).await?;
        Ok(self.signalled(written))
    }

    async fn journal_load(
        &self,
        execution_id: &str,
        run_index: i32,
    ) -> StoreResult<Vec<StepRecord>> {
        self.run(|| journal::load(self.db(), &self.db().pool, execution_id, run_index))
            .await
    }

    async fn step_save(&self, params: StepSave) -> StoreResult<bool> {
        self.checked(self.inner.writes.save(params)).await
    }

    async fn event_offer(&self, params: EventOffer) -> StoreResult<OfferOutcome> {
        let written = self.checked(self.inner.writes.offer(params)).await?;
        Ok(self.signalled(written))
    }

    async fn event_consume(&self, params: EventConsume) -> StoreResult<EventTake> {
        // A wait reached for the first time usually finds its inbox empty: a read
        // answers that without the guarded write's row lock and durable commit.
        let key = (params.guard.execution_id.as_str(), params.name.as_str());
        if !self.run(|| events::pending(self.db(), key)).await? {
            return Ok(EventTake::Empty);
        }
        self.run(|| events::consume(self.db(), &params)).await
    }

    async fn child_spawn(&self, params: ChildSpawn) -> StoreResult<SpawnOutcome> {
        let written = self.run(|| children::spawn(self.db(), &params)).await?;
        Ok(self.signalled(written))
    }

    async fn execution_detail(&self, query: DetailQuery) -> StoreResult<Option<ExecutionDetail>> {
        self.run(|| detail::detail(self.db(), &query)).await
    }

    async fn run_list(&self, execution_id: &str) -> StoreResult<Option<Vec<RunRecord>>> {
        self.run(|| detail::run_list(self.db(), execution_id)).await
    }

    async fn event_list(&self, query: EventListQuery) -> StoreResult<Option<Vec<EventRecord>>> {
        self.run(|| detail::event_list(self.db(), &query)).await
    }

    async fn execution_purge(&self, params: ExecutionPurge) -> StoreResult<u64> {
        self.run(|| retention::purge(self.db(), &params)).await
    }

    async fn step_retry(&self, params: StepRetry) -> StoreResult<ActionOutcome> {
        let written = self.run(|| actions::step_retry(self.db(), &params)).await?;
        Ok(self.signalled(written))
    }

    async fn execution_restart(&self, params: ExecutionRestart) -> StoreResult<ActionOutcome> {
        let written = self.run(|| actions::restart(self.db(), &params)).await?;
        Ok(self.signalled(written))
    }

    async fn execution_rerun(&self, params: ExecutionRerun) -> StoreResult<ActionOutcome> {
        let written = self.run(|| actions::rerun(self.db(), &params)).await?;
        Ok(self.signalled(written))
    }

    async fn pause_create(&self, params: NewPauseRule) -> StoreResult<PauseRule> {
        let written = self.run(|| pauses::create(self.db(), &params)).await?;
        Ok(self.signalled(written))
    }

    async fn pause_list(&self, now: Timestamp) -> StoreResult<Vec<PauseRule>> {
        self.run(|| pauses::list(self.db(), now)).await
    }

    async fn pause_delete(&self, rule_id: &str, now: Timestamp) -> StoreResult<PauseDelete> {
        let written = self.run(|| pauses::delete(self.db(), rule_id, now)).await?;
        Ok(self.signalled(written))
    }

    async fn schedule_put(&self, params: SchedulePut) -> StoreResult<SchedulePutOutcome> {
        let written = self.run(|| schedules::put(self.db(), &params)).await?;
        Ok(self.signalled(written))
    }

    async fn schedule_get(&self, schedule_id: &str) -> StoreResult<Option<ScheduleRecord>> {
        self.run(|| schedules::get_one(self.db(), schedule_id))
            .await
    }

    async fn schedule_list(&self) -> StoreResult<Vec<ScheduleRecord>> {
        self.run(|| schedules::list(self.db())).await
    }

    async fn schedule_delete(&self, schedule_id: &str) -> StoreResult<bool> {
        let written = self
            .run(|| schedules::delete(self.db(), schedule_id))
            .await?;
        Ok(self.signalled(written))
    }

    async fn schedule_set_paused(
        &self,
        schedule_id: &str,
        paused: bool,
        next_fire_at: Option<Timestamp>,
        now: Timestamp,
    ) -> StoreResult<Option<ScheduleRecord>> {
        let written = self
            .run(|| schedules::set_paused(self.db(), schedule_id, paused, next_fire_at, now))
            .await?;
        Ok(self.signalled(written))
    }

    async fn schedule_due(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<ScheduleRecord>> {
        self.run(|| schedules::due(self.db(), now, limit)).await
    }

    async fn schedule_next_due(&self) -> StoreResult<Option<Timestamp>> {
        self.run(|| schedules::next_due(self.db())).await
    }

    async fn schedule_fire(&self, params: ScheduleFire) -> StoreResult<FireOutcome> {
        let written = self.run(|| schedules::fire(self.db(), &params)).await?;
        Ok(self.signalled(written))
    }

    async fn queue_put(&self, params: QueuePut) -> StoreResult<QueueRecord> {
        self.run(|| queues::put(self.db(), &params)).await
    }

    async fn queue_get(&self, name: &str) -> StoreResult<Option<QueueRecord>> {
        self.run(|| queues::get(self.db(), name)).await
    }

    async fn queue_list(&self, now: Timestamp) -> StoreResult<Vec<QueueLoad>> {
        self.run(|| queues::list(self.db(), now)).await
    }
}

#[cfg(test)]
mod tests {
    use zart_store_tests::postgres::FreshSchema;

    use super::*;

    async fn plan_mode(pool: &PgPool) -> String {
        sqlx::query_scalar("SHOW plan_cache_mode")
            .fetch_one(pool)
            .await
            .expect("SHOW plan_cache_mode")
    }

    async fn store(schema: &FreshSchema, options: PgOptions) -> PgStore {
        PgStore::connect_with(schema.database_url(), options.schema(schema.name()))
            .await
            .expect("connect")
    }

    /// The batched writes get their own quarter of the pool, planned once per
    /// statement; everything else keeps PostgreSQL's choice, and the two pools
    /// together open no more than `max_connections`.
    #[tokio::test]
    async fn batched_writes_have_their_own_generically_planned_connections() {
        let Some(schema) = FreshSchema::new("writes_pool") else {
            return;
        };
        let s = store(&schema, PgOptions::default().max_connections(8)).await;
        let db = s.db();
        let writes = db
            .writes
            .as_ref()
            .expect("a writes pool with group commit on");
        assert_eq!(writes.options().get_max_connections(), 2);
        assert_eq!(db.pool.options().get_max_connections(), 6);
        assert_eq!(plan_mode(db.writes()).await, "force_generic_plan");
        assert_eq!(plan_mode(&db.pool).await, "auto");
    }

    /// Without LISTEN (behind a transaction-mode pooler, where a session setting
    /// would outlive this client's use of the connection), with group commit off,
    /// or with a pool of one, the writes share the one pool and set nothing.
    #[tokio::test]
    async fn the_writes_share_the_pool_without_listen_group_commit_or_room() {
        let Some(schema) = FreshSchema::new("writes_shared") else {
            return;
        };
        for options in [
            PgOptions::default().listen(false),
            PgOptions::default().group_commit(false),
            PgOptions::default().max_connections(1),
        ] {
            let max = options.max_connections;
            let s = store(&schema, options).await;
            let db = s.db();
            assert!(db.writes.is_none());
            assert_eq!(db.pool.options().get_max_connections(), max);
            assert_eq!(plan_mode(db.writes()).await, "auto");
        }
    }
}
