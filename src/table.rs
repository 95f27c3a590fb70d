//! The human-readable form of a report, printed by `heaplab bench`.
//!
//! # Invariants
//! 1. The table shows every metric, histogram and GC total of the report, in the report's
//!    (name) order; it only rounds and picks units, the JSON keeps full precision.
//! 2. A metric's unit is read from its name suffix (see [`crate::report`]); names with no
//!    known suffix are shown as plain numbers.

use std::fmt::Write as _;

use crate::report::Report;

/// `report` as an aligned text table.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let threads = if report.schedulers == 1 { "scheduler" } else { "schedulers" };
    let _ = writeln!(
        out,
        "{} on {} heaps ({} {threads}), {}",
        report.workload,
        report.heap,
        report.schedulers,
        seconds(report.wall_s)
    );
    let params: Vec<String> =
        report.params.iter().map(|(name, value)| format!("{name}={}", plain(value))).collect();
    let _ = writeln!(out, "  params      {}", params.join(" "));

    if !report.metrics.is_empty() {
        let width = report.metrics.keys().map(String::len).max().unwrap_or(0).max(6);
        let _ = writeln!(out, "\n  {:<width$}  value", "metric");
        for (name, value) in &report.metrics {
            let _ = writeln!(out, "  {name:<width$}  {}", metric(name, *value));
        }
    }

    if !report.histograms.is_empty() {
        let width = report.histograms.keys().map(String::len).max().unwrap_or(0).max(9);
        let _ = writeln!(
            out,
            "\n  {:<width$}  {:>8} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "histogram", "count", "mean", "p50", "p90", "p99", "p999", "max"
        );
        for (name, h) in &report.histograms {
            // A p999 of fewer than 1,000 samples is the maximum under another name.
            let p999 = if h.count < crate::compare::summary::P999_MIN_COUNT {
                "—".to_owned()
            } else {
                number(h.p999)
            };
            let _ = writeln!(
                out,
                "  {name:<width$}  {:>8} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
                h.count,
                number(h.mean),
                number(h.p50),
                number(h.p90),
                number(h.p99),
                p999,
                number(h.max)
            );
        }
    }

    let gc = &report.gc;
    let _ = writeln!(
        out,
        "\n  gc          {} minor, {} major, {} words copied, {} words promoted, {} in gc",
        gc.minor,
        gc.major,
        number(gc.words_copied as f64),
        number(gc.words_promoted as f64),
        seconds(gc.gc_time_s)
    );
    if let Some(tails) = &report.tail_attribution {
        for (label, tail) in [("p99 tail", &tails.above_p99), ("p999 tail", &tails.above_p999)] {
            let _ = writeln!(
                out,
                "  {label:<10}  {} requests, mean {} µs: {}",
                tail.count,
                number(tail.mean_us),
                tail.in_words()
            );
        }
    }
    let machine = &report.machine;
    let _ = writeln!(out, "  machine     {} cores, {}, rustc {}", machine.cores, machine.os, machine.rustc);
    if let Some(runs) = report.runs {
        let _ = writeln!(
            out,
            "  runs        {runs}: every figure is the median; the 95% intervals are under \"ci95\" in --json"
        );
    }
    out
}

/// A JSON parameter value without quotes.
fn plain(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A metric value in the unit its name implies (Invariant 2): a `bytes`, `ns` or `us` word
/// anywhere in the name (`heap_bytes_many_objects`, `drop_ns_one_object_min`), a `_per_s`
/// or `_s` ending.
pub(crate) fn metric(name: &str, value: f64) -> String {
    let has = |unit: &str| name.split('_').any(|word| word == unit);
    if name.ends_with("_per_s") {
        if has("bytes") {
            format!("{}/s", bytes(value))
        } else {
            format!("{}/s", number(value))
        }
    } else if has("bytes") {
        bytes(value)
    } else if has("ns") {
        duration(value * 1e-9)
    } else if has("us") {
        duration(value * 1e-6)
    } else if name.ends_with("_s") {
        seconds(value)
    } else {
        number(value)
    }
}

/// A duration given in seconds, in the largest unit that keeps it at or above 1.
pub(crate) fn duration(seconds: f64) -> String {
    if seconds < 0.0 {
        // The low end of a confidence interval can be below zero.
        format!("-{}", duration(-seconds))
    } else if seconds == 0.0 {
        "0 s".to_owned()
    } else if seconds < 1e-6 {
        format!("{} ns", significant(seconds * 1e9))
    } else if seconds < 1e-3 {
        format!("{} us", significant(seconds * 1e6))
    } else if seconds < 1.0 {
        format!("{} ms", significant(seconds * 1e3))
    } else {
        format!("{seconds:.3} s")
    }
}

/// A byte count in binary units (KiB, MiB, GiB), three significant digits.
fn bytes(value: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut scaled = value;
    let mut unit = 0;
    while scaled.abs() >= 1024.0 && unit + 1 < UNITS.len() {
        scaled /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} B")
    } else {
        format!("{} {}", significant(scaled), UNITS[unit])
    }
}

