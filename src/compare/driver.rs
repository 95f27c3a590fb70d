//! `heaplab compare`: runs the suite under every heap strategy (and the peers: the BEAM, the
//! JVM, Go) and writes the comparison.
//!
//! # Protocol
//! 1. Check the output directory: a folder holding an earlier comparison (any file compare
//!    writes, [`OWNED`]) is refused, or with `--clear` those files are removed first, so two
//!    runs never mix. Decide the columns: every available heaplab strategy, plus each peer
//!    (`beam`, `jvm-parallel`, `jvm-g1`, `jvm-zgc`, `go`) unless `--no-beam`, `--no-jvm`,
//!    `--no-go` or its tools are missing (then one note per missing tool says how to install
//!    it; nothing is installed).
//! 2. Plan the runs: each suite entry (and each workload a program of one's own added,
//!    [`crate::registry`]) whose workload this build has (else a one-line note,
//!    [`suite::resolve`]) under each heaplab strategy and each peer that has a version.
//!    Everything of an entry is keyed by its id ([`suite::Entry::id`]), not its workload's
//!    name, so two entries of one workload (`ring`, `ring-payload100`) keep apart.
//! 3. Run them one at a time (one run owns the machine: timings of concurrent runs would
//!    mean nothing), each in a fresh `heaplab bench` process ([`crate::runs`]) so its memory
//!    figures are its own; `--runs N` times each, interleaved across the strategies (A B C
//!    A B C ...) so machine noise spreads evenly over them. Each run writes its raw data to
//!    `csv/<id>-<heap>/run-<i>/`. After each entry, its runs are aggregated
//!    ([`crate::stats`]) and `report.json` is rewritten: an interrupted suite keeps what it
//!    measured. A report names its workload, not the entry: `meta.json` says which report
//!    of `report.json` is which entry's ([`SectionMeta::reports`]).
//! 4. Run the traced run ([`suite::TRACE_CANDIDATES`]) and write `trace-<workload>.json`.
//! 5. Write `meta.json` (header, notes, failures), then render ([`render`]): plots from the
//!    CSV folders, `summary.md` from `report.json` and `meta.json`; print where everything
//!    went and one headline line per workload. `--render-only` does step 5 alone on a folder
//!    a compare wrote.
//!
//! On Ctrl-C (or SIGTERM, SIGHUP; [`crate::interrupt`]) step 3 stops the run under way and
//! its process group, step 4 is skipped, step 5 renders what the finished runs measured, and
//! the command exits with 130 after one line saying where that went.
//!
//! # Invariants
//! 1. A failing run (a usage failure from its parameters, a workload failure, a panic: each
//!    run is a process of its own) is recorded with its one-line reason and never stops the
//!    suite; `compare` exits with code
//!    1 at the end if any run failed, after writing everything.
//! 2. Every report of `report.json` is also in `summary.md` and has its CSV directories.
//! 3. Rendering reads only the output folder, so `--render-only` redraws what a run drew.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use super::plots::{self, RunData, RunPlot};
use super::suite::{self, Planned, SuiteName};
use super::summary::{self, Column, Header, Section};
use crate::cli::CompareArgs;
use crate::failure::Failure;
use crate::provenance::{self, Provenance};
use crate::report::{Machine, Report};
use crate::strategy::Strategy;
use crate::workload::{Threads, Workload};
use crate::{csv, machine, peer, runs, stats};

/// Where `compare` writes when `--out` is not given.
pub const DEFAULT_OUT: &str = "target/heaplab/compare";

/// The files and folders of an output directory that compare writes (Protocol step 1);
/// `trace-*.json` too.
pub const OWNED: [&str; 5] = ["report.json", "summary.md", "meta.json", "csv", "plots"];

/// Runs per (workload, strategy) without `--runs`: 3, enough for an interval; 1 for the
/// quick and smoke suites, which are about minutes, not intervals.
pub fn default_runs(suite: SuiteName) -> u32 {
    match suite {
        SuiteName::Full => 3,
        SuiteName::Quick | SuiteName::Smoke => 1,
    }
}

