//! A store that fails on request, to inject faults into a real store: every call goes
//! to the real store behind it, except the ones a test asks to fail or to hold.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::oneshot;
use zart::core::*;

type Gate = (oneshot::Sender<()>, oneshot::Receiver<()>);

/// Wraps a real store.
pub(crate) struct Faulty {
    inner: Arc<dyn Store>,
    failing_step_saves: AtomicU32,
    /// When set, the next claim that finds work stops before answering: the test is
    /// told (first sender) and the claim answers once the test says so (receiver).
    held_claim: Mutex<Option<Gate>>,
}

impl Faulty {
    pub(crate) fn new(inner: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            failing_step_saves: AtomicU32::new(0),
            held_claim: Mutex::new(None),
        })
    }

    /// The next `n` step saves fail as if the database were unreachable.
    pub(crate) fn fail_step_saves(&self, n: u32) {
        self.failing_step_saves.store(n, Ordering::SeqCst);
    }

    /// Holds the next claim that finds work after it was written: `claimed` resolves
    /// then, and the claim answers when `release` is sent.
    pub(crate) fn hold_next_claim(&self) -> (oneshot::Receiver<()>, oneshot::Sender<()>) {
        let (claimed_tx, claimed_rx) = oneshot::channel();
        let (release_tx, release_rx) = oneshot::channel();
        *self.held_claim.lock().unwrap() = Some((claimed_tx, release_rx));
        (claimed_rx, release_tx)
    }
}

