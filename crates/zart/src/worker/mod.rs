//! The worker: claims due executions up to its concurrency limit, runs them, renews
//! their leases, and shuts down gracefully.

mod config;
mod retention;
mod run;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use zart_core::{
    ClaimedExecution, Clock, ExecutionClaim, ExecutionStatus, LeaseRenew, Signal, Store,
};

pub use config::{Retention, WorkerConfig, DEFAULT_RETENTION};

use crate::metrics::Metrics;
use crate::pauses::PauseRules;
use crate::queue::Queues;
use crate::testing::Hooks;
use crate::TaskRegistry;

/// Why a running execution was stopped from outside its handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopReason {
    /// The heartbeat found the lease gone.
    LeaseLost,
    /// The execution was cancelled.
    Cancelled,
    /// Shutdown: give the lease back so another worker resumes at once.
    Release,
}

struct Running {
    fence: i64,
    stop: CancellationToken,
    reason: Option<StopReason>,
}

struct Shared {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    tasks: Arc<TaskRegistry>,
    metrics: Metrics,
    config: WorkerConfig,
    worker_id: String,
    /// The active pause rules, as last read.
    pauses: Arc<PauseRules>,
    /// Executions holding a lease here, from claim until their ending is written.
    running: Mutex<HashMap<String, Running>>,
    /// Slots in use: executions whose handler has not ended yet. Smaller than
    /// `running` while endings are being written, so the claim for the next execution
    /// travels with the previous one's finish instead of after it.
    busy: AtomicUsize,
    /// Wakes the claim loop: new work may be due, or a slot was freed.
    work: Notify,
    /// Wakes `shutdown` when an execution ends.
    slot_freed: Notify,
    shutdown: CancellationToken,
    /// Claims sent to the store and not yet turned into runs (a claimed execution is
    /// neither due in the store nor in `running` meanwhile).
    claiming: AtomicUsize,
    /// Claims started so far: a test harness compares it before and after reading the
    /// store, so a claim in between cannot make it see a false idle.
    claims: AtomicU64,
    /// A test environment's hooks (`None` outside `zart::testing`).
    hooks: Option<Arc<Hooks>>,
    /// The queues served: whether the default queue is, and the named ones.
    served: Served,
    /// The declared queues, put into the store when the claim loop starts.
    queues: Arc<Queues>,
    /// Slots in use per named queue (handlers of that queue's executions running).
    busy_by_queue: Mutex<HashMap<String, usize>>,
}

/// The queues a worker serves.
struct Served {
    default_queue: bool,
    /// Each named queue with this worker's limit for it.
    named: Vec<(String, Option<u32>)>,
}

impl Served {
    fn new(config: &WorkerConfig, queues: &Queues) -> Self {
        let names: Vec<String> = match &config.queues {
            Some(names) => names.clone(),
            None => std::iter::once(zart_core::DEFAULT_QUEUE.to_owned())
                .chain(queues.declared().iter().map(|q| q.name.clone()))
                .collect(),
        };
        let mut named: Vec<(String, Option<u32>)> = Vec::new();
        for name in names.iter().filter(|n| *n != zart_core::DEFAULT_QUEUE) {
            if !named.iter().any(|(n, _)| n == name) {
                named.push((name.clone(), queues.spec(name).and_then(|q| q.per_worker)));
            }
        }
        Served {
            default_queue: names.iter().any(|n| n == zart_core::DEFAULT_QUEUE),
            named,
        }
    }
}

