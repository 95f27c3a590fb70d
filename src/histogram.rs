//! Duration histograms: every pause or latency a workload measures is recorded here, and a
//! report shows count, mean and the p50/p90/p99/p999/max of the distribution, never an
//! average alone.
//!
//! # Invariants
//! 1. Values are recorded in nanoseconds and summarised in microseconds (divided by 1000 as
//!    `f64`), so sub-microsecond pauses keep their precision in `*_us` figures.
//! 2. The HdrHistogram keeps 3 significant digits (relative error below 0.1%) and resizes
//!    itself, so no value is clamped or dropped.
//! 3. The raw samples are kept next to the histogram, in recording order, so `--csv` can
//!    write every value for re-analysis; [`DurationHistogram::merge`] appends the other
//!    histogram's samples after this one's.
//! 4. A histogram made with [`DurationHistogram::with_capacity`] records its first
//!    `samples` values up to [`PRESIZED_MAX`] without allocating, so a workload can record on
//!    its measured path.

use std::time::Duration;

use hdrhistogram::Histogram;

use crate::report::HistogramSummary;

/// Significant decimal digits the histogram keeps (Invariant 2): 3 is HdrHistogram's usual
/// choice, a relative error below 0.1% at a few tens of KB per histogram.
const SIGNIFICANT_DIGITS: u8 = 3;

/// Nanoseconds per microsecond, the unit of every `*_us` summary.
const NANOS_PER_MICRO: f64 = 1000.0;

/// The largest value a pre-sized histogram covers without growing (Invariant 4): 100 s, far
/// above any latency a run records; a larger value still counts, after a resize.
pub const PRESIZED_MAX: Duration = Duration::from_secs(100);

/// A distribution of durations, with its raw samples.
#[derive(Debug, Clone)]
pub struct DurationHistogram {
    histogram: Histogram<u64>,
    raw_ns: Vec<u64>,
}

impl Default for DurationHistogram {
    fn default() -> Self {
        DurationHistogram::new()
    }
}

impl DurationHistogram {
    /// An empty histogram.
    pub fn new() -> DurationHistogram {
        let histogram = Histogram::new(SIGNIFICANT_DIGITS)
            .expect("3 significant digits is within HdrHistogram's supported range");
        DurationHistogram { histogram, raw_ns: Vec::new() }
    }

    /// An empty histogram that records `samples` values up to [`PRESIZED_MAX`] without
    /// allocating (Invariant 4).
    pub fn with_capacity(samples: usize) -> DurationHistogram {
        let high = u64::try_from(PRESIZED_MAX.as_nanos()).unwrap_or(u64::MAX);
        let mut histogram = Histogram::new_with_bounds(1, high, SIGNIFICANT_DIGITS)
            .expect("1 ns to 100 s at 3 significant digits is a valid range");
        histogram.auto(true);
        DurationHistogram { histogram, raw_ns: Vec::with_capacity(samples) }
    }

    /// Adds every value of `other` to this histogram; its raw samples follow this one's
    /// (Invariant 3).
    pub fn merge(&mut self, other: &DurationHistogram) {
        self.histogram.add(&other.histogram).expect("histograms resize themselves (Invariant 2)");
        self.raw_ns.extend_from_slice(&other.raw_ns);
    }

    /// Records one duration.
    pub fn record(&mut self, duration: Duration) {
        self.record_ns(u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Records one duration given in nanoseconds.
    pub fn record_ns(&mut self, nanos: u64) {
        // `record` grows the auto-resizing histogram (Invariant 2); `saturating_record` would
        // clamp to its current range instead.
        if self.histogram.record(nanos).is_err() {
            self.histogram.saturating_record(nanos);
        }
        self.raw_ns.push(nanos);
    }

    /// The number of recorded values.
    pub fn len(&self) -> u64 {
        self.histogram.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.histogram.is_empty()
    }

    /// The raw samples in nanoseconds, in recording order (Invariant 3).
    pub fn raw_ns(&self) -> &[u64] {
        &self.raw_ns
    }

    /// Count, mean and percentiles in microseconds (Invariant 1); all zero when empty.
    pub fn summary(&self) -> HistogramSummary {
        if self.histogram.is_empty() {
            return HistogramSummary::default();
        }
        let at = |quantile: f64| self.histogram.value_at_quantile(quantile) as f64 / NANOS_PER_MICRO;
        HistogramSummary {
            count: self.histogram.len(),
            mean: self.histogram.mean() / NANOS_PER_MICRO,
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            p999: at(0.999),
            max: self.histogram.max() as f64 / NANOS_PER_MICRO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_histograms_summarise_to_zero() {
        let summary = DurationHistogram::new().summary();
        assert_eq!(summary, HistogramSummary::default());
    }

    #[test]
    fn sub_microsecond_values_keep_their_fraction() {
        let mut histogram = DurationHistogram::new();
        histogram.record_ns(250);
        let summary = histogram.summary();
        assert_eq!(summary.count, 1);
        assert!((summary.p50 - 0.25).abs() < 0.001, "{summary:?}");
        assert!((summary.max - 0.25).abs() < 0.001, "{summary:?}");
    }

    #[test]
    fn merged_histograms_hold_both_and_presized_ones_keep_their_buffers() {
        let mut first = DurationHistogram::with_capacity(4);
        let capacity = first.raw_ns.capacity();
        for micros in [1, 2, 3, 4] {
            first.record(Duration::from_micros(micros));
        }
        assert_eq!(first.raw_ns.capacity(), capacity, "recorded without growing");
        let mut second = DurationHistogram::new();
        second.record(Duration::from_secs(1000));
        first.merge(&second);
        assert_eq!(first.len(), 5);
        assert_eq!(first.raw_ns(), [1000, 2000, 3000, 4000, 1_000_000_000_000]);
        assert!((first.summary().max - 1.0e9).abs() < 1.0e6, "{:?}", first.summary());
    }

    #[test]
    fn percentiles_are_ordered_and_close_to_exact() {
        let mut histogram = DurationHistogram::new();
        for micros in 1..=1000u64 {
            histogram.record(Duration::from_micros(micros));
        }
        let summary = histogram.summary();
        assert_eq!(summary.count, 1000);
        assert!((summary.p50 - 500.0).abs() <= 1.0, "{summary:?}");
        assert!((summary.p99 - 990.0).abs() <= 1.0, "{summary:?}");
        assert!(summary.p50 <= summary.p90 && summary.p90 <= summary.p99);
        assert!(summary.p99 <= summary.p999 && summary.p999 <= summary.max);
        assert!((summary.mean - 500.5).abs() <= 1.0, "{summary:?}");
        assert_eq!(histogram.raw_ns().len(), 1000);
        assert_eq!(histogram.raw_ns()[0], 1000);
    }
}
