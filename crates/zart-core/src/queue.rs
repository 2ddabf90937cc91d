//! Named queues: the flow-control settings every process sharing a database sees.
//!
//! An execution with no queue is on the *default queue*: it has no limits and is
//! claimed by the same statement as before queues existed, so flow control costs
//! nothing when unused. A named queue's settings live in the `queues` table; the
//! claim of a named queue's work reads them under a lock of the queue's row, so its
//! global concurrency limit holds across every process.

use crate::Timestamp;

/// The name the API accepts for the default queue (stored as no queue).
pub const DEFAULT_QUEUE: &str = "default";
/// The longest queue name, in characters.
pub const MAX_QUEUE_NAME_CHARS: usize = 64;
/// The lowest priority value (runs first).
pub const MIN_PRIORITY: i32 = -1000;
/// The highest priority value (runs last).
pub const MAX_PRIORITY: i32 = 1000;

/// A queue's settings, as declared by a process and stored in the `queues` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    /// The queue name: 1 to [`MAX_QUEUE_NAME_CHARS`] of `A-Z a-z 0-9 _ - . :`.
    pub name: String,
    /// The most executions of this queue running at once across all processes
    /// (`None`: no global limit).
    pub concurrency: Option<u32>,
    /// The most executions of this queue one worker runs at once (`None`: only the
    /// worker's own concurrency).
    pub per_worker: Option<u32>,
    /// Milliseconds after which a due execution is claimed before every
    /// higher-priority one (ages out of its priority), so none starves.
    pub priority_aging_ms: Option<u64>,
    /// The most claims of this queue's work per period, across all processes
    /// (`None`: no rate limit).
    pub rate_limit: Option<RateLimit>,
    /// The most executions with the same concurrency key running at once, across
    /// all processes (`None`: no per-key limit). A queue with a per-key limit also
    /// claims round-robin between keys.
    pub key_concurrency: Option<u32>,
}

/// The longest rate-limit period, 31 days.
pub const MAX_RATE_PERIOD_MS: u64 = 31 * 24 * 3_600_000;

/// A queue's rate limit: at most `limit` claims of its work (a start, a resume after a
/// park, or a takeover of an expired lease) per `period_ms`, held in the database as
/// a token bucket of capacity `limit` refilled at `limit` per period, so it is global
/// across processes. Over any span of time T at most `limit * (1 + T / period)`
/// claims happen: the long-run rate is exact, with one period's burst of tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Claims per period (at least 1).
    pub limit: u32,
    /// The period in milliseconds (1 to [`MAX_RATE_PERIOD_MS`]).
    pub period_ms: u64,
}

impl RateLimit {
    /// The tokens in the bucket at `now_ms`, given `tokens` left at `at_ms`:
    /// refilled at `limit` per period, never above `limit`. A clock that moved
    /// backwards refills nothing.
    pub fn refill(&self, tokens: f64, at_ms: i64, now_ms: i64) -> f64 {
        let elapsed = now_ms.saturating_sub(at_ms).max(0) as f64;
        let limit = f64::from(self.limit);
        (tokens + elapsed * limit / self.period_ms.max(1) as f64).min(limit)
    }

    /// How many claims `tokens` allow now (whole tokens).
    pub fn allowed(tokens: f64) -> u32 {
        if tokens >= 1.0 {
            tokens.floor().min(f64::from(u32::MAX)) as u32
        } else {
            0
        }
    }
}

