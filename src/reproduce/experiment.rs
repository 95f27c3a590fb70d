//! What a reproduction runs: experiments, each one workload swept over a list of parameter
//! sets under every heap strategy, and the figures its table and plots show.
//!
//! # Invariants
//! 1. Every parameter set of every experiment, in every size, is valid for its workload
//!    (tested), so a reproduction never fails on a typo after running for minutes.
//! 2. A report belongs to a point of an experiment when its workload, its full parameter set
//!    (defaults included) and, where the experiment fixes them, its scheduler count are the
//!    point's ([`Experiment::matches`]); the tables are built from `report.json` alone by
//!    this rule, so two experiments sharing a run share its report.
//! 3. Experiment ids are unique within a paper (they name README blocks and plots).

use std::collections::BTreeMap;

use clap::ValueEnum;

use crate::compare::{plots, summary};
use crate::failure::Failure;
use crate::params::Params;
use crate::report::Report;
use crate::strategy::Strategy;
use crate::table;
use crate::workload::{self, Workload};

/// How big the sweeps are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Size {
    /// The published sweeps (tens of minutes).
    Full,
    /// `--quick`: shorter sweeps at smaller sizes (minutes).
    Quick,
    /// Tiny parameters that only check the machinery (seconds, even in a debug build); the
    /// end-to-end tests use it through the hidden `--size smoke`.
    Smoke,
}

impl Size {
    /// The size's name, as `--size` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Size::Full => "full",
            Size::Quick => "quick",
            Size::Smoke => "smoke",
        }
    }

    /// Picks the value for this size.
    pub fn pick<T>(self, full: T, quick: T, smoke: T) -> T {
        match self {
            Size::Full => full,
            Size::Quick => quick,
            Size::Smoke => smoke,
        }
    }
}

/// A percentile of a histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pct {
    /// Median.
    P50,
    /// 99th percentile.
    P99,
    /// 99.9th percentile.
    P999,
    /// Largest value.
    Max,
}

impl Pct {
    fn label(self) -> &'static str {
        match self {
            Pct::P50 => "p50",
            Pct::P99 => "p99",
            Pct::P999 => "p999",
            Pct::Max => "max",
        }
    }
}

/// One figure of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// A metric, by name (the name carries the unit).
    Metric(&'static str),
    /// A percentile of a histogram (microseconds), or under the BEAM the metric
    /// `<base>_<pct>_us` its program prints instead.
    Hist(&'static str, Pct),
    /// Time in collections (`gc.gc_time_s`).
    GcTime,
}

impl Figure {
    /// The figure in `report`, if it has it.
    pub fn value(self, report: &Report) -> Option<f64> {
        match self {
            Figure::Metric(name) => report.metrics.get(name).copied(),
            Figure::Hist(name, pct) => {
                let get: fn(&crate::report::HistogramSummary) -> f64 = match pct {
                    Pct::P50 => |h| h.p50,
                    Pct::P99 => |h| h.p99,
                    Pct::P999 => |h| h.p999,
                    Pct::Max => |h| h.max,
                };
                summary::percentile(report, name, pct.label(), get)
            }
            Figure::GcTime => (report.gc.minor + report.gc.major > 0).then_some(report.gc.gc_time_s),
        }
    }

    /// The figure's name in tables and plots, e.g. `gc_pause_us max`.
    pub fn label(self) -> String {
        match self {
            Figure::Metric(name) => name.to_owned(),
            Figure::Hist(name, pct) => format!("{name} {}", pct.label()),
            Figure::GcTime => "gc time (s)".to_owned(),
        }
    }

    /// `value` as a table cell, in the unit of the figure.
    pub fn render(self, value: f64) -> String {
        match self {
            Figure::Metric(name) => table::metric(name, value),
            Figure::Hist(..) => summary::micros(value),
            Figure::GcTime => table::seconds(value),
        }
    }

    /// The figure's name in a report's `ci95` (see [`crate::stats`]).
    pub fn key(self) -> String {
        match self {
            Figure::Metric(name) => name.to_owned(),
            Figure::Hist(name, pct) => format!("{name}.{}", pct.label()),
            Figure::GcTime => "gc.gc_time_s".to_owned(),
        }
    }

    /// The unit of the plot axis.
    pub fn unit(self) -> plots::Unit {
        match self {
            Figure::Metric(name) => {
                let has = |unit: &str| name.split('_').any(|word| word == unit);
                if has("bytes") && !name.ends_with("_per_s") {
                    plots::Unit::Bytes
                } else if has("ns") {
                    plots::Unit::Nanos
                } else if has("us") {
                    plots::Unit::Micros
                } else if name.ends_with("_s") && !name.ends_with("_per_s") {
                    plots::Unit::Seconds
                } else {
                    plots::Unit::Number
                }
            }
            Figure::Hist(..) => plots::Unit::Micros,
            Figure::GcTime => plots::Unit::Seconds,
        }
    }

    /// The plot axis label.
    pub fn axis(self) -> String {
        match self {
            Figure::Metric(name) => format!("{name} (log scale)"),
            Figure::Hist(..) => format!("{} (µs, log scale)", self.label()),
            Figure::GcTime => "gc time (s, log scale)".to_owned(),
        }
    }
}

/// One experiment: a workload, its parameter sets (the rows of its table), the figures shown.
#[derive(Debug, Clone)]
pub struct Experiment {
    /// Unique within the paper: names its README block and plots (Invariant 3).
    pub id: &'static str,
    /// Heading of its table.
    pub title: &'static str,
    /// The workload's name.
    pub workload: &'static str,
    /// Scheduler threads, for workloads on the runtime; `None` for calling-thread ones.
    pub schedulers: Option<u32>,
    /// The swept parameter: the first column of the table and the x axis of the plots.
    pub x: &'static str,
    /// The parameter sets, one per row (`NAME=VALUE`, as `--set` takes them).
    pub points: Vec<Vec<String>>,
    /// The figures of the table; the first gets a ratio column.
    pub figures: Vec<Figure>,
    /// The figures plotted against `x`, one SVG each.
    pub plots: Vec<Figure>,
    /// Whether to run it under the peers too (the BEAM, the JVM, Go: each where its tools
    /// are installed and the workload has a version in its language).
    pub peers: bool,
    /// The heaplab strategies it runs under, in column order.
    pub heaps: &'static [Strategy],
    /// The heaplab strategies it leaves out, each with the reason, which the README block
    /// states under the table (a strategy is never missing without a word).
    pub left_out: &'static [(Strategy, &'static str)],
}