/// Seconds, or milliseconds below one second.
pub(crate) fn seconds(value: f64) -> String {
    if value < 0.0 {
        format!("-{}", seconds(-value))
    } else if value >= 1.0 || value == 0.0 {
        format!("{value:.3} s")
    } else {
        format!("{} ms", significant(value * 1e3))
    }
}

/// A plain number: integers in full with thousands separators, others to 3-4 significant
/// digits.
pub(crate) fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        let digits = format!("{}", value.abs() as u64);
        let mut grouped = String::new();
        for (i, digit) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        if value < 0.0 {
            grouped.insert(0, '-');
        }
        grouped
    } else if value.abs() >= 1000.0 {
        number(value.round())
    } else {
        significant(value)
    }
}

/// Three significant digits for values below 1000, without exponent notation.
pub(crate) fn significant(value: f64) -> String {
    let magnitude = value.abs();
    let decimals = if magnitude >= 100.0 {
        0
    } else if magnitude >= 10.0 {
        1
    } else if magnitude >= 1.0 {
        2
    } else {
        3
    };
    format!("{value:.decimals$}")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::report::{GcSummary, HistogramSummary, Machine, SCHEMA};

    #[test]
    fn units_follow_metric_names() {
        assert_eq!(metric("copy_bytes_per_s", 3.0 * 1024.0 * 1024.0 * 1024.0), "3.00 GiB/s");
        assert_eq!(metric("heap_bytes", 64.0 * 1024.0 * 1024.0), "64.0 MiB");
        assert_eq!(metric("drop_ns_one_object", 12345.0), "12.3 us");
        assert_eq!(metric("drop_ns_one_object_min", 2_321_929.0), "2.32 ms");
        assert_eq!(metric("heap_bytes_many_objects", 2048.0), "2.00 KiB");
        assert_eq!(metric("copied_bytes_per_collection", 512.0), "512 B");
        assert_eq!(metric("many_objects_count", 4_194_304.0), "4,194,304");
        assert_eq!(metric("throughput_per_s", 105000.0), "105,000/s");
        assert_eq!(metric("copy_vs_memcpy", 0.4567), "0.457");
        assert_eq!(metric("peak_rss_bytes", 512.0), "512 B");
        // The low end of an interval can be negative: the same unit, with a sign.
        assert_eq!(duration(-2.979276e-3), "-2.98 ms");
        assert_eq!(seconds(-0.5), "-500 ms");
    }

    #[test]
    fn the_table_shows_every_section() {
        let report = Report {
            schema: SCHEMA.to_owned(),
            workload: "exit".to_owned(),
            heap: "per-process".to_owned(),
            schedulers: 1,
            params: BTreeMap::from([("heap_mb".to_owned(), serde_json::json!(4))]),
            wall_s: 0.25,
            metrics: BTreeMap::from([("drop_ratio".to_owned(), 1.02)]),
            histograms: BTreeMap::from([(
                "gc_pause_us".to_owned(),
                HistogramSummary { count: 2, mean: 1.5, p50: 1.0, p90: 2.0, p99: 2.0, p999: 2.0, max: 2.0 },
            )]),
            gc: GcSummary { minor: 0, major: 2, words_copied: 10, words_promoted: 0, gc_time_s: 0.001 },
            machine: Machine { cores: 2, os: "linux".to_owned(), rustc: "1.95.0".to_owned() },
            provenance: Default::default(),
            runs: None,
            per_run: Vec::new(),
            ci95: BTreeMap::new(),
            tail_attribution: None,
        };
        let table = render(&report);
        assert!(table.starts_with("exit on per-process heaps (1 scheduler), 250 ms\n"), "{table}");
        assert!(table.contains("heap_mb=4"), "{table}");
        assert!(table.contains("drop_ratio"), "{table}");
        assert!(table.contains("gc_pause_us"), "{table}");
        assert!(table.contains("0 minor, 2 major, 10 words copied"), "{table}");
        assert!(table.contains("rustc 1.95.0"), "{table}");
    }
}
