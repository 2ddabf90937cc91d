//! Schedules: executions of a task started on a cron expression in an IANA time zone,
//! or on a fixed interval.
//!
//! A schedule's *slots* are the instants it fires at. Each firing creates the
//! execution `{scheduleId}@{slot, RFC 3339}`, so however many processes fire the same
//! slot, the database holds one execution for it. The store keeps a cursor per
//! schedule (the next slot not yet handled, and `buffer_one`'s waiting slot); a firing
//! moves the cursor and inserts its executions in one transaction, compare-and-set on
//! the cursor, so a slot is handled once.
//!
//! Everything here is pure: parsing and validating a [`ScheduleSpec`], computing
//! slots ([`Timing`]), and deciding what a due schedule does ([`plan_firing`]). The
//! runtime (`zart`) reads due schedules, plans, and asks the store to fire.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{ExecutionStatus, Timestamp, UnknownVariant};

string_enum!(
    /// What a firing does while the schedule's previous execution is unfinished.
    #[derive(Default)]
    OverlapPolicy {
        /// The new slot is dropped (the default).
        #[default]
        Skip => "skip",
        /// The latest such slot waits, and fires once the previous execution finishes.
        BufferOne => "buffer_one",
        /// The new execution starts anyway.
        AllowAll => "allow_all",
        /// The previous execution is cancelled and the new one starts.
        CancelPrevious => "cancel_previous",
    }
);

string_enum!(
    /// What a schedule does with slots that passed while nothing fired it (downtime,
    /// a long pause of every process).
    #[derive(Default)]
    CatchUpPolicy {
        /// Fires once, for the latest missed slot (the default).
        #[default]
        SkipMissed => "skip_missed",
        /// Fires none of them: a slot more than [`ON_TIME_GRACE`] late is dropped.
        None => "none",
        /// Fires each of them, oldest first, at most [`MAX_CATCH_UP`] (the latest).
        All => "all",
    }
);

/// The most missed slots one catch-up fires under [`CatchUpPolicy::All`]: the latest
/// ones; older slots are dropped.
pub const MAX_CATCH_UP: usize = 100;

/// How late a slot may fire under [`CatchUpPolicy::None`] and still count as on time.
pub const ON_TIME_GRACE: Duration = Duration::from_secs(10);

/// The shortest interval of an interval schedule, in seconds.
pub const MIN_INTERVAL_SECS: u64 = 1;

/// The longest interval of an interval schedule, in seconds (about 100 years).
pub const MAX_INTERVAL_SECS: u64 = 100 * 366 * 24 * 3600;

/// The longest schedule id, in characters: the id of a firing's execution adds `@`
/// and the slot time, and must stay within the 255 characters of an execution id.
pub const MAX_SCHEDULE_ID_CHARS: usize = 200;

/// The time zone of a cron schedule that names none.
pub const DEFAULT_TIMEZONE: &str = "UTC";

/// What a schedule is: which task it starts, with what, when, and what it does on
/// overlap and after downtime. Exactly one of `cron` and `interval_secs` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleSpec {
    /// The schedule's id (1 to [`MAX_SCHEDULE_ID_CHARS`] characters).
    pub schedule_id: String,
    /// The task each firing starts.
    pub task_name: String,
    /// The input of each firing's execution.
    pub payload: Value,
    /// A cron expression: 5 fields (minute hour day-of-month month day-of-week), or 6
    /// with seconds first, or `@yearly`, `@monthly`, `@weekly`, `@daily`, `@hourly`.
    pub cron: Option<String>,
    /// The IANA time zone the cron expression is read in (`UTC` when `None`). An
    /// interval schedule has none.
    pub timezone: Option<String>,
    /// A fixed interval in seconds: slots are the multiples of it since the Unix
    /// epoch, so every process computes the same ones.
    pub interval_secs: Option<u64>,
    /// What a firing does while the previous execution is unfinished.
    pub overlap: OverlapPolicy,
    /// What the schedule does with slots missed while nothing fired it.
    pub catch_up: CatchUpPolicy,
}

impl ScheduleSpec {
    /// A cron schedule in UTC with the default policies.
    pub fn cron(
        schedule_id: impl Into<String>,
        task_name: impl Into<String>,
        cron: impl Into<String>,
    ) -> Self {
        Self::new(schedule_id, task_name, Some(cron.into()), None)
    }

