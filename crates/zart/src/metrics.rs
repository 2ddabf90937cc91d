//! Prometheus metrics of the engine. The HTTP layer registers its own metrics in the
//! same [`prometheus::Registry`] and renders them all at `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};
use zart_core::ExecutionStatus;

/// Engine metrics. Cheap to clone; clones share the same counters.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

struct Inner {
    registry: Registry,
    started: IntCounterVec,
    finished: IntCounterVec,
    attempts: IntCounterVec,
    step_seconds: HistogramVec,
    in_flight: IntGauge,
    slots_in_use: IntGauge,
    slots: IntGauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Metrics in a new registry.
    pub fn new() -> Self {
        Self::with_registry(Registry::new())
    }

    /// Metrics registered in `registry`.
    ///
    /// # Panics
    /// If `registry` already holds metrics with the same names.
    pub fn with_registry(registry: Registry) -> Self {
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("metric registered once");
            c
        };
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid metric");
            registry
                .register(Box::new(g.clone()))
                .expect("metric registered once");
            g
        };
        let started = counter(
            "zart_executions_started_total",
            "Executions created, by task.",
            &["task"],
        );
        let finished = counter(
            "zart_executions_finished_total",
            "Executions that reached a terminal status, by task and status (completed, failed, cancelled).",
            &["task", "status"],
        );
        let attempts = counter(
            "zart_step_attempts_total",
            "Step attempts, by task and outcome (completed, failed).",
            &["task", "outcome"],
        );
        let step_seconds = HistogramVec::new(
            HistogramOpts::new(
                "zart_step_duration_seconds",
                "Duration of step attempts, by task.",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0, 30.0,
            ]),
            &["task"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(step_seconds.clone()))
            .expect("metric registered once");
        let in_flight = gauge(
            "zart_executions_in_flight",
            "Executions this process is running right now.",
        );
        let slots_in_use = gauge("zart_worker_slots_in_use", "Worker slots in use.");
        let slots = gauge("zart_worker_slots", "Worker slots (the concurrency limit).");
        Self {
            inner: Arc::new(Inner {
                registry,
                started,
                finished,
                attempts,
                step_seconds,
                in_flight,
                slots_in_use,
                slots,
            }),
        }
    }

    /// The registry holding these metrics.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Renders every metric of the registry in the Prometheus text format 0.0.4.
    pub fn render(&self) -> String {
        use prometheus::Encoder;
        let mut buf = Vec::new();
        let encoder = prometheus::TextEncoder::new();
        if encoder
            .encode(&self.inner.registry.gather(), &mut buf)
            .is_err()
        {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }

    pub(crate) fn execution_started(&self, task: &str) {
        self.inner.started.with_label_values(&[task]).inc();
    }

    pub(crate) fn execution_finished(&self, task: &str, status: ExecutionStatus) {
        self.inner
            .finished
            .with_label_values(&[task, status.as_str()])
            .inc();
    }

    pub(crate) fn step_attempt(&self, task: &str, ok: bool, took: Duration) {
        let outcome = if ok { "completed" } else { "failed" };
        self.inner
            .attempts
            .with_label_values(&[task, outcome])
            .inc();
        self.inner
            .step_seconds
            .with_label_values(&[task])
            .observe(took.as_secs_f64());
    }

    pub(crate) fn set_slots(&self, total: usize) {
        self.inner.slots.set(total as i64);
    }

    pub(crate) fn slot_taken(&self) {
        self.inner.slots_in_use.inc();
        self.inner.in_flight.inc();
    }

    pub(crate) fn slot_freed(&self) {
        self.inner.slots_in_use.dec();
        self.inner.in_flight.dec();
    }
}
