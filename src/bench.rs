//! `heaplab bench`: runs one workload under one heap strategy and turns its measurements
//! into a [`Report`], a printed table and the requested files.
//!
//! # Protocol
//! 1. Check everything the command line asks for (workload, strategy, parameters, that the
//!    run fits in the memory available, and for a peer such as `--heap beam` a version of
//!    the workload and its tools on the `PATH`; `--schedulers` above the peer's limit is
//!    capped with a note) before anything runs, so a typo costs no benchmark time; see
//!    [`prepare`]. Then check every output path ([`check_outputs`]): a run is never lost to
//!    a file that cannot be written.
//! 2. Reset the peak-RSS mark, start the wall clock, run the workload (which attaches the
//!    run's GC log to its heaps) or, for a peer, its version under that runtime (see
//!    [`crate::peer`], which puts the collections the runtime traced into the same log),
//!    stop the clock; see [`measure`].
//! 3. Build the report: the workload's metrics and histograms, plus `peak_rss_bytes` (under
//!    a peer, the runtime's own, as it reports it), the getrusage figures of the run
//!    (`user_time_s`, `sys_time_s`, `minor_page_faults`, `major_page_faults`), the GC
//!    totals, the provenance and, unless the workload measured its own, `gc_pause_us` from
//!    the GC log; under the hybrid heap also `area_collections` and `area_pause_us` (the
//!    message area's collections alone).
//! 4. Print the table; write `--json` (`-`: to standard output, the table then goes to
//!    standard error), `--csv` and `--trace` files; see [`run`]. With `--trace`, step 2 also
//!    records every scheduler slice ([`measure_traced`]), so the trace shows which process
//!    ran where, next to the collections.
//!
//! With `--runs N` (N > 1), step 2 runs N times, each in a fresh `heaplab bench` process
//! ([`crate::runs`]), and step 3 aggregates the N reports ([`crate::stats`]); `--csv DIR`
//! then holds one `run-<i>/` folder per run.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use heaplab_runtime::trace::with_default_slice_sink;

use crate::cli::BenchArgs;
use crate::failure::Failure;
use crate::gc_log::{self, GcLog, GcRecord};
use crate::histogram::DurationHistogram;
use crate::params::Params;
use crate::provenance::{self, Provenance, Usage};
use crate::report::{Machine, Report, SCHEMA};
use crate::slice_log::{SliceLog, SliceRecord};
use crate::strategy::Strategy;
use crate::trace::Trace;
use crate::workload::{self, RunContext, Threads, Workload};
use crate::{csv, interrupt, machine, peer, runs, table};

/// The `--json` path that means standard output.
pub const STDOUT: &str = "-";

/// The histogram every report carries: the pauses GC imposed (see docs/workloads.md).
pub const GC_PAUSE_HISTOGRAM: &str = "gc_pause_us";

/// Under the hybrid heap: the pauses of the message area's collections alone.
pub const AREA_PAUSE_HISTOGRAM: &str = "area_pause_us";

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
    /// The attributed requests above p99, when the workload attributed its tail.
    pub attribution: Option<crate::attribution::RunAttribution>,
}

/// Protocol step 1: the workload to run and its context.
///
/// # Errors
/// A usage failure for an unknown workload, an unavailable strategy or a bad parameter.
pub fn prepare(args: &BenchArgs) -> Result<(&'static dyn Workload, RunContext), Failure> {
    let workload = workload::find(&args.workload)?;
    let strategy = args.heap.require_available()?;
    let params = Params::from_assignments(workload.name(), workload.params(), &args.set)?;
    check_memory(workload, &params)?;
    let mut schedulers = match workload.threads() {
        Threads::CallingThread => 1,
        Threads::Schedulers => args.schedulers.unwrap_or_else(default_schedulers),
    };
    if let Some(peer) = peer::of(strategy) {
        // The workload has a version there and its tools are installed, or nothing runs.
        peer.require(workload)?;
        if schedulers > peer.max_schedulers() {
            eprintln!(
                "heaplab: note: --heap {strategy} runs at most {max} schedulers; running {} with {max}, not {schedulers}",
                workload.name(),
                max = peer.max_schedulers(),
            );
            schedulers = peer.max_schedulers();
        }
    }
    let gc_log = Arc::new(GcLog::new());
    let context = RunContext { params, strategy, schedulers, gc_log };
    if let Some(peer) = peer::of(strategy) {
        peer.check(&context)?;
    }
    Ok((workload, context))
}

