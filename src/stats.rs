//! Repeated runs: the aggregate report of N runs of one (workload, strategy), and the 95%
//! confidence intervals of its figures.
//!
//! # The estimator
//! Each figure (a metric, a histogram percentile, the wall time, a GC total) of an
//! aggregate is the **median** of the runs' figures (one disturbed run does not move it),
//! and its interval is the **Student t 95% confidence interval of the mean** over the runs:
//! `mean ± t(0.975, n-1) · s / √n`, with `s` the sample standard deviation. This is the
//! interval Georges, Buytaert and Eeckhout (OOPSLA 2007) recommend for the few runs a
//! benchmark affords: with 3 to 10 runs a bootstrap has too few distinct resamples to be
//! meaningful (with 3 runs a percentile bootstrap interval never leaves [min, max], which
//! covers the median only 75% of the time), and an order-statistics interval of the median
//! needs 6 runs or more to reach 95% at all. The t interval assumes the run means are
//! roughly normal; it widens quickly with few runs (t(0.975, 2) = 4.30), which is the
//! honest answer for 3 runs on a noisy machine.
//!
//! # Invariants
//! 1. An interval is given only for a figure at least 2 runs have; a figure only some runs
//!    have is the median of those.
//! 2. Interval names are the figure's path: the metric name (`throughput_per_s`),
//!    `<histogram>.<field>` (`request_latency_us.p999`), `wall_s`, `gc.<field>`.
//! 3. Two figures differ significantly when their intervals do not overlap ([`significant`]),
//!    a conservative test (Georges et al., section 3.3).

use std::collections::BTreeMap;

use crate::provenance::Provenance;
use crate::report::{GcSummary, HistogramSummary, Report};

/// t(0.975, df) for df = 1..=30 (two-sided 95%), from the Student t table.
const T_975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
    2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/// t(0.975, df); above 30 degrees of freedom the table's tail (40: 2.021, 60: 2.000, 120:
/// 1.980, then the normal 1.960).
pub fn t_975(df: usize) -> f64 {
    match df {
        0 => f64::NAN,
        1..=30 => T_975[df - 1],
        31..=40 => 2.021,
        41..=60 => 2.000,
        61..=120 => 1.980,
        _ => 1.960,
    }
}

/// The median of `values` (mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    Some(if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 })
}

/// The Student t 95% confidence interval of the mean of `values` (module docs); `None` for
/// fewer than 2 values (Invariant 1).
pub fn ci95(values: &[f64]) -> Option<[f64; 2]> {
    let values: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let n = values.len();
    if n < 2 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64;
    let half = t_975(n - 1) * (variance / n as f64).sqrt();
    Some([mean - half, mean + half])
}

/// Whether two intervals do not overlap (Invariant 3).
pub fn significant(a: [f64; 2], b: [f64; 2]) -> bool {
    a[1] < b[0] || b[1] < a[0]
}

/// The figures of one report, by interval name (Invariant 2).
pub fn figures(report: &Report) -> BTreeMap<String, f64> {
    let mut figures = BTreeMap::new();
    figures.insert("wall_s".to_owned(), report.wall_s);
    for (name, value) in &report.metrics {
        figures.insert(name.clone(), *value);
    }
    for (name, h) in &report.histograms {
        if h.count == 0 {
            continue;
        }
        for (field, value) in histogram_fields(h) {
            figures.insert(format!("{name}.{field}"), value);
        }
    }
    let gc = &report.gc;
    for (field, value) in [
        ("minor", gc.minor as f64),
        ("major", gc.major as f64),
        ("words_copied", gc.words_copied as f64),
        ("words_promoted", gc.words_promoted as f64),
        ("gc_time_s", gc.gc_time_s),
    ] {
        figures.insert(format!("gc.{field}"), value);
    }
    figures
}

