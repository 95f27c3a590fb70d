//! `heaplab compare`: runs the suite under every heap strategy (and the BEAM) and writes the
//! comparison.
//!
//! # Protocol
//! 1. Decide the columns: every available heaplab strategy, plus `beam` unless `--no-beam`
//!    or `erl`/`erlc` is missing (then one note says how to install it; nothing is
//!    installed). Create the output directory.
//! 2. Plan the runs: each suite entry whose workload this build has (else a one-line note,
//!    [`suite::resolve`]) under each heaplab strategy, and under `beam` where the workload has
//!    an Erlang version.
//! 3. Run them one at a time (one run owns the machine: timings of concurrent runs would
//!    mean nothing), each in a fresh `heaplab bench` process ([`run_isolated`]), so its
//!    memory figures are its own and not what earlier runs left resident; showing an
//!    overall and a current-run progress bar. The child writes the run's raw data to
//!    `csv/<workload>-<heap>/`, which is read back, reduced to what the plots need
//!    ([`RunPlot`]) and dropped, and `report.json` is rewritten: an interrupted suite keeps
//!    what it measured.
//! 4. Run the traced run ([`suite::TRACE_CANDIDATES`]) and write `trace-<workload>.json`.
//! 5. Draw the plots, write `summary.md`, print where everything went and one headline line
//!    per workload.
//!
//! # Invariants
//! 1. A failing run (a usage failure from its parameters, a workload failure, a panic) is
//!    recorded with its one-line reason and never stops the suite; `compare` exits with code
//!    1 at the end if any run failed, after writing everything.
//! 2. Every report of `report.json` is also in `summary.md` and has its CSV directory.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::plots::{self, RunData, RunPlot};
use super::suite::{self, Planned, SuiteName};
use super::summary::{self, Column, Header, Section};
use crate::bench::{self, Run};
use crate::cli::{BenchArgs, CompareArgs};
use crate::failure::Failure;
use crate::report::{Machine, Report};
use crate::strategy::Strategy;
use crate::workload::{Threads, Workload};
use crate::{beam, csv, machine};

/// Where `compare` writes when `--out` is not given.
pub const DEFAULT_OUT: &str = "target/heaplab/compare";

/// Note on the BEAM column when `erl` is missing (Protocol step 1).
pub const ERL_NOTE: &str = "erl not found on PATH: the BEAM column is left out; \
install it with `apt-get install erlang-base` (heaplab installs nothing itself)";

/// One run of the plan.
#[derive(Debug, Clone, Copy)]
struct Planned1 {
    entry: Planned,
    workload: &'static dyn Workload,
    strategy: Strategy,
}

/// A finished (or failed) run: its report and what its plots need; the raw data is
/// written and dropped right after the run (see [`RunPlot`]).
struct Outcome {
    plan: Planned1,
    result: Result<(Report, RunPlot), String>,
}

/// The suite a command line asks for.
pub fn suite_of(args: &CompareArgs) -> SuiteName {
    args.suite.unwrap_or(if args.quick { SuiteName::Quick } else { SuiteName::Full })
}

