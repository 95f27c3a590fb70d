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
//!    write every value for re-analysis.

use std::time::Duration;

use hdrhistogram::Histogram;

use crate::report::HistogramSummary;

/// Significant decimal digits the histogram keeps (Invariant 2): 3 is HdrHistogram's usual
/// choice, a relative error below 0.1% at a few tens of KB per histogram.
const SIGNIFICANT_DIGITS: u8 = 3;

/// Nanoseconds per microsecond, the unit of every `*_us` summary.
const NANOS_PER_MICRO: f64 = 1000.0;

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