/// The flag among `--no-beam`, `--no-jvm` and `--no-go` that leaves `strategy` out, if one
/// given does (Protocol step 1).
pub fn skip_flag(no_beam: bool, no_jvm: bool, no_go: bool, strategy: Strategy) -> Option<&'static str> {
    match strategy {
        Strategy::Beam if no_beam => Some("--no-beam"),
        Strategy::JvmParallel | Strategy::JvmG1 | Strategy::JvmZgc if no_jvm => Some("--no-jvm"),
        Strategy::Go if no_go => Some("--no-go"),
        _ => None,
    }
}

/// What `meta.json` records of a compare, for [`render`] (Invariant 3).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Meta {
    /// The summary's header.
    pub header: Header,
    /// Notes on the whole run.
    pub notes: Vec<String>,
    /// The workloads in order.
    pub sections: Vec<SectionMeta>,
    /// Whether a signal stopped the run.
    pub interrupted: bool,
}

/// What `meta.json` records of one suite entry.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SectionMeta {
    /// The entry's id ([`suite::Entry::id`]).
    pub id: String,
    /// Per strategy, the index in `report.json` of its report (none for a strategy whose runs
    /// all failed); `None` in a `meta.json` written before entries had ids of their own, when
    /// an id was its workload's name: its reports are then found by that name.
    #[serde(default)]
    pub reports: Option<BTreeMap<String, usize>>,
    /// The suite's assignments.
    pub assignments: Vec<String>,
    /// The strategies planned, in column order.
    pub heaps: Vec<String>,
    /// Notes under the heading.
    pub notes: Vec<String>,
    /// Failed runs: (strategy, one-line reason).
    pub failures: Vec<(String, String)>,
    /// Whether its GC pause charts are drawn.
    pub gc_charts: bool,
}

impl SectionMeta {
    /// The report of `heap` for this entry among `reports` (those of `report.json`).
    pub fn report<'r>(&self, reports: &'r [Report], heap: &str) -> Option<&'r Report> {
        match &self.reports {
            Some(indices) => indices.get(heap).and_then(|&i| reports.get(i)).filter(|r| r.heap == heap),
            None => reports.iter().find(|r| r.workload == self.id && r.heap == heap),
        }
    }
}

/// The suite a command line asks for.
pub fn suite_of(args: &CompareArgs) -> SuiteName {
    args.suite.unwrap_or(if args.quick { SuiteName::Quick } else { SuiteName::Full })
}

/// Protocol step 1: refuses a folder holding an earlier comparison, or with `clear` removes
/// the files compare owns in it.
///
/// # Errors
/// A usage failure naming the folder and the way out; a run failure when it cannot be
/// cleared or created.
pub fn prepare_out(out: &Path, clear: bool) -> Result<(), Failure> {
    let owned = owned_entries(out);
    if !owned.is_empty() {
        if !clear {
            let names: Vec<String> = owned
                .iter()
                .filter_map(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .collect();
            return Err(Failure::usage(format!(
                "'{}' holds an earlier compare ({}); give another --out, or --clear to remove those files first",
                out.display(),
                names.join(", ")
            )));
        }
        for path in owned {
            let removed =
                if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
            removed.map_err(|e| Failure::run(format!("cannot remove '{}': {e}", path.display())))?;
        }
    }
    std::fs::create_dir_all(out).map_err(|e| cannot_write(out, &e))
}

/// The entries of `out` that compare owns.
fn owned_entries(out: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(out) else { return Vec::new() };
    let mut owned: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|path| {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            OWNED.contains(&name.as_str()) || (name.starts_with("trace-") && name.ends_with(".json"))
        })
        .collect();
    owned.sort();
    owned
}

/// One strategy of one workload while it runs: the reports of its finished runs and its
/// failures.
struct Cell {
    strategy: Strategy,
    reports: Vec<Report>,
    failures: Vec<String>,
}