impl QueueSpec {
    /// Checks the settings: a valid name that is not the default queue's, and limits
    /// of at least 1.
    pub fn validate(&self) -> Result<(), String> {
        validate_queue_name(&self.name)?;
        if self.name == DEFAULT_QUEUE {
            return Err(format!(
                "queue {DEFAULT_QUEUE:?} is the default queue, which has no limits; \
                 declare a queue with another name"
            ));
        }
        if self.concurrency == Some(0) {
            return Err(format!(
                "queue {:?}: concurrency must be at least 1",
                self.name
            ));
        }
        if self.per_worker == Some(0) {
            return Err(format!(
                "queue {:?}: per-worker limit must be at least 1",
                self.name
            ));
        }
        if self.priority_aging_ms == Some(0) {
            return Err(format!(
                "queue {:?}: priority aging must be positive",
                self.name
            ));
        }
        if self.key_concurrency == Some(0) {
            return Err(format!(
                "queue {:?}: per-key limit must be at least 1",
                self.name
            ));
        }
        if let Some(rate) = self.rate_limit {
            if rate.limit == 0 {
                return Err(format!(
                    "queue {:?}: rate limit must allow at least 1 per period",
                    self.name
                ));
            }
            if rate.period_ms == 0 || rate.period_ms > MAX_RATE_PERIOD_MS {
                return Err(format!(
                    "queue {:?}: rate-limit period must be 1 ms to 31 days, got {} ms",
                    self.name, rate.period_ms
                ));
            }
        }
        Ok(())
    }
}

/// Checks a queue name: 1 to [`MAX_QUEUE_NAME_CHARS`] characters of ASCII letters,
/// digits, `_`, `-`, `.` and `:`.
pub fn validate_queue_name(name: &str) -> Result<(), String> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_QUEUE_NAME_CHARS {
        return Err(format!(
            "queue name must be 1 to {MAX_QUEUE_NAME_CHARS} characters, got {chars}"
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')))
    {
        return Err(format!(
            "queue name {name:?} contains {bad:?}; use letters, digits, '_', '-', '.' or ':'"
        ));
    }
    Ok(())
}

/// Checks a priority: [`MIN_PRIORITY`] to [`MAX_PRIORITY`].
pub fn validate_priority(priority: i32) -> Result<(), String> {
    if (MIN_PRIORITY..=MAX_PRIORITY).contains(&priority) {
        Ok(())
    } else {
        Err(format!(
            "priority must be between {MIN_PRIORITY} and {MAX_PRIORITY}, got {priority}"
        ))
    }
}

/// A stored queue: its settings and when they were last declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRecord {
    /// The settings.
    pub spec: QueueSpec,
    /// When a process last declared them.
    pub updated_at: Timestamp,
}

/// A queue with its current load, as [`Store::queue_list`](crate::Store::queue_list)
/// reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueLoad {
    /// The queue.
    pub queue: QueueRecord,
    /// Executions of the queue that are due and not running (waiting for a slot).
    pub depth: u64,
    /// Executions of the queue holding a lease (running).
    pub running: u64,
}

/// A due execution a claim of a queue with a per-key limit may take, in claim order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedCandidate {
    /// The execution id.
    pub id: String,
    /// Its concurrency key (`None`: no per-key limit applies).
    pub key: Option<String>,
    /// Its fair-queuing sequence within its key (see [`pick_keyed`]).
    pub seq: i64,
}

/// The candidates a claim of a queue with a per-key limit takes, at most `room`, in
/// the given order (the claim order: priority, then fair-queuing sequence, then due
/// time), skipping any whose key already has `key_limit` executions running
/// (`running`, by key) or picked before it. Shared by every store so the rule is one.
///
/// The sequence is *start-time fair queuing*: an execution's sequence is one past
/// the last unfinished one of its key, but never behind the queue's clock (the
/// largest sequence claimed so far). A key with 10,000 queued executions holds
/// sequences far ahead; a key arriving later starts at the clock, so its work is
/// interleaved with the big key's one for one rather than queued behind it.
pub fn pick_keyed<'a>(
    candidates: &'a [KeyedCandidate],
    running: &std::collections::HashMap<String, u64>,
    key_limit: u32,
    room: usize,
) -> Vec<&'a KeyedCandidate> {
    let mut taken: std::collections::HashMap<&str, u64> = std::collections::HashMap::new();
    let mut picked = Vec::new();
    for candidate in candidates {
        if picked.len() == room {
            break;
        }
        if let Some(key) = candidate.key.as_deref() {
            let now = running.get(key).copied().unwrap_or(0) + taken.get(key).copied().unwrap_or(0);
            if now >= u64::from(key_limit) {
                continue;
            }
            *taken.entry(key).or_default() += 1;
        }
        picked.push(candidate);
    }
    picked
}

