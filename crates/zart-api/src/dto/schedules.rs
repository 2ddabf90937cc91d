//! Bodies of the schedule routes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use zart_core as core;

/// A schedule: a task started on a cron expression in an IANA time zone, or on a
/// fixed interval. Each firing's execution id is `{scheduleId}@{slot, RFC 3339}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    /// The schedule's id.
    pub schedule_id: String,
    /// The task each firing starts.
    pub task_name: String,
    /// The input of each firing's execution.
    pub payload: Value,
    /// The cron expression (5 fields, 6 with seconds first, or `@hourly`, `@daily`,
    /// `@weekly`, `@monthly`, `@yearly`); `null` for an interval schedule.
    #[schema(required = true)]
    pub cron: Option<String>,
    /// The IANA time zone of the cron expression; `null` for an interval schedule.
    #[schema(required = true)]
    pub timezone: Option<String>,
    /// The interval in seconds (slots are its multiples since the Unix epoch);
    /// `null` for a cron schedule.
    #[schema(required = true)]
    pub interval_secs: Option<u64>,
    /// What a firing does while the previous execution is unfinished.
    pub overlap: core::OverlapPolicy,
    /// What the schedule does with slots missed while nothing fired it.
    pub catch_up: core::CatchUpPolicy,
    /// Whether it is paused.
    pub paused: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Its next 5 slots (empty while paused).
    pub next_fire_times: Vec<DateTime<Utc>>,
    /// The slot of its latest firing.
    #[schema(required = true)]
    pub last_fired_at: Option<DateTime<Utc>>,
    /// The execution its latest firing started.
    #[schema(required = true)]
    pub last_execution_id: Option<String>,
}

impl From<zart::Schedule> for Schedule {
    fn from(s: zart::Schedule) -> Self {
        let r = s.record;
        Self {
            timezone: r.spec.timezone_or_default().map(str::to_owned),
            schedule_id: r.spec.schedule_id,
            task_name: r.spec.task_name,
            payload: r.spec.payload,
            cron: r.spec.cron,
            interval_secs: r.spec.interval_secs,
            overlap: r.spec.overlap,
            catch_up: r.spec.catch_up,
            paused: r.paused,
            created_at: r.created_at,
            next_fire_times: s.next_fire_times,
            last_fired_at: r.last_fired_at,
            last_execution_id: r.last_execution_id,
        }
    }
}

/// The body of `POST /schedules`: exactly one of `cron` and `intervalSecs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateSchedule {
    /// The schedule's id (1–200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub schedule_id: String,
    /// The registered task each firing starts.
    #[schema(min_length = 1, max_length = 255)]
    pub task_name: String,
    /// The input of each firing's execution; `null` when omitted.
    #[serde(default)]
    pub payload: Value,
    /// A cron expression (5 fields, 6 with seconds first, or an `@` shorthand).
    #[serde(default)]
    pub cron: Option<String>,
    /// The IANA time zone the cron expression is read in (default `UTC`).
    #[serde(default)]
    pub timezone: Option<String>,
    /// A fixed interval in seconds (at least 1).
    #[serde(default)]
    pub interval_secs: Option<u64>,
    /// Default `skip`.
    #[serde(default)]
    pub overlap: core::OverlapPolicy,
    /// Default `skip_missed`.
    #[serde(default)]
    pub catch_up: core::CatchUpPolicy,
    /// Create it paused (default `false`).
    #[serde(default)]
    pub paused: bool,
}

impl From<CreateSchedule> for core::ScheduleSpec {
    fn from(b: CreateSchedule) -> Self {
        Self {
            schedule_id: b.schedule_id,
            task_name: b.task_name,
            payload: b.payload,
            cron: b.cron,
            timezone: b.timezone,
            interval_secs: b.interval_secs,
            overlap: b.overlap,
            catch_up: b.catch_up,
        }
    }
}