/// Runs `heaplab compare` (the whole protocol); `command` is the command line, for the
/// summary's header.
///
/// # Errors
/// A usage failure (an older run in the folder, an unknown `--workload`); a run failure
/// when the output directory cannot be written, or (after everything was written) when some
/// run failed (Invariant 1); [`Failure::Interrupted`] after a signal, once what was
/// measured is written.
pub fn run(args: &CompareArgs, command: &str) -> Result<(), Failure> {
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_OUT));
    if args.render_only {
        let meta = read_meta(&out)?;
        let rendered = render(&out, &meta)?;
        print!("{}", rendered.closing);
        return rendered.result();
    }
    let started = Instant::now();
    let provenance = Provenance::now(command);
    let suite = suite_of(args);
    let runs = args.runs.unwrap_or_else(|| default_runs(suite));
    let registry = crate::registry::current();
    let planned = suite::select(suite, registry.added(), &args.workloads)?;
    prepare_out(&out, args.clear)?;
    provenance::warn_if_loaded(&provenance);
    let mut notes: Vec<String> = Vec::new();

    // Protocol step 1.
    let heaplab: Vec<Strategy> =
        Strategy::ALL.into_iter().filter(|s| s.available() && peer::of(*s).is_none()).collect();
    let columns = peer::columns(|strategy| skip_flag(args.no_beam, args.no_jvm, args.no_go, strategy));
    for note in peer::missing_notes(&columns) {
        eprintln!("heaplab: note: {note}");
        notes.push(note);
    }
    let peers: Vec<Strategy> =
        columns.iter().filter(|(_, status)| status.is_ok()).map(|(strategy, _)| *strategy).collect();
    if cfg!(debug_assertions) {
        let note = "debug build: the heap verifier runs in every collection, so timings are not \
                    representative (build with --release)";
        eprintln!("heaplab: note: {note}");
        notes.push(note.to_owned());
    }
    if runs > 1 {
        notes.push(format!(
            "{runs} runs of each workload and strategy, interleaved across strategies; figures are medians, \
             [low–high] the 95% Student t interval of the mean over the runs"
        ));
    }

    // Protocol step 2.
    let mut plan: Vec<(Planned, &'static dyn Workload, Vec<Strategy>, SectionMeta)> = Vec::new();
    for entry in planned {
        let workload = match suite::resolve(entry.workload) {
            Ok(workload) => workload,
            Err(note) => {
                eprintln!("heaplab: note: {note}");
                notes.push(note);
                continue;
            }
        };
        let mut meta = SectionMeta {
            id: entry.id().to_owned(),
            reports: Some(BTreeMap::new()),
            assignments: entry.params.clone(),
            gc_charts: entry.gc_charts,
            ..SectionMeta::default()
        };
        meta.notes.extend(entry.note.map(str::to_owned));
        if workload.threads() == Threads::CallingThread {
            meta.notes.push(
                "This workload runs one heap on the calling thread, not on the runtime: under shared, \
                 a one-worker shared heap (its collector on one thread)."
                    .to_owned(),
            );
        }
        let mut strategies = heaplab.clone();
        for &strategy in &peers {
            match peer::of(strategy) {
                Some(peer) if peer.workloads().contains(&workload.name()) => strategies.push(strategy),
                _ => {
                    meta.notes.push(format!("No {strategy} version of this workload: no {strategy} column."))
                }
            }
        }
        if attributes(args, workload) {
            meta.notes.push(
                "heaplab's columns ran with attribution=on (tail attribution; it costs them 5-8% \
                 throughput, so compare their throughput with the other columns' with care)."
                    .to_owned(),
            );
        }
        meta.heaps = strategies.iter().map(|s| s.name().to_owned()).collect();
        plan.push((entry, workload, strategies, meta));
    }
    let trace_workload = suite::TRACE_CANDIDATES.iter().find_map(|name| suite::resolve(name).ok());

    // Protocol step 3.
    let total: usize =
        plan.iter().map(|(_, _, strategies, _)| strategies.len()).sum::<usize>() * runs as usize;
    let progress = Progress::new("compare", total + usize::from(trace_workload.is_some()));
    let mut aggregates: Vec<Report> = Vec::new();
    let mut sections: Vec<SectionMeta> = Vec::new();
    let mut interrupted: Option<Failure> = None;
    let mut failed = 0;
    for (entry, workload, strategies, mut meta) in plan {
        let attributed = attributes(args, workload);
        let mut cells: Vec<Cell> = strategies
            .iter()
            .map(|&strategy| Cell { strategy, reports: Vec::new(), failures: Vec::new() })
            .collect();
        'runs: for run in 1..=runs {
            for cell in &mut cells {
                let what = if runs > 1 {
                    format!("{} on {} (run {run} of {runs})", entry.id(), cell.strategy)
                } else {
                    format!("{} on {}", entry.id(), cell.strategy)
                };
                progress.start(&what);
                let begun = Instant::now();
                let dir = csv_dir(&out, entry.id(), cell.strategy.name(), run);
                let params = params_of(&entry.params, attributed && cell.strategy.heap_kind().is_some());
                let spec =
                    runs::Spec { workload, strategy: cell.strategy, params: &params, schedulers: None };
                match runs::isolated(&spec, Some(&dir)) {
                    Ok(report) => {
                        progress.finish_one(&format!("{what}: done in {}", secs(report.wall_s)));
                        cell.reports.push(report);
                    }
                    Err(failure) if failure.is_interrupt() => {
                        progress.finish_one(&format!("{what}: interrupted"));
                        let _ = std::fs::remove_dir_all(&dir);
                        interrupted = Some(failure);
                        break 'runs;
                    }
                    Err(failure) => {
                        progress.finish_one(&format!(
                            "{what}: FAILED after {}: {}",
                            secs(begun.elapsed().as_secs_f64()),
                            failure.message()
                        ));
                        failed += 1;
                        let prefix = if runs > 1 { format!("run {run}: ") } else { String::new() };
                        cell.failures.push(format!("{prefix}{}", failure.message()));
                    }
                }
            }
        }
        for mut cell in cells {
            for failure in &cell.failures {
                meta.failures.push((cell.strategy.name().to_owned(), failure.clone()));
            }
            let report = match cell.reports.len() {
                0 => continue,
                1 if runs == 1 => cell.reports.remove(0),
                _ => stats::aggregate(cell.reports, provenance.clone()),
            };
            if let Some(indices) = &mut meta.reports {
                indices.insert(cell.strategy.name().to_owned(), aggregates.len());
            }
            aggregates.push(report);
        }
        sections.push(meta);
        write_reports(&out.join("report.json"), &aggregates)?;
        if interrupted.is_some() {
            break;
        }
    }

    // Protocol step 4, in a process of its own like every run: an interrupt stops it as it
    // stops the others.
    if let (Some(workload), None) = (trace_workload, &interrupted) {
        progress.start(&format!("{} traced on per-process", workload.name()));
        let params = suite::trace_params(workload.name(), suite);
        let path = out.join(format!("trace-{}.json", workload.name()));
        let spec = runs::Spec { workload, strategy: Strategy::PerProcess, params, schedulers: None };
        let line = match runs::isolated_with(&spec, None, Some(&path)) {
            Ok(report) => format!(
                "{} traced: {} collections, in {}",
                workload.name(),
                report.gc.minor + report.gc.major,
                path.display()
            ),
            Err(failure) if failure.is_interrupt() => {
                interrupted = Some(failure);
                let _ = std::fs::remove_file(&path);
                format!("{} traced: interrupted", workload.name())
            }
            Err(failure) => {
                notes.push(format!("traced run of {} failed: {}", workload.name(), failure.message()));
                format!("{} traced: FAILED: {}", workload.name(), failure.message())
            }
        };
        progress.finish_one(&line);
    }
    progress.done();

    // Protocol step 5.
    let meta = Meta {
        header: Header {
            date: utc_date(SystemTime::now() - started.elapsed()),
            command: command.to_owned(),
            suite: suite.name().to_owned(),
            machine: machine_line(),
            strategies: strategies_line(&heaplab, &columns),
            elapsed_s: started.elapsed().as_secs_f64(),
            runs,
        },
        notes,
        sections,
        interrupted: interrupted.is_some(),
    };
    write_json(&out.join("meta.json"), &meta)?;
    let rendered = render(&out, &meta)?;
    // A signal while rendering: everything is written by now, but the command was asked to stop.
    let interrupted =
        interrupted.or_else(|| crate::interrupt::requested().map(crate::interrupt::interrupted));
    if let Some(Failure::Interrupted { signal, .. }) = interrupted {
        let finished = aggregates.iter().map(|r| r.per_run.len().max(1)).sum::<usize>();
        return Err(Failure::Interrupted {
            signal,
            message: format!(
                "interrupted: wrote the summary and plots of {finished} finished runs to {}",
                out.display()
            ),
        });
    }
    print!("{}", rendered.closing);
    if failed > 0 {
        return Err(Failure::run(format!("{failed} runs failed; see {}", out.join("summary.md").display())));
    }
    rendered.result()
}