/// Every heaplab heap strategy: private heaps, the shared heap, the hybrid heap (private
/// heaps and a shared message area).
pub const HEAPLAB_HEAPS: &[Strategy] = &[Strategy::PerProcess, Strategy::Shared, Strategy::Hybrid];

/// Private heaps and the shared heap.
pub const PRIVATE_AND_SHARED: &[Strategy] = &[Strategy::PerProcess, Strategy::Shared];

/// Parameter sets `x=VALUE` for each value, each followed by the `fixed` assignments.
pub fn sweep(x: &str, values: &[u64], fixed: &[&str]) -> Vec<Vec<String>> {
    values
        .iter()
        .map(|value| {
            let mut set = vec![format!("{x}={value}")];
            set.extend(fixed.iter().map(|s| (*s).to_owned()));
            set
        })
        .collect()
}

impl Experiment {
    /// The workload.
    ///
    /// # Errors
    /// A usage failure when this build has no such workload.
    pub fn resolve(&self) -> Result<&'static dyn Workload, Failure> {
        workload::find(self.workload)
    }

    /// The full parameter set (defaults included, as a report shows it) of point `index`.
    ///
    /// # Errors
    /// A usage failure for an invalid parameter set (Invariant 1).
    pub fn full_params(&self, index: usize) -> Result<BTreeMap<String, serde_json::Value>, Failure> {
        let workload = self.resolve()?;
        let params = Params::from_assignments(workload.name(), workload.params(), &self.points[index])?;
        Ok(params
            .iter()
            .map(|(name, value)| {
                (name.to_owned(), serde_json::to_value(value).expect("parameter values are plain JSON"))
            })
            .collect())
    }

    /// Whether `report` is the run of point `index` (Invariant 2).
    pub fn matches(&self, index: usize, report: &Report) -> bool {
        report.workload == self.workload
            && match self.schedulers {
                Some(n) => report.schedulers == n,
                None => true,
            }
            && self.full_params(index).is_ok_and(|params| params == report.params)
    }

    /// The value of the swept parameter at point `index`, as the assignment gives it.
    pub fn x_value(&self, index: usize) -> String {
        let prefix = format!("{}=", self.x);
        self.points[index]
            .iter()
            .find_map(|a| a.strip_prefix(&prefix).map(str::to_owned))
            .unwrap_or_else(|| "default".to_owned())
    }
}
