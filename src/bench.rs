//! `heaplab bench`: runs one workload under one heap strategy and turns its measurements
//! into a [`Report`], a printed table and the requested files.
//!
//! # Protocol
//! 1. Check everything the command line asks for (workload, strategy, parameters and, for
//!    `--heap beam`, an Erlang version of the workload and `erl` on the `PATH`) before
//!    anything runs, so a typo costs no benchmark time; see [`prepare`].
//! 2. Reset the peak-RSS mark, start the wall clock, run the workload (which attaches the
//!    run's GC log to its heaps) or, for `--heap beam`, its Erlang version under `erl` (see
//!    [`crate::beam`], which puts the collections the BEAM traced into the same log), stop
//!    the clock; see [`measure`].
//! 3. Build the report: the workload's metrics and histograms, plus `peak_rss_bytes` (under
//!    the BEAM, the emulator's own, as it reports it), the GC totals and, unless the workload
//!    measured its own, `gc_pause_us` from the GC log.
//! 4. Print the table; write `--json`, `--csv` and `--trace` files; see [`run`]. With
//!    `--trace`, step 2 also records every scheduler slice ([`measure_traced`]), so the trace
//!    shows which process ran where, next to the collections.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use heaplab_runtime::trace::with_default_slice_sink;

use crate::cli::BenchArgs;
use crate::failure::Failure;
use crate::gc_log::{self, GcLog, GcRecord};
use crate::histogram::DurationHistogram;
use crate::machine;
use crate::params::Params;
use crate::report::{Machine, Report, SCHEMA};
use crate::slice_log::{SliceLog, SliceRecord};
use crate::strategy::Strategy;
use crate::trace::Trace;
use crate::workload::{self, RunContext, Threads, Workload};
use crate::{beam, csv, table};

/// The histogram every report carries: the pauses GC imposed (see workloads.md).
pub const GC_PAUSE_HISTOGRAM: &str = "gc_pause_us";

/// A finished run: its report and the raw data behind it.
#[derive(Debug)]
pub struct Run {
    /// The report.
    pub report: Report,
    /// Every collection of the run.
    pub gc_records: Vec<GcRecord>,
    /// The histograms with their raw samples.
    pub histograms: BTreeMap<String, DurationHistogram>,
    /// Every scheduler slice, when the run was traced ([`measure_traced`]); else empty.
    pub slices: Vec<SliceRecord>,
    /// Slices the trace did not keep (see [`crate::slice_log`]).
    pub slices_dropped: u64,
}

/// Protocol step 1: the workload to run and its context.
///
/// # Errors
/// A usage failure for an unknown workload, an unavailable strategy or a bad parameter.
pub fn prepare(args: &BenchArgs) -> Result<(&'static dyn Workload, RunContext), Failure> {
    let workload = workload::find(&args.workload)?;
    let strategy = args.heap.require_available()?;
    let params = Params::from_assignments(workload.name(), workload.params(), &args.set)?;
    if strategy == Strategy::Beam {
        // The workload has an Erlang version and `erl` is installed, or nothing runs.
        beam::require(workload)?;
    }
    let schedulers = match workload.threads() {
        Threads::CallingThread => 1,
        Threads::Schedulers => args.schedulers.unwrap_or_else(default_schedulers),
    };
    let gc_log = Arc::new(GcLog::new());
    Ok((workload, RunContext { params, strategy, schedulers, gc_log }))
}

/// One scheduler per core.
fn default_schedulers() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX))
}

/// Protocol steps 2 and 3.
///
/// # Errors
/// The workload's failure, if it fails.
pub fn measure(workload: &dyn Workload, context: &RunContext) -> Result<Run, Failure> {
    measure_with(workload, context, None)
}

/// Protocol steps 2 and 3, recording every scheduler slice of the runtimes the workload
/// starts into [`Run::slices`] (a BEAM run and a workload on the calling thread have none).
///
/// # Errors
/// The workload's failure, if it fails.
pub fn measure_traced(workload: &dyn Workload, context: &RunContext) -> Result<Run, Failure> {
    measure_with(workload, context, Some(Arc::new(SliceLog::new(context.gc_log.origin()))))
}

fn measure_with(
    workload: &dyn Workload,
    context: &RunContext,
    slice_log: Option<Arc<SliceLog>>,
) -> Result<Run, Failure> {
    machine::reset_peak_rss();
    let start = Instant::now();
    let measurements = match (context.strategy, &slice_log) {
        (Strategy::Beam, _) => beam::run(workload, context)?,
        // Workloads build their own runtimes; the scoped default reaches every one of them.
        (_, Some(log)) => with_default_slice_sink(log.clone(), || workload.run(context))?,
        (_, None) => workload.run(context)?,
    };
    let wall = start.elapsed();

    let gc_records = context.gc_log.take();
    let mut histograms = measurements.histograms;
    histograms.entry(GC_PAUSE_HISTOGRAM.to_owned()).or_insert_with(|| gc_log::pause_histogram(&gc_records));
    let mut metrics = measurements.metrics;
    if context.strategy == Strategy::Shared && !gc_records.is_empty() {
        // What a stop-the-world pause is made of: the wait for every scheduler to stop, and
        // how many threads shared the copying.
        histograms
            .insert("time_to_safepoint_us".to_owned(), gc_log::time_to_safepoint_histogram(&gc_records));
        if let Some(parallelism) = gc_log::copy_parallelism(&gc_records) {
            metrics.insert("gc_copy_parallelism".to_owned(), parallelism);
        }
    }
    // Under the BEAM the emulator reports its own peak; this process's is not the run's.
    if context.strategy != Strategy::Beam {
        if let Some(bytes) = machine::peak_rss_bytes() {
            metrics.insert("peak_rss_bytes".to_owned(), bytes as f64);
        }
    }
    let params = context
        .params
        .iter()
        .map(|(name, value)| {
            let value = serde_json::to_value(value).expect("parameter values are plain JSON");
            (name.to_owned(), value)
        })
        .collect();
    let report = Report {
        schema: SCHEMA.to_owned(),
        workload: workload.name().to_owned(),
        heap: context.strategy.name().to_owned(),
        schedulers: context.schedulers,
        params,
        wall_s: wall.as_secs_f64(),
        metrics,
        histograms: histograms.iter().map(|(name, h)| (name.clone(), h.summary())).collect(),
        gc: gc_log::summarize(&gc_records),
        machine: Machine::current(),
    };
    let slices = slice_log.as_ref().map(|log| log.take()).unwrap_or_default();
    let slices_dropped = slice_log.as_ref().map_or(0, |log| log.dropped());
    Ok(Run { report, gc_records, histograms, slices, slices_dropped })
}