/// `csv/<id>-<heap>/run-<i>/` of `out`, for the suite entry `id`.
pub fn csv_dir(out: &Path, id: &str, heap: &str, run: u32) -> PathBuf {
    out.join("csv").join(format!("{id}-{heap}")).join(format!("run-{run}"))
}

/// What [`render`] wrote.
pub struct Rendered {
    /// The lines to print: where everything went and the headlines.
    pub closing: String,
    /// Outputs that could not be written.
    pub problems: Vec<String>,
}

impl Rendered {
    fn result(&self) -> Result<(), Failure> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(Failure::run(format!("some outputs could not be written: {}", self.problems.join("; "))))
        }
    }
}

/// Whether `--attribution` asks for tail attribution in `workload` (one that has the
/// parameter).
fn attributes(args: &CompareArgs, workload: &dyn Workload) -> bool {
    args.attribution && workload.params().iter().any(|p| p.name == "attribution")
}

/// A suite entry's assignments, with `attribution=on` added when `attributed`.
fn params_of(assignments: &[String], attributed: bool) -> Vec<String> {
    let mut params = assignments.to_vec();
    if attributed {
        params.push("attribution=on".to_owned());
    }
    params
}

/// Reads `meta.json` of a compare's folder.
///
/// # Errors
/// A usage failure when the folder holds no compare.
pub fn read_meta(out: &Path) -> Result<Meta, Failure> {
    let path = out.join("meta.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Failure::usage(format!("'{}' holds no compare to render ({}: {e})", out.display(), path.display()))
    })?;
    serde_json::from_str(&text).map_err(|e| Failure::run(format!("{}: {e}", path.display())))
}

