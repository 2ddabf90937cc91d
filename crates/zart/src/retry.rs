//! Retry policies and step options.

use std::time::Duration;

use rand::Rng;

/// How a failing step is retried.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    max_attempts: u32,
    backoff: Backoff,
    jitter: f64,
}

#[derive(Debug, Clone, PartialEq)]
enum Backoff {
    Fixed(Duration),
    Exponential { initial: Duration, max: Duration },
}

impl Default for RetryPolicy {
    /// 3 attempts, exponential backoff from 100 ms, at most 30 s, 10 % jitter.
    fn default() -> Self {
        Self::exponential(Duration::from_millis(100), Duration::from_secs(30), 3).jitter(0.1)
    }
}

impl RetryPolicy {
    /// One attempt, no retry.
    pub fn none() -> Self {
        Self::fixed(Duration::ZERO, 1)
    }

    /// `max_attempts` attempts in all, `delay` apart.
    pub fn fixed(delay: Duration, max_attempts: u32) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            backoff: Backoff::Fixed(delay),
            jitter: 0.0,
        }
    }

    /// `max_attempts` attempts in all; the delay starts at `initial` and doubles after
    /// every failure, up to `max`.
    pub fn exponential(initial: Duration, max: Duration, max_attempts: u32) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            backoff: Backoff::Exponential { initial, max },
            jitter: 0.0,
        }
    }

    /// Randomizes each delay by up to `fraction` (0.0 to 1.0) either way, so that many
    /// executions failing together do not retry in lockstep.
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = fraction.clamp(0.0, 1.0);
        self
    }

    /// The most attempts a step makes.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The delay before the attempt after attempt number `attempt` (1-based).
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let base = match &self.backoff {
            Backoff::Fixed(d) => *d,
            Backoff::Exponential { initial, max } => {
                let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(31));
                initial.saturating_mul(factor).min(*max)
            }
        };
        if self.jitter == 0.0 || base.is_zero() {
            return base;
        }
        let spread = rand::thread_rng().gen_range(-self.jitter..=self.jitter);
        // `Duration::mul_f64` panics past `Duration::MAX`: saturate instead.
        Duration::try_from_secs_f64(base.as_secs_f64() * (1.0 + spread).max(0.0))
            .unwrap_or(Duration::MAX)
    }
}

/// Options of one step.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepOptions {
    /// The retry policy.
    pub retry: RetryPolicy,
    /// A limit on each attempt; an attempt that exceeds it is stopped and counts as a
    /// retryable failure.
    pub timeout: Option<Duration>,
}

impl StepOptions {
    /// Default options with `retry` as the retry policy.
    pub fn retry(retry: RetryPolicy) -> Self {
        Self {
            retry,
            timeout: None,
        }
    }

    /// Sets a per-attempt timeout.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_backoff_doubles_up_to_the_maximum() {
        let p =
            RetryPolicy::exponential(Duration::from_millis(100), Duration::from_millis(350), 10);
        let delays: Vec<u128> = (1..=4).map(|a| p.delay_after(a).as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 350, 350]);
    }

    #[test]
    fn jitter_stays_within_its_fraction() {
        let p = RetryPolicy::fixed(Duration::from_millis(1000), 3).jitter(0.2);
        for _ in 0..200 {
            let d = p.delay_after(1).as_millis();
            assert!((800..=1200).contains(&d), "{d}");
        }
    }

    #[test]
    fn jitter_on_a_huge_delay_saturates_instead_of_panicking() {
        let half = Duration::MAX / 2 - Duration::from_secs(1);
        let p = RetryPolicy::fixed(Duration::MAX, 3).jitter(0.5);
        for _ in 0..50 {
            assert!(p.delay_after(1) >= half);
        }
        let p = RetryPolicy::exponential(Duration::MAX, Duration::MAX, 40).jitter(0.5);
        assert!(p.delay_after(39) >= half);
    }

    #[test]
    fn max_attempts_is_at_least_one() {
        assert_eq!(RetryPolicy::fixed(Duration::ZERO, 0).max_attempts(), 1);
    }
}
