//! Activity over a time window: how many executions were created and how many
//! finished, by outcome, in equal buckets ([`Store::execution_activity`]). It is read
//! from the store, not from a process's counters, so it is the same whichever process
//! answers and however many run.
//!
//! [`Store::execution_activity`]: crate::Store::execution_activity

use chrono::Duration;

use crate::{ExecutionStatus, StoreError, Timestamp};

/// The most buckets one query may ask for.
pub const MAX_ACTIVITY_BUCKETS: i64 = 1000;

/// The window of [`Store::execution_activity`](crate::Store::execution_activity):
/// `[from, to)`, cut into buckets of `bucket` from `from` (the last may be shorter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityQuery {
    /// The window's start (inclusive).
    pub from: Timestamp,
    /// The window's end (exclusive).
    pub to: Timestamp,
    /// The bucket length.
    pub bucket: Duration,
}

/// The executions created and finished in one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityBucket {
    /// The bucket's start.
    pub start: Timestamp,
    /// Executions created (by `scheduled_at`) in the bucket.
    pub started: u64,
    /// Executions that completed in the bucket (by `completed_at`).
    pub completed: u64,
    /// Executions that failed in the bucket.
    pub failed: u64,
    /// Executions cancelled in the bucket.
    pub cancelled: u64,
}

impl ActivityQuery {
    /// The window of `length` ending at `now`, in buckets of `bucket`. `now` itself
    /// is inside it (the window is shifted by a millisecond), so an execution that
    /// finished in the same millisecond as the query is counted.
    pub fn ending_at(now: Timestamp, length: Duration, bucket: Duration) -> Self {
        let to = now + Duration::milliseconds(1);
        Self {
            from: to - length,
            to,
            bucket,
        }
    }

    /// The bucket length in milliseconds, the window's bounds in milliseconds, and the
    /// number of buckets; an error for an empty window, a bucket under 1 ms or more
    /// than [`MAX_ACTIVITY_BUCKETS`] buckets.
    pub fn bounds(&self) -> Result<(i64, i64, i64, i64), StoreError> {
        let (from, to) = (self.from.timestamp_millis(), self.to.timestamp_millis());
        let bucket = self.bucket.num_milliseconds();
        if to <= from || bucket < 1 {
            return Err(StoreError::InvalidInput(
                "an activity window needs from < to and a bucket of at least 1 ms".into(),
            ));
        }
        let count = (to - from + bucket - 1) / bucket;
        if count > MAX_ACTIVITY_BUCKETS {
            return Err(StoreError::InvalidInput(format!(
                "an activity window holds at most {MAX_ACTIVITY_BUCKETS} buckets, not {count}"
            )));
        }
        Ok((from, to, bucket, count))
    }

    /// Every bucket of the window, filled from the stores' grouped counts: `started`
    /// as `(bucket index, count)` and `finished` as `(bucket index, status, count)`.
    /// Buckets with nothing are present with zeros; indexes outside the window are
    /// ignored.
    pub fn fill(
        &self,
        started: impl IntoIterator<Item = (i64, u64)>,
        finished: impl IntoIterator<Item = (i64, ExecutionStatus, u64)>,
    ) -> Result<Vec<ActivityBucket>, StoreError> {
        let (_, _, bucket, count) = self.bounds()?;
        let mut buckets: Vec<ActivityBucket> = (0..count)
            .map(|i| ActivityBucket {
                start: self.from + Duration::milliseconds(i * bucket),
                started: 0,
                completed: 0,
                failed: 0,
                cancelled: 0,
            })
            .collect();
        let len = buckets.len();
        let slot = |i: i64| usize::try_from(i).ok().filter(|&i| i < len);
        for (i, n) in started {
            if let Some(i) = slot(i) {
                buckets[i].started += n;
            }
        }
        for (i, status, n) in finished {
            let Some(i) = slot(i) else { continue };
            let b = &mut buckets[i];
            match status {
                ExecutionStatus::Completed => b.completed += n,
                ExecutionStatus::Failed => b.failed += n,
                ExecutionStatus::Cancelled => b.cancelled += n,
                ExecutionStatus::Scheduled | ExecutionStatus::Running => {}
            }
        }
        Ok(buckets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(ms: i64) -> Timestamp {
        chrono::Utc.timestamp_millis_opt(ms).unwrap()
    }

    #[test]
    fn a_window_ending_now_holds_now() {
        let q = ActivityQuery::ending_at(at(10_000), Duration::seconds(5), Duration::seconds(1));
        let (from, to, _, count) = q.bounds().unwrap();
        assert!(from <= 10_000 && 10_000 < to, "{from}..{to}");
        assert_eq!((to - from, count), (5_000, 5));
    }

    #[test]
    fn fill_places_counts_and_keeps_empty_buckets() {
        let q = ActivityQuery {
            from: at(0),
            to: at(250),
            bucket: Duration::milliseconds(100),
        };
        let b = q
            .fill(
                [(0, 2), (2, 1), (7, 9)],
                [
                    (1, ExecutionStatus::Failed, 3),
                    (2, ExecutionStatus::Completed, 4),
                ],
            )
            .unwrap();
        assert_eq!(b.len(), 3, "the last bucket is partial");
        assert_eq!((b[0].started, b[1].failed, b[2].completed), (2, 3, 4));
        assert_eq!(b[1].start, at(100));
        assert_eq!(b[2].started, 1);
    }

    #[test]
    fn empty_windows_and_too_many_buckets_are_refused() {
        let one = Duration::milliseconds(1);
        let empty = ActivityQuery {
            from: at(5),
            to: at(5),
            bucket: one,
        };
        assert!(empty.bounds().is_err());
        let many = ActivityQuery {
            from: at(0),
            to: at(1001),
            bucket: one,
        };
        assert!(many.bounds().is_err());
    }
}