/// Protocol step 5 from the folder alone (Invariant 3): plots and `summary.md`.
///
/// # Errors
/// A run failure when `report.json` cannot be read or `summary.md` written.
pub fn render(out: &Path, meta: &Meta) -> Result<Rendered, Failure> {
    let report_path = out.join("report.json");
    let text = std::fs::read_to_string(&report_path)
        .map_err(|e| Failure::run(format!("cannot read '{}': {e}", report_path.display())))?;
    let reports: Vec<Report> =
        serde_json::from_str(&text).map_err(|e| Failure::run(format!("{}: {e}", report_path.display())))?;
    let mut problems = Vec::new();
    let plots_dir = out.join("plots");
    let mut plot_files = Vec::new();
    for section in &meta.sections {
        let runs: Vec<Vec<RunPlot>> = section
            .heaps
            .iter()
            .map(|heap| read_runs(out, &section.id, heap, &mut problems))
            .filter(|runs| !runs.is_empty())
            .collect();
        let charts = plots::Charts { gc: section.gc_charts };
        match plots::write_workload(&plots_dir, &section.id, &runs, charts) {
            Ok(written) => plot_files.extend(written),
            Err(message) => problems.push(format!("{}: {message}", section.id)),
        }
        let section_reports: Vec<&Report> =
            section.heaps.iter().filter_map(|heap| section.report(&reports, heap)).collect();
        match plots::write_tail_attribution(&plots_dir, &section.id, &section_reports) {
            Ok(written) => plot_files.extend(written),
            Err(message) => problems.push(format!("{}: {message}", section.id)),
        }
    }
    let summary_sections: Vec<Section<'_>> = meta
        .sections
        .iter()
        .map(|section| {
            let columns = section
                .heaps
                .iter()
                .map(|heap| {
                    let report = section.report(&reports, heap);
                    let failure =
                        section.failures.iter().find(|(h, _)| h == heap).map(|(_, why)| why.as_str());
                    Column {
                        heap,
                        outcome: match (report, failure) {
                            (Some(report), _) => Ok(report),
                            (None, Some(why)) => Err(why),
                            (None, None) => Err("not run (interrupted)"),
                        },
                    }
                })
                .collect();
            let mut notes = section.notes.clone();
            for (heap, why) in &section.failures {
                if section.report(&reports, heap).is_some() {
                    notes.push(format!("{heap}: {why} (the other runs are aggregated)"));
                }
            }
            Section {
                id: &section.id,
                assignments: &section.assignments,
                headline: suite::headline_of(&section.id),
                columns,
                notes,
            }
        })
        .collect();
    let mut notes = meta.notes.clone();
    if meta.interrupted {
        notes.push("Interrupted: the tables hold the runs that finished before the signal.".to_owned());
    }
    notes.extend(problems.iter().cloned());
    let summary_path = out.join("summary.md");
    std::fs::write(&summary_path, summary::render(&meta.header, &notes, &summary_sections))
        .map_err(|e| cannot_write(&summary_path, &e))?;

    let mut text = String::new();
    let _ = writeln!(
        text,
        "heaplab compare ({} suite, {} run{} each, {}): wrote",
        meta.header.suite,
        meta.header.runs,
        if meta.header.runs == 1 { "" } else { "s" },
        secs(meta.header.elapsed_s)
    );
    let _ = writeln!(text, "  {}  ({} reports)", report_path.display(), reports.len());
    let _ = writeln!(text, "  {}", summary_path.display());
    let _ =
        writeln!(text, "  {}  (gc_events.csv and one CSV per histogram, per run)", out.join("csv").display());
    let _ = writeln!(text, "  {}  ({} SVG plots)", plots_dir.display(), plot_files.len());
    for trace in owned_entries(out).iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
        if trace.file_name().is_some_and(|n| n.to_string_lossy().starts_with("trace-")) {
            let _ = writeln!(text, "  {}  (open in https://ui.perfetto.dev)", trace.display());
        }
    }
    for section in &summary_sections {
        let _ = writeln!(text, "{}", summary::headline_line(section));
    }
    Ok(Rendered { closing: text, problems })
}

