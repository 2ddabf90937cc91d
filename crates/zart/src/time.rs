//! Checked time arithmetic. Durations come from users (sleeps, event timeouts, retry
//! delays, lease settings) and can be arbitrarily long, while `Timestamp + Duration`
//! panics past the calendar chrono knows. Every instant Zart computes stays within
//! RFC 3339's four-digit years, so the stores, the JSON and the HTTP API can all carry
//! it: a duration that would end later is an error, never a panic.

use std::fmt;
use std::time::Duration;

use zart_core::Timestamp;

/// 9999-12-31T23:59:59.999Z in milliseconds since the Unix epoch.
const LATEST_MS: i64 = 253_402_300_799_999;

/// The latest instant Zart computes or stores: the end of year 9999.
pub(crate) fn latest() -> Timestamp {
    chrono::DateTime::from_timestamp_millis(LATEST_MS)
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}

/// A time that lies beyond [`latest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TooLate {
    /// `start + duration` would end after the latest instant.
    Duration(Duration),
    /// An instant given directly.
    Instant(Timestamp),
}

impl fmt::Display for TooLate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TooLate::Duration(d) => write!(f, "a duration of {} s is too long", d.as_secs()),
            TooLate::Instant(t) => write!(f, "{} is too late", t.to_rfc3339()),
        }?;
        write!(f, ": times must not pass {}", latest().to_rfc3339())
    }
}

/// `start + duration`, or an error when it would pass [`latest`].
pub(crate) fn after(start: Timestamp, duration: Duration) -> Result<Timestamp, TooLate> {
    chrono::Duration::from_std(duration)
        .ok()
        .and_then(|d| start.checked_add_signed(d))
        .filter(|t| *t <= latest())
        .ok_or(TooLate::Duration(duration))
}

/// `at` itself, or an error when it passes [`latest`].
pub(crate) fn within_range(at: Timestamp) -> Result<Timestamp, TooLate> {
    if at <= latest() {
        Ok(at)
    } else {
        Err(TooLate::Instant(at))
    }
}

/// The monotonic instant `duration` from now, saturating at about 30 years (as Tokio's
/// own timers do) instead of panicking on overflow.
pub(crate) fn deadline_in(duration: Duration) -> tokio::time::Instant {
    const FAR: Duration = Duration::from_secs(86_400 * 365 * 30);
    let now = tokio::time::Instant::now();
    now.checked_add(duration.min(FAR)).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_instant_is_the_end_of_year_9999() {
        assert_eq!(latest().to_rfc3339(), "9999-12-31T23:59:59.999+00:00");
    }

    #[test]
    fn a_duration_past_the_latest_instant_is_an_error_not_a_panic() {
        let now = chrono::Utc::now();
        // Past chrono's calendar, and within it but past the year 9999.
        for huge in [
            Duration::MAX,
            Duration::from_secs(10u64.pow(13)),
            Duration::from_secs(3 * 10u64.pow(11)),
        ] {
            let err = after(now, huge).unwrap_err();
            assert!(err.to_string().contains("is too long"), "{err}");
        }
        let hour = after(now, Duration::from_secs(3600)).unwrap();
        assert_eq!(hour - now, chrono::Duration::hours(1));
    }

    #[test]
    fn an_instant_past_the_latest_is_an_error() {
        assert!(within_range(latest()).is_ok());
        let err = within_range(chrono::DateTime::<chrono::Utc>::MAX_UTC).unwrap_err();
        assert!(err.to_string().contains("is too late"), "{err}");
    }

    #[tokio::test]
    async fn a_monotonic_deadline_saturates() {
        let far = deadline_in(Duration::MAX);
        assert!(far > tokio::time::Instant::now() + Duration::from_secs(86_400 * 365));
    }
}