    /// An interval schedule with the default policies.
    pub fn every(
        schedule_id: impl Into<String>,
        task_name: impl Into<String>,
        interval: Duration,
    ) -> Self {
        Self::new(schedule_id, task_name, None, Some(interval.as_secs()))
    }

    fn new(
        schedule_id: impl Into<String>,
        task_name: impl Into<String>,
        cron: Option<String>,
        interval_secs: Option<u64>,
    ) -> Self {
        Self {
            schedule_id: schedule_id.into(),
            task_name: task_name.into(),
            payload: Value::Null,
            cron,
            timezone: None,
            interval_secs,
            overlap: OverlapPolicy::default(),
            catch_up: CatchUpPolicy::default(),
        }
    }

    /// Sets the payload of each firing.
    pub fn payload(mut self, payload: Value) -> Self {
        self.payload = payload;
        self
    }

    /// Reads the cron expression in the IANA time zone `timezone`.
    pub fn timezone(mut self, timezone: impl Into<String>) -> Self {
        self.timezone = Some(timezone.into());
        self
    }

    /// Sets the overlap policy.
    pub fn overlap(mut self, overlap: OverlapPolicy) -> Self {
        self.overlap = overlap;
        self
    }

    /// Sets the catch-up policy.
    pub fn catch_up(mut self, catch_up: CatchUpPolicy) -> Self {
        self.catch_up = catch_up;
        self
    }

    /// Whether `other` is the same schedule: every field but the id equal, a cron
    /// schedule without a zone being UTC. Both stores decide a put with it.
    pub fn same_schedule(&self, other: &ScheduleSpec) -> bool {
        self.task_name == other.task_name
            && self.payload == other.payload
            && self.cron == other.cron
            && self.timezone_or_default() == other.timezone_or_default()
            && self.interval_secs == other.interval_secs
            && self.overlap == other.overlap
            && self.catch_up == other.catch_up
    }

    /// The schedule's time zone as stored: `UTC` for a cron schedule naming none.
    pub fn timezone_or_default(&self) -> Option<&str> {
        match (&self.cron, &self.timezone) {
            (Some(_), None) => Some(DEFAULT_TIMEZONE),
            (_, tz) => tz.as_deref(),
        }
    }

    /// Parses and checks the timing (exactly one of cron and interval, a valid cron
    /// expression, a known time zone, an interval in range) and the id's length. The
    /// message says what is wrong.
    pub fn timing(&self) -> Result<Timing, String> {
        let chars = self.schedule_id.chars().count();
        if chars == 0 || chars > MAX_SCHEDULE_ID_CHARS {
            return Err(format!(
                "scheduleId must be 1 to {MAX_SCHEDULE_ID_CHARS} characters, got {chars}"
            ));
        }
        match (&self.cron, self.interval_secs) {
            (Some(_), Some(_)) => Err("give either cron or intervalSecs, not both".into()),
            (None, None) => Err("a schedule needs cron or intervalSecs".into()),
            (None, Some(secs)) => {
                if self.timezone.is_some() {
                    return Err("timezone applies to cron schedules only".into());
                }
                Timing::interval(secs)
            }
            (Some(cron), None) => {
                Timing::cron(cron, self.timezone.as_deref().unwrap_or(DEFAULT_TIMEZONE))
            }
        }
    }
}

/// When a schedule fires: a parsed cron expression in a time zone, or an interval.
#[derive(Clone)]
pub struct Timing {
    kind: TimingKind,
}

#[derive(Clone)]
enum TimingKind {
    Cron(Box<croner::Cron>, chrono_tz::Tz),
    Interval(i64),
}

impl fmt::Debug for Timing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            TimingKind::Cron(cron, tz) => f
                .debug_struct("Timing")
                .field("cron", &cron.pattern.to_string())
                .field("timezone", &tz.name())
                .finish(),
            TimingKind::Interval(ms) => f.debug_struct("Timing").field("interval_ms", ms).finish(),
        }
    }
}