/// The fields of a histogram summary that get intervals.
fn histogram_fields(h: &HistogramSummary) -> [(&'static str, f64); 7] {
    [
        ("count", h.count as f64),
        ("mean", h.mean),
        ("p50", h.p50),
        ("p90", h.p90),
        ("p99", h.p99),
        ("p999", h.p999),
        ("max", h.max),
    ]
}

/// The aggregate of `runs` (at least one, all of one workload and strategy): medians, with
/// every run's report and the intervals (module docs); `provenance` is the aggregating
/// command's.
///
/// # Panics
/// When `runs` is empty.
pub fn aggregate(runs: Vec<Report>, provenance: Provenance) -> Report {
    let first = runs.first().expect("an aggregate of at least one run").clone();
    let per_run: Vec<BTreeMap<String, f64>> = runs.iter().map(figures).collect();
    let values = |name: &str| -> Vec<f64> { per_run.iter().filter_map(|f| f.get(name).copied()).collect() };
    let names: std::collections::BTreeSet<&String> = per_run.iter().flat_map(|f| f.keys()).collect();
    let mut ci = BTreeMap::new();
    let mut med = BTreeMap::new();
    for name in names {
        let values = values(name);
        if let Some(m) = median(&values) {
            med.insert(name.clone(), m);
        }
        if let Some(interval) = ci95(&values) {
            ci.insert(name.clone(), interval);
        }
    }
    let get = |name: &str| med.get(name).copied().unwrap_or(0.0);
    let metrics = first
        .metrics
        .keys()
        .chain(runs.iter().flat_map(|r| r.metrics.keys()))
        .map(|name| (name.clone(), get(name)))
        .collect();
    let histogram_names: std::collections::BTreeSet<&String> =
        runs.iter().flat_map(|r| r.histograms.keys()).collect();
    let histograms = histogram_names
        .into_iter()
        .map(|name| {
            let field = |f: &str| get(&format!("{name}.{f}"));
            let summary = HistogramSummary {
                count: field("count").round() as u64,
                mean: field("mean"),
                p50: field("p50"),
                p90: field("p90"),
                p99: field("p99"),
                p999: field("p999"),
                max: field("max"),
            };
            (name.clone(), summary)
        })
        .collect();
    let gc = GcSummary {
        minor: get("gc.minor").round() as u64,
        major: get("gc.major").round() as u64,
        words_copied: get("gc.words_copied").round() as u64,
        words_promoted: get("gc.words_promoted").round() as u64,
        gc_time_s: get("gc.gc_time_s"),
    };
    let count = u32::try_from(runs.len()).unwrap_or(u32::MAX);
    let tail_attribution = median_tail(&runs);
    Report {
        tail_attribution,
        wall_s: get("wall_s"),
        metrics,
        histograms,
        gc,
        provenance,
        runs: Some(count),
        ci95: ci,
        per_run: runs,
        ..first
    }
}

/// The tail attribution of the run whose request latency p999 is the median (the lower
/// one of an even count), among the runs that have one.
fn median_tail(runs: &[Report]) -> Option<crate::attribution::TailAttribution> {
    let p999 = |r: &Report| r.histograms.get("request_latency_us").map_or(0.0, |h| h.p999);
    let mut with: Vec<&Report> = runs.iter().filter(|r| r.tail_attribution.is_some()).collect();
    with.sort_by(|a, b| p999(a).total_cmp(&p999(b)));
    with.get(with.len().saturating_sub(1) / 2).and_then(|r| r.tail_attribution.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::summary::tests::fake_report;

    #[test]
    fn medians_and_t_intervals() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(ci95(&[5.0]), None);
        // mean 2, s = 1, n = 3: 2 ± 4.303 / √3.
        let [low, high] = ci95(&[1.0, 2.0, 3.0]).unwrap();
        let half = 4.303 / 3f64.sqrt();
        assert!((low - (2.0 - half)).abs() < 1e-9 && (high - (2.0 + half)).abs() < 1e-9, "{low} {high}");
        assert_eq!(ci95(&[7.0, 7.0, 7.0]), Some([7.0, 7.0]));
        assert!((t_975(1) - 12.706).abs() < 1e-9 && (t_975(1000) - 1.96).abs() < 1e-9);
    }

    #[test]
    fn intervals_that_overlap_are_not_significant() {
        assert!(significant([1.0, 2.0], [2.5, 3.0]));
        assert!(significant([2.5, 3.0], [1.0, 2.0]));
        assert!(!significant([1.0, 2.0], [1.5, 3.0]));
    }

    #[test]
    fn an_aggregate_holds_medians_runs_and_every_interval() {
        let runs: Vec<Report> = [100.0, 300.0, 200.0]
            .iter()
            .map(|p999| {
                let mut report = fake_report("churn", "per-process", *p999);
                report.metrics.insert("throughput_per_s".to_owned(), *p999 * 10.0);
                report.wall_s = *p999 / 100.0;
                report
            })
            .collect();
        let aggregate = aggregate(runs, Provenance::now("heaplab compare"));
        assert_eq!(aggregate.runs, Some(3));
        assert_eq!(aggregate.per_run.len(), 3);
        assert_eq!(aggregate.metrics["throughput_per_s"], 2000.0);
        assert_eq!(aggregate.histograms["request_latency_us"].p999, 200.0);
        assert_eq!(aggregate.wall_s, 2.0);
        assert_eq!(aggregate.provenance.command, "heaplab compare");
        let [low, high] = aggregate.ci95["request_latency_us.p999"];
        assert!(low < 200.0 && high > 200.0, "{low} {high}");
        for name in
            ["throughput_per_s", "request_latency_us.p50", "request_latency_us.max", "wall_s", "gc.gc_time_s"]
        {
            assert!(aggregate.ci95.contains_key(name), "{name}");
        }
        // An empty histogram has no percentiles, so no intervals.
        assert!(!aggregate.ci95.contains_key("gc_pause_us.p50"));
        assert_eq!(aggregate.histograms["gc_pause_us"].count, 0);
    }
}