/// Runs `heaplab compare` (the whole protocol); `command` is the command line, for the
/// summary's header.
///
/// # Errors
/// A run failure when the output directory cannot be written, or (after everything was
/// written) when some run failed (Invariant 1).
pub fn run(args: &CompareArgs, command: &str) -> Result<(), Failure> {
    let started = Instant::now();
    let date = utc_date(SystemTime::now());
    let suite = suite_of(args);
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_OUT));
    std::fs::create_dir_all(&out).map_err(|e| cannot_write(&out, &e))?;
    let mut notes: Vec<String> = Vec::new();
    let mut problems: Vec<String> = Vec::new();

    // Protocol step 1.
    let heaplab: Vec<Strategy> =
        Strategy::ALL.into_iter().filter(|s| s.available() && *s != Strategy::Beam).collect();
    let beam_column = if args.no_beam {
        Err("not run (--no-beam)".to_owned())
    } else if beam::find_on_path("erl").is_none() || beam::find_on_path("erlc").is_none() {
        eprintln!("heaplab: note: {ERL_NOTE}");
        notes.push(ERL_NOTE.to_owned());
        Err("not run (erl not on PATH; `apt-get install erlang-base`)".to_owned())
    } else {
        Ok(())
    };
    if cfg!(debug_assertions) {
        let note = "debug build: the heap verifier runs in every collection, so timings are not \
                    representative (build with --release)";
        eprintln!("heaplab: note: {note}");
        notes.push(note.to_owned());
    }

    // Protocol step 2.
    let mut plan = Vec::new();
    let mut section_notes: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for entry in suite::plan(suite) {
        let workload = match suite::resolve(entry.entry.workload) {
            Ok(workload) => workload,
            Err(note) => {
                eprintln!("heaplab: note: {note}");
                notes.push(note);
                continue;
            }
        };
        let notes = section_notes.entry(entry.id()).or_default();
        if workload.threads() == Threads::CallingThread {
            notes.push(
                "This workload runs one heap on the calling thread, not on the runtime: under shared, \
                 a one-worker shared heap (its collector on one thread)."
                    .to_owned(),
            );
        }
        for &strategy in &heaplab {
            plan.push(Planned1 { entry, workload, strategy });
        }
        match (&beam_column, beam::program(workload.name())) {
            (Ok(()), Some(_)) => plan.push(Planned1 { entry, workload, strategy: Strategy::Beam }),
            (Ok(()), None) => {
                notes.push("No Erlang version of this workload yet: no BEAM column.".to_owned())
            }
            (Err(_), _) => {}
        }
    }
    let trace_workload = suite::TRACE_CANDIDATES.iter().find_map(|name| suite::resolve(name).ok());

    // Protocol step 3.
    let progress = Progress::new("compare", plan.len() + usize::from(trace_workload.is_some()));
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(plan.len());
    for planned in plan {
        progress.start(&format!("{} on {}", planned.workload.name(), planned.strategy));
        let begun = Instant::now();
        let dir = out.join("csv").join(format!("{}-{}", planned.entry.id(), planned.strategy));
        let result = run_isolated(planned.workload, planned.strategy, planned.entry.params, None, Some(&dir));
        let line = match &result {
            Ok(report) => {
                format!("{} on {}: done in {}", planned.workload.name(), planned.strategy, secs(report.wall_s))
            }
            Err(message) => format!(
                "{} on {}: FAILED after {}: {message}",
                planned.workload.name(),
                planned.strategy,
                secs(begun.elapsed().as_secs_f64())
            ),
        };
        progress.finish_one(&line);
        let result = result.map(|report| {
            let (gc_records, histograms) = csv::read_dir(&dir).unwrap_or_else(|e| {
                problems.push(format!("cannot read the run's raw data back from '{}': {e}", dir.display()));
                Default::default()
            });
            let plot = RunPlot::new(RunData {
                heap: planned.strategy.name(),
                gc_records: &gc_records,
                histograms: &histograms,
            });
            (report, plot)
        });
        outcomes.push(Outcome { plan: planned, result });
        write_reports(&out.join("report.json"), &outcomes)?;
    }

    // Protocol step 4.
    let mut trace_path = None;
    if let Some(workload) = trace_workload {
        progress.start(&format!("{} traced on per-process", workload.name()));
        let params = suite::trace_params(workload.name(), suite);
        let path = out.join(format!("trace-{}.json", workload.name()));
        let line = match run_one(workload, Strategy::PerProcess, params, true) {
            Ok(run) => match bench::trace_of(&run).write(&path) {
                Ok(()) => {
                    trace_path = Some(path.clone());
                    format!(
                        "{} traced: {} slices, {} collections",
                        workload.name(),
                        run.slices.len(),
                        run.gc_records.len()
                    )
                }
                Err(e) => {
                    problems.push(format!("cannot write '{}': {e}", path.display()));
                    format!("{} traced: cannot write the trace", workload.name())
                }
            },
            Err(message) => {
                problems.push(format!("traced run of {} failed: {message}", workload.name()));
                format!("{} traced: FAILED: {message}", workload.name())
            }
        };
        progress.finish_one(&line);
    }
    progress.done();

    // Protocol step 5: plots.
    let plots_dir = out.join("plots");
    let mut plot_files = Vec::new();
    let mut order: Vec<&'static str> = Vec::new();
    for outcome in &outcomes {
        if !order.contains(&outcome.plan.entry.id()) {
            order.push(outcome.plan.entry.id());
        }
    }
    for id in &order {
        let runs: Vec<RunPlot> = outcomes
            .iter()
            .filter(|o| o.plan.entry.id() == *id)
            .filter_map(|o| Some(o.result.as_ref().ok()?.1.clone()))
            .collect();
        match plots::write_workload(&plots_dir, id, &runs) {
            Ok(written) => plot_files.extend(written),
            Err(message) => problems.push(format!("{id}: {message}")),
        }
    }

    // Protocol step 5: summary.
    let sections: Vec<Section<'_>> = order
        .iter()
        .map(|id| {
            let mine: Vec<&Outcome> = outcomes.iter().filter(|o| o.plan.entry.id() == *id).collect();
            let entry = mine[0].plan.entry;
            Section {
                workload: id,
                assignments: entry.params,
                headline: entry.entry.headline,
                columns: mine
                    .iter()
                    .map(|o| Column {
                        heap: o.plan.strategy.name(),
                        outcome: o.result.as_ref().map(|(report, _)| report).map_err(String::as_str),
                    })
                    .collect(),
                notes: section_notes.remove(id).unwrap_or_default(),
            }
        })
        .collect();
    let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
    notes.extend(problems.iter().cloned());
    let header = Header {
        date,
        command: command.to_owned(),
        suite: suite.name().to_owned(),
        machine: machine_line(),
        strategies: strategies_line(&heaplab, &beam_column),
        elapsed_s: started.elapsed().as_secs_f64(),
    };
    let summary_path = out.join("summary.md");
    std::fs::write(&summary_path, summary::render(&header, &notes, &sections))
        .map_err(|e| cannot_write(&summary_path, &e))?;

    // Protocol step 5: what was written, and the headlines.
    let mut text = String::new();
    let _ = writeln!(text, "heaplab compare ({} suite, {}): wrote", suite.name(), secs(header.elapsed_s));
    let _ = writeln!(text, "  {}  ({} reports)", out.join("report.json").display(), outcomes.len() - failed);
    let _ = writeln!(text, "  {}", summary_path.display());
    let _ =
        writeln!(text, "  {}  (gc_events.csv and one CSV per histogram, per run)", out.join("csv").display());
    let _ = writeln!(text, "  {}  ({} SVG plots)", plots_dir.display(), plot_files.len());
    if let Some(path) = &trace_path {
        let _ = writeln!(text, "  {}  (open in https://ui.perfetto.dev)", path.display());
    }
    for section in &sections {
        let _ = writeln!(text, "{}", summary::headline_line(section));
    }
    print!("{text}");

    if failed > 0 || !problems.is_empty() {
        return Err(Failure::run(format!(
            "{failed} of {} runs failed and {} outputs could not be written; see {}",
            outcomes.len(),
            problems.len(),
            summary_path.display()
        )));
    }
    Ok(())
}

