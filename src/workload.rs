//! What a workload is: a name, the parameters it accepts, and a function that runs it and
//! returns its measurements. The bench driver does everything around that (validation,
//! timing, GC accounting, report, files), so a workload holds only its own logic.
//!
//! [`Workload`] is the public trait: a crate of one's own implements it and hands it to
//! [`crate::registry::Registry`], whose [`run_cli`](crate::registry::Registry::run_cli) runs
//! the `heaplab` command line with it, so `bench`, `compare` and `--runs` measure it as they
//! measure the built-in ones ([`Builtin`], the table in [`crate::workloads`]). See
//! `examples/custom_workload.rs` and `docs/workloads.md`.
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

/// A workload heaplab can run: what `heaplab bench <NAME>` runs.
///
/// Implement it in one's own crate and register it (see the module docs); the driver
/// validates `--set` against [`Workload::params`], times [`Workload::run`] and builds the
/// report, so an implementation holds only the workload's own logic.
///
/// ```
/// use heaplab::failure::Failure;
/// use heaplab::histogram::DurationHistogram;
/// use heaplab::params::{ParamKind, ParamSpec};
/// use heaplab::workload::{Measurements, RunContext, Threads, Workload};
///
/// /// Times `rounds` collections of a heap holding a list of `length` integers.
/// struct ListGc;
///
/// const PARAMS: &[ParamSpec] = &[ParamSpec {
///     name: "rounds",
///     default: "3",
///     kind: ParamKind::Integer { min: 1, max: 1000 },
///     description: "collections timed",
/// }];
///
/// impl Workload for ListGc {
///     fn name(&self) -> &'static str { "list-gc" }
///     fn summary(&self) -> &'static str { "collect a heap holding one list" }
///     fn params(&self) -> &'static [ParamSpec] { PARAMS }
///     fn threads(&self) -> Threads { Threads::CallingThread }
///     fn run(&self, context: &RunContext) -> Result<Measurements, Failure> {
///         let mut heap = context.new_heap();
///         let root = heap.enter(|h| { let list = h.list((0..1000).map(|i| h.int(i))); h.root(list) });
///         let mut pauses = DurationHistogram::new();
///         for _ in 0..context.params.integer("rounds") {
///             let start = std::time::Instant::now();
///             heap.collect(heaplab_gc::Collect::Major).map_err(|e| Failure::run(e.to_string()))?;
///             pauses.record(start.elapsed());
///         }
///         drop(root);
///         let mut measurements = Measurements::default();
///         measurements.metric("rounds", context.params.integer("rounds") as f64);
///         measurements.histogram("timed_gc_us", pauses);
///         Ok(measurements)
///     }
/// }
/// # let registry = heaplab::registry::Registry::builtin().with(&ListGc);
/// # assert!(registry.find("list-gc").is_ok());
/// ```
pub trait Workload: Sync {
    /// The name given to `heaplab bench`: lower-case kebab case, unique in its registry.
    fn name(&self) -> &'static str;
    /// One line for `--help`: what the workload does and what it shows.
    fn summary(&self) -> &'static str;
    /// The parameters it accepts (`--set NAME=VALUE`); none by default.
    fn params(&self) -> &'static [ParamSpec] {
        &[]
    }
    /// Whether it runs on scheduler threads (the default) or on the calling thread.
    fn threads(&self) -> Threads {
        Threads::Schedulers
    }
    /// A lower bound of the memory a run with `params` needs, in bytes, if the workload
    /// knows one: a run that cannot fit in the memory available is refused before it
    /// starts, rather than killed by the allocator halfway. `None` (the default) checks
    /// nothing.
    fn memory_bytes(&self, params: &Params) -> Option<u64> {
        let _ = params;
        None
    }
    /// Runs the workload once (Protocol step 3). Called in the `heaplab bench` process of
    /// the run, so memory figures are the run's own.
    ///
    /// # Errors
    /// A [`Failure`] when the workload cannot run or fails.
    fn run(&self, context: &RunContext) -> Result<Measurements, Failure>;
}

impl std::fmt::Debug for dyn Workload + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workload").field("name", &self.name()).finish_non_exhaustive()
    }
}

/// A built-in workload: its description as constants and a plain function.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
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
    /// [`Workload::memory_bytes`], where the workload knows a bound.
    pub memory: Option<fn(&Params) -> u64>,
}

impl Workload for Builtin {
    fn name(&self) -> &'static str {
        self.name
    }
    fn summary(&self) -> &'static str {
        self.summary
    }
    fn params(&self) -> &'static [ParamSpec] {
        self.params
    }
    fn threads(&self) -> Threads {
        self.threads
    }
    fn run(&self, context: &RunContext) -> Result<Measurements, Failure> {
        (self.run)(context)
    }
    fn memory_bytes(&self, params: &Params) -> Option<u64> {
        self.memory.map(|bound| bound(params))
    }
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

    /// A runtime for the run: its heap strategy and scheduler count, room for `processes`
    /// processes, every collection going to the run's GC log (Protocol step 3).
    ///
    /// # Errors
    /// A usage failure for a strategy that does not run on heaplab's runtime; a run failure
    /// when the runtime refuses the configuration.
    pub fn start_runtime(&self, processes: usize) -> Result<heaplab_runtime::Runtime, Failure> {
        crate::workloads::start_runtime(self, processes)
    }
}

/// What a workload measured.
#[derive(Debug, Default)]
pub struct Measurements {
    /// Scalar results, by name.
    pub metrics: BTreeMap<String, f64>,
    /// Duration distributions, by name (names end in `_us`).
    pub histograms: BTreeMap<String, DurationHistogram>,
    /// The workload's own wall time, when something other than the driver's clock measured
    /// it (a peer's runtime, [`crate::peer`]).
    pub(crate) wall_s: Option<f64>,
    /// The external runtime and its versions, for the report's provenance.
    pub(crate) peer: BTreeMap<String, String>,
    /// Where the tail requests' time went, when the workload attributed it.
    pub(crate) attribution: Option<crate::attribution::RunAttribution>,
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

/// The workload called `name` in the registry of this program ([`crate::registry::current`]).
///
/// # Errors
/// A usage failure naming `name` and the workloads of the registry.
pub fn find(name: &str) -> Result<&'static dyn Workload, Failure> {
    crate::registry::current().find(name)
}

/// A `--help` section describing every workload of `table` and its parameters.
pub fn describe(table: &[&dyn Workload]) -> String {
    let mut text = String::from("Workloads (parameters set with --set NAME=VALUE; defaults shown):\n");
    for workload in table {
        let _ = writeln!(text, "  {:<11} {}", workload.name(), workload.summary());
        text.push_str(&crate::params::describe(workload.params()));
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