#[async_trait]
impl Store for Faulty {
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }
    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }
    async fn migration_list(&self) -> StoreResult<Vec<zart::core::AppliedMigration>> {
        self.inner.migration_list().await
    }
    fn subscribe(&self) -> Box<dyn Subscription> {
        self.inner.subscribe()
    }
    async fn execution_insert(&self, params: NewExecution) -> StoreResult<InsertOutcome> {
        self.inner.execution_insert(params).await
    }
    async fn execution_get(&self, id: &str) -> StoreResult<Option<ExecutionRecord>> {
        self.inner.execution_get(id).await
    }
    async fn execution_list(&self, query: ExecutionQuery) -> StoreResult<Vec<ExecutionRecord>> {
        self.inner.execution_list(query).await
    }
    async fn execution_stats(&self) -> StoreResult<Stats> {
        self.inner.execution_stats().await
    }
    async fn execution_activity(&self, query: ActivityQuery) -> StoreResult<Vec<ActivityBucket>> {
        self.inner.execution_activity(query).await
    }
    async fn execution_claim(&self, params: ExecutionClaim) -> StoreResult<Vec<ClaimedExecution>> {
        let claimed = self.inner.execution_claim(params).await?;
        if claimed.is_empty() {
            return Ok(claimed);
        }
        let held = self.held_claim.lock().unwrap().take();
        if let Some((claimed_tx, release_rx)) = held {
            let _ = claimed_tx.send(());
            let _ = release_rx.await;
        }
        Ok(claimed)
    }
    async fn execution_next_due(&self) -> StoreResult<Option<Timestamp>> {
        self.inner.execution_next_due().await
    }
    async fn lease_renew(&self, params: LeaseRenew) -> StoreResult<Vec<String>> {
        self.inner.lease_renew(params).await
    }
    async fn execution_release(&self, guard: LeaseGuard) -> StoreResult<bool> {
        self.inner.execution_release(guard).await
    }
    async fn execution_suspend(&self, params: ExecutionSuspend) -> StoreResult<bool> {
        self.inner.execution_suspend(params).await
    }
    async fn execution_finish(&self, params: ExecutionFinish) -> StoreResult<bool> {
        self.inner.execution_finish(params).await
    }
    async fn execution_cancel(&self, id: &str, now: Timestamp) -> StoreResult<CancelOutcome> {
        self.inner.execution_cancel(id, now).await
    }
    async fn journal_load(&self, id: &str, run_index: i32) -> StoreResult<Vec<StepRecord>> {
        self.inner.journal_load(id, run_index).await
    }
    async fn step_save(&self, params: StepSave) -> StoreResult<bool> {
        let failing =
            self.failing_step_saves
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if failing.is_ok() {
            return Err(StoreError::Unavailable("injected: connection reset".into()));
        }
        self.inner.step_save(params).await
    }
    async fn event_offer(&self, params: EventOffer) -> StoreResult<OfferOutcome> {
        self.inner.event_offer(params).await
    }
    async fn event_consume(&self, params: EventConsume) -> StoreResult<EventTake> {
        self.inner.event_consume(params).await
    }
    fn clock(&self) -> Option<Arc<dyn Clock>> {
        self.inner.clock()
    }

    async fn child_spawn(&self, params: ChildSpawn) -> StoreResult<SpawnOutcome> {
        self.inner.child_spawn(params).await
    }
    async fn execution_detail(&self, query: DetailQuery) -> StoreResult<Option<ExecutionDetail>> {
        self.inner.execution_detail(query).await
    }
    async fn run_list(&self, id: &str) -> StoreResult<Option<Vec<RunRecord>>> {
        self.inner.run_list(id).await
    }
    async fn event_list(&self, query: EventListQuery) -> StoreResult<Option<Vec<EventRecord>>> {
        self.inner.event_list(query).await
    }
    async fn execution_purge(&self, params: ExecutionPurge) -> StoreResult<u64> {
        self.inner.execution_purge(params).await
    }
    async fn step_retry(&self, params: StepRetry) -> StoreResult<ActionOutcome> {
        self.inner.step_retry(params).await
    }
    async fn execution_restart(&self, params: ExecutionRestart) -> StoreResult<ActionOutcome> {
        self.inner.execution_restart(params).await
    }
    async fn execution_rerun(&self, params: ExecutionRerun) -> StoreResult<ActionOutcome> {
        self.inner.execution_rerun(params).await
    }
    async fn pause_create(&self, params: NewPauseRule) -> StoreResult<PauseRule> {
        self.inner.pause_create(params).await
    }
    async fn pause_list(&self, now: Timestamp) -> StoreResult<Vec<PauseRule>> {
        self.inner.pause_list(now).await
    }
    async fn pause_delete(&self, rule_id: &str, now: Timestamp) -> StoreResult<PauseDelete> {
        self.inner.pause_delete(rule_id, now).await
    }
    async fn schedule_put(&self, params: SchedulePut) -> StoreResult<SchedulePutOutcome> {
        self.inner.schedule_put(params).await
    }
    async fn schedule_get(&self, schedule_id: &str) -> StoreResult<Option<ScheduleRecord>> {
        self.inner.schedule_get(schedule_id).await
    }
    async fn schedule_list(&self) -> StoreResult<Vec<ScheduleRecord>> {
        self.inner.schedule_list().await
    }
    async fn schedule_delete(&self, schedule_id: &str) -> StoreResult<bool> {
        self.inner.schedule_delete(schedule_id).await
    }
    async fn schedule_set_paused(
        &self,
        schedule_id: &str,
        paused: bool,
        next_fire_at: Option<Timestamp>,
        now: Timestamp,
    ) -> StoreResult<Option<ScheduleRecord>> {
        self.inner
            .schedule_set_paused(schedule_id, paused, next_fire_at, now)
            .await
    }
    async fn schedule_due(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<ScheduleRecord>> {
        self.inner.schedule_due(now, limit).await
    }
    async fn schedule_next_due(&self) -> StoreResult<Option<Timestamp>> {
        self.inner.schedule_next_due().await
    }
    async fn schedule_fire(&self, params: ScheduleFire) -> StoreResult<FireOutcome> {
        self.inner.schedule_fire(params).await
    }
    async fn queue_put(&self, params: QueuePut) -> StoreResult<QueueRecord> {
        self.inner.queue_put(params).await
    }
    async fn queue_get(&self, name: &str) -> StoreResult<Option<QueueRecord>> {
        self.inner.queue_get(name).await
    }
    async fn queue_list(&self, now: Timestamp) -> StoreResult<Vec<QueueLoad>> {
        self.inner.queue_list(now).await
    }
}