/// Runs one workload under one strategy in this process (Invariant 1): its failures and
/// panics become a one-line message.
fn run_one(workload: &dyn Workload, strategy: Strategy, params: &[&str], traced: bool) -> Result<Run, String> {
    let args = BenchArgs {
        workload: workload.name().to_owned(),
        heap: strategy,
        schedulers: None,
        set: params.iter().map(|s| (*s).to_owned()).collect(),
        json: None,
        csv: None,
        trace: None,
    };
    let (workload, context) = bench::prepare(&args).map_err(|f| f.message().to_owned())?;
    let measured = catch_unwind(AssertUnwindSafe(|| {
        if traced {
            bench::measure_traced(workload, &context)
        } else {
            bench::measure(workload, &context)
        }
    }));
    match measured {
        Ok(Ok(run)) => Ok(run),
        Ok(Err(failure)) => Err(failure.message().to_owned()),
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_owned());
            Err(crate::failure::one_line(format!("panicked: {message}")))
        }
    }
}

/// Runs one workload under one strategy in a fresh `heaplab bench` process (this program)
/// and reads its report back: the run's memory figures (RSS growth, peak RSS) are then its
/// own, not what earlier runs of this process left resident. With `csv`, the child also
/// writes its raw data there (`--csv`). Failures become the child's one-line message.
pub(crate) fn run_isolated<S: AsRef<str>>(
    workload: &dyn Workload,
    strategy: Strategy,
    params: &[S],
    schedulers: Option<u32>,
    csv: Option<&Path>,
) -> Result<Report, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the heaplab program: {e}"))?;
    let dir = crate::child::TempDir::new("run")?;
    let json = dir.path().join("report.json");
    let mut command = std::process::Command::new(exe);
    command.args(["bench", workload.name(), "--heap", strategy.name(), "--json"]).arg(&json);
    if let Some(n) = schedulers {
        command.arg("--schedulers").arg(n.to_string());
    }
    for param in params {
        command.arg("--set").arg(param.as_ref());
    }
    if let Some(dir) = csv {
        command.arg("--csv").arg(dir);
    }
    // Both BEAM passes and the rest of the run.
    let limit = 2 * crate::beam::PASS_LIMIT + Duration::from_secs(300);
    let output = crate::child::output_within(&mut command, limit)?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = stderr
            .lines()
            .rfind(|line| !line.starts_with("heaplab: note:") && !line.trim().is_empty())
            .map_or_else(
                || output.status.to_string(),
                |line| line.trim_start_matches("heaplab: ").to_owned(),
            );
        return Err(crate::failure::one_line(reason));
    }
    let text = std::fs::read_to_string(&json)
        .map_err(|e| format!("the run wrote no report '{}': {e}", json.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("the run's report '{}' is not valid: {e}", json.display()))
}