impl Shared {
    fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        tasks: Arc<TaskRegistry>,
        metrics: Metrics,
        pauses: Arc<PauseRules>,
        config: WorkerConfig,
        hooks: Option<Arc<Hooks>>,
    ) -> Self {
        let queues = Arc::<Queues>::default();
        let served = Served::new(&config, &queues);
        let worker_id = config
            .worker_id
            .clone()
            .unwrap_or_else(config::generated_worker_id);
        Shared {
            store,
            clock,
            tasks,
            metrics,
            config,
            worker_id,
            pauses,
            running: Mutex::new(HashMap::new()),
            busy: AtomicUsize::new(0),
            work: Notify::new(),
            slot_freed: Notify::new(),
            shutdown: CancellationToken::new(),
            claiming: AtomicUsize::new(0),
            claims: AtomicU64::new(0),
            hooks,
            served,
            queues,
            busy_by_queue: Mutex::new(HashMap::new()),
        }
    }

    /// Serves the declared `queues` (see [`WorkerConfig::queues`]).
    fn with_queues(mut self, queues: Arc<Queues>) -> Self {
        self.served = Served::new(&self.config, &queues);
        self.queues = queues;
        self
    }

    fn busy_by_queue(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.busy_by_queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What a claim of up to `free` executions may take from each named queue served.
    fn queue_claims(&self, free: usize) -> Vec<zart_core::QueueClaim> {
        let busy = self.busy_by_queue();
        self.served
            .named
            .iter()
            .filter_map(|(name, per_worker)| {
                let room = match per_worker {
                    Some(limit) => (*limit as usize)
                        .saturating_sub(busy.get(name).copied().unwrap_or(0))
                        .min(free),
                    None => free,
                };
                (room > 0).then(|| zart_core::QueueClaim {
                    name: name.clone(),
                    limit: room as u32,
                })
            })
            .collect()
    }

    /// Tells a test harness that this worker may have become idle.
    fn pulse(&self) {
        if let Some(hooks) = &self.hooks {
            hooks.pulse();
        }
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops the run of `id`, whatever its fence: a cancel or a shutdown concerns the
    /// execution, not one claim of it.
    fn stop(&self, id: &str, reason: StopReason) {
        if let Some(run) = self.running().get_mut(id) {
            run.reason.get_or_insert(reason);
            run.stop.cancel();
        }
    }

    /// Stops the run of `id` only if it holds the claim `fence`. A lease renewal answers
    /// for the fence it was sent with; meanwhile this worker may have parked and
    /// re-claimed the execution, and that newer run holds a valid lease. Returns
    /// whether a run was stopped.
    fn stop_claim(&self, id: &str, fence: i64, reason: StopReason) -> bool {
        match self.running().get_mut(id).filter(|r| r.fence == fence) {
            Some(run) => {
                run.reason.get_or_insert(reason);
                run.stop.cancel();
                true
            }
            None => false,
        }
    }

    /// `(execution id, fence)` of every lease held here.
    fn leases(&self) -> Vec<(String, i64)> {
        self.running()
            .iter()
            .map(|(id, r)| (id.clone(), r.fence))
            .collect()
    }

    /// When a lease taken now ends (saturating: a lease too long for the calendar ends
    /// at the latest instant Zart stores).
    fn lease_expiry(&self, now: zart_core::Timestamp) -> zart_core::Timestamp {
        crate::time::after(now, self.config.lease_duration)
            .unwrap_or_else(|_| crate::time::latest())
    }

    /// Re-reads the pause rules; a failure keeps the last copy (and is logged).
    async fn reload_pauses(&self) -> Result<(), zart_core::StoreError> {
        let reloaded = self
            .pauses
            .reload(self.store.as_ref(), self.clock.now())
            .await;
        if let Err(e) = &reloaded {
            tracing::warn!(error = %e, "reading the pause rules failed");
        }
        reloaded
    }

    fn stop_reason(&self, id: &str, fence: i64) -> StopReason {
        self.running()
            .get(id)
            .filter(|r| r.fence == fence)
            .and_then(|r| r.reason)
            .unwrap_or(StopReason::LeaseLost)
    }
}

/// What a worker runs besides executions.
pub(crate) struct WorkerExtras {
    /// The schedule loop's client and the declared schedules, when it fires them.
    pub(crate) scheduler: Option<(crate::Client, Arc<Vec<zart_core::ScheduleSpec>>)>,
    /// A test environment's hooks.
    pub(crate) hooks: Option<Arc<Hooks>>,
    /// The declared queues.
    pub(crate) queues: Arc<Queues>,
}

/// A running worker. Dropping it does not stop it; call [`WorkerHandle::shutdown`].
pub struct WorkerHandle {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for WorkerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerHandle")
            .field("tasks", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

impl WorkerHandle {
    pub(crate) fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        tasks: Arc<TaskRegistry>,
        metrics: Metrics,
        pauses: Arc<PauseRules>,
        config: WorkerConfig,
        extras: WorkerExtras,
    ) -> Self {
        let WorkerExtras {
            scheduler,
            hooks,
            queues,
        } = extras;
        metrics.set_slots(config.concurrency);
        let shared = Arc::new(
            Shared::new(store, clock, tasks, metrics, pauses, config, hooks).with_queues(queues),
        );
        let mut tasks = vec![
            tokio::spawn(claim_loop(Arc::clone(&shared))),
            tokio::spawn(signal_loop(Arc::clone(&shared))),
            tokio::spawn(heartbeat_loop(Arc::clone(&shared))),
        ];
        if let Some((client, declared)) = scheduler {
            tasks.push(tokio::spawn(crate::schedules::run(
                client,
                Arc::clone(&shared.clock),
                declared,
                shared.shutdown.clone(),
                shared.hooks.clone(),
            )));
        }
        if shared.config.retention.shortest().is_some() {
            tasks.push(tokio::spawn(retention::purge_loop(
                Arc::clone(&shared.store),
                Arc::clone(&shared.clock),
                shared.config.retention,
            )));
        }
        Self { shared, tasks }
    }

    /// This worker's id, as it appears in leases.
    pub fn worker_id(&self) -> &str {
        &self.shared.worker_id
    }

    /// How many executions this worker is running right now.
    pub fn running(&self) -> usize {
        self.shared.running().len()
    }

    /// Executions claimed or being claimed here: zero means this worker runs
    /// nothing and has no claim on its way. With [`Self::claims_started`] read
    /// before and after, a harness knows no claim slipped in between.
    pub(crate) fn in_flight(&self) -> usize {
        self.shared.claiming.load(Ordering::SeqCst) + self.shared.running().len()
    }

    /// How many claims this worker has started.
    pub(crate) fn claims_started(&self) -> u64 {
        self.shared.claims.load(Ordering::SeqCst)
    }

    /// Makes the claim loop look for due work now (the virtual clock moved).
    pub(crate) fn wake(&self) {
        self.shared.work.notify_one();
    }

    /// Dies as a SIGKILL would: every loop stops at once and every running
    /// execution is dropped at its next await point without writing anything, so
    /// its lease is left to expire.
    pub(crate) fn kill(self) {
        for task in &self.tasks {
            task.abort();
        }
        let ids: Vec<String> = self.shared.running().keys().cloned().collect();
        for id in ids {
            self.shared.stop(&id, StopReason::LeaseLost);
        }
    }

    /// Stops claiming, lets in-flight executions run for up to `grace`, then stops the
    /// rest at their next await point and gives their leases back at once, so another
    /// worker resumes them without waiting for the leases to expire.
    pub async fn shutdown(mut self, grace: Duration) {
        let shared = Arc::clone(&self.shared);
        shared.shutdown.cancel();
        let _ = tokio::time::timeout(grace, drained(&shared)).await;
        // A claim already sent when shutdown began still lands: wait for the claim
        // loop to see the shutdown, so everything it claimed is released below.
        let claims = self.tasks.remove(0);
        if let Err(e) = claims.await {
            tracing::warn!(error = %e, "the claim loop ended abnormally");
        }
        loop {
            let freed = shared.slot_freed.notified();
            let ids: Vec<String> = shared.running().keys().cloned().collect();
            if ids.is_empty() {
                break;
            }
            for id in ids {
                shared.stop(&id, StopReason::Release);
            }
            freed.await;
        }
        for task in self.tasks {
            task.abort();
        }
    }
}

/// Resolves once no execution runs here.
async fn drained(shared: &Shared) {
    loop {
        let freed = shared.slot_freed.notified();
        if shared.running().is_empty() {
            return;
        }
        freed.await;
    }
}

/// Puts the declared queues into the store, retrying until it answers (or the
/// worker shuts down): their limits must be there before their work is claimed.
async fn put_queues(shared: &Shared) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let put = shared
            .queues
            .put_all(shared.store.as_ref(), shared.clock.now())
            .await;
        match put {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, "declaring the queues failed; retrying in {backoff:?}");
            }
        }
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