/// Refuses a run that cannot fit in the memory available (Protocol step 1).
///
/// # Errors
/// A usage failure naming what the run needs and what is left.
pub fn check_memory(workload: &dyn Workload, params: &Params) -> Result<(), Failure> {
    let Some(needed) = workload.memory_bytes(params) else { return Ok(()) };
    let Some((available, bound)) = machine::available_memory() else { return Ok(()) };
    if needed <= available {
        return Ok(());
    }
    let set: Vec<String> = params
        .iter()
        .filter(|(name, value)| {
            workload.params().iter().any(|spec| spec.name == *name && spec.default != value.to_string())
        })
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    let with = if set.is_empty() { String::from("its defaults") } else { set.join(" ") };
    Err(Failure::usage(format!(
        "workload '{}' with {with} needs at least {} of memory, but only {} is {}; lower its parameters",
        workload.name(),
        table::metric("bytes", needed as f64),
        table::metric("bytes", available as f64),
        bound.describe()
    )))
}

/// Checks every output path before anything runs (Protocol step 1): a `--json` or `--trace`
/// file that can be created or overwritten (not a directory; `--json -` is standard
/// output), a `--csv` directory that is not a file and can be written into. Creates the
/// missing parent directories; leaves no file behind.
///
/// # Errors
/// A usage failure naming the path and what is wrong with it.
pub fn check_outputs(args: &BenchArgs) -> Result<(), Failure> {
    if let Some(path) = args.json.as_deref().filter(|path| path.as_os_str() != STDOUT) {
        check_file("--json", path)?;
    }
    if let Some(path) = &args.trace {
        if path.as_os_str() == STDOUT {
            return Err(Failure::usage("--trace writes a file; '-' (standard output) is for --json only"));
        }
        check_file("--trace", path)?;
    }
    if let Some(dir) = &args.csv {
        if dir.exists() && !dir.is_dir() {
            return Err(Failure::usage(format!(
                "--csv takes a directory (it writes gc_events.csv and one file per histogram there), \
                 but '{}' is a file",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir).map_err(|e| cannot_use("--csv", dir, &e))?;
        let probe = dir.join(".heaplab-write-check");
        std::fs::write(&probe, b"").map_err(|e| cannot_use("--csv", dir, &e))?;
        let _ = std::fs::remove_file(&probe);
    }
    Ok(())
}

fn check_file(option: &str, path: &std::path::Path) -> Result<(), Failure> {
    if path.is_dir() {
        return Err(Failure::usage(format!(
            "{option} takes a file, but '{}' is a directory",
            path.display()
        )));
    }
    if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| cannot_use(option, path, &e))?;
    }
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| cannot_use(option, path, &e))?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

fn cannot_use(option: &str, path: &std::path::Path, error: &std::io::Error) -> Failure {
    Failure::usage(format!("{option} '{}' cannot be written: {error}", path.display()))
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
    let mut provenance = Provenance::now(&provenance::command_line());
    machine::reset_peak_rss();
    let usage = Usage::of_self();
    let start = Instant::now();
    let peer = peer::of(context.strategy);
    let measurements = match (peer, &slice_log) {
        (Some(peer), _) => peer::run(peer, workload, context)?,
        (None, slice_log) => {
            // This process runs the workload: a signal can only end it (crate::interrupt).
            let _in_process = interrupt::InProcess::start()?;
            match slice_log {
                // Workloads build their own runtimes; the scoped default reaches every one of them.
                Some(log) => with_default_slice_sink(log.clone(), || workload.run(context))?,
                None => workload.run(context)?,
            }
        }
    };
    let wall = measurements.wall_s.unwrap_or_else(|| start.elapsed().as_secs_f64());
    let usage = Usage::of_self().since(usage);
    provenance.peer = measurements.peer;

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
    if context.strategy == Strategy::Hybrid {
        // The message area's own collections, apart from the private ones: they stop every
        // process, as a shared-heap collection does (docs/hybrid-heap.md).
        let area: Vec<GcRecord> = gc_records.iter().filter(|r| gc_log::is_area(r)).cloned().collect();
        metrics.insert("area_collections".to_owned(), area.len() as f64);
        if !area.is_empty() {
            histograms.insert(AREA_PAUSE_HISTOGRAM.to_owned(), gc_log::pause_histogram(&area));
        }
    }
    // A peer reports its own peak and getrusage figures; this process's are not the run's.
    if peer.is_none() {
        if let Some(bytes) = machine::peak_rss_bytes() {
            metrics.insert("peak_rss_bytes".to_owned(), bytes as f64);
        }
        for (name, value) in usage.metrics() {
            metrics.insert(name.to_owned(), value);
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
        wall_s: wall,
        metrics,
        histograms: histograms.iter().map(|(name, h)| (name.clone(), h.summary())).collect(),
        gc: gc_log::summarize(&gc_records),
        machine: Machine::current(),
        provenance,
        runs: None,
        per_run: Vec::new(),
        ci95: BTreeMap::new(),
        tail_attribution: measurements.attribution.as_ref().map(|a| a.tails.clone()),
    };
    let slices = slice_log.as_ref().map(|log| log.take()).unwrap_or_default();
    let slices_dropped = slice_log.as_ref().map_or(0, |log| log.dropped());
    let attribution = measurements.attribution;
    Ok(Run { report, gc_records, histograms, slices, slices_dropped, attribution })
}

/// Runs `heaplab bench` (the whole protocol) and returns the report.
///
/// # Errors
/// A usage failure from step 1 (nothing ran), a run failure from the workload or from
/// writing a file, or [`Failure::Interrupted`].
pub fn run(args: &BenchArgs) -> Result<Report, Failure> {
    let (workload, context) = prepare(args)?;
    if args.runs > 1 && args.trace.is_some() {
        return Err(Failure::usage("--trace records one run; give it without --runs (or with --runs 1)"));
    }
    check_outputs(args)?;
    if workload.threads() == Threads::CallingThread {
        if let Some(n) = args.schedulers.filter(|n| *n != 1) {
            eprintln!(
                "heaplab: note: workload '{}' runs on the calling thread; --schedulers {n} does not apply",
                workload.name()
            );
        }
    }
    if cfg!(debug_assertions) && peer::of(context.strategy).is_none() {
        eprintln!(
            "heaplab: note: debug build; the heap verifier runs in every collection, \
             so timings are not representative (build with --release)"
        );
    }
    let to_stdout = args.json.as_deref().is_some_and(|path| path.as_os_str() == STDOUT);
    let report = if args.runs > 1 {
        let started = Provenance::now(&provenance::command_line());
        provenance::warn_if_loaded(&started);
        let spec = runs::Spec {
            workload,
            strategy: context.strategy,
            params: &args.set,
            schedulers: args.schedulers.map(|n| n.min(context.schedulers)),
        };
        let csv_dir = |run: u32| args.csv.as_ref().map(|dir| dir.join(format!("run-{run}")));
        let repeated = runs::repeat(&spec, args.runs, csv_dir, started, |run, report| {
            eprintln!("heaplab: run {run} of {}: done in {}", args.runs, table::seconds(report.wall_s));
        })?;
        match (repeated.report, repeated.interrupted) {
            (Some(report), None) => {
                write_json(args, &report)?;
                report
            }
            (report, Some(signal)) => {
                // Keep the runs that finished: their aggregate goes where the report was asked for.
                let kept = match &report {
                    Some(report) => {
                        write_json(args, report)?;
                        format!("{} finished runs aggregated", report.per_run.len())
                    }
                    None => "no run finished".to_owned(),
                };
                return Err(Failure::Interrupted { signal, message: format!("interrupted: {kept}") });
            }
            (None, _) => return Err(Failure::run("no run finished")),
        }
    } else {
        provenance::warn_if_loaded(&Provenance::now(""));
        let run = if args.trace.is_some() {
            measure_traced(workload, &context)?
        } else {
            measure(workload, &context)?
        };
        for path in write_outputs(args, &run)? {
            eprintln!("heaplab: wrote {}", path.display());
        }
        run.report
    };
    let text = table::render(&report);
    if to_stdout {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
    Ok(report)
}

/// Writes the `--json` report, to standard output for `-`; returns the path written.
fn write_json(args: &BenchArgs, report: &Report) -> Result<Option<PathBuf>, Failure> {
    let Some(path) = &args.json else { return Ok(None) };
    if path.as_os_str() == STDOUT {
        println!("{}", report.to_json());
        return Ok(None);
    }
    if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| cannot_write(path, &e))?;
    }
    std::fs::write(path, report.to_json() + "\n").map_err(|e| cannot_write(path, &e))?;
    Ok(Some(path.clone()))
}

/// Protocol step 4: the files asked for; returns the paths written.
///
/// # Errors
/// A run failure naming the file that could not be written.
pub fn write_outputs(args: &BenchArgs, run: &Run) -> Result<Vec<PathBuf>, Failure> {
    let mut written: Vec<PathBuf> = write_json(args, &run.report)?.into_iter().collect();
    if let Some(dir) = &args.csv {
        let histograms = run.histograms.iter().map(|(name, h)| (name.as_str(), h));
        let paths = csv::write_dir(dir, &run.gc_records, histograms).map_err(|e| cannot_write(dir, &e))?;
        written.extend(paths);
        if let Some(attribution) = &run.attribution {
            let path = dir.join(csv::TAIL_REQUESTS);
            let text = crate::attribution::requests_csv(&attribution.slow, attribution.offset_ns);
            std::fs::write(&path, text).map_err(|e| cannot_write(&path, &e))?;
            written.push(path);
        }
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
    if let Some(attribution) = &run.attribution {
        trace.add_tail_requests(&attribution.slow, attribution.offset_ns);
    }
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
            runs: 1,
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
    fn the_hybrid_heap_is_accepted() {
        let mut hybrid = args("exit", &[]);
        hybrid.heap = Strategy::Hybrid;
        let (workload, context) = prepare(&hybrid).unwrap();
        assert_eq!((workload.name(), context.strategy), ("exit", Strategy::Hybrid));
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
