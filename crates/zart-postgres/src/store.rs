//! `impl Store for PgStore`: each method delegates to the file owning that concept.

use std::sync::Arc;

use async_trait::async_trait;
use zart_core::{
    CancelOutcome, ChildSpawn, ClaimedExecution, Clock, DetailQuery, EventConsume, EventOffer,
    EventTake, ExecutionClaim, ExecutionDetail, ExecutionFinish, ExecutionPurge, ExecutionQuery,
    ExecutionRecord, ExecutionSuspend, InsertOutcome, LeaseGuard, LeaseRenew, NewExecution,
    OfferOutcome, RunRecord, SpawnOutcome, Stats, StepRecord, StepSave, Store, StoreResult,
    Subscription, Timestamp,
};

use crate::db::Written;
use crate::listen::PgSubscription;
use crate::{
    cancel, children, claims, detail, events, executions, finish, parking, retention, steps,
    PgStore,
};

impl PgStore {
    /// Passes a write's result on, after repeating its hints in-process if needed.
    fn signalled<T>(&self, written: Written<T>) -> T {
        let (value, signals) = written;
        for signal in signals {
            self.signal_locally(signal);
        }
        value
    }
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

    fn subscribe(&self) -> Box<dyn Subscription> {
        Box::new(PgSubscription {
            rx: self.inner.signals.subscribe(),
        })
    }

    async fn execution_insert(&self, params: NewExecution) -> StoreResult<InsertOutcome> {
        let written = match &self.inner.batcher {
            Some(batcher) => self.checked(batcher.insert(params)).await?,
            None => self.run(|| executions::insert(self.db(), &params)).await?,
        };
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
        let written = match &self.inner.batcher {
            Some(batcher) => self.checked(batcher.finish(params)).await?,
            None => self.run(|| finish::finish(self.db(), &params)).await?,
        };
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
        self.run(|| steps::journal(self.db(), &self.db().pool, execution_id, run_index))
            .await
    }

    async fn step_save(&self, params: StepSave) -> StoreResult<bool> {
        match &self.inner.batcher {
            Some(batcher) => self.checked(batcher.save(params)).await,
            None => self.run(|| steps::save(self.db(), &params)).await,
        }
    }

    async fn event_offer(&self, params: EventOffer) -> StoreResult<OfferOutcome> {
        let written = match &self.inner.batcher {
            Some(batcher) => self.checked(batcher.offer(params)).await?,
            None => self.run(|| events::offer(self.db(), &params)).await?,
        };
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
        self.run(|| executions::run_list(self.db(), execution_id))
            .await
    }

    async fn execution_purge(&self, params: ExecutionPurge) -> StoreResult<u64> {
        self.run(|| retention::purge(self.db(), &params)).await
    }
}