impl Timing {
    /// A cron expression (5 fields, 6 with seconds, or an `@` shorthand) read in the
    /// IANA zone `timezone`.
    pub fn cron(expression: &str, timezone: &str) -> Result<Self, String> {
        let tz = chrono_tz::Tz::from_str(timezone)
            .map_err(|_| format!("timezone {timezone:?} is not an IANA time zone name"))?;
        let trimmed = expression.trim();
        let fields = trimmed.split_whitespace().count();
        if !trimmed.starts_with('@') && !(5..=6).contains(&fields) {
            return Err(format!(
                "cron expression {expression:?} has {fields} fields: expected 5 \
                 (minute hour day-of-month month day-of-week) or 6 (seconds first)"
            ));
        }
        let cron = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .build()
            .parse(trimmed)
            .map_err(|e| format!("cron expression {expression:?} is invalid: {e}"))?;
        let timing = Self {
            kind: TimingKind::Cron(Box::new(cron), tz),
        };
        // An expression that parses but never matches (say `0 0 31 2 *`) would
        // never fire: say so now rather than go quiet.
        if timing.next_after(Utc::now()).is_none() {
            return Err(format!("cron expression {expression:?} never fires"));
        }
        Ok(timing)
    }

    /// Every `secs` seconds, aligned to the Unix epoch.
    pub fn interval(secs: u64) -> Result<Self, String> {
        if !(MIN_INTERVAL_SECS..=MAX_INTERVAL_SECS).contains(&secs) {
            return Err(format!(
                "intervalSecs must be {MIN_INTERVAL_SECS} to {MAX_INTERVAL_SECS}, got {secs}"
            ));
        }
        Ok(Self {
            kind: TimingKind::Interval(secs as i64 * 1000),
        })
    }

    /// The first slot strictly after `t`; `None` when there is none (before the end
    /// of year 9999).
    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        match &self.kind {
            TimingKind::Interval(every) => {
                let next = t.timestamp_millis().div_euclid(*every).checked_add(1)?;
                in_range(
                    Utc.timestamp_millis_opt(next.checked_mul(*every)?)
                        .single()?,
                )
            }
            TimingKind::Cron(cron, tz) => {
                // Slots are whole seconds; from the whole second at or before `t`,
                // the next one strictly after it.
                let from = Utc
                    .timestamp_opt(t.timestamp(), 0)
                    .single()?
                    .with_timezone(tz);
                let next = cron.find_next_occurrence(&from, false).ok()?;
                in_range(next.with_timezone(&Utc))
            }
        }
    }

    /// The latest slot at or before `t`, if any.
    pub fn latest_at_or_before(&self, t: Timestamp) -> Option<Timestamp> {
        match &self.kind {
            TimingKind::Interval(every) => {
                let at = t
                    .timestamp_millis()
                    .div_euclid(*every)
                    .checked_mul(*every)?;
                Utc.timestamp_millis_opt(at).single()
            }
            TimingKind::Cron(cron, tz) => {
                let from = Utc
                    .timestamp_opt(t.timestamp(), 0)
                    .single()?
                    .with_timezone(tz);
                let at = cron.find_previous_occurrence(&from, true).ok()?;
                Some(at.with_timezone(&Utc))
            }
        }
    }

    /// The first `n` slots strictly after `t`.
    pub fn upcoming(&self, t: Timestamp, n: usize) -> Vec<Timestamp> {
        let mut slots = Vec::with_capacity(n);
        let mut at = t;
        while slots.len() < n {
            match self.next_after(at) {
                Some(next) => {
                    slots.push(next);
                    at = next;
                }
                None => break,
            }
        }
        slots
    }

    /// The slots in `[from, to]`, the latest `limit` of them, oldest first.
    pub fn slots_between(&self, from: Timestamp, to: Timestamp, limit: usize) -> Vec<Timestamp> {
        let mut slots = Vec::new();
        let mut at = to;
        while slots.len() < limit {
            match self.latest_at_or_before(at) {
                Some(slot) if slot >= from => {
                    slots.push(slot);
                    match slot.checked_sub_signed(chrono::Duration::seconds(1)) {
                        Some(before) => at = before,
                        None => break,
                    }
                }
                _ => break,
            }
        }
        slots.reverse();
        slots
    }
}

/// `t` if it is within the calendar Zart stores (up to the end of year 9999).
fn in_range(t: Timestamp) -> Option<Timestamp> {
    (t.timestamp_millis() <= 253_402_300_799_999).then_some(t)
}