/// Runs `heaplab bench` (the whole protocol) and returns the run.
///
/// # Errors
/// A usage failure from step 1 (nothing ran), or a run failure from the workload or from
/// writing a file.
pub fn run(args: &BenchArgs) -> Result<Run, Failure> {
    let (workload, context) = prepare(args)?;
    if workload.threads() == Threads::CallingThread {
        if let Some(n) = args.schedulers.filter(|n| *n != 1) {
            eprintln!(
                "heaplab: note: workload '{}' runs on the calling thread; --schedulers {n} does not apply",
                workload.name()
            );
        }
    }
    if cfg!(debug_assertions) && context.strategy != Strategy::Beam {
        eprintln!(
            "heaplab: note: debug build; the heap verifier runs in every collection, \
             so timings are not representative (build with --release)"
        );
    }
    let run =
        if args.trace.is_some() { measure_traced(workload, &context)? } else { measure(workload, &context)? };
    print!("{}", table::render(&run.report));
    for path in write_outputs(args, &run)? {
        eprintln!("heaplab: wrote {}", path.display());
    }
    Ok(run)
}

/// Protocol step 4: the files asked for; returns the paths written.
///
/// # Errors
/// A run failure naming the file that could not be written.
pub fn write_outputs(args: &BenchArgs, run: &Run) -> Result<Vec<PathBuf>, Failure> {
    let mut written = Vec::new();
    if let Some(path) = &args.json {
        if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| cannot_write(path, &e))?;
        }
        std::fs::write(path, run.report.to_json() + "\n").map_err(|e| cannot_write(path, &e))?;
        written.push(path.clone());
    }
    if let Some(dir) = &args.csv {
        let histograms = run.histograms.iter().map(|(name, h)| (name.as_str(), h));
        let paths = csv::write_dir(dir, &run.gc_records, histograms).map_err(|e| cannot_write(dir, &e))?;
        written.extend(paths);
    }
    if let Some(path) = &args.trace {
        let trace = trace_of(run);
        trace.write(path).map_err(|e| cannot_write(path, &e))?;
        written.push(path.clone());
    }
    Ok(written)
}

/// The Chrome trace of a run: its scheduler slices and collections.
pub fn trace_of(run: &Run) -> Trace {
    let mut title = format!("heaplab {} on {} heaps", run.report.workload, run.report.heap);
    if run.slices_dropped > 0 {
        title.push_str(&format!(
            " (first {} slices; {} more not recorded)",
            run.slices.len(),
            run.slices_dropped
        ));
    }
    let mut trace = Trace::named(title);
    trace.add_slices(&run.slices);
    trace.add_gc_records(&run.gc_records);
    trace
}

fn cannot_write(path: &std::path::Path, error: &std::io::Error) -> Failure {
    Failure::run(format!("cannot write '{}': {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(workload: &str, set: &[&str]) -> BenchArgs {
        BenchArgs {
            workload: workload.to_owned(),
            heap: Strategy::PerProcess,
            schedulers: None,
            set: set.iter().map(|s| (*s).to_owned()).collect(),
            json: None,
            csv: None,
            trace: None,
        }
    }

    fn usage_message(args: &BenchArgs) -> String {
        match prepare(args) {
            Err(Failure::Usage(message)) => message,
            other => panic!("expected a usage failure, got {other:?}"),
        }
    }

    #[test]
    fn unknown_workloads_list_the_available_ones() {
        let message = usage_message(&args("chrun", &[]));
        assert_eq!(
            message,
            "unknown workload 'chrun'; available: alloc, big, binaries, churn, churn-big, exit, gc-copy, large-state, preempt, restart, ring, spawn"
        );
    }

    #[test]
    fn unavailable_strategies_are_refused_before_running() {
        let mut hybrid = args("exit", &[]);
        hybrid.heap = Strategy::Hybrid;
        assert_eq!(
            usage_message(&hybrid),
            "heap 'hybrid' is not available yet; available: per-process, shared, beam"
        );
    }

    #[test]
    fn parameters_are_checked_against_the_workload() {
        assert!(usage_message(&args("exit", &["live_mb=3"])).contains("unknown parameter 'live_mb'"));
        assert!(usage_message(&args("exit", &["heap_mb=-1"])).contains("got '-1'"));
        assert!(usage_message(&args("gc-copy", &["collections=0"])).contains("got '0'"));
        let (workload, context) = prepare(&args("gc-copy", &["live_mb=2"])).unwrap();
        assert_eq!(workload.name(), "gc-copy");
        assert_eq!(context.params.integer("live_mb"), 2);
    }

    #[test]
    fn calling_thread_workloads_report_one_scheduler() {
        let mut four = args("exit", &[]);
        four.schedulers = Some(4);
        let (_, context) = prepare(&four).unwrap();
        assert_eq!(context.schedulers, 1);
    }
}
