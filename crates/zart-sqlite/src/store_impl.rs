//! `impl Store for SqliteStore`: each method sends its SQL function to the writer
//! (writes) or a reader (reads).

use async_trait::async_trait;
use zart_core::*;

use crate::store::SqliteStore;
use crate::{children, claims, events, executions, lifecycle, retention, rows, steps};

#[async_trait]
impl Store for SqliteStore {
    fn backend_name(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.check_ready().await
    }

    async fn migration_list(&self) -> StoreResult<Vec<AppliedMigration>> {
        self.read(|conn| crate::migrate::applied(conn)).await
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
        self.read(move |conn| rows::execution_by_id(conn, &id))
            .await
    }

    async fn execution_list(&self, query: ExecutionQuery) -> StoreResult<Vec<ExecutionRecord>> {
        self.read(move |conn| executions::list(conn, &query)).await
    }

    async fn execution_stats(&self) -> StoreResult<Stats> {
        self.read(executions::stats).await
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
        self.write(move |conn, signals| claims::release(conn, &guard, signals))
            .await
    }

    async fn execution_suspend(&self, params: ExecutionSuspend) -> StoreResult<bool> {
        self.write(move |conn, signals| lifecycle::suspend(conn, &params, signals))
            .await
    }

    async fn execution_finish(&self, params: ExecutionFinish) -> StoreResult<bool> {
        self.write(move |conn, signals| lifecycle::finish(conn, &params, signals))
            .await
    }

    async fn execution_cancel(&self, id: &str, now: Timestamp) -> StoreResult<CancelOutcome> {
        let id = id.to_owned();
        self.write(move |conn, signals| lifecycle::cancel(conn, &id, now, signals))
            .await
    }

    async fn journal_load(
        &self,
        execution_id: &str,
        run_index: i32,
    ) -> StoreResult<Vec<StepRecord>> {
        let id = execution_id.to_owned();
        self.read(move |conn| steps::journal(conn, &id, run_index))
            .await
    }

    async fn step_save(&self, params: StepSave) -> StoreResult<bool> {
        self.write(move |conn, _| steps::save(conn, &params)).await
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
        self.read(move |conn| steps::detail(conn, &query)).await
    }

    async fn run_list(&self, execution_id: &str) -> StoreResult<Option<Vec<RunRecord>>> {
        let id = execution_id.to_owned();
        self.read(move |conn| steps::runs(conn, &id)).await
    }

    async fn execution_purge(&self, params: ExecutionPurge) -> StoreResult<u64> {
        self.write(move |conn, _| retention::purge(conn, &params))
            .await
    }
}
