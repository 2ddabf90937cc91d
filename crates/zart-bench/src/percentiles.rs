//! Percentiles of latency samples.

use std::time::Duration;

use serde::Serialize;

/// The median and 99th percentile of a set of samples, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// The median.
    pub p50: f64,
    /// The 99th percentile.
    pub p99: f64,
}

impl Percentiles {
    /// The percentiles of `samples` by the nearest-rank method (the smallest sample
    /// with at least p% of the samples at or below it), or `None` for no samples.
    pub fn of(samples: &[Duration]) -> Option<Percentiles> {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        Some(Percentiles {
            p50: nearest_rank(&ms, 50.0)?,
            p99: nearest_rank(&ms, 99.0)?,
        })
    }
}

/// [`Percentiles`] and the largest sample, in milliseconds: for lateness, where the
/// worst case matters too.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PercentilesMax {
    /// The median.
    pub p50: f64,
    /// The 99th percentile.
    pub p99: f64,
    /// The largest sample.
    pub max: f64,
}

impl PercentilesMax {
    /// The percentiles and maximum of `samples`, or `None` for no samples.
    pub fn of(samples: &[Duration]) -> Option<PercentilesMax> {
        let Percentiles { p50, p99 } = Percentiles::of(samples)?;
        let max = samples.iter().max()?.as_secs_f64() * 1e3;
        Some(PercentilesMax { p50, p99, max })
    }
}

/// The nearest-rank percentile `p` (0 < p ≤ 100) of sorted values.
fn nearest_rank(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    #[test]
    fn one_to_one_hundred_gives_fifty_and_ninety_nine() {
        let samples: Vec<u64> = (1..=100).rev().collect();
        let p = Percentiles::of(&ms(&samples)).unwrap();
        assert_eq!(
            p,
            Percentiles {
                p50: 50.0,
                p99: 99.0
            }
        );
    }

    #[test]
    fn p99_of_two_hundred_samples_ignores_only_the_two_largest() {
        let mut samples: Vec<u64> = vec![1; 197];
        samples.extend([50, 70, 90]);
        let p = Percentiles::of(&ms(&samples)).unwrap();
        assert_eq!(p.p50, 1.0);
        assert_eq!(p.p99, 50.0);
    }

    #[test]
    fn a_single_sample_is_every_percentile() {
        let p = Percentiles::of(&[Duration::from_micros(1500)]).unwrap();
        assert_eq!(p, Percentiles { p50: 1.5, p99: 1.5 });
    }

    #[test]
    fn no_samples_have_no_percentiles() {
        assert_eq!(Percentiles::of(&[]), None);
        assert_eq!(PercentilesMax::of(&[]), None);
    }

    #[test]
    fn the_maximum_is_the_largest_sample_beyond_p99() {
        let mut samples: Vec<u64> = vec![2; 99];
        samples.push(40);
        let p = PercentilesMax::of(&ms(&samples)).unwrap();
        assert_eq!(
            p,
            PercentilesMax {
                p50: 2.0,
                p99: 2.0,
                max: 40.0
            }
        );
    }
}
