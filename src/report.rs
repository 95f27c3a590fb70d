//! The report of one workload run under one heap strategy: the JSON document of
//! `heaplab.report/2` (schema in `docs/workloads.md`, with every field), which `--json`
//! writes and `compare` collects. With `--runs N` the report is an aggregate: its figures
//! are the medians of the runs, `per_run` keeps every run's own report and `ci95` the 95%
//! confidence interval of every figure ([`crate::stats`]).
//!
//! # Invariants
//! 1. `schema` is always [`SCHEMA`]; a change to the field set or a field's meaning gets a new
//!    schema name, so old reports are never misread. `/2` added `provenance`, `runs`,
//!    `per_run` and `ci95`; a `/1` report reads as a `/2` one without them.
//! 2. Every `*_us` histogram summary is in microseconds; `wall_s` and `gc.gc_time_s` are in
//!    seconds; metric names carry their unit as a suffix (`_bytes`, `_ns`, `_per_s`, ...).
//! 3. Maps serialize in name order (`BTreeMap`), so two reports of the same run diff cleanly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::provenance::Provenance;

/// The schema name every report carries (Invariant 1).
pub const SCHEMA: &str = "heaplab.report/2";

/// One workload run under one heap strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The workload's name, e.g. `gc-copy`.
    pub workload: String,
    /// The heap strategy's name, e.g. `per-process`.
    pub heap: String,
    /// Scheduler threads the run used.
    pub schedulers: u32,
    /// Every workload parameter with the value used, defaults included.
    pub params: BTreeMap<String, serde_json::Value>,
    /// Wall-clock time of the whole workload run, in seconds.
    pub wall_s: f64,
    /// Scalar results, by name; the name carries the unit (Invariant 2).
    pub metrics: BTreeMap<String, f64>,
    /// Distributions, by name.
    pub histograms: BTreeMap<String, HistogramSummary>,
    /// Totals over every collection of the run.
    pub gc: GcSummary,
    /// The machine the run was measured on.
    pub machine: Machine,
    /// Where the report comes from: build, command, date, machine, load.
    #[serde(default)]
    pub provenance: Provenance,
    /// The number of runs aggregated (`--runs N`); absent for a single run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs: Option<u32>,
    /// Every run's own report, when aggregated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_run: Vec<Report>,
    /// The 95% confidence interval `[low, high]` of every metric (`throughput_per_s`) and
    /// histogram figure (`request_latency_us.p999`), when aggregated from 2 runs or more.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ci95: BTreeMap<String, [f64; 2]>,
    /// Where the time of the requests above the 99th and 99.9th percentiles went, for the
    /// request/reply workloads run with `attribution=on` ([`crate::attribution`]); when
    /// aggregated, that of the run whose `request_latency_us.p999` is the median.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail_attribution: Option<crate::attribution::TailAttribution>,
}

/// Count, mean and percentiles of one distribution (in microseconds for `*_us` names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct HistogramSummary {
    /// Number of recorded values.
    pub count: u64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest value.
    pub max: f64,
}

/// Totals over every garbage collection of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct GcSummary {
    /// Minor (young-generation) collections.
    pub minor: u64,
    /// Major (fullsweep) collections.
    pub major: u64,
    /// Words copied by all collections.
    pub words_copied: u64,
    /// Words promoted from the young to the old generation.
    pub words_promoted: u64,
    /// Time spent in collections, in seconds, as the collector measured it.
    pub gc_time_s: f64,
}

/// The machine a report was measured on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    /// Logical cores available to the process.
    pub cores: usize,
    /// Operating system, as Rust names it (`linux`, `macos`, ...).
    pub os: String,
    /// Version of the `rustc` that built the binary, e.g. `1.95.0`.
    pub rustc: String,
}

impl Report {
    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report holds only maps, numbers and strings")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let summary =
            HistogramSummary { count: 3, mean: 2.0, p50: 2.0, p90: 3.0, p99: 3.0, p999: 3.0, max: 3.0 };
        Report {
            schema: SCHEMA.to_owned(),
            workload: "gc-copy".to_owned(),
            heap: "per-process".to_owned(),
            schedulers: 2,
            params: BTreeMap::from([
                ("live_mb".to_owned(), serde_json::json!(16)),
                ("kind".to_owned(), serde_json::json!("major")),
            ]),
            wall_s: 1.5,
            metrics: BTreeMap::from([("copy_bytes_per_s".to_owned(), 1.0e9)]),
            histograms: BTreeMap::from([("gc_pause_us".to_owned(), summary)]),
            gc: GcSummary { minor: 1, major: 2, words_copied: 3, words_promoted: 4, gc_time_s: 0.5 },
            machine: Machine { cores: 2, os: "linux".to_owned(), rustc: "1.95.0".to_owned() },
            provenance: Provenance::now("heaplab bench gc-copy"),
            runs: None,
            per_run: Vec::new(),
            ci95: BTreeMap::new(),
            tail_attribution: None,
        }
    }

    fn keys(value: &serde_json::Value) -> Vec<&str> {
        let mut keys: Vec<&str> = value.as_object().expect("an object").keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys
    }

    #[test]
    fn json_has_the_keys_of_the_schema() {
        let value: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        assert_eq!(
            keys(&value),
            [
                "gc",
                "heap",
                "histograms",
                "machine",
                "metrics",
                "params",
                "provenance",
                "schedulers",
                "schema",
                "wall_s",
                "workload"
            ]
        );
        assert_eq!(value["schema"], "heaplab.report/2");
        assert_eq!(
            keys(&value["provenance"]),
            [
                "build_profile",
                "command",
                "cores",
                "cpu_model",
                "date",
                "git_commit",
                "git_dirty",
                "heaplab_version",
                "kernel",
                "load_average",
                "memory_bytes",
                "rustc"
            ]
        );
        assert_eq!(
            keys(&value["histograms"]["gc_pause_us"]),
            ["count", "max", "mean", "p50", "p90", "p99", "p999"]
        );
        assert_eq!(keys(&value["gc"]), ["gc_time_s", "major", "minor", "words_copied", "words_promoted"]);
        assert_eq!(keys(&value["machine"]), ["cores", "os", "rustc"]);
        assert_eq!(value["params"]["live_mb"], 16);
        assert_eq!(value["params"]["kind"], "major");
        assert!(value["metrics"]["copy_bytes_per_s"].is_f64());
        assert!(value["histograms"]["gc_pause_us"]["count"].is_u64());
    }

    #[test]
    fn aggregates_carry_runs_per_run_and_intervals() {
        let mut report = sample();
        report.runs = Some(2);
        report.per_run = vec![sample(), sample()];
        report.ci95.insert("gc_pause_us.p999".to_owned(), [1.0, 4.0]);
        let value: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(value["runs"], 2);
        assert_eq!(value["per_run"].as_array().unwrap().len(), 2);
        assert_eq!(value["ci95"]["gc_pause_us.p999"], serde_json::json!([1.0, 4.0]));
        let back: Report = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn version_1_reports_still_read() {
        let mut value: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        value.as_object_mut().unwrap().remove("provenance");
        value["schema"] = serde_json::json!("heaplab.report/1");
        let report: Report = serde_json::from_value(value).unwrap();
        assert_eq!(report.provenance, Provenance::default());
        assert_eq!(report.runs, None);
    }

    #[test]
    fn json_round_trips() {
        let report = sample();
        let back: Report = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(back, report);
    }
}