/// The id of the execution a schedule's firing for `slot` creates:
/// `{schedule_id}@{slot, RFC 3339 UTC}` (milliseconds only when the slot has them).
pub fn firing_id(schedule_id: &str, slot: Timestamp) -> String {
    format!(
        "{schedule_id}@{}",
        slot.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    )
}

/// The id of the execution a manual trigger of `schedule_id` at `at` creates:
/// `{schedule_id}@{at, RFC 3339 UTC with milliseconds}`. It always carries
/// milliseconds, so a trigger at the very instant of a slot is not that slot's firing.
pub fn trigger_id(schedule_id: &str, at: Timestamp) -> String {
    format!(
        "{schedule_id}@{}",
        at.to_rfc3339_opts(SecondsFormat::Millis, true)
    )
}

/// A schedule's cursor: what the store compares and sets when a firing is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScheduleCursor {
    /// The next slot not yet handled; `None` when the timing has no more.
    pub next_fire_at: Option<Timestamp>,
    /// Under [`OverlapPolicy::BufferOne`], a slot waiting for the previous execution
    /// to finish.
    pub buffered_at: Option<Timestamp>,
}

/// A stored schedule: its spec and its state.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRecord {
    /// What the schedule is.
    pub spec: ScheduleSpec,
    /// Whether it is paused (a paused schedule fires nothing, not even missed slots on
    /// resume).
    pub paused: bool,
    /// When it was created.
    pub created_at: Timestamp,
    /// When its spec or state last changed.
    pub updated_at: Timestamp,
    /// Its cursor.
    pub cursor: ScheduleCursor,
    /// The slot of its latest firing (manual triggers included).
    pub last_fired_at: Option<Timestamp>,
    /// The execution its latest firing started.
    pub last_execution_id: Option<String>,
}

/// Parameters of [`Store::schedule_put`](crate::Store::schedule_put).
#[derive(Debug, Clone, PartialEq)]
pub struct SchedulePut {
    /// The schedule, already validated by the caller.
    pub spec: ScheduleSpec,
    /// Its first slot after `now`.
    pub next_fire_at: Option<Timestamp>,
    /// Whether a schedule created by this put starts paused (an existing one keeps
    /// its state).
    pub paused: bool,
    /// `true`: a schedule of that id with another spec is updated (a schedule
    /// declared in code that changed). `false`: it is a conflict (an API create).
    pub replace: bool,
    /// The current time.
    pub now: Timestamp,
}

/// What [`Store::schedule_put`](crate::Store::schedule_put) did.
#[derive(Debug, Clone, PartialEq)]
pub enum SchedulePutOutcome {
    /// Created now.
    Created(ScheduleRecord),
    /// It existed with the same spec; nothing changed.
    Unchanged(ScheduleRecord),
    /// It existed with another spec, which was replaced; its cursor restarts at the
    /// put's `next_fire_at` (its pause and its last firing are kept).
    Updated(ScheduleRecord),
    /// It exists with another spec and `replace` was false; nothing changed.
    Conflict(ScheduleRecord),
}

/// Parameters of [`Store::schedule_fire`](crate::Store::schedule_fire).
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleFire {
    /// The schedule.
    pub schedule_id: String,
    /// The cursor the firing was planned from, and the one it leaves: the firing is
    /// recorded only if the stored cursor still equals `from` and the schedule is not
    /// paused. `None` for a manual trigger, which leaves the cursor alone.
    pub cursor: Option<(ScheduleCursor, ScheduleCursor)>,
    /// The executions to create, oldest slot first; each has the id
    /// [`firing_id`] of its slot. The last one becomes `last_execution_id`.
    pub starts: Vec<crate::NewExecution>,
    /// The slot of the last start (`last_fired_at`).
    pub fired_at: Option<Timestamp>,
    /// The current time.
    pub now: Timestamp,
}

/// What [`Store::schedule_fire`](crate::Store::schedule_fire) did.
#[derive(Debug, Clone, PartialEq)]
pub enum FireOutcome {
    /// Recorded; one outcome per start, in order.
    Fired(Vec<crate::InsertOutcome>),
    /// The cursor had moved (another process fired it) or the schedule is paused;
    /// nothing changed.
    Stale,
    /// No such schedule.
    NotFound,
}

