//! The body of `GET /queues`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zart_core as core;

/// A named queue: its limits, as last declared by a process, and its load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Queue {
    /// The queue name.
    pub name: String,
    /// The most executions of the queue running at once across all processes
    /// (`null`: no limit).
    #[schema(required = true)]
    pub concurrency: Option<u32>,
    /// The most executions of the queue one worker runs at once (`null`: no limit).
    #[schema(required = true)]
    pub per_worker: Option<u32>,
    /// Milliseconds after which a due execution goes before every higher-priority
    /// one (`null`: never).
    #[schema(required = true)]
    pub priority_aging_ms: Option<u64>,
    /// The most executions of the queue claimed per `ratePeriodMs` across all
    /// processes (`null`: no rate limit).
    #[schema(required = true)]
    pub rate_limit: Option<u32>,
    /// The rate limit's period in milliseconds (`null`: no rate limit).
    #[schema(required = true)]
    pub rate_period_ms: Option<u64>,
    /// The most executions with the same concurrency key running at once (`null`:
    /// no per-key limit).
    #[schema(required = true)]
    pub key_concurrency: Option<u32>,
    /// Executions due and waiting for a slot.
    pub depth: u64,
    /// Executions running (holding a lease).
    pub running: u64,
    /// When a process last declared the queue.
    pub updated_at: DateTime<Utc>,
}

impl From<core::QueueLoad> for Queue {
    fn from(q: core::QueueLoad) -> Self {
        let spec = q.queue.spec;
        Self {
            name: spec.name,
            concurrency: spec.concurrency,
            per_worker: spec.per_worker,
            priority_aging_ms: spec.priority_aging_ms,
            rate_limit: spec.rate_limit.map(|r| r.limit),
            rate_period_ms: spec.rate_limit.map(|r| r.period_ms),
            key_concurrency: spec.key_concurrency,
            depth: q.depth,
            running: q.running,
            updated_at: q.queue.updated_at,
        }
    }
}