/// Writes every report so far as one JSON array (Protocol step 3, Invariant 2).
fn write_reports(path: &Path, outcomes: &[Outcome]) -> Result<(), Failure> {
    let reports: Vec<&Report> =
        outcomes.iter().filter_map(|o| o.result.as_ref().ok()).map(|(report, _)| report).collect();
    let text = serde_json::to_string_pretty(&reports).expect("reports hold only maps, numbers and strings");
    std::fs::write(path, text + "\n").map_err(|e| cannot_write(path, &e))
}

fn cannot_write(path: &Path, error: &std::io::Error) -> Failure {
    Failure::run(format!("cannot write '{}': {error}", path.display()))
}

pub(crate) fn secs(value: f64) -> String {
    crate::table::seconds(value)
}

/// The columns run, and why the BEAM's is missing if it is.
fn strategies_line(heaplab: &[Strategy], beam_column: &Result<(), String>) -> String {
    let names: Vec<&str> = heaplab.iter().map(|s| s.name()).collect();
    match beam_column {
        Ok(()) => format!("{}, beam (workloads with an Erlang version)", names.join(", ")),
        Err(why) => format!("{}; beam {why}", names.join(", ")),
    }
}

/// The machine, one line: cores, CPU model, memory, OS, rustc and build profile.
pub(crate) fn machine_line() -> String {
    let machine = Machine::current();
    let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|text| {
        text.lines()
            .find(|line| line.starts_with("model name"))
            .and_then(|line| line.split_once(':'))
            .map(|(_, model)| model.trim().to_owned())
    });
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| machine::status_field_bytes(&text, "MemTotal"))
        .map(|bytes| crate::table::metric("bytes", bytes as f64));
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
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
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
    fn the_suite_follows_the_flags() {
        let args = |quick, suite| CompareArgs { quick, out: None, no_beam: true, suite };
        assert_eq!(suite_of(&args(false, None)), SuiteName::Full);
        assert_eq!(suite_of(&args(true, None)), SuiteName::Quick);
        assert_eq!(suite_of(&args(false, Some(SuiteName::Smoke))), SuiteName::Smoke);
    }

    #[test]
    fn failing_runs_become_one_line_messages() {
        let workload = suite::resolve("gc-copy").unwrap();
        let message = run_one(workload, Strategy::PerProcess, &["live_mb=0"], false).err().unwrap();
        assert!(message.contains("'0'") && !message.contains('\n'), "{message}");
    }

    #[test]
    fn the_strategies_line_says_why_beam_is_missing() {
        let line = strategies_line(
            &[Strategy::PerProcess, Strategy::Shared],
            &Err("not run (--no-beam)".to_owned()),
        );
        assert_eq!(line, "per-process, shared; beam not run (--no-beam)");
    }
}
