//! What a workload is: a name, the parameters it accepts, and a function that runs it and
//! returns its measurements. The bench driver does everything around that (validation,
//! timing, GC accounting, report, files), so a workload holds only its own logic.
//!
//! # Protocol
//! 1. The driver checks the command line against [`Workload::params`] and builds a
//!    [`RunContext`] with the checked [`Params`].
//! 2. It starts the wall clock and calls [`Workload::run`].
//! 3. The workload creates its heaps with [`RunContext::new_heap`] (which attaches the run's
//!    [`GcLog`], so every collection is accounted) and returns metrics and histograms.
//! 4. The driver stops the clock and adds what every report carries: `peak_rss_bytes`, the
//!    `gc` totals, and a `gc_pause_us` histogram from the GC log unless the workload
//!    measured its own (step 3).
//!
//! # Invariants
//! 1. Workload names are unique and in lower-case kebab case (tested over the table).
//! 2. A workload's metric names carry their unit (see [`crate::report`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use heaplab_gc::Heap;

use crate::failure::Failure;
use crate::gc_log::GcLog;
use crate::histogram::DurationHistogram;
use crate::params::{ParamSpec, Params};
use crate::strategy::Strategy;

/// A workload heaplab can run.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// The name given to `heaplab bench`.
    pub name: &'static str,
    /// One line for `--help`: what the workload does and what it shows.
    pub summary: &'static str,
    /// The parameters it accepts.
    pub params: &'static [ParamSpec],
    /// Whether it uses scheduler threads or runs on the calling thread.
    pub threads: Threads,
    /// Runs the workload (Protocol step 3).
    pub run: fn(&RunContext) -> Result<Measurements, Failure>,
}

/// Where a workload runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    /// On the calling thread only; `--schedulers` does not apply and the report says 1.
    CallingThread,
    /// On the runtime's scheduler threads.
    Schedulers,
}

/// What a workload gets to run with (Protocol step 1).
#[derive(Debug)]
pub struct RunContext {
    /// The checked parameters.
    pub params: Params,
    /// The heap strategy to run under.
    pub strategy: Strategy,
    /// Scheduler threads to use.
    pub schedulers: u32,
    /// The run's GC log.
    pub gc_log: Arc<GcLog>,
}

impl RunContext {
    /// A heap with default options whose collections go to the run's GC log.
    pub fn new_heap(&self) -> Heap {
        let mut heap = Heap::default();
        heap.set_event_sink(self.gc_log.clone());
        heap
    }
}

/// What a workload measured.
#[derive(Debug, Default)]
pub struct Measurements {
    /// Scalar results, by name.
    pub metrics: BTreeMap<String, f64>,
    /// Duration distributions, by name (names end in `_us`).
    pub histograms: BTreeMap<String, DurationHistogram>,
}

impl Measurements {
    /// Sets metric `name`.
    pub fn metric(&mut self, name: &str, value: f64) {
        self.metrics.insert(name.to_owned(), value);
    }

    /// Sets histogram `name`.
    pub fn histogram(&mut self, name: &str, histogram: DurationHistogram) {
        self.histograms.insert(name.to_owned(), histogram);
    }
}

/// The workload called `name` in `table`.
///
/// # Errors
/// A usage failure naming `name` and the workloads of the table.
pub fn find(table: &'static [Workload], name: &str) -> Result<&'static Workload, Failure> {
    table.iter().find(|workload| workload.name == name).ok_or_else(|| {
        let names: Vec<&str> = table.iter().map(|workload| workload.name).collect();
        Failure::usage(format!("unknown workload '{name}'; available: {}", names.join(", ")))
    })
}

/// A `--help` section describing every workload of `table` and its parameters.
pub fn describe(table: &[Workload]) -> String {
    let mut text = String::from("Workloads (parameters set with --set NAME=VALUE; defaults shown):\n");
    for workload in table {
        let _ = writeln!(text, "  {:<11} {}", workload.name, workload.summary);
        text.push_str(&crate::params::describe(workload.params));
    }
    text
}

/// `part / whole`, or 0 when `whole` is 0, for metrics that are ratios of measured values.
pub fn ratio(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        part / whole
    } else {
        0.0
    }
}