/// One named queue a claim may take work from, with how many of its executions this
/// worker can still take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueClaim {
    /// The queue name.
    pub name: String,
    /// The most executions of this queue to claim (the worker's free per-queue slots).
    pub limit: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> QueueSpec {
        QueueSpec {
            name: name.into(),
            concurrency: Some(2),
            per_worker: None,
            priority_aging_ms: None,
            rate_limit: None,
            key_concurrency: None,
        }
    }

    #[test]
    fn queue_settings_reject_empty_long_odd_reserved_names_and_zero_limits() {
        assert!(spec("payments").validate().is_ok());
        assert!(spec("").validate().is_err());
        assert!(spec(&"q".repeat(65)).validate().is_err());
        assert!(spec("with space").validate().is_err());
        assert!(spec(DEFAULT_QUEUE).validate().is_err());
        let zero = QueueSpec {
            concurrency: Some(0),
            ..spec("q")
        };
        assert!(zero.validate().unwrap_err().contains("concurrency"));
        let zero = QueueSpec {
            per_worker: Some(0),
            ..spec("q")
        };
        assert!(zero.validate().unwrap_err().contains("per-worker"));
        for (limit, period_ms) in [(0, 1000), (5, 0), (5, MAX_RATE_PERIOD_MS + 1)] {
            let bad = QueueSpec {
                rate_limit: Some(RateLimit { limit, period_ms }),
                ..spec("q")
            };
            assert!(bad.validate().unwrap_err().contains("rate"), "{bad:?}");
        }
    }

    #[test]
    fn keyed_picks_skip_keys_at_their_limit_and_keep_the_order() {
        let c = |id: &str, key: Option<&str>| KeyedCandidate {
            id: id.into(),
            key: key.map(Into::into),
            seq: 0,
        };
        let candidates = [
            c("a1", Some("a")),
            c("a2", Some("a")),
            c("b1", Some("b")),
            c("n1", None),
            c("c1", Some("c")),
        ];
        let running = std::collections::HashMap::from([("c".to_owned(), 1)]);
        let ids = |picked: Vec<&KeyedCandidate>| -> Vec<String> {
            picked.into_iter().map(|p| p.id.clone()).collect()
        };
        assert_eq!(
            ids(pick_keyed(&candidates, &running, 1, 10)),
            ["a1", "b1", "n1"]
        );
        assert_eq!(
            ids(pick_keyed(&candidates, &running, 2, 10)),
            ["a1", "a2", "b1", "n1", "c1"]
        );
        assert_eq!(ids(pick_keyed(&candidates, &running, 1, 2)), ["a1", "b1"]);
        let zero = QueueSpec {
            key_concurrency: Some(0),
            ..spec("q")
        };
        assert!(zero.validate().unwrap_err().contains("per-key"));
    }

    #[test]
    fn the_bucket_refills_at_the_rate_up_to_the_limit() {
        let rate = RateLimit {
            limit: 20,
            period_ms: 1000,
        };
        assert_eq!(rate.refill(0.0, 0, 500), 10.0);
        assert_eq!(rate.refill(0.0, 0, 5_000), 20.0);
        assert_eq!(rate.refill(3.5, 1000, 900), 3.5);
        assert_eq!(RateLimit::allowed(0.99), 0);
        assert_eq!(RateLimit::allowed(2.7), 2);
    }

    #[test]
    fn priorities_outside_the_range_are_rejected() {
        assert!(validate_priority(0).is_ok());
        assert!(validate_priority(MIN_PRIORITY).is_ok());
        assert!(validate_priority(MAX_PRIORITY + 1).is_err());
        assert!(validate_priority(MIN_PRIORITY - 1).is_err());
    }
}