async fn claim_loop(shared: Arc<Shared>) {
    put_queues(&shared).await;
    let mut backoff = Duration::from_millis(100);
    // A next due time already past after a short claim means due work this worker
    // cannot take now (a full queue): it is looked for once more at once (it may
    // have just become due), then on a wake-up or the poll.
    let mut looked_again = false;
    loop {
        if shared.shutdown.is_cancelled() {
            return;
        }
        let woken = shared.work.notified();
        let free = shared
            .config
            .concurrency
            .saturating_sub(shared.busy.load(Ordering::SeqCst));
        let mut wait = shared.config.poll_interval;
        if free > 0 {
            // Nothing is claimed before the pause rules are known: a paused
            // execution must not start a step.
            let claimed = match shared.pauses.is_fresh(crate::pauses::REFRESH_EVERY) {
                true => claim(&shared, free).await,
                false => match shared.reload_pauses().await {
                    Ok(()) => claim(&shared, free).await,
                    Err(e) => Err(e),
                },
            };
            if claimed.is_ok() {
                backoff = Duration::from_millis(100);
            }
            match claimed {
                Ok(claimed) if claimed == free => {
                    looked_again = false;
                    continue;
                }
                Ok(claimed) => {
                    if claimed > 0 {
                        looked_again = false;
                    }
                    if let Ok(Some(due)) = shared.store.execution_next_due().await {
                        let until = (due - shared.clock.now()).to_std().unwrap_or_default();
                        if !until.is_zero() {
                            wait = wait.min(until);
                        } else if !looked_again {
                            looked_again = true;
                            wait = Duration::ZERO;
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "claiming executions failed; retrying in {backoff:?}");
                    wait = backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        if wait.is_zero() {
            continue;
        }
        shared.pulse();
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = woken => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

async fn claim(shared: &Arc<Shared>, free: usize) -> Result<usize, zart_core::StoreError> {
    shared.pauses.settled().await;
    struct Claiming<'a>(&'a Shared);
    impl Drop for Claiming<'_> {
        fn drop(&mut self) {
            self.0.claiming.fetch_sub(1, Ordering::SeqCst);
        }
    }
    shared.claiming.fetch_add(1, Ordering::SeqCst);
    shared.claims.fetch_add(1, Ordering::SeqCst);
    let _claiming = Claiming(shared);
    let now = shared.clock.now();
    let claimed = shared
        .store
        .execution_claim(ExecutionClaim {
            worker_id: shared.worker_id.clone(),
            now,
            lease_expires_at: shared.lease_expiry(now),
            limit: free as u32,
            default_queue: shared.served.default_queue,
            queues: shared.queue_claims(free),
        })
        .await?;
    let count = claimed.len();
    for execution in claimed {
        spawn_run(shared, execution);
    }
    Ok(count)
}

fn spawn_run(shared: &Arc<Shared>, claimed: ClaimedExecution) {
    let stop = CancellationToken::new();
    let id = claimed.id.clone();
    let fence = claimed.fence;
    // A claim answered after shutdown began is handed back before anything runs.
    let reason = shared
        .shutdown
        .is_cancelled()
        .then_some(StopReason::Release);
    if reason.is_some() {
        stop.cancel();
    }
    shared.running().insert(
        id.clone(),
        Running {
            fence,
            stop: stop.clone(),
            reason,
        },
    );
    let slot = WorkerSlot::take(shared, claimed.queue.clone());
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        let task = tokio::spawn(run::run_execution(Arc::clone(&shared), claimed, stop, slot));
        if let Err(e) = task.await {
            tracing::error!(execution = %id, error = %e, "execution task ended abnormally");
        }
        {
            let mut running = shared.running();
            if running.get(&id).is_some_and(|r| r.fence == fence) {
                running.remove(&id);
            }
        }
        shared.slot_freed.notify_waiters();
        shared.pulse();
    });
}

/// A worker slot held by one execution's handler; dropping it (when the handler ended,
/// or when its task panicked or was aborted) frees the slot and wakes the claim loop.
pub(crate) struct WorkerSlot {
    shared: Arc<Shared>,
    /// The named queue whose per-worker slot this also is.
    queue: Option<String>,
}

impl WorkerSlot {
    fn take(shared: &Arc<Shared>, queue: Option<String>) -> WorkerSlot {
        shared.busy.fetch_add(1, Ordering::SeqCst);
        if let Some(queue) = &queue {
            *shared.busy_by_queue().entry(queue.clone()).or_default() += 1;
        }
        shared.metrics.slot_taken();
        WorkerSlot {
            shared: Arc::clone(shared),
            queue,
        }
    }
}

impl Drop for WorkerSlot {
    fn drop(&mut self) {
        self.shared.busy.fetch_sub(1, Ordering::SeqCst);
        if let Some(queue) = &self.queue {
            if let Some(busy) = self.shared.busy_by_queue().get_mut(queue) {
                *busy = busy.saturating_sub(1);
            }
        }
        self.shared.metrics.slot_freed();
        self.shared.work.notify_one();
    }
}

async fn signal_loop(shared: Arc<Shared>) {
    let mut signals = shared.store.subscribe();
    while let Some(signal) = signals.recv().await {
        match signal {
            Signal::Work => shared.work.notify_one(),
            // Re-read before handling the next signal: the `Work` that follows a
            // rule's deletion then finds the executions it held unpaused.
            Signal::Pauses => {
                let _ = shared.reload_pauses().await;
            }
            Signal::Lagged => {
                let _ = shared.reload_pauses().await;
                shared.work.notify_one();
            }
            Signal::Finished {
                execution_id,
                status,
            } => {
                if status == ExecutionStatus::Cancelled {
                    shared.stop(&execution_id, StopReason::Cancelled);
                }
                // An execution finishing anywhere may free a slot of a named queue
                // served here (the default queue's work needs no such hint).
                if !shared.served.named.is_empty() {
                    shared.work.notify_one();
                }
            }
            Signal::Schedules => {}
        }
    }
}

async fn heartbeat_loop(shared: Arc<Shared>) {
    let every = shared.config.lease_duration / 3;
    loop {
        tokio::time::sleep(every).await;
        let leases = shared.leases();
        if !leases.is_empty() {
            renew_leases(&shared, leases).await;
        }
    }
}

/// Renews `leases` in one store call and stops each run whose lease was not renewed,
/// by the fence it was renewed with.
async fn renew_leases(shared: &Shared, leases: Vec<(String, i64)>) {
    let now = shared.clock.now();
    let renew = LeaseRenew {
        worker_id: shared.worker_id.clone(),
        now,
        expires_at: shared.lease_expiry(now),
        leases: leases.clone(),
    };
    match shared.store.lease_renew(renew).await {
        Ok(renewed) => {
            let renewed: HashSet<String> = renewed.into_iter().collect();
            for (id, fence) in leases {
                // A run that ended (or parked) since `leases` was read is not
                // renewed either; only one still running here lost its lease.
                if !renewed.contains(&id) && shared.stop_claim(&id, fence, StopReason::LeaseLost) {
                    tracing::warn!(execution = %id, fence, "lease lost; stopping the execution");
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "renewing leases failed"),
    }
}

#[cfg(test)]
mod tests;