/// The plot data of every run of one (entry, strategy), from its CSV folders.
fn read_runs(out: &Path, id: &str, heap: &str, problems: &mut Vec<String>) -> Vec<RunPlot> {
    let mut plots = Vec::new();
    for run in 1.. {
        let dir = csv_dir(out, id, heap, run);
        if !dir.is_dir() {
            break;
        }
        match csv::read_dir(&dir) {
            Ok((gc_records, histograms)) => {
                plots.push(RunPlot::new(RunData { heap, gc_records: &gc_records, histograms: &histograms }))
            }
            Err(e) => {
                problems.push(format!("cannot read the run's raw data back from '{}': {e}", dir.display()))
            }
        }
    }
    plots
}

/// Writes every aggregate report so far as one JSON array (Protocol step 3, Invariant 2).
fn write_reports(path: &Path, reports: &[Report]) -> Result<(), Failure> {
    write_json(path, reports)
}

fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).expect("reports hold only maps, numbers and strings");
    std::fs::write(path, text + "\n").map_err(|e| cannot_write(path, &e))
}

fn cannot_write(path: &Path, error: &std::io::Error) -> Failure {
    Failure::run(format!("cannot write '{}': {error}", path.display()))
}

pub(crate) fn secs(value: f64) -> String {
    crate::table::seconds(value)
}

/// The columns run, and why a peer's is missing where it is.
fn strategies_line(heaplab: &[Strategy], peers: &[(Strategy, Result<(), String>)]) -> String {
    let mut names: Vec<&str> = heaplab.iter().map(|s| s.name()).collect();
    let run: Vec<&str> =
        peers.iter().filter(|(_, status)| status.is_ok()).map(|(strategy, _)| strategy.name()).collect();
    names.extend(&run);
    let mut line = names.join(", ");
    if !run.is_empty() {
        line.push_str(" (peers: the workloads with a version in their language)");
    }
    for (strategy, status) in peers {
        if let Err(why) = status {
            line.push_str(&format!("; {strategy} {why}"));
        }
    }
    line
}

/// The machine, one line: cores, CPU model, memory, OS, rustc and build profile.
pub(crate) fn machine_line() -> String {
    let machine = Machine::current();
    let cpu = machine::cpu_model();
    let memory = machine::memory_bytes().map(|bytes| crate::table::metric("bytes", bytes as f64));
    let mut line = format!("{} cores", machine.cores);
    if let Some(cpu) = cpu {
        let _ = write!(line, " ({cpu})");
    }
    if let Some(memory) = memory {
        let _ = write!(line, ", {memory}");
    }
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    let _ = write!(line, ", {}, rustc {}, {profile} build", machine.os, machine.rustc);
    line
}