/// What a due schedule does now: computed by [`plan_firing`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiringPlan {
    /// The slots to start executions for, oldest first.
    pub starts: Vec<Timestamp>,
    /// The cursor to leave.
    pub cursor: ScheduleCursor,
    /// Whether the previous execution is to be cancelled once the firing is recorded
    /// ([`OverlapPolicy::CancelPrevious`]).
    pub cancel_previous: bool,
}

/// Decides what schedule `s` does at `now`, given the status of its previous
/// execution (`None` when it has none or it is gone). `None` when nothing is due.
pub fn plan_firing(
    s: &ScheduleRecord,
    timing: &Timing,
    previous: Option<ExecutionStatus>,
    now: Timestamp,
) -> Option<FiringPlan> {
    if s.paused {
        return None;
    }
    let due = s.cursor.next_fire_at.filter(|at| *at <= now);
    let mut running = previous.is_some_and(|p| !p.is_terminal());
    let mut starts = Vec::new();
    let mut buffered = s.cursor.buffered_at;
    // A buffered slot fires first, once the previous execution is finished.
    if let Some(slot) = buffered.filter(|_| !running) {
        starts.push(slot);
        buffered = None;
        running = true;
    }
    if due.is_none() {
        if starts.is_empty() {
            return None;
        }
        return Some(FiringPlan {
            starts,
            cursor: ScheduleCursor {
                next_fire_at: s.cursor.next_fire_at,
                buffered_at: None,
            },
            cancel_previous: false,
        });
    }
    let from = due.unwrap_or(now);
    let slots = match s.spec.catch_up {
        CatchUpPolicy::All => timing.slots_between(from, now, MAX_CATCH_UP),
        CatchUpPolicy::SkipMissed => timing.slots_between(from, now, 1),
        CatchUpPolicy::None => timing
            .slots_between(from, now, 1)
            .into_iter()
            .filter(|slot| (now - *slot).to_std().unwrap_or_default() <= ON_TIME_GRACE)
            .collect(),
    };
    let mut cancel_previous = false;
    match s.spec.overlap {
        OverlapPolicy::AllowAll => starts.extend(slots),
        OverlapPolicy::CancelPrevious => {
            if let Some(latest) = slots.last() {
                cancel_previous = running && starts.is_empty();
                starts.push(*latest);
            }
        }
        OverlapPolicy::Skip => {
            if !running {
                starts.extend(slots.first());
            }
        }
        OverlapPolicy::BufferOne => {
            let mut rest = slots.into_iter();
            if !running {
                starts.extend(rest.next());
            }
            if let Some(latest) = rest.last() {
                buffered = Some(latest);
            }
        }
    }
    Some(FiringPlan {
        starts,
        cursor: ScheduleCursor {
            next_fire_at: timing.next_after(now),
            buffered_at: buffered,
        },
        cancel_previous,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: &str) -> Timestamp {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn record(spec: ScheduleSpec, next: Option<Timestamp>) -> ScheduleRecord {
        ScheduleRecord {
            spec,
            paused: false,
            created_at: at("2026-01-01T00:00:00Z"),
            updated_at: at("2026-01-01T00:00:00Z"),
            cursor: ScheduleCursor {
                next_fire_at: next,
                buffered_at: None,
            },
            last_fired_at: None,
            last_execution_id: None,
        }
    }

    #[test]
    fn five_and_six_field_expressions_and_shorthands_parse() {
        let every_minute = Timing::cron("* * * * *", "UTC").unwrap();
        assert_eq!(
            every_minute.next_after(at("2026-03-01T10:00:30.500Z")),
            Some(at("2026-03-01T10:01:00Z"))
        );
        let every_second = Timing::cron("* * * * * *", "UTC").unwrap();
        assert_eq!(
            every_second.next_after(at("2026-03-01T10:00:30.500Z")),
            Some(at("2026-03-01T10:00:31Z"))
        );
        let hourly = Timing::cron("@hourly", "UTC").unwrap();
        assert_eq!(
            hourly.upcoming(at("2026-03-01T10:00:00Z"), 2),
            vec![at("2026-03-01T11:00:00Z"), at("2026-03-01T12:00:00Z")]
        );
        assert!(Timing::cron("@daily", "Europe/Berlin").is_ok());
    }

    #[test]
    fn bad_timings_say_what_is_wrong() {
        let e = Timing::cron("61 * * * *", "UTC").unwrap_err();
        assert!(e.contains("invalid"), "{e}");
        let e = Timing::cron("* * *", "UTC").unwrap_err();
        assert!(e.contains("3 fields"), "{e}");
        let e = Timing::cron("* * * * *", "Mars/Olympus").unwrap_err();
        assert!(e.contains("IANA"), "{e}");
        let e = Timing::cron("0 0 31 2 *", "UTC").unwrap_err();
        assert!(e.contains("never fires"), "{e}");
        let e = Timing::interval(0).unwrap_err();
        assert!(e.contains("intervalSecs"), "{e}");
        let both = ScheduleSpec {
            interval_secs: Some(5),
            ..ScheduleSpec::cron("a", "t", "* * * * *")
        };
        assert!(both.timing().unwrap_err().contains("not both"));
        let tz_on_interval = ScheduleSpec::every("a", "t", Duration::from_secs(5)).timezone("UTC");
        assert!(tz_on_interval
            .timing()
            .unwrap_err()
            .contains("cron schedules only"));
        let long_id = ScheduleSpec::every("x".repeat(201), "t", Duration::from_secs(5));
        assert!(long_id.timing().unwrap_err().contains("scheduleId"));
    }

    #[test]
    fn intervals_are_aligned_to_the_epoch() {
        let t = Timing::interval(10).unwrap();
        assert_eq!(
            t.next_after(at("2026-03-01T10:00:03Z")),
            Some(at("2026-03-01T10:00:10Z"))
        );
        assert_eq!(
            t.next_after(at("2026-03-01T10:00:10Z")),
            Some(at("2026-03-01T10:00:20Z"))
        );
        assert_eq!(
            t.latest_at_or_before(at("2026-03-01T10:00:10Z")),
            Some(at("2026-03-01T10:00:10Z"))
        );
    }

    #[test]
    fn a_skipped_hour_fires_once_and_a_repeated_hour_fires_once() {
        // Europe/Berlin: 2026-03-29 02:00 → 03:00 (no 02:30), 2026-10-25 03:00 → 02:00
        // (02:30 twice).
        let t = Timing::cron("30 2 * * *", "Europe/Berlin").unwrap();
        let spring = t.slots_between(at("2026-03-27T12:00:00Z"), at("2026-03-31T12:00:00Z"), 10);
        assert_eq!(spring.len(), 4, "{spring:?}");
        let day = |s: &Timestamp| s.with_timezone(&chrono_tz::Europe::Berlin).date_naive();
        let mut days: Vec<_> = spring.iter().map(day).collect();
        days.dedup();
        assert_eq!(days.len(), 4, "one firing per day: {spring:?}");
        let autumn = t.slots_between(at("2026-10-23T12:00:00Z"), at("2026-10-27T12:00:00Z"), 10);
        assert_eq!(autumn.len(), 4, "{autumn:?}");
        let mut days: Vec<_> = autumn.iter().map(day).collect();
        days.dedup();
        assert_eq!(days.len(), 4, "one firing per day: {autumn:?}");
        // The upcoming list agrees with the backward walk.
        assert_eq!(t.upcoming(at("2026-10-23T12:00:00Z"), 4), autumn);
    }

    #[test]
    fn firing_ids_carry_the_slot() {
        let slot = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
        assert_eq!(firing_id("nightly", slot), "nightly@2026-03-01T10:00:00Z");
        let ms = slot + chrono::Duration::milliseconds(250);
        assert_eq!(firing_id("n", ms), "n@2026-03-01T10:00:00.250Z");
        assert_eq!(trigger_id("n", slot), "n@2026-03-01T10:00:00.000Z");
        assert_ne!(trigger_id("n", slot), firing_id("n", slot));
    }

    #[test]
    fn catch_up_policies_after_downtime() {
        let now = at("2026-03-01T10:00:05Z");
        let timing = Timing::interval(1).unwrap();
        let spec = ScheduleSpec::every("s", "t", Duration::from_secs(1));
        let missed = Some(at("2026-03-01T09:00:00Z"));
        let plan = |catch_up| {
            let s = record(spec.clone().catch_up(catch_up), missed);
            plan_firing(&s, &timing, None, now).unwrap()
        };
        let skip = plan(CatchUpPolicy::SkipMissed);
        assert_eq!(skip.starts, vec![at("2026-03-01T10:00:05Z")]);
        assert_eq!(skip.cursor.next_fire_at, Some(at("2026-03-01T10:00:06Z")));
        let all = plan(CatchUpPolicy::All);
        assert_eq!(
            all.starts.len(),
            1,
            "under `skip` the oldest starts, the rest overlap it"
        );
        let all = {
            let s = record(
                spec.clone()
                    .catch_up(CatchUpPolicy::All)
                    .overlap(OverlapPolicy::AllowAll),
                missed,
            );
            plan_firing(&s, &timing, None, now).unwrap()
        };
        assert_eq!(all.starts.len(), MAX_CATCH_UP);
        assert_eq!(all.starts.last(), Some(&at("2026-03-01T10:00:05Z")));
        // `none` fires a slot that is on time, and drops one an hour late.
        let none = plan(CatchUpPolicy::None);
        assert_eq!(none.starts, vec![at("2026-03-01T10:00:05Z")]);
        let hourly = Timing::cron("@hourly", "UTC").unwrap();
        let s = record(
            ScheduleSpec::cron("h", "t", "@hourly").catch_up(CatchUpPolicy::None),
            Some(at("2026-03-01T09:00:00Z")),
        );
        let late = plan_firing(&s, &hourly, None, at("2026-03-01T09:30:00Z")).unwrap();
        assert!(late.starts.is_empty());
        assert_eq!(late.cursor.next_fire_at, Some(at("2026-03-01T10:00:00Z")));
    }

    #[test]
    fn overlap_policies_while_the_previous_firing_runs() {
        let now = at("2026-03-01T10:00:00Z");
        let timing = Timing::interval(60).unwrap();
        let running = Some(ExecutionStatus::Running);
        let s = |overlap| {
            record(
                ScheduleSpec::every("s", "t", Duration::from_secs(60)).overlap(overlap),
                Some(now),
            )
        };
        let skip = plan_firing(&s(OverlapPolicy::Skip), &timing, running, now).unwrap();
        assert!(skip.starts.is_empty());
        assert_eq!(skip.cursor.buffered_at, None);
        let all = plan_firing(&s(OverlapPolicy::AllowAll), &timing, running, now).unwrap();
        assert_eq!(all.starts, vec![now]);
        let cancel = plan_firing(&s(OverlapPolicy::CancelPrevious), &timing, running, now).unwrap();
        assert_eq!(cancel.starts, vec![now]);
        assert!(cancel.cancel_previous);
        let buffer = plan_firing(&s(OverlapPolicy::BufferOne), &timing, running, now).unwrap();
        assert!(buffer.starts.is_empty());
        assert_eq!(buffer.cursor.buffered_at, Some(now));
        // Once the previous firing finished, the buffered slot fires.
        let mut buffered = s(OverlapPolicy::BufferOne);
        buffered.cursor = buffer.cursor;
        let later = at("2026-03-01T10:00:30Z");
        assert!(plan_firing(&buffered, &timing, running, later).is_none());
        let fired =
            plan_firing(&buffered, &timing, Some(ExecutionStatus::Completed), later).unwrap();
        assert_eq!(fired.starts, vec![now]);
        assert_eq!(fired.cursor.buffered_at, None);
        assert_eq!(fired.cursor.next_fire_at, buffer.cursor.next_fire_at);
    }

    #[test]
    fn a_paused_or_undue_schedule_plans_nothing() {
        let timing = Timing::interval(60).unwrap();
        let now = at("2026-03-01T10:00:00Z");
        let mut s = record(
            ScheduleSpec::every("s", "t", Duration::from_secs(60)),
            Some(at("2026-03-01T10:01:00Z")),
        );
        assert!(plan_firing(&s, &timing, None, now).is_none());
        s.cursor.next_fire_at = Some(now);
        s.paused = true;
        assert!(plan_firing(&s, &timing, None, now).is_none());
    }
}