/// `time` as `YYYY-MM-DD HH:MM UTC`.
pub fn utc_date(time: SystemTime) -> String {
    let seconds = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs();
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's `civil_from_days`).
    let (year, month, day) = provenance::civil_from_days(days as i64);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", rest / 3600, rest % 3600 / 60)
}

/// The overall and current-run progress bars; plain lines on stderr when it is not a
/// terminal (indicatif draws nothing there).
pub(crate) struct Progress {
    bars: MultiProgress,
    overall: ProgressBar,
    current: ProgressBar,
}

impl Progress {
    pub(crate) fn new(prefix: &str, runs: usize) -> Progress {
        let bars = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = bars.add(ProgressBar::new(runs as u64));
        overall.set_style(
            ProgressStyle::with_template("{prefix} [{bar:32}] {pos}/{len} runs, {elapsed} elapsed")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        overall.set_prefix(prefix.to_owned());
        let current = bars.add(ProgressBar::new_spinner());
        current.set_style(
            ProgressStyle::with_template("  {spinner} {msg} ({elapsed})").expect("a valid template"),
        );
        current.enable_steady_tick(Duration::from_millis(120));
        Progress { bars, overall, current }
    }

    pub(crate) fn start(&self, what: &str) {
        self.current.reset_elapsed();
        self.current.set_message(what.to_owned());
        if self.bars.is_hidden() {
            eprintln!("heaplab: running {what}");
        }
    }

    pub(crate) fn finish_one(&self, line: &str) {
        self.overall.inc(1);
        if self.bars.is_hidden() {
            eprintln!("heaplab: {line}");
        } else {
            let _ = self.bars.println(format!("  {line}"));
        }
    }

    pub(crate) fn done(&self) {
        self.current.finish_and_clear();
        self.overall.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(utc_date(UNIX_EPOCH), "1970-01-01 00:00 UTC");
        let leap_day = UNIX_EPOCH + Duration::from_secs(951_782_400 + 13 * 3600 + 24 * 60);
        assert_eq!(utc_date(leap_day), "2000-02-29 13:24 UTC");
        let later = UNIX_EPOCH + Duration::from_secs(1_796_083_200);
        assert_eq!(utc_date(later), "2026-12-01 00:00 UTC");
    }

    #[test]
    fn attribution_is_asked_of_the_workloads_that_have_it_when_the_flag_says_so() {
        let args = |attribution| CompareArgs {
            quick: true,
            out: None,
            no_beam: true,
            no_jvm: true,
            no_go: true,
            suite: None,
            runs: None,
            render_only: false,
            clear: false,
            attribution,
            workloads: Vec::new(),
        };
        let (churn, ring) = (crate::workload::find("churn").unwrap(), crate::workload::find("ring").unwrap());
        assert!(attributes(&args(true), churn));
        assert!(!attributes(&args(true), ring));
        assert!(!attributes(&args(false), churn));
        let base = vec!["requests=10".to_owned()];
        assert_eq!(params_of(&base, true), ["requests=10", "attribution=on"]);
        assert_eq!(params_of(&base, false), base);
    }

    #[test]
    fn the_suite_follows_the_flags() {
        let args = |quick, suite| CompareArgs {
            quick,
            out: None,
            no_beam: true,
            no_jvm: true,
            no_go: true,
            suite,
            runs: None,
            render_only: false,
            clear: false,
            attribution: false,
            workloads: Vec::new(),
        };
        assert_eq!(suite_of(&args(false, None)), SuiteName::Full);
        assert_eq!(suite_of(&args(true, None)), SuiteName::Quick);
        assert_eq!(suite_of(&args(false, Some(SuiteName::Smoke))), SuiteName::Smoke);
    }

    #[test]
    fn a_folder_with_an_earlier_compare_is_refused_or_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("cmp");
        prepare_out(&out, false).unwrap();
        std::fs::write(out.join("summary.md"), "old").unwrap();
        std::fs::create_dir_all(out.join("csv/ring-shared/run-1")).unwrap();
        std::fs::write(out.join("trace-churn.json"), "[]").unwrap();
        std::fs::write(out.join("notes.txt"), "mine").unwrap();
        let refused = prepare_out(&out, false).unwrap_err();
        assert_eq!(refused.exit_code(), 2);
        assert!(
            refused.message().contains("--clear") && refused.message().contains("summary.md"),
            "{refused}"
        );
        prepare_out(&out, true).unwrap();
        let left: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["notes.txt"], "only the files compare owns are removed");
    }

    #[test]
    fn two_entries_of_one_workload_find_their_own_reports() {
        use super::summary::tests::fake_report;
        let reports = [
            fake_report("ring", "per-process", 1.0),
            fake_report("ring", "shared", 2.0),
            fake_report("ring", "per-process", 3.0),
            fake_report("ring", "shared", 4.0),
        ];
        let section = |id: &str, indices: &[(&str, usize)]| SectionMeta {
            id: id.to_owned(),
            reports: Some(indices.iter().map(|(heap, i)| ((*heap).to_owned(), *i)).collect()),
            ..SectionMeta::default()
        };
        let p999 = |report: Option<&Report>| report.map(|r| r.histograms["request_latency_us"].p999);
        let ring = section("ring", &[("per-process", 0), ("shared", 1)]);
        let payload = section("ring-payload100", &[("per-process", 2), ("shared", 3)]);
        assert_eq!(p999(ring.report(&reports, "shared")), Some(2.0));
        assert_eq!(p999(payload.report(&reports, "per-process")), Some(3.0));
        assert_eq!(p999(payload.report(&reports, "shared")), Some(4.0));
        assert_eq!(p999(payload.report(&reports, "hybrid")), None);
        // A failed strategy has no index: no report, not another entry's.
        let failed = section("ring-payload100", &[("per-process", 2)]);
        assert_eq!(p999(failed.report(&reports, "shared")), None);
        // A meta.json from before entry ids: reports found by workload name.
        let old: SectionMeta = serde_json::from_str(
            r#"{"id": "ring", "assignments": [], "heaps": ["shared"], "notes": [], "failures": [], "gc_charts": true}"#,
        )
        .unwrap();
        assert_eq!(old.reports, None);
        assert_eq!(p999(old.report(&reports, "shared")), Some(2.0));
    }

    #[test]
    fn the_full_suite_runs_three_times_by_default() {
        assert_eq!(default_runs(SuiteName::Full), 3);
        assert_eq!(default_runs(SuiteName::Quick), 1);
    }

    #[test]
    fn the_strategies_line_says_why_a_peer_is_missing() {
        let heaplab = [Strategy::PerProcess, Strategy::Shared];
        let line = strategies_line(&heaplab, &[(Strategy::Beam, Err("not run (--no-beam)".to_owned()))]);
        assert_eq!(line, "per-process, shared; beam not run (--no-beam)");
        let line = strategies_line(
            &heaplab,
            &[(Strategy::Beam, Ok(())), (Strategy::Go, Err("not run (--no-go)".to_owned()))],
        );
        assert_eq!(
            line,
            "per-process, shared, beam (peers: the workloads with a version in their language); go not run (--no-go)"
        );
    }

    #[test]
    fn each_flag_leaves_out_its_own_peers() {
        assert_eq!(skip_flag(true, false, false, Strategy::Beam), Some("--no-beam"));
        assert_eq!(skip_flag(true, false, false, Strategy::JvmG1), None);
        for jvm in [Strategy::JvmParallel, Strategy::JvmG1, Strategy::JvmZgc] {
            assert_eq!(skip_flag(false, true, false, jvm), Some("--no-jvm"));
        }
        assert_eq!(skip_flag(false, false, true, Strategy::Go), Some("--no-go"));
        assert_eq!(skip_flag(true, true, true, Strategy::PerProcess), None);
    }

    #[test]
    fn missing_tools_give_one_note_per_tool() {
        let java = "java not found on PATH; install it with `apt-get install default-jdk-headless` (nothing is installed automatically)";
        let columns = [
            (Strategy::Beam, Err("not run (--no-beam)".to_owned())),
            (Strategy::JvmParallel, Err(format!("not run ({java})"))),
            (Strategy::JvmG1, Err(format!("not run ({java})"))),
            (Strategy::Go, Ok(())),
        ];
        assert_eq!(
            peer::missing_notes(&columns),
            [format!("{java}: the jvm-parallel, jvm-g1 columns are left out")]
        );
    }
}
